/**
 * `tidews/redis`: an {@link Adapter} that carries topic publishes between tidews nodes (processes
 * or machines) over Redis pub/sub. `ioredis` is a peer dependency: install it next to tidews.
 *
 * ```ts
 * import { createServer } from "tidews";
 * import { RedisAdapter } from "tidews/redis";
 *
 * const server = createServer(handler, { adapter: new RedisAdapter({ url: "redis://127.0.0.1:6379" }) });
 * ```
 *
 * See docs/pubsub.md for the delivery guarantees.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { createError } from "../errors.js";
import type { Adapter, AdapterSink } from "../runtime/adapter.js";

/** Options of a {@link RedisAdapter} besides the connection. */
export interface RedisAdapterCommonOptions {
  /** Prepended to every topic to make its Redis channel. Default `"tidews:"`. */
  readonly prefix?: string;
  /**
   * Connection and command errors. Default: the first error after each successful connection is
   * printed with `console.error`, the others only counted (Redis being down is one line, not one
   * per reconnection attempt).
   */
  readonly onError?: (error: Error) => void;
  /**
   * Called when the adapter becomes connected (both connections ready; subscriptions are being
   * restored) and when it loses one of its connections.
   */
  readonly onStatus?: (connected: boolean) => void;
  /** ioredis options for the connections the adapter creates from `url`. */
  readonly redisOptions?: RedisOptions;
}

/**
 * Options of a {@link RedisAdapter}: a Redis URL (the adapter opens and closes its two
 * connections), or an ioredis client (used to publish, left open by {@link RedisAdapter.close};
 * the subscriber connection is a `duplicate()` of it, opened and closed by the adapter).
 */
export type RedisAdapterOptions = RedisAdapterCommonOptions &
  (
    | { readonly url: string; readonly client?: undefined }
    | { readonly client: Redis; readonly url?: undefined }
  );

/** Counters of a {@link RedisAdapter}. */
export interface RedisAdapterStats {
  /** Publishes handed to Redis. */
  readonly published: number;
  /** Publishes dropped because the publishing connection was not ready (Redis unreachable). */
  readonly dropped: number;
  /** Publishes that Redis or the connection failed after they were handed over. */
  readonly failed: number;
  /** Messages of other nodes received and delivered to the registry. */
  readonly received: number;
  /** This node's own publishes coming back from Redis, skipped (delivered locally already). */
  readonly ownSkipped: number;
  /** Messages on a subscribed channel that were not tidews envelopes, ignored. */
  readonly malformed: number;
  /** Topics this node receives (those with local subscribers). */
  readonly subscriptions: number;
  /** Connection and command errors seen. */
  readonly errors: number;
}

/** Envelope: version, flags, the publishing node's id, then the payload as is. */
const VERSION = 1;
const ID_BYTES = 8;
const HEADER = 2 + ID_BYTES;
const FLAG_BINARY = 1;
const FLAG_COMPRESS_SET = 2;
const FLAG_COMPRESS = 4;
/** Channels per SUBSCRIBE command when re-subscribing after a reconnection. */
const SUBSCRIBE_BATCH = 1000;

/** Options forced on the connections the adapter opens: it decides what to resend itself. */
const OWN_CONNECTION: RedisOptions = {
  autoResubscribe: false,
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
};

/**
 * Redis pub/sub between tidews nodes. One Redis channel per topic (`prefix + topic`); a node is
 * subscribed to a channel only while it has local subscribers of the topic, through one
 * subscriber connection per node, however many connections subscribed.
 *
 * - Payloads travel as bytes (the ioredis Buffer API), behind a 10-byte envelope: no base64.
 * - A publish is delivered to the publishing node's own subscribers at publish time by the topic
 *   registry, and handed to Redis for the other nodes; when it comes back from Redis to the
 *   publishing node, the node id in the envelope makes the node skip it. So a local subscriber
 *   gets its node's publishes at once, even while Redis is down.
 * - At most once: a publish made while the publishing connection is not ready is dropped (counted
 *   in `stats().dropped`), never queued for later; a message Redis sends while a node's
 *   subscriber connection is down is lost for that node (Redis pub/sub keeps nothing).
 * - After Redis restarts, ioredis reconnects and the adapter subscribes again to every topic that
 *   still has local subscribers.
 */
