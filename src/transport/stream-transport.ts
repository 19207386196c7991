import type { Duplex } from "node:stream";
import type { Connection } from "../runtime/connection.js";

/** Sockets get Nagle off: WebSocket frames are small and latency matters. */
interface MaybeSocket {
  setNoDelay?(noDelay?: boolean): unknown;
}

/**
 * Drives a {@link Connection} over a Node Duplex (a `net.Socket`, a `tls.TLSSocket`, the socket of
 * an http `upgrade` event or any in-memory Duplex): reads go to the connection, the stream's end,
 * errors and close are reported to it. One set of listeners per connection, none per message.
 */
export function attachStream<S>(stream: Duplex, conn: Connection<S>): void {
  (stream as MaybeSocket).setNoDelay?.(true);
  stream.on("data", (chunk: Buffer) => conn.handleData(chunk));
  stream.on("end", () => conn.handleEnd());
  stream.on("error", (error: Error) => conn.handleError(error));
  stream.on("drain", () => conn.handleDrain());
  stream.on("close", () => conn.handleClose());
}
