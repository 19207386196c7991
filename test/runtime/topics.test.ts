// The topic index on runtime connections over in-memory streams: who gets a publish, in which
// order, what the adapter is told, and what is left once connections close.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { isTidewsError } from "../../src/errors.js";
import {
  type Adapter,
  type AdapterSink,
  MemoryAdapter,
  MemoryHub,
} from "../../src/runtime/adapter.js";
import { type ByteStream, Connection, ConnectionConfig } from "../../src/runtime/connection.js";
import { TopicRegistry } from "../../src/runtime/topics.js";

/** A stream that keeps what the connection writes and completes each write at once. */
class MemoryStream implements ByteStream {
  readonly chunks: Buffer[] = [];
  writableLength = 0;
  writableNeedDrain = false;
  destroyed = false;
  /** When set, writes are held (their callbacks too): the peer does not read. */
  hold = false;
  private readonly held: Array<(e?: Error | null) => void> = [];
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean {
    this.chunks.push(Buffer.from(data));
    if (this.hold) this.held.push(callback);
    else callback();
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {}
  resume(): void {}

  /** Flushes the connection's output of this tick (it would leave at the next tick anyway). */
  flush: () => void = () => {};

  /** The messages in the written bytes (unmasked server frames, fin set): opcode and text. */
  messages(): Array<{ opcode: number; text: string }> {
    this.flush();
    const all = Buffer.concat(this.chunks);
    const out: Array<{ opcode: number; text: string }> = [];
    let at = 0;
    while (at < all.length) {
      const b0 = all[at] as number;
      let len = (all[at + 1] as number) & 0x7f;
      let head = 2;
      if (len === 126) {
        len = all.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        len = Number(all.readBigUInt64BE(at + 2));
        head = 10;
      }
      out.push({
        opcode: b0 & 0x0f,
        text: all.subarray(at + head, at + head + len).toString(),
      });
      at += head + len;
    }
    return out;
  }

  texts(): string[] {
    return this.messages().map((m) => m.text);
  }
}

interface Node {
  pool: BufferPool;
  topics: TopicRegistry;
  open(options?: { maxBufferedAmount?: number; backpressure?: "close" | "drop" }): {
    conn: Connection;
    stream: MemoryStream;
  };
}

function node(adapter?: Adapter): Node {
  const pool = new BufferPool(64, 1024 * 1024);
  const topics = new TopicRegistry({ pool, adapter });
  return {
    pool,
    topics,
    open(options = {}) {
      const stream = new MemoryStream();
      const config = new ConnectionConfig({}, { role: "server", pool, topics, ...options });
      const conn = new Connection(stream, config);
      stream.flush = () => conn.flush();
      conn.open();
      return { conn, stream };
    },
  };
}

/** Records what the registry asks of its adapter. */
class RecordingAdapter implements Adapter {
  readonly calls: string[] = [];
  sink: AdapterSink | undefined;
  attach(sink: AdapterSink): void {
    this.sink = sink;
  }
  publish(topic: string, data: string | Uint8Array, binary: boolean, compress?: boolean): void {
    this.calls.push(`publish ${topic} ${Buffer.from(data).toString()} ${binary} ${compress}`);
  }
  subscribe(topic: string): void {
    this.calls.push(`subscribe ${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
  }
  close(): Promise<void> {
    this.calls.push("close");
    return Promise.resolve();
  }
}

describe("TopicRegistry: the index", () => {
  it("subscribes, unsubscribes and lists topics per connection and per topic", () => {
    const n = node();
    const a = n.open();
    const b = n.open();
    assert.equal(a.conn.subscribe("x"), true);
    assert.equal(a.conn.subscribe("x"), false, "already subscribed");
    assert.equal(a.conn.subscribe("y"), true);
    assert.equal(b.conn.subscribe("x"), true);
    assert.deepEqual([...a.conn.topics].sort(), ["x", "y"]);
    assert.equal(n.topics.numSubscribers("x"), 2);
    assert.equal(n.topics.numSubscribers("y"), 1);
    assert.equal(n.topics.numSubscribers("z"), 0);
    assert.equal(n.topics.stats().subscriptions, 3);
    assert.equal(a.conn.unsubscribe("x"), true);
    assert.equal(a.conn.unsubscribe("x"), false, "not subscribed any more");
    assert.equal(a.conn.unsubscribe("never"), false);
    assert.deepEqual([...a.conn.topics], ["y"]);
    assert.equal(n.topics.numSubscribers("x"), 1);
    assert.deepEqual([...n.topics.topicNames()].sort(), ["x", "y"]);
  });

  it("drops every subscription of a connection when it closes", () => {
    const adapter = new RecordingAdapter();
    const n = node(adapter);
    const a = n.open();
    const b = n.open();
    a.conn.subscribe("x");
    a.conn.subscribe("y");
    b.conn.subscribe("y");
    a.conn.handleClose();
    assert.equal(n.topics.numSubscribers("x"), 0);
    assert.equal(n.topics.numSubscribers("y"), 1);
    assert.deepEqual(a.conn.topics, new Set());
    assert.equal(n.topics.stats().topics, 1);
    assert.deepEqual(adapter.calls, ["subscribe x", "subscribe y", "unsubscribe x"]);
    assert.equal(a.conn.subscribe("z"), false, "a closed connection cannot subscribe");
    assert.equal(n.topics.numSubscribers("z"), 0);
    assert.equal(n.topics.stats().subscriptions, 1);
  });

  it("tells the adapter about the first and the last local subscriber only", () => {
    const adapter = new RecordingAdapter();
    const n = node(adapter);
    const conns = Array.from({ length: 5 }, () => n.open());
    for (const c of conns) c.conn.subscribe("room");
    for (const c of conns) c.conn.unsubscribe("room");
    conns[0]?.conn.subscribe("room");
    assert.deepEqual(adapter.calls, ["subscribe room", "unsubscribe room", "subscribe room"]);
  });

  it("rejects a topic that is not a string", () => {
    const n = node();
    const a = n.open();
    assert.throws(
      () => a.conn.subscribe(42 as unknown as string),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
    assert.throws(
      () => n.topics.publish(undefined as unknown as string, "m", undefined, undefined),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
  });

  it("is not available on a connection without a registry", () => {
    const pool = new BufferPool(64, 4096);
    const conn = new Connection(
      new MemoryStream(),
      new ConnectionConfig({}, { role: "server", pool }),
    );
    assert.throws(
      () => conn.subscribe("x"),
      (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
    );
    assert.deepEqual(conn.topics, new Set());
  });
});

describe("TopicRegistry: publishing", () => {
  it("reaches the subscribers of the topic and nobody else", () => {
    const n = node();
    const a = n.open();
    const b = n.open();
    const c = n.open();
    a.conn.subscribe("x");
    b.conn.subscribe("x");
    c.conn.subscribe("y");
    assert.equal(n.topics.publish("x", "hello", undefined, undefined), 2);
    assert.deepEqual(a.stream.texts(), ["hello"]);
    assert.deepEqual(b.stream.texts(), ["hello"]);
    assert.deepEqual(c.stream.texts(), []);
    assert.equal(n.topics.publish("nobody", "lost", undefined, undefined), 0);
  });

  it("never touches connections that are not subscribed to the topic", () => {
    const n = node();
    const others = Array.from({ length: 200 }, () => n.open());
    for (const o of others) {
      o.conn.subscribe("elsewhere");
      o.conn.sendShared = () => assert.fail("a non-subscriber was visited");
    }
    const a = n.open();
    a.conn.subscribe("x");
    assert.equal(n.topics.publish("x", "m", undefined, undefined), 1);
    assert.deepEqual(a.stream.texts(), ["m"]);
  });

  it("encodes a publish once for every subscriber", () => {
    const n = node();
    const subs = Array.from({ length: 100 }, () => n.open());
    for (const s of subs) s.conn.subscribe("x");
    const before = n.pool.stats().gets;
    n.topics.publish("x", Buffer.alloc(2000, 7), undefined, undefined);
    assert.equal(n.pool.stats().gets - before, 1, "one pooled frame for 100 recipients");
    for (const s of subs) s.stream.flush();
    for (const s of subs) assert.equal(s.stream.chunks.length, 1);
    const first = s0(subs).stream.chunks[0];
    for (const s of subs) assert.deepEqual(s.stream.chunks[0], first);
  });

  it("skips the publishing connection unless includeSelf", () => {
    const n = node();
    const a = n.open();
    const b = n.open();
    a.conn.subscribe("x");
    b.conn.subscribe("x");
    assert.equal(a.conn.publish("x", "from a"), 1);
    assert.equal(a.conn.publish("x", "to all", { includeSelf: true }), 2);
    assert.deepEqual(a.stream.texts(), ["to all"]);
    assert.deepEqual(b.stream.texts(), ["from a", "to all"]);
    const lonely = n.open();
    lonely.conn.subscribe("solo");
    assert.equal(lonely.conn.publish("solo", "echo?"), 0);
    assert.deepEqual(lonely.stream.texts(), []);
  });

  it("keeps publish order per subscriber, interleaved with direct sends and other topics", () => {
    const n = node();
    const subs = Array.from({ length: 10 }, () => n.open());
    subs.forEach((s, i) => {
      s.conn.subscribe("even");
      if (i % 2 === 1) s.conn.subscribe("odd");
    });
    const expected: string[][] = subs.map(() => []);
    for (let k = 0; k < 300; k++) {
      const topic = k % 3 === 0 ? "odd" : "even";
      n.topics.publish(topic, `${topic}-${k}`, undefined, undefined);
      for (let i = 0; i < subs.length; i++) {
        if (topic === "even" || i % 2 === 1) expected[i]?.push(`${topic}-${k}`);
      }
      if (k % 7 === 0) {
        const s = subs[k % subs.length];
        s?.conn.send(`direct-${k}`);
        expected[k % subs.length]?.push(`direct-${k}`);
      }
    }
    subs.forEach((s, i) => {
      assert.deepEqual(s.stream.texts(), expected[i]);
    });
  });

  it("sends strings as text and buffers as binary unless told otherwise", () => {
    const n = node();
    const a = n.open();
    a.conn.subscribe("x");
    n.topics.publish("x", "t", undefined, undefined);
    n.topics.publish("x", Buffer.from("b"), undefined, undefined);
    n.topics.publish("x", "tb", { binary: true }, undefined);
    n.topics.publish("x", Buffer.from("bt"), { binary: false }, undefined);
    assert.deepEqual(
      a.stream.messages().map((m) => `${m.opcode}:${m.text}`),
      ["1:t", "2:b", "2:tb", "1:bt"],
    );
  });

  it("applies each recipient's backpressure policy and goes on with the others", () => {
    const n = node();
    const slow = n.open({ maxBufferedAmount: 1500, backpressure: "drop" });
    const fast = n.open();
    slow.stream.hold = true;
    slow.conn.subscribe("x");
    fast.conn.subscribe("x");
    const payload = Buffer.alloc(1000, 1);
    assert.equal(n.topics.publish("x", payload, undefined, undefined), 2);
    assert.equal(n.topics.publish("x", payload, undefined, undefined), 1, "slow is full");
    assert.equal(n.topics.publish("x", payload, undefined, undefined), 1);
    assert.equal(fast.stream.messages().length, 3);
    assert.equal(slow.stream.messages().length, 1);
    const stats = n.topics.stats();
    assert.equal(stats.delivered, 4);
    assert.equal(stats.skipped, 2);
    assert.equal(stats.published, 3);
  });

  it("returns every frame to the pool once written", () => {
    const n = node();
    const subs = Array.from({ length: 20 }, () => n.open());
    for (const s of subs) s.conn.subscribe("x");
    for (let i = 0; i < 50; i++) n.topics.publish("x", `m${i}`, undefined, undefined);
    for (const s of subs) s.stream.flush();
    const st = n.pool.stats();
    assert.equal(st.gets, st.puts, "each shared frame went back after its last write");
  });

  it("hands every publish to the adapter, local subscribers or not", () => {
    const adapter = new RecordingAdapter();
    const n = node(adapter);
    n.topics.publish("x", "one", undefined, undefined);
    n.topics.publish("x", Buffer.from("two"), { compress: true }, undefined);
    assert.deepEqual(adapter.calls, ["publish x one false undefined", "publish x two true true"]);
  });

  it("delivers what the adapter brings to the local subscribers", () => {
    const adapter = new RecordingAdapter();
    const n = node(adapter);
    const a = n.open();
    a.conn.subscribe("x");
    adapter.sink?.deliver("x", Buffer.from("remote"), false, undefined);
    adapter.sink?.deliver("y", Buffer.from("nobody"), false, undefined);
    assert.deepEqual(a.stream.texts(), ["remote"]);
    assert.equal(n.topics.stats().received, 2);
    assert.deepEqual(adapter.calls, ["subscribe x"], "a delivery is never published again");
  });

  it("closes the adapter once and then publishes locally only", async () => {
    const adapter = new RecordingAdapter();
    const n = node(adapter);
    const a = n.open();
    a.conn.subscribe("x");
    await n.topics.close();
    await n.topics.close();
    assert.equal(n.topics.publish("x", "after", undefined, undefined), 1);
    a.conn.unsubscribe("x");
    assert.deepEqual(adapter.calls, ["subscribe x", "close"]);
    assert.deepEqual(a.stream.texts(), ["after"]);
  });
});

describe("MemoryAdapter", () => {
  it("alone, carries nothing and keeps the topics it was asked for", async () => {
    const adapter = new MemoryAdapter();
    const n = node(adapter);
    const a = n.open();
    a.conn.subscribe("x");
    assert.deepEqual([...adapter.subscriptions], ["x"]);
    assert.equal(n.topics.publish("x", "m", undefined, undefined), 1);
    assert.deepEqual(a.stream.texts(), ["m"]);
    await n.topics.close();
    assert.deepEqual([...adapter.subscriptions], []);
  });

  it("may be attached to one registry only", () => {
    const adapter = new MemoryAdapter();
    node(adapter);
    assert.throws(
      () => node(adapter),
      (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
    );
  });

  it("joins registries through a hub: each publish reaches every node once", async () => {
    const hub = new MemoryHub();
    const nodes = [0, 1, 2].map(() => node(new MemoryAdapter({ hub })));
    const clients = nodes.map((n) => [n.open(), n.open()]);
    for (const pair of clients) for (const c of pair) c.conn.subscribe("room");
    const quiet = nodes[2]?.open();
    quiet?.conn.subscribe("other");
    nodes.forEach((n, i) => {
      n.topics.publish("room", `from ${i}`, undefined, undefined);
    });
    s0(s0(clients)).conn.publish("room", "from a client of 0");
    for (const [i, pair] of clients.entries()) {
      for (const [j, c] of pair.entries()) {
        const expected = ["from 0", "from 1", "from 2"];
        if (!(i === 0 && j === 0)) expected.push("from a client of 0");
        assert.deepEqual(c.stream.texts(), expected, `node ${i} client ${j}`);
      }
    }
    assert.deepEqual(quiet?.stream.texts(), []);
    assert.deepEqual(
      nodes.map((n) => n.topics.stats().received),
      [2, 3, 3],
      "node 0 gets the publishes of 1 and 2; the others get two of 0 and one more",
    );
    await nodes[1]?.topics.close();
    nodes[0]?.topics.publish("room", "after 1 left", undefined, undefined);
    assert.equal(nodes[1]?.topics.stats().received, 3);
    assert.equal(nodes[2]?.topics.stats().received, 4);
  });

  it("carries binary payloads and the binary flag unchanged", () => {
    const hub = new MemoryHub();
    const a = node(new MemoryAdapter({ hub }));
    const b = node(new MemoryAdapter({ hub }));
    const sub = b.open();
    sub.conn.subscribe("bin");
    a.topics.publish("bin", Buffer.from([0, 255, 1]), undefined, undefined);
    a.topics.publish("bin", "txt", { binary: true }, undefined);
    const got = sub.stream.messages();
    assert.deepEqual(
      got.map((m) => m.opcode),
      [2, 2],
    );
    assert.deepEqual(Buffer.concat(sub.stream.chunks).subarray(2, 5), Buffer.from([0, 255, 1]));
  });
});

function s0<T>(list: readonly T[]): T {
  const first = list[0];
  if (first === undefined) throw new Error("empty list");
  return first;
}
