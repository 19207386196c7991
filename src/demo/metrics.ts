import type { PoolStats } from "../buffer/pool.js";
import type { TopicStats } from "../runtime/topics.js";
import type { ServerStats } from "../server/upgrader.js";

/** Open connections of the demo, by endpoint. */
export interface ConnectionCounts {
  readonly total: number;
  readonly chat: number;
  readonly dashboard: number;
  readonly echo: number;
}

/** Everything the sampler reads at one instant: cumulative counters and gauges. */
export interface RawCounters {
  readonly stats: ServerStats;
  readonly connections: ConnectionCounts;
  readonly topics: TopicStats;
  readonly memory: NodeJS.MemoryUsage;
}

/** One shard of the pool as the dashboard draws it. */
export interface ShardSample {
  readonly size: number;
  readonly idleBytes: number;
  readonly idleBuffers: number;
  /** Hits / gets since start (0 when never asked). */
  readonly hitRate: number;
}

/** One point of the dashboard's charts. */
export interface DemoSample {
  /** Milliseconds since the epoch. */
  readonly t: number;
  /** Seconds since the sampler started. */
  readonly uptime: number;
  readonly connections: ConnectionCounts;
  /** Topics with subscribers on this process (the chat's rooms). */
  readonly rooms: number;
  /** Subscriptions on this process (connection, topic pairs). */
  readonly subscriptions: number;
  /** Rates over the last interval. `wire*` count frame bytes; `bytes*` count payload bytes. */
  readonly perSecond: {
    readonly messagesIn: number;
    readonly messagesOut: number;
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly wireIn: number;
    readonly wireOut: number;
    /** Publishes made here plus those of other processes received through the adapter. */
    readonly publishes: number;
    /** Messages queued for local subscribers by those publishes. */
    readonly deliveries: number;
    /** Publishes of other processes received through the adapter. */
    readonly received: number;
  };
  /** Deliveries per publish over the last interval, else since start (0 before any publish). */
  readonly fanout: number;
  readonly pool: {
    /** Hits / gets over the last interval, else since start (0 before any get). */
    readonly hitRate: number;
    readonly gets: number;
    readonly hits: number;
    readonly idleBytes: number;
    readonly shards: readonly ShardSample[];
  };
  readonly memory: {
    readonly heapUsed: number;
    readonly heapTotal: number;
    readonly rss: number;
    readonly arrayBuffers: number;
  };
  /** Compressed bytes / payload bytes of what the server compressed (1 when nothing was). */
  readonly deflateRatio: number;
  /**
   * Frame bytes written / payload bytes sent, over the last interval (else since start): below 1
   * when permessage-deflate saves more than the frame headers cost.
   */
  readonly wireRatio: number;
}

function ratio(part: number, whole: number, fallback: number): number {
  return whole > 0 ? part / whole : fallback;
}

function shard(s: PoolStats["shards"][number]): ShardSample {
  return {
    size: s.size,
    idleBytes: s.idleBytes,
    idleBuffers: s.idleBuffers,
    hitRate: ratio(s.hits, s.gets, 0),
  };
}

/**
 * Turns cumulative counters into dashboard samples: rates are the difference to the previous
 * reading divided by the time between them, so the sampler holds one reading and nothing else
 * grows. Also keeps the last `historySize` samples for a dashboard that connects late.
 */
export class Sampler {
  private previous: RawCounters | undefined;
  private previousAt = 0;
  private readonly startedAt: number;
  private readonly ring: DemoSample[] = [];

  /**
   * @param read - reads the counters now
   * @param historySize - samples kept for {@link history}
   * @param now - the clock, in milliseconds
   */
  constructor(
    private readonly read: () => RawCounters,
    private readonly historySize = 120,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.previous = read();
    this.previousAt = this.startedAt;
  }

  /** Reads the counters and returns (and remembers) the sample since the previous call. */
  sample(): DemoSample {
    const at = this.now();
    const cur = this.read();
    const prev = this.previous ?? cur;
    const seconds = Math.max((at - this.previousAt) / 1000, 1e-3);
    const rate = (a: number, b: number): number => Math.max(0, (a - b) / seconds);
    const s = cur.stats;
    const p = prev.stats;
    const published = (t: TopicStats): number => t.published + t.received;
    const publishes = published(cur.topics) - published(prev.topics);
    const deliveries = cur.topics.delivered - prev.topics.delivered;
    const gets = s.pool.gets - p.pool.gets;
    const hits = s.pool.hits - p.pool.hits;
    const sample: DemoSample = {
      t: at,
      uptime: (at - this.startedAt) / 1000,
      connections: cur.connections,
      rooms: cur.topics.topics,
      subscriptions: cur.topics.subscriptions,
      perSecond: {
        messagesIn: rate(s.messagesIn, p.messagesIn),
        messagesOut: rate(s.messagesOut, p.messagesOut),
        bytesIn: rate(s.bytesIn, p.bytesIn),
        bytesOut: rate(s.bytesOut, p.bytesOut),
        wireIn: rate(s.wireBytesIn, p.wireBytesIn),
        wireOut: rate(s.wireBytesOut, p.wireBytesOut),
        publishes: rate(published(cur.topics), published(prev.topics)),
        deliveries: rate(cur.topics.delivered, prev.topics.delivered),
        received: rate(cur.topics.received, prev.topics.received),
      },
      fanout:
        publishes > 0
          ? deliveries / publishes
          : ratio(cur.topics.delivered, published(cur.topics), 0),
      pool: {
        hitRate: gets > 0 ? hits / gets : ratio(s.pool.hits, s.pool.gets, 0),
        gets: s.pool.gets,
        hits: s.pool.hits,
        idleBytes: s.pool.idleBytes,
        shards: s.pool.shards.map(shard),
      },
      memory: {
        heapUsed: cur.memory.heapUsed,
        heapTotal: cur.memory.heapTotal,
        rss: cur.memory.rss,
        arrayBuffers: cur.memory.arrayBuffers,
      },
      deflateRatio: s.deflateRatio,
      wireRatio:
        s.bytesOut > p.bytesOut
          ? (s.wireBytesOut - p.wireBytesOut) / (s.bytesOut - p.bytesOut)
          : ratio(s.wireBytesOut, s.bytesOut, 1),
    };
    this.previous = cur;
    this.previousAt = at;
    this.ring.push(sample);
    if (this.ring.length > this.historySize) this.ring.shift();
    return sample;
  }

  /** The last samples, oldest first. */
  history(): readonly DemoSample[] {
    return this.ring;
  }
}
