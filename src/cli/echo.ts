import type { Handler } from "../runtime/connection.js";
import { createServer, type Server } from "../server/server.js";

/** Options of {@link startEchoServer}. */
export interface EchoServerOptions {
  readonly port?: number;
  readonly host?: string;
  /** Negotiate permessage-deflate, accepting every valid client offer. */
  readonly deflate?: boolean;
  /** Default 64 MiB. */
  readonly maxMessageSize?: number;
}

/** A running echo server. */
export interface EchoServer {
  readonly port: number;
  readonly server: Server;
  /** Graceful shutdown: 1001 to every client, then close. */
  close(): Promise<void>;
}

/** Echoes text as text and binary as binary, on the library's own transport. */
const echoHandler: Handler = {
  onMessage(conn, message) {
    // Forwarded without a copy where it can be: the message is consumed.
    conn.send(message);
  },
};

/**
 * Starts the echo server that the conformance suite, the interop tests and the benchmarks drive:
 * any path, every message echoed with its type, permessage-deflate only when asked for.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const server = createServer(echoHandler, {
    maxMessageSize: options.maxMessageSize ?? 64 * 1024 * 1024,
    perMessageDeflate: options.deflate === true,
    // The echo of a 64 MiB message must fit the queue.
    maxBufferedAmount: 256 * 1024 * 1024,
  });
  const { port } = await server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  return { port, server, close: () => server.close(2000) };
}
