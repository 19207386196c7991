import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Handler } from "../runtime/connection.js";
import { Upgrader } from "../server/upgrader.js";

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
  readonly upgrader: Upgrader;
  close(): Promise<void>;
}

/** Echoes text as text and binary as binary, on the library's own transport. */
const echoHandler: Handler = {
  onMessage(conn, message) {
    if (conn.readyState !== 1) return;
    conn.send(message.data, { binary: !message.isText });
  },
};

/**
 * Starts the echo server that the conformance suite, the interop tests and the benchmarks drive:
 * any path, every message echoed with its type, permessage-deflate only when asked for.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const upgrader = new Upgrader(echoHandler, {
    maxMessageSize: options.maxMessageSize ?? 64 * 1024 * 1024,
    perMessageDeflate: options.deflate === true,
  });
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("tidews echo server: connect with a WebSocket client\n");
  });
  server.on("upgrade", (req, socket, head) => upgrader.upgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    upgrader,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
