import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { BufferPool } from "../buffer/buffer-pool.js";
import type { Pool } from "../buffer/pool.js";
import { CodecPool } from "../deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../deflate/concurrency-limiter.js";
import { negotiateServer, type PerMessageDeflateOptions } from "../deflate/negotiation.js";
import { ZlibCodecFactory } from "../deflate/zlib-codec.js";
import { HandshakeError, isTidewsError } from "../errors.js";
import { parseExtensions } from "../protocol/extension-header.js";
import {
  buildRefusal,
  buildResponse,
  selectProtocol,
  validateRequest,
} from "../protocol/handshake.js";
import { Connection, type Handler } from "../runtime/connection.js";
import { DeflateMessageCodec } from "../runtime/message-codec.js";
import { attachStream } from "../transport/stream-transport.js";

/** Options of an {@link Upgrader}. */
export interface UpgraderOptions {
  /** Largest message accepted, after decompression. Default 16 MiB. */
  readonly maxMessageSize?: number;
  /**
   * permessage-deflate (RFC 7692): off by default on the server. `true` accepts every valid
   * client offer with the defaults; an object sets the parameters and the threshold.
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Subprotocols the server speaks, in order of preference, or a function that picks one. */
  readonly protocols?: readonly string[] | ((offered: readonly string[]) => string | undefined);
  /** Validate text messages as UTF-8 (RFC 6455 section 8.1). Default `true`. */
  readonly validateUtf8?: boolean;
  /** Answer pings automatically. Default `true`. */
  readonly autoPong?: boolean;
  /** Milliseconds to wait for the peer to finish the close handshake. Default 5000. */
  readonly closeTimeout?: number;
  /** What a throwing handler does: `"log"` (default) or `"close"` (1011). */
  readonly recovery?: "log" | "close";
  /** The buffer pool; by default each Upgrader has its own. */
  readonly pool?: Pool;
}

/**
 * Turns HTTP upgrade requests into WebSocket connections. Use it from the `upgrade` event of any
 * Node `http` or `https` server (Express, Fastify, Koa and Hono's node server all expose one):
 *
 * ```ts
 * const upgrader = new Upgrader(handler, options);
 * server.on("upgrade", (req, socket, head) => upgrader.upgrade(req, socket, head));
 * ```
 */
export class Upgrader<S = Record<string, unknown>> {
  /** The pool every connection of this upgrader uses. */
  readonly pool: Pool;
  /** The open connections. */
  readonly connections: Set<Connection<S>> = new Set();
  private readonly handler: Handler<S>;
  private readonly options: UpgraderOptions;
  private readonly deflate: PerMessageDeflateOptions | undefined;
  private readonly codecs: ZlibCodecFactory | undefined;

  /**
   * @param handler - the application's event handler, shared by every connection
   * @param options - see {@link UpgraderOptions}
   */
  constructor(handler: Handler<S>, options: UpgraderOptions = {}) {
    this.handler = handler;
    this.options = options;
    this.pool = options.pool ?? new BufferPool(256, 1024 * 1024);
    const d = options.perMessageDeflate;
    this.deflate = d === true ? {} : d === false || d === undefined ? undefined : d;
    this.codecs =
      this.deflate === undefined
        ? undefined
        : new ZlibCodecFactory({
            bufferPool: this.pool,
            limiter: new ConcurrencyLimiter(),
            codecPool: new CodecPool(),
            deflate: this.deflate,
          });
  }

  /**
   * Completes the opening handshake (RFC 6455 section 4.2.2) on `socket` and opens a connection,
   * or answers with the HTTP error the request deserves and closes the socket.
   *
   * @returns the new connection, or `undefined` when the request was refused
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Connection<S> | undefined {
    let response: string;
    let protocol: string | undefined;
    let extensions: string | undefined;
    let deflateParams: ReturnType<typeof negotiateServer> = null;
    try {
      const request = validateRequest({
        method: req.method ?? "",
        httpVersion: req.httpVersion,
        headers: req.headers,
      });
      if (this.options.protocols !== undefined && request.protocols.length > 0) {
        protocol = selectProtocol(request.protocols, this.options.protocols);
      }
      if (this.deflate !== undefined && request.extensions !== undefined) {
        const offers = parseExtensions(request.extensions).filter(
          (o) => o.name === "permessage-deflate",
        );
        deflateParams = negotiateServer(offers, this.deflate);
        extensions = deflateParams?.response;
      }
      response = buildResponse(request.key, { protocol, extensions });
    } catch (error) {
      this.refuse(socket, error);
      return undefined;
    }
    socket.write(response);
    let codec: DeflateMessageCodec | undefined;
    if (deflateParams !== null && this.codecs !== undefined) {
      const { inflater, deflater } = this.codecs.create(deflateParams.params, "server");
      codec = new DeflateMessageCodec(inflater, deflater, this.pool, this.codecs.threshold);
    }
    const conn = new Connection<S>(socket, this.handler, {
      role: "server",
      pool: this.pool,
      maxMessageSize: this.options.maxMessageSize,
      autoPong: this.options.autoPong,
      validateUtf8: this.options.validateUtf8,
      closeTimeout: this.options.closeTimeout,
      recovery: this.options.recovery,
      codec,
      protocol,
      extensions,
      remoteAddress: (socket as { remoteAddress?: string }).remoteAddress,
      registry: this.connections as unknown as Set<Connection<never>>,
    });
    attachStream(socket, conn);
    conn.open(head);
    return conn;
  }

  /** Starts the close handshake on every open connection. */
  closeAll(code = 1001, reason = ""): void {
    for (const conn of this.connections) conn.close(code, reason);
  }

  private refuse(socket: Duplex, error: unknown): void {
    if (error instanceof HandshakeError) {
      socket.end(buildRefusal(error.status, error.headers, error.message));
    } else {
      const message = isTidewsError(error) ? error.message : "internal error";
      socket.end(buildRefusal(500, {}, message));
    }
  }
}
