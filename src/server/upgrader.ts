import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { BufferPool } from "../buffer/buffer-pool.js";
import type { Pool } from "../buffer/pool.js";
import { CodecPool } from "../deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../deflate/concurrency-limiter.js";
import {
  codecParams,
  type DeflateParams,
  negotiateServer,
  type PerMessageDeflateOptions,
} from "../deflate/negotiation.js";
import { ZlibCodecFactory } from "../deflate/zlib-codec.js";
import { createHandshakeError, HandshakeError } from "../errors.js";
import { CloseCode } from "../protocol/close-codes.js";
import { parseExtensions } from "../protocol/extension-header.js";
import {
  buildRefusal,
  buildResponse,
  type OutgoingHeaders,
  selectProtocol,
  validateRequest,
} from "../protocol/handshake.js";
import type { XorRange } from "../protocol/mask.js";
import type { Adapter } from "../runtime/adapter.js";
import {
  Broadcaster,
  type BroadcastOptions,
  broadcastCompresses,
  broadcastOpcode,
} from "../runtime/broadcaster.js";
import {
  type BackpressurePolicy,
  Connection,
  ConnectionConfig,
  checkReceiveOptions,
  type Handler,
  type PublishOptions,
  type ReceiveOptions,
} from "../runtime/connection.js";
import { Heartbeat } from "../runtime/heartbeat.js";
import { DeflateMessageCodec } from "../runtime/message-codec.js";
import { loadNativeXor } from "../runtime/native-mask.js";
import type { SharedFrame } from "../runtime/shared-frame.js";
import { ConnectionStats, type ConnectionStatsSnapshot } from "../runtime/stats.js";
import { TickFlusher } from "../runtime/tick-flusher.js";
import { TopicRegistry } from "../runtime/topics.js";
import { peerAddress } from "../transport/peer-address.js";
import { ReadBuffer } from "../transport/read-buffer.js";
import { attachStream } from "../transport/stream-transport.js";

/** What `authorize` may return: accept (`true`/nothing), refuse with 401 (`false`), or accept with session data. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing accepts.
export type AuthorizeResult<S> = boolean | undefined | void | { readonly session: S };

/**
 * Options of an {@link Upgrader} (and of `createServer`); the {@link ReceiveOptions}
 * (`concurrency`, `streamMessages`, `maxStreamSize`, `maxBacklogBytes`, `maxBacklogMessages`)
 * among them.
 */
