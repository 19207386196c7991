/**
 * One buffer that many sockets read into, in turn.
 *
 * By default Node reads each socket into a new 64 KiB `ArrayBuffer` per read. At tens of
 * thousands of reads per second that is garbage V8 accounts as external memory: it makes the
 * collector start full mark-compact cycles long before the JavaScript heap needs one (measured
 * in issue 7: 51 mark-compacts in a 4-second echo run of 1..64 KiB messages, against 1 with
 * this buffer). A connection's parser copies every payload byte it keeps (into pooled message
 * buffers), so the bytes of a read are dead once the read is parsed: every socket can read into
 * the same memory, one read at a time (reads are delivered one by one on the event loop).
 *
 * Node exposes this for sockets it creates (`net.connect({ onread })`), not for the sockets a
 * server accepts or an `upgrade` hands over. {@link ReadBuffer.adopt} applies the same
 * mechanism to such a socket through the fields `onread` sets, found by their names; when this
 * Node version does not have them (or the stream is TLS, or not a socket) it returns false and
 * the stream keeps its own reads.
 *
 * Ownership: the chunk given to the read callback is valid only during that call; the
 * connection is told so (`handleData(chunk, true)`) and copies what it keeps past it.
 *
 * @module
 */

import type { Duplex } from "node:stream";

/** Node's own read size for a socket: 64 KiB. */
export const READ_BUFFER_SIZE = 64 * 1024;

/** The part of a net.Socket's handle this needs. */
interface UserBufferHandle {
  useUserBuffer?(buffer: Uint8Array): void;
}

/** The read callback Node calls: `this` is the socket, `n` the bytes read into `buffer`. */
export type ReadCallback = (this: Duplex, n: number, buffer: Buffer) => boolean;

/** Where `net.Socket` keeps the `onread` option: its private symbol-keyed fields. */
interface OnreadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
}

/**
 * True for a plain TCP (or pipe) socket: a stream over a Node stream handle that is not TLS. Its
 * reads may go into a shared buffer, and a write to it is out (the kernel has the bytes, the
 * buffer is free) once its `writableLength` is back to 0.
 */
export function isPlainSocket(stream: Duplex): boolean {
  const socket = stream as Duplex & { _handle?: UserBufferHandle | null; encrypted?: boolean };
  const handle = socket._handle;
  return (
    handle !== undefined &&
    handle !== null &&
    typeof handle.useUserBuffer === "function" &&
    socket.encrypted !== true
  );
}

/** Finds the fields `net.Socket` sets for `onread` on this socket; undefined when it has none. */
function onreadFields(stream: object): OnreadFields | undefined {
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  for (const sym of Object.getOwnPropertySymbols(stream)) {
    if (sym.description === "kBuffer") buffer = sym;
    else if (sym.description === "kBufferCb") callback = sym;
  }
  return buffer !== undefined && callback !== undefined ? { buffer, callback } : undefined;
}

/**
 * A read buffer shared by the sockets of one server (or client context). Allocated on the first
 * {@link adopt}; `size` bytes for all its sockets together.
 */
export class ReadBuffer {
  /** Bytes per read. */
  readonly size: number;
  private buffer: Buffer | undefined;
  /** The socket fields, found on the first socket and the same for every socket after it. */
  private fields: OnreadFields | undefined;
  /** This Node has no such fields: do not look again. */
  private unsupported = false;

  /** @param size - bytes per read (default 64 KiB, Node's own) */
  constructor(size: number = READ_BUFFER_SIZE) {
    this.size = size;
  }

  /** True once a socket reads into this buffer. */
  get active(): boolean {
    return this.buffer !== undefined;
  }

  /**
   * Makes `stream` read into this buffer and report each read to `callback` (called with the
   * socket as `this`) instead of emitting `data`. Only a plain TCP socket qualifies (a handle
   * with `useUserBuffer`, not TLS); for any other stream, or on a Node without the fields,
   * nothing changes and the result is false. Chunks the socket read before this call stay in
   * its readable buffer and still come as `data` events, first.
   */
  adopt(stream: Duplex, callback: ReadCallback): boolean {
    if (this.unsupported || !isPlainSocket(stream)) return false;
    const handle = (stream as Duplex & { _handle: Required<UserBufferHandle> })._handle;
    let fields = this.fields;
    if (fields === undefined) {
      fields = onreadFields(stream);
      if (fields === undefined) {
        this.unsupported = true;
        return false;
      }
      this.fields = fields;
    }
    const own = stream as unknown as Record<symbol, unknown>;
    // Only a socket made without `onread` (both fields still null) is taken over.
    if (own[fields.buffer] !== null || own[fields.callback] !== null) return false;
    this.buffer ??= Buffer.allocUnsafe(this.size);
    own[fields.buffer] = this.buffer;
    own[fields.callback] = callback;
    handle.useUserBuffer(this.buffer);
    return true;
  }
}
