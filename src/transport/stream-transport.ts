import type { Duplex } from "node:stream";
import type { Connection } from "../runtime/connection.js";
import { isPlainSocket, type ReadBuffer } from "./read-buffer.js";

/** Sockets get Nagle off: WebSocket frames are small and latency matters. */
interface MaybeSocket {
  setNoDelay?(noDelay?: boolean): unknown;
}

/**
 * The back-reference from a stream to the connection it drives. A symbol, not a string, so that
 * it can clash with no property of the stream; set once, before the listeners, so every stream
 * that carries a connection gets the same hidden class and the listeners' property load stays
 * monomorphic.
 */
const kConnection: unique symbol = Symbol("tidews.connection");

/** A stream as the shared listeners see it (`this` of an EventEmitter listener is the emitter). */
interface DrivenStream extends Duplex {
  [kConnection]: Connection<unknown>;
}

// The listeners are shared by every connection: each finds its connection through the stream it
// is called on, so a connection costs no closure (nor context) per listener.
function onData(this: DrivenStream, chunk: Buffer): void {
  this[kConnection].handleData(chunk);
}

// The read callback of a socket that reads into a shared ReadBuffer: the chunk is a view of that
// buffer, valid during the call only.
function onRead(this: DrivenStream, n: number, buffer: Buffer): boolean {
  this[kConnection].handleData(buffer.subarray(0, n), true);
  return true;
}

function onEnd(this: DrivenStream): void {
  this[kConnection].handleEnd();
}

function onError(this: DrivenStream, error: Error): void {
  this[kConnection].handleError(error);
}

function onDrain(this: DrivenStream): void {
  this[kConnection].handleDrain();
}

function onClose(this: DrivenStream): void {
  this[kConnection].handleClose();
}

/**
 * Drives a {@link Connection} over a Node Duplex (a `net.Socket`, a `tls.TLSSocket`, the socket of
 * an http `upgrade` event or any in-memory Duplex): reads go to the connection, the stream's end,
 * errors and close are reported to it. The five listeners are module functions shared by every
 * connection (they find theirs through a symbol-keyed back-reference on the stream): no closure
 * per connection, none per message. With `reads`, a plain TCP socket reads into that shared
 * buffer instead of a new one per read (see {@link ReadBuffer}).
 */
export function attachStream<S>(stream: Duplex, conn: Connection<S>, reads?: ReadBuffer): void {
  (stream as MaybeSocket).setNoDelay?.(true);
  (stream as DrivenStream)[kConnection] = conn as Connection<unknown>;
  // A plain socket reads into the shared buffer from now on; `data` still brings what it had
  // read before (and every chunk of any other stream).
  reads?.adopt(stream, onRead as (this: Duplex, n: number, buffer: Buffer) => boolean);
  // A socket's writes need no callback each (see WriteQueue): Node then schedules no tick per
  // write. Any other Duplex may keep a written buffer after write() returns, so it gets them.
  if (isPlainSocket(stream)) conn.useQuietWrites();
  stream.on("data", onData);
  stream.on("end", onEnd);
  stream.on("error", onError);
  stream.on("drain", onDrain);
  stream.on("close", onClose);
}
