import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import { SharedFrame } from "../../src/runtime/shared-frame.js";
import { type WritableTarget, WriteQueue } from "../../src/runtime/write-queue.js";

class FakeStream implements WritableTarget {
  writableNeedDrain = false;
  written: string[] = [];
  callbacks: Array<(e?: Error | null) => void> = [];
  write(data: Uint8Array, cb: (e?: Error | null) => void): boolean {
    this.written.push(Buffer.from(data).toString());
    this.callbacks.push(cb);
    return !this.writableNeedDrain;
  }
  completeAll(): void {
    for (const cb of this.callbacks.splice(0)) cb();
  }
}

function frame(pool: BufferPool, text: string): ByteBuffer {
  const b = pool.get(text.length);
  b.writeString(text);
  return b;
}

function setup() {
  const pool = new BufferPool(64, 4096);
  const stream = new FakeStream();
  const queue: WriteQueue = new WriteQueue(stream, pool, () => queue.written());
  return { pool, stream, queue };
}

describe("WriteQueue", () => {
  it("writes in order and returns each frame to the pool after its callback", () => {
    const { pool, stream, queue } = setup();
    queue.push(frame(pool, "a"), false);
    queue.push(frame(pool, "bb"), false);
    assert.deepEqual(stream.written, ["a", "bb"]);
    assert.equal(queue.bytes, 3);
    assert.equal(pool.stats().puts, 0, "nothing released before the write completed");
    stream.completeAll();
    assert.equal(queue.bytes, 0);
    assert.equal(pool.stats().puts, 2);
  });

  it("holds data while the stream needs a drain, lets pings and pongs through", () => {
    const { pool, stream, queue } = setup();
    stream.writableNeedDrain = true;
    queue.push(frame(pool, "data1"), false);
    queue.push(frame(pool, "pong"), true);
    queue.push(frame(pool, "data2"), false);
    assert.deepEqual(stream.written, ["pong"]);
    assert.equal(queue.waiting, 2);
    assert.equal(queue.pendingBytes, 10);
    stream.writableNeedDrain = false;
    queue.drain();
    assert.deepEqual(stream.written, ["pong", "data1", "data2"]);
    assert.equal(queue.waiting, 0);
  });

  it("keeps data order: a data frame never overtakes one already waiting", () => {
    const { pool, stream, queue } = setup();
    stream.writableNeedDrain = true;
    queue.push(frame(pool, "first"), false);
    stream.writableNeedDrain = false;
    queue.push(frame(pool, "second"), false); // must wait behind "first"
    assert.deepEqual(stream.written, []);
    queue.drain();
    assert.deepEqual(stream.written, ["first", "second"]);
  });

  it("unrefs shared frames and clears everything on close", () => {
    const { pool, stream, queue } = setup();
    const shared = new SharedFrame(frame(pool, "shared"), pool);
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
