/**
 * The settings of a runtime {@link Connection}, checked and resolved once per server (or client
 * connect call) and shared by its connections: the handler, the pool, the limits and the shared
 * services (registry, heartbeat, topics, counters). A connection holds one reference to its
 * config and only what differs per connection ({@link ConnectionParams}); an idle connection
 * stays small (issue 7's memory target), as GWS's `Conn` points at one `*Config`.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import type { MaskSource, XorRange } from "../protocol/mask.js";
import { ProtocolConfig } from "../protocol/protocol-config.js";
import type {
  BackpressurePolicy,
  Connection,
  Handler,
  ReceiveOptions,
  TopicHost,
} from "./connection.js";
import type { Heartbeat } from "./heartbeat.js";
import type { MessageCodec } from "./message-codec.js";
import type { ConnectionStats } from "./stats.js";
import { TickFlusher } from "./tick-flusher.js";

/** The default close timeout: 5 s. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** The default high-water mark of `send`'s return value: 64 KiB. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** The default `maxBufferedAmount`: 16 MiB. */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 16 * 1024 * 1024;
/** The default {@link ReceiveOptions.maxBacklogBytes}: 1 MiB. */
export const DEFAULT_MAX_BACKLOG_BYTES = 1024 * 1024;
/** The default {@link ReceiveOptions.maxBacklogMessages}: 1024. */
export const DEFAULT_MAX_BACKLOG_MESSAGES = 1024;

/**
 * An integer option: `dflt` when absent.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when not a safe integer >= `min`
 */
export function integerOption(
  name: string,
  value: number | undefined,
  min: number,
  dflt: number,
): number {
  if (value === undefined) return dflt;
  if (!Number.isSafeInteger(value) || value < min) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * The stream threshold of the protocol core for `streamMessages` (`undefined`: never stream).
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a value that is not a boolean or an
 *   integer >= 0
 */
export function streamThresholdOf(value: boolean | number | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 0;
  return integerOption("streamMessages", value, 0, 0);
}

/** Options of the connections of one server or client, set by the server or client. */
export interface ConnectionOptions extends ReceiveOptions {
  readonly role: "server" | "client";
  readonly pool: Pool;
  readonly maxMessageSize?: number;
  readonly autoPong?: boolean;
  readonly validateUtf8?: boolean;
  readonly maskSource?: MaskSource;
  /** How received payloads are unmasked (a native one, when loaded). Default: the core's. */
  readonly xor?: XorRange;
  /** Milliseconds to wait for the peer to finish the close handshake. Default 5000. */
  readonly closeTimeout?: number;
  /** What a throwing handler does: `"log"` (default) reports and goes on, `"close"` closes with 1011. */
  readonly recovery?: "log" | "close";
  /** `send` returns false once this many bytes are queued. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Queued bytes beyond which the backpressure policy applies. Default 16 MiB; 0 for none. */
  readonly maxBufferedAmount?: number;
  /** The policy past `maxBufferedAmount`. Default `"close"`. */
  readonly backpressure?: BackpressurePolicy;
  /** The registry a connection adds itself to on open and removes itself from on close. */
  readonly registry?: Set<Connection<never>>;
  /** Counters shared with the server. */
  readonly stats?: ConnectionStats;
  /** The shared heartbeat, when `idleTimeout` is set. */
  readonly heartbeat?: Heartbeat;
  /** The pub/sub registry of the server. */
  readonly topics?: TopicHost;
  /** The end-of-tick flush shared by the connections. Default: one of this config's own. */
  readonly flusher?: TickFlusher;
}

/** What differs from one connection to the next of the same {@link ConnectionConfig}. */
export interface ConnectionParams {
  /** The negotiated permessage-deflate codec, if any. */
  readonly codec?: MessageCodec;
  /** Negotiated subprotocol. */
  readonly protocol?: string;
  /** Negotiated extensions header value. */
  readonly extensions?: string;
  /** The peer's address. */
  readonly remoteAddress?: string;
  /** Initial session data (from `authorize`). */
  readonly session?: unknown;
}

/**
 * {@link ConnectionOptions} with their defaults applied and checked, for one handler. Immutable;
 * made once by the server (again only when its native unmasking loads) or per client connect.
 */
export class ConnectionConfig<S = Record<string, unknown>> {
  /** The application's handler. */
  readonly handler: Handler<S>;
  /** See {@link ConnectionOptions.pool}. */
  readonly pool: Pool;
  /** See {@link ConnectionOptions.role}. */
  readonly role: "server" | "client";
  /** Milliseconds to wait for the peer's close frame. */
  readonly closeTimeout: number;
  /** See {@link ConnectionOptions.recovery}. */
  readonly recovery: "log" | "close";
  /** See {@link ConnectionOptions.highWaterMark}. */
  readonly highWaterMark: number;
  /** See {@link ConnectionOptions.maxBufferedAmount}. */
  readonly maxBufferedAmount: number;
  /** See {@link ConnectionOptions.backpressure}. */
  readonly backpressure: BackpressurePolicy;
  /** See {@link ConnectionOptions.registry}. */
  readonly registry: Set<Connection<never>> | undefined;
  /** See {@link ConnectionOptions.stats}. */
  readonly stats: ConnectionStats | undefined;
  /** See {@link ConnectionOptions.heartbeat}. */
  readonly heartbeat: Heartbeat | undefined;
  /** See {@link ConnectionOptions.topics}. */
  readonly topics: TopicHost | undefined;
  /** See {@link ConnectionOptions.flusher}. */
  readonly flusher: TickFlusher;
  /** See {@link ReceiveOptions.concurrency}. */
  readonly concurrency: number;
  /** See {@link ReceiveOptions.maxBacklogBytes}. */
  readonly maxBacklogBytes: number;
  /** See {@link ReceiveOptions.maxBacklogMessages}. */
  readonly maxBacklogMessages: number;
  /** The protocol core's settings without compression; see {@link ProtocolConfig.withCompression}. */
  readonly protocol: ProtocolConfig;

  /**
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an option out of range, or
   *   `streamMessages` without `handler.onStream`
   */
  constructor(handler: Handler<S>, options: ConnectionOptions) {
    this.handler = handler;
    this.pool = options.pool;
    this.role = options.role;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.recovery = options.recovery ?? "log";
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxBufferedAmount = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED_AMOUNT;
    this.backpressure = options.backpressure ?? "close";
    this.registry = options.registry;
    this.stats = options.stats;
    this.heartbeat = options.heartbeat;
    this.topics = options.topics;
    this.flusher = options.flusher ?? new TickFlusher();
    this.concurrency = integerOption("concurrency", options.concurrency, 1, 1);
    this.maxBacklogBytes = integerOption(
      "maxBacklogBytes",
      options.maxBacklogBytes,
      0,
      DEFAULT_MAX_BACKLOG_BYTES,
    );
    this.maxBacklogMessages = integerOption(
      "maxBacklogMessages",
      options.maxBacklogMessages,
      1,
      DEFAULT_MAX_BACKLOG_MESSAGES,
    );
    // Without onStream, nothing could consume a stream: messages are assembled as before.
    const streamThreshold =
      typeof handler.onStream === "function"
        ? streamThresholdOf(options.streamMessages)
        : undefined;
    this.protocol = new ProtocolConfig({
      role: options.role,
      pool: options.pool,
      maxMessageSize: options.maxMessageSize,
      autoPong: options.autoPong,
      validateUtf8: options.validateUtf8,
      utf8Check: isUtf8,
      maskSource: options.maskSource,
      compression: false,
      xor: options.xor,
      streamThreshold,
      maxStreamSize: options.maxStreamSize,
    });
  }
}