export interface UpgraderOptions<S = Record<string, unknown>> extends ReceiveOptions {
  /**
   * Decides whether a request may open a connection; sync or async. Return nothing or `true` to
   * accept, `{ session }` to accept with session data, `false` to answer 401; throw (or reject
   * with) an object with `status` (and optional `headers`, `body` or `message`) for any other
   * HTTP answer. Runs after the WebSocket checks, the origin check and the connection limit.
   */
  readonly authorize?: (req: IncomingMessage) => AuthorizeResult<S> | Promise<AuthorizeResult<S>>;
  /**
   * Allowed `Origin` values (exact, e.g. `"https://example.com"`), or a function deciding. A
   * request with another origin gets 403. Requests without an Origin header (non-browser
   * clients) pass. Default: any origin.
   */
  readonly origins?:
    | readonly string[]
    | ((origin: string | undefined, req: IncomingMessage) => boolean);
  /** Subprotocols the server speaks, in order of preference, or a function that picks one. */
  readonly protocols?: readonly string[] | ((offered: readonly string[]) => string | undefined);
  /** Extra headers of the 101 response, or a function of the request returning them. */
  readonly headers?: OutgoingHeaders | ((req: IncomingMessage) => OutgoingHeaders);
  /**
   * Milliseconds an upgrade may take, from the `upgrade` event to the 101 (an async `authorize`
   * counts). Default 10,000. `createServer` also bounds the time to receive the request headers.
   */
  readonly handshakeTimeout?: number;
  /** Largest message accepted, after decompression. Default 16 MiB. */
  readonly maxMessageSize?: number;
  /** Open connections at most; beyond, HTTP 503 with `Retry-After`. Default: no limit. */
  readonly maxConnections?: number;
  /**
   * Header lines an upgrade request may have; beyond, HTTP 431. Default 100; 0: no limit.
   * Node's parser only limits the bytes (`maxHeaderSize`), and keeps at most its
   * `maxHeadersCount` (2000) headers.
   */
  readonly maxHeaderLines?: number;
  /**
   * permessage-deflate (RFC 7692): off by default on the server. `true` accepts every valid
   * client offer with the defaults; an object sets the parameters, the threshold and the level.
   * The server answers `server_no_context_takeover` unless `serverNoContextTakeover: false`: its
   * compressor keeps no context per connection (see {@link PerMessageDeflateOptions}).
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Validate text messages as UTF-8 (RFC 6455 section 8.1). Default `true`. */
  readonly validateUtf8?: boolean;
  /** Answer pings automatically. Default `true`. */
  readonly autoPong?: boolean;
  /**
   * Unmask received payloads with the `bufferutil` package when it is installed (as `ws` does);
   * tidews does not depend on it. Default `true`; it is loaded in the background when the
   * Upgrader is made, and {@link Upgrader.ready} (awaited by `createServer().listen()`) settles
   * once it is in use or known to be missing.
   */
  readonly nativeMask?: boolean;
  /** Milliseconds to wait for the peer to finish the close handshake. Default 5000. */
  readonly closeTimeout?: number;
  /** What a throwing handler does: `"log"` (default) or `"close"` (1011). */
  readonly recovery?: "log" | "close";
  /**
   * Milliseconds of silence after which a connection is pinged; one that does not answer is
   * terminated, at most `2 * idleTimeout` after its last bytes. One timer for all connections.
   * Default: off.
   */
  readonly idleTimeout?: number;
  /** Queued bytes per connection beyond which `backpressure` applies. Default 16 MiB; 0: none. */
  readonly maxBufferedAmount?: number;
  /** `"close"` (default: close with 1008) or `"drop"` (drop the message and count it). */
  readonly backpressure?: BackpressurePolicy;
  /** `send` returns false once this many bytes are queued. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** The buffer pool; by default each Upgrader has its own. */
  readonly pool?: Pool;
  /**
   * Plain TCP sockets read into one 64 KiB buffer shared by every connection of the Upgrader,
   * instead of a new buffer per read (far less garbage, no full
   * collections driven by read buffers). Default `true`; TLS sockets and other streams always
   * keep their own reads.
   */
  readonly sharedReadBuffer?: boolean;
  /**
   * Carries topic publishes between nodes (processes, machines): `new RedisAdapter({ url })`
   * from `tidews/redis`. Default: a `MemoryAdapter`, this process alone.
   */
  readonly adapter?: Adapter;
}

/** Server statistics: connection counters plus the pool's. */
export interface ServerStats extends ConnectionStatsSnapshot {
  /** Open connections now. */
  readonly connections: number;
  /** The buffer pool's counters. */
  readonly pool: ReturnType<Pool["stats"]>;
  /** Upgrade requests refused, by HTTP status. */
  readonly refused: Readonly<Record<number, number>>;
}

/** A thrown or rejected `authorize` answer. */
interface HttpAnswer {
  readonly status: number;
  readonly headers?: OutgoingHeaders;
  readonly body?: string;
  readonly message?: string;
}