export class RedisAdapter implements Adapter {
  /** This node's id in the envelopes, as hex. */
  readonly nodeId: string;
  private readonly id: Buffer;
  private readonly id0: number;
  private readonly id1: number;
  private readonly prefix: string;
  private readonly prefixBytes: number;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly ownsPub: boolean;
  private readonly reportError: ((error: Error) => void) | undefined;
  private readonly reportStatus: ((connected: boolean) => void) | undefined;
  private wasConnected = false;
  private sink: AdapterSink | undefined;
  /** Topics with local subscribers: what the subscriber connection must be subscribed to. */
  private readonly wanted = new Set<string>();
  private pending = 0;
  private readonly waiters: Array<() => void> = [];
  private closed = false;
  private reportedSinceReady = false;
  private published = 0;
  private dropped = 0;
  private failed = 0;
  private received = 0;
  private ownSkipped = 0;
  private malformed = 0;
  private errors = 0;
  private readonly onCommandError: (error: Error) => void;
  private readonly onCommandDone: () => void;
  private readonly onPublishError: (error: Error) => void;

  /**
   * @param options - a `url` or an ioredis `client`, and see {@link RedisAdapterCommonOptions}
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` without a url or a client
   */
  constructor(options: RedisAdapterOptions) {
    this.id = randomBytes(ID_BYTES);
    this.id0 = this.id.readUInt32LE(0);
    this.id1 = this.id.readUInt32LE(4);
    this.nodeId = this.id.toString("hex");
    this.prefix = options.prefix ?? "tidews:";
    this.prefixBytes = Buffer.byteLength(this.prefix);
    this.reportError = options.onError;
    this.reportStatus = options.onStatus;
    if (options.client !== undefined) {
      this.pub = options.client;
      this.ownsPub = false;
    } else if (typeof options.url === "string") {
      this.pub = new Redis(options.url, { ...options.redisOptions, ...OWN_CONNECTION });
      this.ownsPub = true;
    } else {
      throw createError("ERR_INVALID_ARGUMENT", "RedisAdapter needs a url or a client");
    }
    this.sub = this.pub.duplicate(OWN_CONNECTION);
    this.onCommandDone = () => this.commandSettled();
    this.onCommandError = (error) => {
      this.error(error);
      this.commandSettled();
    };
    this.onPublishError = (error) => {
      this.failed++;
      this.error(error);
    };
    const onError = (error: Error) => this.error(error);
    if (this.ownsPub) this.pub.on("error", onError);
    this.sub.on("error", onError);
    const onChange = () => this.statusChanged();
    this.pub.on("ready", onChange);
    this.pub.on("close", onChange);
    this.sub.on("ready", () => this.resubscribe());
    this.sub.on("close", onChange);
    this.sub.on("messageBuffer", (channel: Buffer, message: Buffer) =>
      this.receive(channel, message),
    );
  }

  /** {@inheritDoc Adapter.attach} */
  attach(sink: AdapterSink): void {
    if (this.sink !== undefined) {
      throw createError("ERR_WS_INVALID_STATE", "the adapter is already attached to a registry");
    }
    this.sink = sink;
  }

  /**
   * Publishes to the topic's channel, unless the publishing connection is not ready: then the
   * publish is dropped and counted (at most once, never queued).
   */
  publish(topic: string, data: string | Uint8Array, binary: boolean, compress?: boolean): void {
    if (this.closed) return;
    if (this.pub.status !== "ready") {
      this.dropped++;
      return;
    }
    const text = typeof data === "string";
    const size = text ? Buffer.byteLength(data) : data.byteLength;
    const envelope = Buffer.allocUnsafe(HEADER + size);
    envelope[0] = VERSION;
    envelope[1] =
      (binary ? FLAG_BINARY : 0) |
      (compress === undefined ? 0 : FLAG_COMPRESS_SET | (compress ? FLAG_COMPRESS : 0));
    this.id.copy(envelope, 2);
    if (text) envelope.write(data, HEADER);
    else envelope.set(data, HEADER);
    this.published++;
    this.pub.publish(this.prefix + topic, envelope).then(undefined, this.onPublishError);
  }

  /** {@inheritDoc Adapter.subscribe} */
  subscribe(topic: string): void {
    if (this.closed || this.wanted.has(topic)) return;
    this.wanted.add(topic);
    if (this.sub.status === "ready") this.command(this.sub.subscribe(this.prefix + topic));
  }

