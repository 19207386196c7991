/**
 * One zlib context (a raw deflate or inflate stream) with two ways in:
 *
 * - synchronous: `writeSync` on the stream's native handle, writing straight into the caller's
 *   buffer. This is what `zlib.*Sync` do internally, but on a long-lived handle, so a small
 *   message costs one native call instead of a thread-pool round trip. The handle is not public
 *   API; it is detected at construction and, when missing, every job takes the asynchronous
 *   path.
 * - asynchronous: the public stream API (`write`, `'data'`), whose work runs on libuv's thread
 *   pool.
 *
 * Both drive the same z_stream, one at a time: the codec never starts a synchronous step while
 * an asynchronous write is in flight. Listeners are installed once per context; the codec using
 * the context at the moment is {@link ZlibContext.user}.
 *
 * @module
 */

import zlib from "node:zlib";

const { Z_SYNC_FLUSH } = zlib.constants;

/** The synchronous entry of Node's native zlib handle (undocumented, stable since Node 10). */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
}

/** The stream fields `writeSync` reports through: `[availOutAfter, availInAfter]`. */
interface StreamInternals {
  _handle?: NativeHandle | null;
  _writeState?: Uint32Array;
}

/** What a context holds. */
export type ContextKind = "inflate" | "deflate";

/** The codec that currently runs an asynchronous job on a context. */
export interface ContextUser {
  /** Output produced by the running write. */
  onContextData(chunk: Buffer): void;
  /** The running write finished; all its output was delivered. */
  onContextDone(): void;
  /** zlib failed; the context is dead. */
  onContextError(error: Error): void;
}

/** Settings of a context. */
export interface ContextSettings {
  readonly kind: ContextKind;
  /** 8..15; a compressor with 8 runs with zlib's 9 (see `negotiation`). */
  readonly windowBits: number;
  /** Compression level (compressors only). */
  readonly level: number;
  /** memLevel (compressors only). */
  readonly memLevel: number;
  /** Output chunk of the asynchronous path. */
  readonly chunkSize: number;
  /** Use the synchronous entry when the runtime has it. */
  readonly sync: boolean;
}

/** The key that shared contexts of the same settings are pooled under. */
export function contextKey(s: ContextSettings): string {
  const base =
    s.kind === "inflate"
      ? `i${s.windowBits}`
      : `d${s.windowBits === 8 ? 9 : s.windowBits}:${s.level}:${s.memLevel}`;
  return `${base}:${s.chunkSize}:${s.sync ? "s" : "a"}`;
}

/** A raw deflate/inflate stream and its native handle. */
export class ZlibContext {
  /** The settings the context was made with. */
  readonly settings: ContextSettings;
  /** The pool key of {@link settings}. */
  readonly key: string;
  /** The Node stream. */
  readonly stream: zlib.DeflateRaw | zlib.InflateRaw;
  /** Whether a codec pool shares this context between connections. */
  readonly shared: boolean;
  /** The codec whose asynchronous write is in flight, if any. */
  user: ContextUser | null = null;
  /** The context failed or was destroyed; it must not be used again. */
  dead = false;
  /** Set by the codec pool once it has counted the context as gone. */
  retired = false;
  private readonly handle: NativeHandle | undefined;
  private readonly state: Uint32Array | undefined;

  constructor(settings: ContextSettings, shared: boolean) {
    this.settings = settings;
    this.key = contextKey(settings);
    this.shared = shared;
    this.stream =
      settings.kind === "inflate"
        ? zlib.createInflateRaw({
            windowBits: settings.windowBits,
            flush: Z_SYNC_FLUSH,
            chunkSize: settings.chunkSize,
          })
        : zlib.createDeflateRaw({
            // zlib has no raw 8-bit compressor; 9 stays decodable by an 8-bit window (see
            // the module comment of negotiation.ts).
            windowBits: settings.windowBits === 8 ? 9 : settings.windowBits,
            level: settings.level,
            memLevel: settings.memLevel,
            // RFC 7692 section 7.2.1: every message ends with a sync flush.
            flush: Z_SYNC_FLUSH,
            chunkSize: settings.chunkSize,
          });
    this.stream.on("data", this.onData);
    // Also catches the late 'error' event Node emits, on the next tick, after a native failure.
    this.stream.on("error", this.onError);
    const internals = this.stream as unknown as StreamInternals;
    const handle = internals._handle;
    if (
      settings.sync &&
      handle !== null &&
      typeof handle?.writeSync === "function" &&
      internals._writeState instanceof Uint32Array
    ) {
      this.handle = handle;
      this.state = internals._writeState;
    }
  }

  /** Whether {@link writeSync} is available. */
  get canWriteSync(): boolean {
    return this.handle !== undefined;
  }

  /**
   * One synchronous zlib call: consumes from `input[inOff, inOff + inLen)` and writes into
   * `out[outOff, outOff + outLen)`. Afterwards {@link availOut} and {@link availIn} tell what
   * is left. Only when {@link canWriteSync} and no asynchronous write is in flight.
   *
   * @returns `false` when zlib failed (corrupt input); the context is then dead
   */
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): boolean {
    if (this.dead || this.handle === undefined) return false;
    this.handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    // A native failure runs Node's error handler synchronously, which destroys the stream.
    if (this.stream.destroyed) {
      this.dead = true;
      return false;
    }
    return true;
  }

  /** Output room left after the last {@link writeSync}. */
  get availOut(): number {
    return this.state![0]!;
  }

  /** Input bytes left unconsumed by the last {@link writeSync}. */
  get availIn(): number {
    return this.state![1]!;
  }

  /** Input bytes consumed by asynchronous writes since the context was made. */
  get bytesWritten(): number {
    return this.stream.bytesWritten;
  }

  /** Starts an asynchronous write of `chunk`; `user` hears about its output and its end. */
  write(chunk: Buffer, user: ContextUser): void {
    this.user = user;
    this.stream.write(chunk, this.onWritten);
  }

  /** Forgets the LZ77 window (deflateReset / inflateReset). Only while idle. */
  reset(): void {
    if (!this.dead) this.stream.reset();
  }

  /** Frees the native context now. Anything in flight is abandoned without a callback. */
  destroy(): void {
    if (this.dead && this.stream.destroyed) return;
    this.dead = true;
    this.user = null;
    this.stream.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.dead) this.user?.onContextData(chunk);
  };

  private readonly onWritten = (error?: Error | null): void => {
    if (this.dead) return;
    const user = this.user;
    this.user = null;
    if (error) {
      this.dead = true;
      user?.onContextError(error);
    } else {
      user?.onContextDone();
    }
  };

  private readonly onError = (error: Error): void => {
    if (this.dead) return;
    this.dead = true;
    const user = this.user;
    this.user = null;
    user?.onContextError(error);
  };
}
