import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  createServer as createHttpsServer,
  type ServerOptions as HttpsServerOptions,
} from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Pool } from "../buffer/pool.js";
import type { BroadcastOptions } from "../runtime/broadcaster.js";
import type { Connection, Handler, PublishOptions } from "../runtime/connection.js";
import { type ServerStats, Upgrader, type UpgraderOptions } from "./upgrader.js";

/** Options of {@link createServer}: the {@link UpgraderOptions} plus the HTTP side. */
export interface ServerOptions<S = Record<string, unknown>> extends UpgraderOptions<S> {
  /** TLS options (key, cert, ...): the server speaks `wss://`. */
  readonly tls?: HttpsServerOptions;
  /** Use this existing `http`/`https` server instead of creating one. */
  readonly server?: HttpServer;
  /** Answers plain HTTP requests (default: 426 Upgrade Required). */
  readonly onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Only upgrade requests for this path (default: any path); others get 404. */
  readonly path?: string;
  /** Largest request head, in bytes (Node's `maxHeaderSize`). Default 16 KiB. */
  readonly maxHeaderSize?: number;
}

function defaultRequest(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
  res.end("426 Upgrade Required: this is a WebSocket endpoint\n");
}

/**
 * A standalone WebSocket server: an `http` (or `https`) server whose `upgrade` requests go to an
 * {@link Upgrader}.
 */
export class Server<S = Record<string, unknown>> {
  /** The HTTP server underneath. */
  readonly http: HttpServer;
  /** The upgrader: handshake, options, registry. */
  readonly upgrader: Upgrader<S>;
  private readonly path: string | undefined;

  /** @internal Use {@link createServer}. */
  constructor(handler: Handler<S>, options: ServerOptions<S> = {}) {
    this.upgrader = new Upgrader(handler, options);
    this.path = options.path;
    const onRequest = options.onRequest ?? defaultRequest;
    const httpOptions = {
      maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
      // Slowloris: the request head must arrive within the handshake timeout.
      headersTimeout: options.handshakeTimeout ?? 10_000,
      requestTimeout: options.handshakeTimeout ?? 10_000,
      connectionsCheckingInterval: Math.min(1000, options.handshakeTimeout ?? 10_000),
    };
    this.http =
      options.server ??
      (options.tls !== undefined
        ? createHttpsServer({ ...httpOptions, ...options.tls }, onRequest)
        : createHttpServer(httpOptions, onRequest));
    this.http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    // An http server answers malformed requests itself; make sure hostile sockets cannot crash us.
    this.http.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (socket.writable && !socket.destroyed) {
        const status =
          error.code === "HPE_HEADER_OVERFLOW"
            ? 431
            : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
              ? 408
              : 400;
        socket.end(
          `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      }
      socket.destroy();
    });
  }

  /** The buffer pool of every connection. */
  get pool(): Pool {
    return this.upgrader.pool;
  }

  /** The open connections. */
  get connections(): ReadonlySet<Connection<S>> {
    return this.upgrader.connections;
  }

  /**
   * Starts listening.
   *
   * @returns the bound address (port 0 picks a free port)
   */
  async listen(port = 0, host?: string): Promise<AddressInfo> {
    await this.upgrader.ready;
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.http.once("error", onError);
      this.http.listen(port, host, () => {
        this.http.removeListener("error", onError);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /** Sends `data` to every connection in `conns` (default: all), encoded once per variant. */
  broadcast(
    data: string | Uint8Array,
    conns: Iterable<Connection<S>> = this.upgrader.connections,
    options?: Omit<BroadcastOptions, "pool">,
  ): number {
    return this.upgrader.broadcast(conns, data, options);
  }

  /**
   * Publishes `data` to every subscriber of `topic`, on this node and, through the adapter, on the
   * others. Encoded once per variant; each subscriber gets a topic's messages in publish order.
   *
   * @returns how many local subscribers it was queued for
   */
  publish(
    topic: string,
    data: string | Uint8Array,
    options?: Omit<PublishOptions, "includeSelf">,
  ): number {
    return this.upgrader.publish(topic, data, options);
  }

  /** The number of subscribers of `topic` on this node. */
  numSubscribers(topic: string): number {
    return this.upgrader.numSubscribers(topic);
  }

  /** Starts the close handshake on every connection. */
  closeAll(code?: number, reason?: string): void {
    this.upgrader.closeAll(code, reason);
  }

  /**
   * Graceful shutdown: stops accepting, sends 1001 to every connection, lets queued messages
   * flush, waits up to `timeout` ms for the close handshakes, terminates the rest, closes the
   * pub/sub adapter and the HTTP server.
   */
  async close(timeout = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await this.upgrader.shutdown(timeout);
    this.http.closeAllConnections();
    await closed;
  }

  /** Counters: connections, messages and bytes in and out, pool, deflate ratio, drops, closes. */
  stats(): ServerStats {
    return this.upgrader.stats();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.path !== undefined) {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== this.path) {
        socket.on("error", () => {});
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
    }
    this.upgrader.upgrade(req, socket, head);
  }
}

/**
 * Creates a standalone WebSocket server (plain, or TLS with `options.tls`).
 *
 * ```ts
 * const server = createServer({ onMessage(conn, m) { conn.send(m.data, { binary: m.isBinary }); } });
 * const { port } = await server.listen(8080, "127.0.0.1");
 * ```
 */
export function createServer<S = Record<string, unknown>>(
  handler: Handler<S>,
  options: ServerOptions<S> = {},
): Server<S> {
  return new Server(handler, options);
}