  /** {@inheritDoc Adapter.unsubscribe} */
  unsubscribe(topic: string): void {
    if (this.closed || !this.wanted.delete(topic)) return;
    if (this.sub.status === "ready") this.command(this.sub.unsubscribe(this.prefix + topic));
  }

  /**
   * Resolves once both connections are ready and Redis has confirmed every subscribe and
   * unsubscribe sent so far: from then on, publishes of other nodes to this node's topics arrive.
   * Waits across reconnections; a wait still pending when the adapter closes resolves then.
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` (as a rejection) once closed
   */
  ready(): Promise<void> {
    if (this.settled()) return Promise.resolve();
    if (this.closed) return Promise.reject(createError("ERR_WS_INVALID_STATE", "adapter closed"));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Whether both connections (publishing and subscribing) are ready. */
  get connected(): boolean {
    return this.pub.status === "ready" && this.sub.status === "ready";
  }

  /** Counters since start. */
  stats(): RedisAdapterStats {
    return {
      published: this.published,
      dropped: this.dropped,
      failed: this.failed,
      received: this.received,
      ownSkipped: this.ownSkipped,
      malformed: this.malformed,
      subscriptions: this.wanted.size,
      errors: this.errors,
    };
  }

  /**
   * Closes the subscriber connection and, when the adapter opened it from a url, the publishing
   * one (after the publishes already handed to it are sent). A client passed in stays open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted.clear();
    const ends: Promise<unknown>[] = [ended(this.sub)];
    this.sub.disconnect();
    if (this.ownsPub) {
      ends.push(ended(this.pub));
      if (this.pub.status === "ready") {
        this.pub.quit().then(undefined, () => this.pub.disconnect());
      } else {
        this.pub.disconnect();
      }
    }
    await Promise.all(ends);
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private receive(channel: Buffer, message: Buffer): void {
    if (message.length < HEADER || message[0] !== VERSION) {
      this.malformed++;
      return;
    }
    if (message.readUInt32LE(2) === this.id0 && message.readUInt32LE(6) === this.id1) {
      this.ownSkipped++;
      return;
    }
    this.received++;
    const flags = message[1] as number;
    const compress = (flags & FLAG_COMPRESS_SET) === 0 ? undefined : (flags & FLAG_COMPRESS) !== 0;
    try {
      this.sink?.deliver(
        channel.toString("utf8", this.prefixBytes),
        message.subarray(HEADER),
        (flags & FLAG_BINARY) !== 0,
        compress,
      );
    } catch (error) {
      this.error(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The subscriber connection is (again) ready: subscribe to every topic still wanted. */
  private resubscribe(): void {
    this.reportedSinceReady = false;
    if (this.closed) return;
    const channels: string[] = [];
    for (const topic of this.wanted) {
      channels.push(this.prefix + topic);
      if (channels.length === SUBSCRIBE_BATCH) {
        this.command(this.sub.subscribe(...channels));
        channels.length = 0;
      }
    }
    if (channels.length > 0) this.command(this.sub.subscribe(...channels));
    this.statusChanged();
  }

  private statusChanged(): void {
    const now = !this.closed && this.connected;
    if (now) this.reportedSinceReady = false;
    if (now !== this.wasConnected) {
      this.wasConnected = now;
      this.reportStatus?.(now);
    }
    this.wake();
  }

  private command(p: Promise<unknown>): void {
    this.pending++;
    p.then(this.onCommandDone, this.onCommandError);
  }

  private commandSettled(): void {
    this.pending--;
    this.wake();
  }

  private settled(): boolean {
    return (
      !this.closed &&
      this.pending === 0 &&
      this.sub.status === "ready" &&
      this.pub.status === "ready"
    );
  }

  private wake(): void {
    if (this.waiters.length === 0 || !this.settled()) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private error(error: Error): void {
    this.errors++;
    if (this.reportError !== undefined) {
      this.reportError(error);
      return;
    }
    if (this.reportedSinceReady || this.closed) return;
    this.reportedSinceReady = true;
    console.error(`tidews/redis: ${error.message}`);
  }
}

function ended(redis: Redis): Promise<void> {
  if (redis.status === "end") return Promise.resolve();
  return new Promise((resolve) => redis.once("end", () => resolve()));
}
