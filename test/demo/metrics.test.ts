// The dashboard's sampler: rates from cumulative counters over a fake clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PoolStats } from "../../src/buffer/pool.js";
import type { RawCounters } from "../../src/demo/metrics.js";
import { Sampler } from "../../src/demo/metrics.js";
import type { TopicStats } from "../../src/runtime/topics.js";
import type { ServerStats } from "../../src/server/upgrader.js";

interface Knobs {
  messagesIn: number;
  messagesOut: number;
  bytesOut: number;
  wireBytesOut: number;
  gets: number;
  hits: number;
  published: number;
  received: number;
  delivered: number;
}

function counters(k: Knobs): RawCounters {
  const pool: PoolStats = {
    gets: k.gets,
    puts: 0,
    hits: k.hits,
    misses: k.gets - k.hits,
    drops: 0,
    oversize: 0,
    idleBuffers: 2,
    idleBytes: 1536,
    shards: [
      { size: 512, gets: 4, puts: 0, hits: 3, misses: 1, drops: 0, idleBuffers: 1, idleBytes: 512 },
      {
        size: 1024,
        gets: 0,
        puts: 0,
        hits: 0,
        misses: 0,
        drops: 0,
        idleBuffers: 1,
        idleBytes: 1024,
      },
    ],
  };
  const stats: ServerStats = {
    opened: 3,
    closed: 0,
    messagesIn: k.messagesIn,
    messagesOut: k.messagesOut,
    bytesIn: 0,
    bytesOut: k.bytesOut,
    wireBytesIn: 0,
    wireBytesOut: k.wireBytesOut,
    dropped: 0,
    deflateRatio: 1,
    closes: {},
    connections: 3,
    pool,
    refused: {},
  };
  const topics: TopicStats = {
    topics: 2,
    subscriptions: 5,
    published: k.published,
    received: k.received,
    delivered: k.delivered,
    skipped: 0,
  };
  return {
    stats,
    topics,
    connections: { total: 3, chat: 2, dashboard: 1, echo: 0 },
    memory: { rss: 100, heapTotal: 50, heapUsed: 40, external: 5, arrayBuffers: 3 },
  };
}

function rig(historySize?: number) {
  let now = 1_000_000;
  const k: Knobs = {
    messagesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    wireBytesOut: 0,
    gets: 0,
    hits: 0,
    published: 0,
    received: 0,
    delivered: 0,
  };
  const sampler = new Sampler(
    () => counters(k),
    historySize,
    () => now,
  );
  return {
    k,
    sampler,
    tick(ms: number) {
      now += ms;
      return sampler.sample();
    },
  };
}

describe("Sampler", () => {
  it("turns counters into rates per second over the interval", () => {
    const { k, tick } = rig();
    k.messagesIn = 25;
    k.messagesOut = 50;
    const s = tick(250);
    assert.equal(s.perSecond.messagesIn, 100);
    assert.equal(s.perSecond.messagesOut, 200);
    assert.equal(s.uptime, 0.25);
    k.messagesIn = 35;
    assert.equal(tick(500).perSecond.messagesIn, 20);
    assert.equal(tick(500).perSecond.messagesIn, 0, "no new messages, no rate");
  });

  it("fan-out is deliveries per publish, local and from other processes", () => {
    const { k, tick } = rig();
    assert.equal(tick(100).fanout, 0, "nothing published yet");
    k.published = 3;
    k.received = 1;
    k.delivered = 40;
    const s = tick(1000);
    assert.equal(s.fanout, 10);
    assert.equal(s.perSecond.publishes, 4);
    assert.equal(s.perSecond.deliveries, 40);
    assert.equal(s.perSecond.received, 1);
    assert.equal(tick(1000).fanout, 10, "an idle interval shows the fan-out since start");
  });

  it("pool hit rate over the interval, per-shard figures from the pool", () => {
    const { k, tick } = rig();
    k.gets = 10;
    k.hits = 5;
    assert.equal(tick(250).pool.hitRate, 0.5);
    k.gets = 20;
    k.hits = 15;
    const s = tick(250);
    assert.equal(s.pool.hitRate, 1);
    assert.equal(s.pool.idleBytes, 1536);
    assert.deepEqual(s.pool.shards, [
      { size: 512, idleBytes: 512, idleBuffers: 1, hitRate: 0.75 },
      { size: 1024, idleBytes: 1024, idleBuffers: 1, hitRate: 0 },
    ]);
    assert.equal(tick(250).pool.hitRate, 0.75, "idle: the rate since start");
  });

  it("wire ratio: frame bytes per payload byte sent", () => {
    const { k, tick } = rig();
    assert.equal(tick(100).wireRatio, 1, "nothing sent");
    k.bytesOut = 1000;
    k.wireBytesOut = 400;
    assert.equal(tick(100).wireRatio, 0.4);
    k.bytesOut = 1100;
    k.wireBytesOut = 510;
    assert.ok(Math.abs(tick(100).wireRatio - 1.1) < 1e-9);
  });

  it("keeps the last samples for a late dashboard, oldest first", () => {
    const { tick, sampler } = rig(3);
    const samples = [tick(1), tick(1), tick(1), tick(1)];
    assert.deepEqual(sampler.history(), samples.slice(1));
  });

  it("carries gauges as they are", () => {
    const { tick } = rig();
    const s = tick(100);
    assert.deepEqual(s.connections, { total: 3, chat: 2, dashboard: 1, echo: 0 });
    assert.deepEqual(s.memory, { heapUsed: 40, heapTotal: 50, rss: 100, arrayBuffers: 3 });
    assert.equal(s.rooms, 2);
    assert.equal(s.subscriptions, 5);
  });
});
