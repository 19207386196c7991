import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import { SharedFrame } from "../../src/runtime/shared-frame.js";
import {
  BATCH_CAPACITY,
  BATCH_FRAME_MAX,
  type WritableTarget,
  WriteQueue,
} from "../../src/runtime/write-queue.js";

class FakeStream implements WritableTarget {
  writableNeedDrain = false;
  written: string[] = [];
  /** Writes made while corked, in the order of the bursts: each burst joined with "|". */
  bursts: string[] = [];
  private corked = 0;
  private burst: string[] = [];
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (--this.corked === 0 && this.burst.length > 0) {
      this.bursts.push(this.burst.join("|"));
      this.burst = [];
    }
  }
  callbacks: Array<(e?: Error | null) => void> = [];
  /** Bytes given and not out yet: a write is out at once unless `stalled` (like a full kernel buffer). */
  writableLength = 0;
  stalled = false;
  /** The high-water mark, for tests that model it (see write). */
  needDrainOver = Number.POSITIVE_INFINITY;
  /** Writes made without a callback, and zero-length (marker) writes. */
  quietWrites = 0;
  markers = 0;
  write(data: Uint8Array, cb?: (e?: Error | null) => void): boolean {
    if (data.length === 0) this.markers++;
    else this.written.push(Buffer.from(data).toString());
    if (this.corked > 0 && data.length > 0) this.burst.push(Buffer.from(data).toString());
    if (cb === undefined) this.quietWrites++;
    if (this.stalled || this.corked > 0) this.writableLength += data.length;
    // Like Node: once the bytes held reach the high-water mark, writableNeedDrain turns true.
    if (this.writableLength >= this.needDrainOver) this.writableNeedDrain = true;
    this.pendingCallbacks.push(cb);
    if (cb !== undefined) this.callbacks.push(cb);
    return !this.writableNeedDrain;
  }
  private pendingCallbacks: Array<((e?: Error | null) => void) | undefined> = [];
  completeAll(): void {
    this.writableLength = 0;
    this.stalled = false;
    this.pendingCallbacks = [];
    for (const cb of this.callbacks.splice(0)) cb();
  }
}

/** Who lets the queue write quietly (the connection's role), switchable by the test. */
class Quiet {
  quietWrites = true;
}

function frame(pool: BufferPool, text: string): ByteBuffer {
  const b = pool.get(text.length);
  b.writeString(text);
  return b;
}

function setup() {
  const pool = new BufferPool(64, 64 * 1024);
  const stream = new FakeStream();
  const queue: WriteQueue = new WriteQueue(stream, pool, () => queue.written());
  return { pool, stream, queue };
}

function quietSetup() {
  const pool = new BufferPool(64, 64 * 1024);
  const stream = new FakeStream();
  const quiet = new Quiet();
  const queue: WriteQueue = new WriteQueue(stream, pool, () => queue.written(), quiet);
  // The fake's cork keeps bytes in writableLength until uncork; a real socket's writev then
  // writes them out at once, which the fake mirrors here.
  const uncork = stream.uncork.bind(stream);
  stream.uncork = () => {
    uncork();
    if (!stream.stalled) stream.writableLength = 0;
  };
  return { pool, stream, queue, quiet };
}

const BIG = "q".repeat(BATCH_FRAME_MAX + 1);

