import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import { ReadyState } from "../protocol/connection.js";
import { type Adapter, type AdapterSink, MemoryAdapter } from "./adapter.js";
import { Broadcaster } from "./broadcaster.js";
import type { Connection, PublishOptions, TopicHost } from "./connection.js";

/** Options of a {@link TopicRegistry}. */
export interface TopicRegistryOptions {
  /** Where the published frames come from: the server's pool. */
  readonly pool: Pool;
  /** Carries publishes to and from other nodes. Default: a {@link MemoryAdapter} of its own. */
  readonly adapter?: Adapter;
  /** Publishes of at least this many bytes are compressed when `compress` is not given. Default 1024. */
  readonly threshold?: number;
  /** zlib level of compressed publishes. Default 6. */
  readonly level?: number;
}

/** Counters of a {@link TopicRegistry}. */
export interface TopicStats {
  /** Topics with at least one local subscriber. */
  readonly topics: number;
  /** Subscriptions (connection, topic pairs). */
  readonly subscriptions: number;
  /** Publishes made on this node. */
  readonly published: number;
  /** Publishes of other nodes received through the adapter. */
  readonly received: number;
  /** Messages queued for local subscribers (one per recipient). */
  readonly delivered: number;
  /** Local recipients skipped: closing, or refused by their backpressure policy. */
  readonly skipped: number;
}

const NO_TOPICS: ReadonlySet<string> = new Set();

/**
 * The topic index of one node: `Map<topic, Set<connection>>` and, per connection, the set of its
 * topics, so that publishing touches the subscribers of the topic only and a closing connection
 * leaves its topics without a scan.
 *
 * A publish is encoded once per variant by one {@link Broadcaster} and queued on every local
 * subscriber (each under its own backpressure policy), then handed to the {@link Adapter} for the
 * other nodes. Every subscriber gets the messages of a topic in the order they were published on
 * this node; publishes of other nodes arrive in the order of their node.
 */
export class TopicRegistry implements TopicHost, AdapterSink {
  /** The adapter that links this node to the others. */
  readonly adapter: Adapter;
  private readonly pool: Pool;
  private readonly threshold: number | undefined;
  private readonly level: number | undefined;
  private readonly subscribers = new Map<string, Set<Connection<never>>>();
  private readonly memberships = new Map<Connection<never>, Set<string>>();
  private subscriptionCount = 0;
  private published = 0;
  private received = 0;
  private delivered = 0;
  private skipped = 0;
  private closed = false;

  /** @param options - see {@link TopicRegistryOptions} */
  constructor(options: TopicRegistryOptions) {
    this.pool = options.pool;
    this.threshold = options.threshold;
    this.level = options.level;
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.adapter.attach(this);
  }

  /**
   * Subscribes `conn` to `topic`. The first local subscriber of a topic subscribes the node
   * through the adapter.
   *
   * @returns false when already subscribed, or when the connection is closed
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when `topic` is not a string
   */
  subscribe(conn: Connection<never>, topic: string): boolean {
    checkTopic(topic);
    if (conn.readyState === ReadyState.Closed) return false;
    let set = this.subscribers.get(topic);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(topic, set);
    } else if (set.has(conn)) {
      return false;
    }
    set.add(conn);
    let mine = this.memberships.get(conn);
    if (mine === undefined) {
      mine = new Set();
      this.memberships.set(conn, mine);
    }
    mine.add(topic);
    this.subscriptionCount++;
    if (first && !this.closed) this.adapter.subscribe(topic);
    return true;
  }

  /**
   * Unsubscribes `conn` from `topic`. The last local subscriber of a topic unsubscribes the node.
   *
   * @returns false when it was not subscribed
   */
  unsubscribe(conn: Connection<never>, topic: string): boolean {
    const mine = this.memberships.get(conn);
    if (mine === undefined || !mine.delete(topic)) return false;
    if (mine.size === 0) this.memberships.delete(conn);
    this.leave(conn, topic);
    return true;
  }

  /** The topics `conn` is subscribed to (a live view: do not modify it). */
  topicsOf(conn: Connection<never>): ReadonlySet<string> {
    return this.memberships.get(conn) ?? NO_TOPICS;
  }

  /** Drops every subscription of `conn` (it closed). */
  removeAll(conn: Connection<never>): void {
    const mine = this.memberships.get(conn);
    if (mine === undefined) return;
    this.memberships.delete(conn);
    for (const topic of mine) this.leave(conn, topic);
  }

  /**
   * Publishes `data` to every local subscriber of `topic` but `except`, then to the other nodes
   * through the adapter.
   *
   * @param except - a connection to skip (the sender of `conn.publish`), or undefined
   * @returns the number of local subscribers it was queued for
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when `topic` is not a string
   */
  publish(
    topic: string,
    data: string | Uint8Array,
    options: PublishOptions | undefined,
    except: Connection<never> | undefined,
  ): number {
    checkTopic(topic);
    const binary = options?.binary ?? typeof data !== "string";
    const compress = options?.compress;
    this.published++;
    const n = this.fanOut(topic, data, binary, compress, except);
    if (!this.closed) this.adapter.publish(topic, data, binary, compress);
    return n;
  }

  /** @internal A publish of another node, from the adapter. */
  deliver(topic: string, data: Uint8Array, binary: boolean, compress: boolean | undefined): void {
    this.received++;
    this.fanOut(topic, data, binary, compress, undefined);
  }

  /** The number of local subscribers of `topic`. */
  numSubscribers(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** The local subscribers of `topic` (a live view: do not modify it). */
  subscribersOf(topic: string): ReadonlySet<Connection<never>> | undefined {
    return this.subscribers.get(topic);
  }

  /** The topics with at least one local subscriber. */
  topicNames(): IterableIterator<string> {
    return this.subscribers.keys();
  }

  /** Counters since start. */
  stats(): TopicStats {
    return {
      topics: this.subscribers.size,
      subscriptions: this.subscriptionCount,
      published: this.published,
      received: this.received,
      delivered: this.delivered,
      skipped: this.skipped,
    };
  }

  /**
   * Closes the adapter. Publishes after this reach local subscribers only; subscriptions still
   * work locally.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adapter.close();
  }

  private leave(conn: Connection<never>, topic: string): void {
    const set = this.subscribers.get(topic);
    if (set === undefined || !set.delete(conn)) return;
    this.subscriptionCount--;
    if (set.size > 0) return;
    this.subscribers.delete(topic);
    if (!this.closed) this.adapter.unsubscribe(topic);
  }

  private fanOut(
    topic: string,
    data: string | Uint8Array,
    binary: boolean,
    compress: boolean | undefined,
    except: Connection<never> | undefined,
  ): number {
    const set = this.subscribers.get(topic);
    if (set === undefined || (set.size === 1 && except !== undefined && set.has(except))) return 0;
    const b = new Broadcaster(data, {
      pool: this.pool,
      binary,
      compress,
      threshold: this.threshold,
      level: this.level,
    });
    try {
      for (const conn of set) {
        if (conn !== except) b.broadcast(conn);
      }
    } finally {
      b.release();
    }
    this.delivered += b.delivered;
    this.skipped += b.skipped;
    return b.delivered;
  }
}

function checkTopic(topic: unknown): void {
  if (typeof topic !== "string") {
    throw createError("ERR_INVALID_ARGUMENT", "a topic must be a string");
  }
}