function isHttpAnswer(v: unknown): v is HttpAnswer {
  return (
    typeof v === "object" && v !== null && typeof (v as { status?: unknown }).status === "number"
  );
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** A broadcast is merged into the previous one while both fit in this many bytes. */
const MERGE_MAX = 64 * 1024;

/** The callback that ends broadcast merging once the flush is done (no closure per broadcast). */
function forgetShared(upgrader: { forgetShared(): void }): void {
  upgrader.forgetShared();
}
const DEFAULT_MAX_HEADER_LINES = 100;

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
  /** The frame of the last broadcast, while a next one may be appended to it. */
  private lastShared: SharedFrame | undefined;
  /** The read buffer its plain TCP sockets share (see {@link UpgraderOptions.sharedReadBuffer}). */
  private readonly reads: ReadBuffer | undefined;
  /** The open connections. */
  readonly connections: Set<Connection<S>> = new Set();
  /** The topic index every connection subscribes through (and its adapter). */
  readonly topics: TopicRegistry;
  private readonly handler: Handler<S>;
  private readonly options: UpgraderOptions<S>;
  private readonly deflate: PerMessageDeflateOptions | undefined;
  private readonly codecs: ZlibCodecFactory | undefined;
  private readonly heartbeat: Heartbeat | undefined;
  private readonly counters = new ConnectionStats();
  /** One end-of-tick flush for every connection of this server (see {@link TickFlusher}). */
  private readonly flusher = new TickFlusher();
  private readonly refusals = new Map<number, number>();
  private pendingUpgrades = 0;
  /** The peer address of the last connection, shared with the next from the same peer. */
  private lastPeer: string | undefined;
  private shuttingDown = false;
  /** The native unmasking function, once loaded (see {@link UpgraderOptions.nativeMask}). */
  private xor: XorRange | undefined;
  /** The shared settings of new connections; made again once native unmasking is loaded. */
  private config: ConnectionConfig<S>;
  /**
   * Settles (never rejects) once native unmasking is loaded or known to be unavailable;
   * connections upgraded before that unmask in TypeScript.
   */
  readonly ready: Promise<void>;

  /**
   * @param handler - the application's event handler, shared by every connection
   * @param options - see {@link UpgraderOptions}
   */
  constructor(handler: Handler<S>, options: UpgraderOptions<S> = {}) {
    checkReceiveOptions(options, handler as Handler<never>);
    this.handler = handler;
    this.options = options;
    this.pool = options.pool ?? new BufferPool(256, 1024 * 1024);
    this.reads = options.sharedReadBuffer === false ? undefined : new ReadBuffer();
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
    this.heartbeat =
      options.idleTimeout === undefined ? undefined : new Heartbeat(options.idleTimeout);
    this.topics = new TopicRegistry({
      pool: this.pool,
      adapter: options.adapter,
      threshold: this.deflate?.threshold,
      level: this.deflate?.level,
    });
    this.ready =
      options.nativeMask === false
        ? Promise.resolve()
        : loadNativeXor().then((xor) => {
            this.xor = xor;
            if (xor !== undefined) this.config = this.connectionConfig();
          });
    this.config = this.connectionConfig();
  }

  /** The settings every connection upgraded from now on shares (see {@link ConnectionConfig}). */
  private connectionConfig(): ConnectionConfig<S> {
    const o = this.options;
    return new ConnectionConfig<S>(this.handler, {
      role: "server",
      pool: this.pool,
      maxMessageSize: o.maxMessageSize,
      autoPong: o.autoPong,
      validateUtf8: o.validateUtf8,
      xor: this.xor,
      closeTimeout: o.closeTimeout,
      recovery: o.recovery,
      highWaterMark: o.highWaterMark,
      maxBufferedAmount: o.maxBufferedAmount,
      backpressure: o.backpressure,
      concurrency: o.concurrency,
      maxBacklogBytes: o.maxBacklogBytes,
      maxBacklogMessages: o.maxBacklogMessages,
      streamMessages: o.streamMessages,
      maxStreamSize: o.maxStreamSize,
      registry: this.connections as unknown as Set<Connection<never>>,
      stats: this.counters,
      heartbeat: this.heartbeat,
      topics: this.topics,
      flusher: this.flusher,
    });
  }

  /** True when received payloads are unmasked natively (bufferutil). */
  get nativeMask(): boolean {
    return this.xor !== undefined;
  }

  /** Open connections now. */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Completes the opening handshake (RFC 6455 section 4.2.2) on `socket` and opens a connection,
   * or answers with the HTTP error the request deserves and closes the socket. The connection is
   * handed to `onOpen`.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", ignoreError);
    try {
      const lines = this.options.maxHeaderLines ?? DEFAULT_MAX_HEADER_LINES;
      if (lines > 0 && req.rawHeaders.length > 2 * lines) {
        throw createHandshakeError("ERR_HANDSHAKE_HEADERS_TOO_LARGE", 431, `over ${lines} lines`);
      }
      if (this.shuttingDown) {
        throw createHandshakeError("ERR_HANDSHAKE_SHUTTING_DOWN", 503, undefined, {
          "Retry-After": "5",
        });
      }
      const max = this.options.maxConnections;
      if (max !== undefined && this.connections.size + this.pendingUpgrades >= max) {
        throw createHandshakeError("ERR_HANDSHAKE_TOO_MANY_CONNECTIONS", 503, undefined, {
          "Retry-After": "1",
        });
      }
      const request = validateRequest({
        method: req.method ?? "",
        httpVersion: req.httpVersion,
        headers: req.headers,
      });
      const origins = this.options.origins;
      if (origins !== undefined) {
        const ok =
          typeof origins === "function"
            ? origins(request.origin, req)
            : request.origin === undefined || origins.includes(request.origin);
        if (!ok) throw createHandshakeError("ERR_HANDSHAKE_ORIGIN", 403);
      }
      const authorize = this.options.authorize;
      if (authorize === undefined) {
        this.finish(req, socket, head, request, undefined);
        return;
      }
      const verdict = authorize(req);
      if (!isPromiseLike(verdict)) {
        this.finish(req, socket, head, request, verdict);
        return;
      }
      this.pendingUpgrades++;
      const timeout = this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.pendingUpgrades--;
        this.refuse(socket, createHandshakeError("ERR_HANDSHAKE_TIMEOUT", 408));
      }, timeout);
      verdict.then(
        (v) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.pendingUpgrades--;
          if (socket.destroyed) return;
          try {
            this.finish(req, socket, head, request, v);
          } catch (error) {
            this.refuse(socket, error);
          }
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.pendingUpgrades--;
          this.refuse(socket, error);
        },
      );
    } catch (error) {
      this.refuse(socket, error);
    }
  }

  /**
   * Sends `data` to every connection in `conns`, encoded (and compressed) once per variant.
   *
   * Broadcasts to the same connections share one buffer until it is written: when every
   * connection holding the previous broadcast's frame still has it as the last thing queued
   * (nothing sent to it since, nothing written yet), this frame is appended to that buffer, and
   * each connection writes both with one `write`. That holds for the broadcasts of one tick, and
   * for those that come while a long flush is under way, for the connections whose slice has
   * not been written yet (see {@link TickFlusher}). The order on every connection is that of the
   * calls, as without merging; the appended messages are admitted with the first (their bytes,
   * at most 64 KiB with the first, do not meet `maxBufferedAmount` on their own).
   *
   * @returns how many connections it was queued for
   */
  broadcast(
    conns: Iterable<Connection<S>>,
    data: string | Uint8Array,
    options?: Omit<BroadcastOptions, "pool">,
  ): number {
    const merged = this.mergeBroadcast(conns, data, options);
    if (merged >= 0) return merged;
    const b = new Broadcaster(data, { ...options, pool: this.pool });
    try {
      for (const conn of conns) b.broadcast(conn as Connection<unknown>);
      if (b.delivered > 0) this.rememberShared(b.takePlainFrame());
    } finally {
      b.release();
    }
    return b.delivered;
  }

  /** Keeps a reference to a broadcast's frame until its flush is done, to merge into it. */
  private rememberShared(frame: SharedFrame | undefined): void {
    const last = this.lastShared;
    this.lastShared = frame;
    if (last !== undefined) last.unref();
    else if (frame !== undefined) process.nextTick(forgetShared, this);
  }

  /**
   * @internal The end of the tick: the remembered frame can no longer be merged into, unless a
   * long flush is still under way (then it asks again after the next slice).
   */
  forgetShared(): void {
    if (this.flusher.pending) {
      setImmediate(forgetShared, this);
      return;
    }
    const last = this.lastShared;
    this.lastShared = undefined;
    last?.unref();
  }

  /**
   * Appends `data` to the previous broadcast's frame when that is safe for every connection
   * holding it (see {@link broadcast}); the connections of `conns` that do not hold it get it
   * as its own frame. Returns the connections reached, or -1 when it did not merge.
   */
  private mergeBroadcast(
    conns: Iterable<Connection<S>>,
    data: string | Uint8Array,
    options: Omit<BroadcastOptions, "pool"> | undefined,
  ): number {
    const last = this.lastShared;
    if (last === undefined || !last.live) return -1;
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    // Small messages only (a merge copies the frame so far), and never one a recipient might
    // get compressed: that is another frame.
    if (last.len + size > MERGE_MAX) return -1;
    if (this.deflate !== undefined && broadcastCompresses(size, options)) return -1;
    let holders = 0;
    let others: Connection<unknown>[] | undefined;
    for (const conn of conns) {
      const c = conn as Connection<unknown>;
      if (c.endsWithShared(last)) {
        holders++;
      } else {
        if (others === undefined) others = [];
        others.push(c);
      }
    }
    // Every reference but ours must be such a queue, or some holder would see the new bytes
    // after something else (or none of them has written it and one is not in `conns`).
    if (holders === 0 || holders !== last.refCount - 1) return -1;
    last.appendFrame(broadcastOpcode(data, options?.binary), data);
    this.counters.messagesOut += holders;
    this.counters.bytesOut += holders * size;
    if (others === undefined) return holders;
    const b = new Broadcaster(data, { ...options, pool: this.pool });
    try {
      for (const c of others) b.broadcast(c);
    } finally {
      b.release();
    }
    return holders + b.delivered;
  }

  /**
   * Publishes `data` to every subscriber of `topic`: the local ones (encoded once per variant),
   * and through the adapter those of the other nodes.
   *
   * @returns how many local subscribers it was queued for
   */
  publish(
    topic: string,
    data: string | Uint8Array,
    options?: Omit<PublishOptions, "includeSelf">,
  ): number {
    return this.topics.publish(topic, data, options, undefined);
  }

  /** The number of local subscribers of `topic` (on this node). */
  numSubscribers(topic: string): number {
    return this.topics.numSubscribers(topic);
  }

  /** Starts the close handshake on every open connection. */
  closeAll(code: number = CloseCode.GoingAway, reason = ""): void {
    for (const conn of this.connections) conn.close(code, reason);
  }

  /**
   * Graceful shutdown: refuses new upgrades (503), sends 1001 to every connection, lets what is
   * queued flush, and waits up to `timeout` ms for the peers to close; then terminates the rest
   * and closes the pub/sub adapter. Resolves once every connection has closed and had its
   * `onClose`.
   */
  async shutdown(timeout = 5000, reason = "server shutting down"): Promise<void> {
    this.shuttingDown = true;
    this.closeAll(CloseCode.GoingAway, reason);
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => {
        let giveUp: ReturnType<typeof setTimeout> | undefined;
        const done = () => {
          clearInterval(check);
          clearTimeout(timer);
          clearTimeout(giveUp);
          resolve();
        };
        const timer = setTimeout(() => {
          for (const conn of this.connections) conn.terminate();
          // The destroyed sockets close on a later turn, and only then does each connection
          // leave the registry and get its onClose: wait for that (bounded, in case a custom
          // stream never reports its close).
          giveUp = setTimeout(done, 1000);
        }, timeout);
        // Not unref'd: whoever awaits the shutdown keeps the process alive until it is done.
        const check = setInterval(() => {
          if (this.connections.size === 0) done();
        }, 10);
      });
    }
    this.heartbeat?.stop();
    await this.topics.close();
  }

  /** Counters since start. */
  stats(): ServerStats {
    return {
      ...this.counters.snapshot(),
      connections: this.connections.size,
      pool: this.pool.stats(),
      refused: Object.fromEntries(this.refusals),
    };
  }

  private finish(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    request: ReturnType<typeof validateRequest>,
    verdict: AuthorizeResult<S>,
  ): void {
    if (verdict === false) throw createHandshakeError("ERR_HANDSHAKE_UNAUTHORIZED", 401);
    const session = typeof verdict === "object" && verdict !== null ? verdict.session : undefined;
    let protocol: string | undefined;
    let extensions: string | undefined;
    let deflateParams: DeflateParams | undefined;
    if (this.options.protocols !== undefined && request.protocols.length > 0) {
      protocol = selectProtocol(request.protocols, this.options.protocols);
    }
    if (this.deflate !== undefined && request.extensions !== undefined) {
      const negotiated = negotiateServer(parseExtensions(request.extensions), this.deflate);
      if (negotiated !== null) {
        deflateParams = negotiated.params;
        extensions = negotiated.response;
      }
    }
    const extra = this.options.headers;
    const headers = typeof extra === "function" ? extra(req) : extra;
    const response = buildResponse(request.key, { protocol, extensions, headers });
    socket.removeListener("error", ignoreError);
    socket.write(response);
    let codec: DeflateMessageCodec | undefined;
    if (deflateParams !== undefined && this.codecs !== undefined) {
      const { inflater, deflater } = this.codecs.create(deflateParams, "server");
      const p = codecParams(deflateParams, "server");
      codec = new DeflateMessageCodec(
        inflater,
        deflater,
        this.pool,
        this.codecs.threshold,
        p.deflateNoContextTakeover ? p.deflateWindowBits : undefined,
      );
    }
    const remoteAddress = peerAddress(socket, this.lastPeer);
    this.lastPeer = remoteAddress;
    const conn = new Connection<S>(socket, this.config, {
      codec,
      protocol,
      extensions,
      session,
      remoteAddress,
    });
    attachStream(socket, conn, this.reads);
    conn.open(head);
  }

  private refuse(socket: Duplex, error: unknown): void {
    let status = 500;
    let text: string;
    if (error instanceof HandshakeError) {
      status = error.status;
      text = buildRefusal(status, error.headers as OutgoingHeaders, error.message);
    } else if (isHttpAnswer(error)) {
      status = error.status;
      text = buildRefusal(status, error.headers ?? {}, error.body ?? error.message ?? "");
    } else {
      text = buildRefusal(500, {}, "internal error");
    }
    this.refusals.set(status, (this.refusals.get(status) ?? 0) + 1);
    if (socket.destroyed) return;
    socket.end(text);
    // A peer that never reads must not keep the socket: destroy once the answer is flushed.
    socket.once("finish", () => socket.destroy());
  }
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return (
    typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function"
  );
}

function ignoreError(): void {}