describe("WriteQueue: quiet writes (TCP sockets)", () => {
  it("releases a frame the socket took at once, with no callback and no marker", () => {
    const { pool, stream, queue } = quietSetup();
    queue.push(frame(pool, BIG), false);
    queue.flushBatch();
    assert.deepEqual(stream.written, [BIG]);
    assert.equal(stream.quietWrites, 1);
    assert.equal(stream.callbacks.length, 0, "no callback asked for");
    assert.equal(stream.markers, 0);
    assert.equal(pool.stats().puts, 1, "back in the pool at once");
    assert.equal(queue.bytes, 0);
  });

  it("settles a corked burst once, after the uncork", () => {
    const { pool, stream, queue } = quietSetup();
    queue.push(frame(pool, BIG), false);
    queue.push(frame(pool, `${BIG}2`), false);
    queue.push(frame(pool, `${BIG}3`), false);
    queue.flushBatch();
    assert.equal(stream.bursts.length, 1);
    assert.equal(stream.markers, 0);
    assert.equal(stream.callbacks.length, 0);
    assert.equal(pool.stats().puts, 3);
  });

  it("keeps a frame still on its way until a marker write reports it out", () => {
    const { pool, stream, queue } = quietSetup();
    stream.stalled = true;
    queue.push(frame(pool, BIG), false);
    queue.flushBatch();
    queue.push(frame(pool, `${BIG}b`), false);
    queue.flushBatch();
    assert.equal(stream.markers, 1, "a marker behind the quiet write still on its way");
    assert.equal(
      stream.quietWrites,
      1,
      "the next write, behind bytes on their way, has a callback",
    );
    assert.equal(pool.stats().puts, 0, "nothing released while the socket holds the bytes");
    assert.equal(queue.bytes, 2 * BIG.length + 1);
    stream.completeAll();
    assert.equal(pool.stats().puts, 2);
    assert.equal(queue.bytes, 0);
  });

  it("releases a large frame still on its way on the drain Node owes, with no marker", () => {
    const { pool, stream, queue } = quietSetup();
    stream.needDrainOver = 16 * 1024;
    stream.stalled = true;
    const big = "L".repeat(16 * 1024 + 1);
    queue.push(frame(pool, big), false);
    queue.flushBatch();
    assert.equal(stream.quietWrites, 1, "no callback");
    assert.equal(stream.markers, 0, "no marker: the drain is owed");
    assert.equal(pool.stats().puts, 0, "held while the socket has the bytes");
    assert.equal(queue.bytes, big.length);
    // A drain while bytes are still held (written after it was due) and another one owed.
    stream.writableLength = 10;
    queue.drain();
    assert.equal(pool.stats().puts, 0, "not out yet");
    assert.equal(stream.markers, 0);
    stream.writableLength = 0;
    stream.writableNeedDrain = false;
    queue.drain();
    assert.equal(pool.stats().puts, 1, "out: released by the drain");
    assert.equal(queue.bytes, 0);
    queue.drain();
    assert.equal(pool.stats().puts, 1, "released once");
  });

  it("falls back to a marker when a drain comes with bytes held and no other owed", () => {
    const { pool, stream, queue } = quietSetup();
    stream.needDrainOver = 16 * 1024;
    stream.stalled = true;
    queue.push(frame(pool, "M".repeat(20_000)), false);
    queue.flushBatch();
    assert.equal(stream.markers, 0);
    stream.writableLength = 100;
    stream.writableNeedDrain = false;
    queue.drain();
    assert.equal(stream.markers, 1, "a marker reports the rest");
    assert.equal(pool.stats().puts, 0);
    stream.completeAll();
    assert.equal(pool.stats().puts, 1);
  });

  it("releases frames that waited for a drain when the stream is gone", () => {
    const { pool, stream, queue } = quietSetup();
    stream.needDrainOver = 16 * 1024;
    stream.stalled = true;
    queue.push(frame(pool, "G".repeat(20_000)), false);
    queue.push(frame(pool, "H".repeat(20_000)), false);
    queue.flushBatch();
    assert.equal(stream.markers, 0);
    assert.equal(stream.callbacks.length, 0);
    queue.clear();
    assert.equal(pool.stats().puts, 2);
    assert.equal(queue.bytes, 0);
    stream.writableLength = 0;
    queue.drain();
    assert.equal(pool.stats().puts, 2, "nothing released twice");
  });

  it("releases in order across quiet and callback writes", () => {
    const { pool, stream, queue, quiet } = quietSetup();
    stream.stalled = true;
    queue.push(frame(pool, "A".repeat(BATCH_FRAME_MAX + 1)), false);
    queue.flushBatch(); // quiet, stalled: a marker
    quiet.quietWrites = false;
    queue.push(frame(pool, "B".repeat(BATCH_FRAME_MAX + 1)), false);
    queue.flushBatch(); // a callback write
    assert.equal(stream.callbacks.length, 2);
    // The marker's callback comes first: only A is out.
    (stream.callbacks[0] as () => void)();
    assert.equal(pool.stats().puts, 1);
    (stream.callbacks[1] as () => void)();
    assert.equal(pool.stats().puts, 2);
    assert.equal(queue.bytes, 0);
    // A quiet write that is out at once also settles what came before it.
    quiet.quietWrites = false;
    stream.stalled = true;
    queue.push(frame(pool, "C".repeat(BATCH_FRAME_MAX + 1)), false);
    queue.flushBatch();
    quiet.quietWrites = true;
    stream.stalled = false;
    stream.writableLength = 0;
    queue.push(frame(pool, "D".repeat(BATCH_FRAME_MAX + 1)), false);
    queue.flushBatch();
    assert.equal(pool.stats().puts, 4, "D out means C is out");
    stream.completeAll(); // C's late callback releases nothing twice
    assert.equal(pool.stats().puts, 4);
  });
});

describe("WriteQueue", () => {
  it("writes in order and returns each frame to the pool after its callback", () => {
    const { pool, stream, queue } = setup();
    const big = "x".repeat(BATCH_FRAME_MAX + 1);
    queue.push(frame(pool, big), false);
    queue.push(frame(pool, `${big}y`), false);
    assert.deepEqual(stream.written, [], "data waits for the end of the tick");
    queue.flushBatch();
    assert.deepEqual(stream.written, [big, `${big}y`]);
    assert.deepEqual(stream.bursts, [`${big}|${big}y`], "several frames: one corked burst");
    assert.equal(queue.bytes, 2 * big.length + 1);
    assert.equal(pool.stats().puts, 0, "nothing released before the write completed");
    stream.completeAll();
    assert.equal(queue.bytes, 0);
    assert.equal(pool.stats().puts, 2);
  });

  it("releases exactly the frames of each callback, in order, across its lists' compaction", () => {
    // Thousands of writes in flight: the callback and in-flight lists are copied down once their
    // heads pass 1,024 consumed slots and half their length; writes made after that must still
    // be counted from the right place.
    const { pool, stream, queue } = setup();
    let sent = 0;
    const send = (count: number) => {
      for (let i = 0; i < count; i++, sent++) {
        queue.push(frame(pool, `f${sent}`), false);
        queue.flushBatch();
      }
    };
    let done = 0;
    const complete = (count: number) => {
      for (let i = 0; i < count; i++, done++) {
        (stream.callbacks.shift() as () => void)();
        assert.equal(pool.stats().puts, done + 1, `after callback ${done}`);
      }
    };
    send(3000);
    complete(2000);
    send(1000);
    complete(1500);
    send(500);
    complete(1000);
    assert.equal(stream.callbacks.length, 0);
    assert.equal(queue.bytes, 0);
    assert.deepEqual(
      stream.written,
      Array.from({ length: sent }, (_, i) => `f${i}`),
    );
  });

  it("coalesces the small frames of a tick into one write, copying nothing for a lone frame", () => {
    const { pool, stream, queue } = setup();
    const lone = frame(pool, "lone");
    queue.push(lone, false);
    assert.deepEqual(stream.written, [], "held until the end of the tick");
    assert.equal(queue.bytes, 4);
    assert.equal(queue.waiting, 1);
    queue.flushBatch();
    assert.deepEqual(stream.written, ["lone"]);
    assert.deepEqual(stream.bursts, [], "a lone frame is a plain write, not corked");
    stream.completeAll();
    assert.equal(pool.stats().puts, 1);

    for (const t of ["a", "bb", "ccc"]) queue.push(frame(pool, t), false);
    assert.equal(queue.bytes, 6);
    assert.equal(
      pool.stats().puts,
      3,
      "the two later frames were copied into the room after the first and returned",
    );
    queue.flushBatch();
    assert.deepEqual(stream.written, ["lone", "abbccc"], "one write for three frames, in order");
    stream.completeAll();
    assert.equal(queue.bytes, 0);
    const stats = pool.stats();
    assert.equal(stats.gets, stats.puts, "every buffer, the batch included, went back");
  });

  it("keeps order around frames that are not coalesced: large, control, shared", () => {
    // A small frame after a large one goes into the room at the large one's end (its pool
    // buffer is 8 KiB): the tick's data is then two buffers, not three.
    const { pool, stream, queue } = setup();
    const big = "L".repeat(BATCH_FRAME_MAX + 1);
    queue.push(frame(pool, "s1"), false);
    queue.push(frame(pool, "s2"), false);
    queue.push(frame(pool, big), false);
    queue.push(frame(pool, "s3"), false);
    queue.push(frame(pool, "ping"), true);
    queue.push(frame(pool, "s4"), false);
    const shared = new SharedFrame(frame(pool, "shared"), pool);
    queue.push(shared, false);
    queue.flushBatch();
    assert.deepEqual(stream.written, ["s1s2", `${big}s3`, "ping", "s4", "shared"]);
    stream.completeAll();
    const stats = pool.stats();
    assert.equal(stats.gets, stats.puts, "every buffer went back, none twice");
  });

  it("builds into the room after the tick's last frame only when it is there", () => {
    const { pool, stream, queue } = setup();
    assert.equal(queue.existingRoom(100), undefined, "nothing queued: no room, no new buffer");
    assert.equal(pool.stats().gets, 0);
    const big = frame(pool, "B".repeat(BATCH_FRAME_MAX + 1)); // an 8 KiB pool buffer
    queue.push(big, false);
    assert.equal(queue.existingRoom(8192), undefined, "not that much room");
    const room = queue.existingRoom(100);
    assert.equal(room, big, "the last frame's own buffer");
    room?.writeString("after");
    assert.equal(queue.waiting, 1, "still one frame");
    const shared = new SharedFrame(frame(pool, "shared"), pool);
    queue.push(shared, false);
    assert.equal(queue.existingRoom(10), undefined, "a shared frame is never written into");
    queue.flushBatch();
    assert.deepEqual(stream.written, [`${"B".repeat(BATCH_FRAME_MAX + 1)}after`, "shared"]);
    assert.equal(queue.bytes, stream.written.join("").length, "in flight until the callbacks");
    stream.completeAll();
    assert.equal(queue.bytes, 0);
  });

  it("writes a lone shared frame as it is, without copying it", () => {
    const { pool, stream, queue } = setup();
    const shared = new SharedFrame(frame(pool, "only"), pool);
    shared.ref();
    queue.push(shared, false);
    queue.flushBatch();
    assert.deepEqual(stream.written, ["only"]);
    shared.unref();
    assert.ok(shared.live, "held by the write until its callback");
    stream.completeAll();
    assert.equal(shared.live, false);
  });

  it("starts a new batch when one is full, keeping the bytes in order", () => {
    const { pool, stream, queue } = setup();
    const n = Math.ceil((3 * BATCH_CAPACITY) / BATCH_FRAME_MAX) + 2;
    let expected = "";
    for (let i = 0; i < n; i++) {
      const t = String.fromCharCode(97 + (i % 26)).repeat(BATCH_FRAME_MAX);
      expected += t;
      queue.push(frame(pool, t), false);
    }
    assert.equal(queue.bytes, expected.length);
    queue.flushBatch();
    assert.ok(stream.written.length >= 3, `${stream.written.length} writes`);
    assert.ok(stream.written.length < n, "coalesced");
    assert.equal(stream.written.join(""), expected);
    stream.completeAll();
    const stats = pool.stats();
    assert.equal(stats.gets, stats.puts);
  });

  it("gives room for frames built in place, after a held frame and across full batches", () => {
    const { pool, stream, queue } = setup();
    queue.push(frame(pool, "held"), false);
    const put = (text: string) => {
      const room = queue.room(text.length);
      assert.ok(room.available >= text.length);
      room.end += room.storage.write(text, room.end);
    };
    put("-a");
    let expected = "held-a";
    for (let i = 0; i < 12; i++) {
      const t = String.fromCharCode(98 + i).repeat(3000);
      expected += t;
      put(t);
    }
    assert.equal(queue.bytes, expected.length);
    queue.flushBatch();
    assert.ok(stream.written.length > 1, "full batches went out as new ones started");
    assert.equal(stream.written.join(""), expected);
    stream.completeAll();
    const stats = pool.stats();
    assert.equal(stats.gets, stats.puts);
  });

  it("releases held and batched frames on clear", () => {
    const { pool, queue } = setup();
    queue.push(frame(pool, "a"), false);
    queue.clear();
    queue.push(frame(pool, "b"), false);
    queue.push(frame(pool, "c"), false);
    queue.clear();
    const stats = pool.stats();
    assert.equal(stats.gets, stats.puts);
    assert.equal(queue.bytes, 0);
    assert.equal(queue.waiting, 0);
  });

  it("holds data while the stream needs a drain, lets pings and pongs through", () => {
    const { pool, stream, queue } = setup();
    stream.writableNeedDrain = true;
    stream.writableLength = 20_000; // bytes the stream could not write out yet
    queue.push(frame(pool, "data1"), false);
    queue.push(frame(pool, "pong"), true);
    queue.push(frame(pool, "data2"), false);
    queue.flushBatch();
    assert.deepEqual(stream.written, ["pong"]);
    assert.equal(queue.waiting, 2);
    assert.equal(queue.pendingBytes, 10);
    stream.writableNeedDrain = false;
    stream.writableLength = 0;
    queue.drain();
    assert.deepEqual(stream.written, ["pong", "data1", "data2"]);
    assert.deepEqual(stream.bursts, ["data1|data2"], "the waiting frames go as one corked burst");
    assert.equal(queue.waiting, 0);
  });

  it("does not hold data for a stale writableNeedDrain: the stream wrote everything out", () => {
    const { pool, stream, queue } = setup();
    // Node leaves writableNeedDrain true until the drain event of a later tick after any large
    // write, even when the kernel took it whole.
    stream.writableNeedDrain = true;
    queue.push(frame(pool, "now"), false);
    queue.flushBatch();
    assert.deepEqual(stream.written, ["now"]);
    assert.equal(queue.waiting, 0);
  });

  it("writes a whole tick in one burst even when the burst itself passes the high-water mark", () => {
    const { pool, stream, queue } = setup();
    const big = "x".repeat(BATCH_FRAME_MAX + 1);
    queue.push(frame(pool, big), false);
    queue.push(frame(pool, big), false);
    queue.push(frame(pool, "tail"), false);
    // The first write inside the cork counts in writableLength and trips writableNeedDrain.
    stream.needDrainOver = BATCH_FRAME_MAX;
    queue.flushBatch();
    assert.deepEqual(stream.bursts, [`${big}|${big}tail`], "one corked burst, nothing left behind");
    assert.equal(queue.waiting, 0);
  });

  it("keeps data order: a data frame never overtakes one already waiting", () => {
    const { pool, stream, queue } = setup();
    stream.writableNeedDrain = true;
    stream.writableLength = 20_000;
    queue.push(frame(pool, "first"), false);
    queue.flushBatch();
    stream.writableNeedDrain = false;
    stream.writableLength = 0;
    queue.push(frame(pool, "second"), false); // must wait behind "first"
    queue.flushBatch();
    assert.deepEqual(stream.written, []);
    queue.drain();
    assert.deepEqual(stream.written, ["first", "second"]);
  });

  it("unrefs shared frames and clears everything on close", () => {
    const { pool, stream, queue } = setup();
    const shared = new SharedFrame(frame(pool, "S".repeat(BATCH_FRAME_MAX + 1)), pool);
    shared.ref();
    queue.push(shared, false);
    shared.ref();
    stream.writableNeedDrain = true;
    queue.push(shared, false);
    shared.unref(); // the creator's reference
    assert.ok(shared.live);
    queue.clear();
    assert.equal(shared.live, false, "the last reference returned it");
    assert.equal(pool.stats().puts, 1);
    assert.equal(queue.bytes, 0);
  });
});
