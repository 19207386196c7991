import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isPowerOfTwo } from "../../src/buffer/binary-ceil.js";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { PoolStats } from "../../src/buffer/pool.js";
import { SIMPLE_POOL_BUFFER_SIZE, SimplePool } from "../../src/buffer/simple-pool.js";
import { UsageError } from "../../src/errors.js";

function isDoublePut(e: unknown): boolean {
  return e instanceof UsageError && e.code === "ERR_POOL_DOUBLE_PUT";
}

function assertStatsAddUp(s: PoolStats): void {
  let gets = 0;
  let idleBuffers = 0;
  let idleBytes = 0;
  for (const shard of s.shards) {
    assert.equal(
      shard.gets,
      shard.hits + shard.misses,
      `shard ${shard.size}: gets = hits + misses`,
    );
    assert.equal(shard.idleBytes, shard.idleBuffers * shard.size);
    gets += shard.gets;
    idleBuffers += shard.idleBuffers;
    idleBytes += shard.idleBytes;
  }
  assert.equal(s.gets, s.hits + s.misses, "gets = hits + misses");
  assert.ok(s.gets >= gets);
  assert.equal(s.idleBuffers, idleBuffers);
  assert.equal(s.idleBytes, idleBytes);
}

describe("BufferPool", () => {
  it("rounds its bounds up and has one shard per power of two", () => {
    const pool = new BufferPool(100, 5000);
    assert.equal(pool.left, 128);
    assert.equal(pool.right, 8192);
    assert.deepEqual(
      pool.stats().shards.map((s) => s.size),
      [128, 256, 512, 1024, 2048, 4096, 8192],
    );
    assert.throws(() => new BufferPool(0, 10), UsageError);
    assert.throws(() => new BufferPool(64, 32), UsageError);
    assert.throws(() => new BufferPool(64, Number.POSITIVE_INFINITY), UsageError);
    assert.throws(() => new BufferPool(64, 128, { maxIdleBytes: -1 }), UsageError);
    assert.throws(() => new BufferPool(64, 128, { decayIntervalMs: 0 }), UsageError);
  });

  it("hands out empty buffers of a power-of-two capacity >= n within bounds", () => {
    const pool = new BufferPool(64, 64 * 1024);
    fc.assert(
      fc.property(fc.nat(64 * 1024), (n) => {
        const buf = pool.get(n);
        assert.equal(buf.len, 0);
        assert.ok(buf.cap >= n);
        assert.ok(buf.cap >= 64);
        assert.ok(buf.cap <= 64 * 1024);
        assert.ok(isPowerOfTwo(buf.cap));
        assert.ok(buf.cap === 64 || buf.cap / 2 < n, "the smallest shard that fits");
        pool.put(buf);
      }),
      { numRuns: 1000 },
    );
    assert.throws(() => pool.get(-1), UsageError);
    assert.throws(() => pool.get(Number.NaN), UsageError);
  });

  it("returns the same storage after put then get, and resets it", () => {
    const pool = new BufferPool(64, 4096);
    const a = pool.get(1000);
    a.writeString("secret");
    const storage = a.storage;
    pool.put(a);
    const b = pool.get(600);
    assert.equal(b, a);
    assert.equal(b.storage, storage);
    assert.equal(b.len, 0, "handed out empty");
    const s = pool.stats();
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
    assert.equal(s.shards.find((x) => x.size === 1024)?.hits, 1);
  });

  it("never keeps buffers above the upper bound or of a foreign capacity", () => {
    const pool = new BufferPool(64, 1024);
    const big = pool.get(5000);
    assert.equal(big.cap, 5000, "exactly n above the bound");
    pool.put(big);
    assert.notEqual(pool.get(5000), big);
    const grown = pool.get(1024);
    grown.write(new Uint8Array(3000)); // grows past the upper bound
    pool.put(grown);
    const foreign = ByteBuffer.wrap(Buffer.alloc(100));
    pool.put(foreign);
    const odd = new ByteBuffer(96); // in range, but not a shard size
    pool.put(odd);
    const s = pool.stats();
    assert.equal(s.idleBuffers, 0);
    assert.equal(s.idleBytes, 0);
    assert.equal(s.drops, 4);
  });

  it("files a grown buffer into the shard of its new capacity", () => {
    const pool = new BufferPool(64, 4096);
    const b = pool.get(64);
    b.write(new Uint8Array(64));
    b.write(new Uint8Array(1)); // doubles to 128
    assert.equal(b.cap, 128);
    pool.put(b);
    assert.equal(pool.stats().shards.find((x) => x.size === 128)?.idleBuffers, 1);
    assert.equal(pool.get(100), b);
  });

  it("grows its buffers to powers of two so they find a shard again", () => {
    const pool = new BufferPool(256, 4096);
    const b = pool.get(200);
    b.write(new Uint8Array(1000)); // Go's rule alone would give max(512, 1000) = 1000
    assert.equal(b.cap, 1024);
    pool.put(b);
    assert.equal(pool.get(1000), b);
    // A plain ByteBuffer keeps Go's exact rule.
    const plain = new ByteBuffer(256);
    plain.write(new Uint8Array(1000));
    assert.equal(plain.cap, 1000);
  });

  it("drops wrapped views that do not own their whole allocation", () => {
    const pool = new BufferPool(64, 4096);
    const big = Buffer.allocUnsafeSlow(1 << 20);
    pool.put(ByteBuffer.wrap(big.subarray(0, 1024)));
    pool.put(ByteBuffer.wrap(Buffer.allocUnsafeSlow(1024))); // owns its allocation: kept
    const s = pool.stats();
    assert.equal(s.idleBuffers, 1);
    assert.equal(s.drops, 1);
  });

  it("keeps a wrapped view once it has grown into storage of its own", () => {
    const pool = new BufferPool(64, 4096);
    const big = Buffer.allocUnsafeSlow(1 << 20);
    const b = ByteBuffer.wrap(big.subarray(0, 512));
    b.write(new Uint8Array(512)); // grows to 1024 bytes of its own
    assert.equal(b.cap, 1024);
    pool.put(b);
    assert.equal(pool.stats().idleBuffers, 1);
    assert.equal(pool.get(1000), b);
  });

  it("counts gets above the largest shard as oversize", () => {
    const pool = new BufferPool(64, 1024);
    pool.get(2000);
    pool.get(10);
    const s = pool.stats();
    assert.equal(s.oversize, 1);
    assert.equal(s.gets, 2);
    assert.equal(s.misses, 2);
    assert.equal(
      s.shards.reduce((a, x) => a + x.misses, 0),
      1,
    );
  });

  it("catches a double put, whether the buffer was kept or dropped", () => {
    const pool = new BufferPool(64, 1024);
    const kept = pool.get(10);
    pool.put(kept);
    assert.throws(() => pool.put(kept), isDoublePut);
    const dropped = pool.get(10_000);
    pool.put(dropped);
    assert.throws(() => pool.put(dropped), isDoublePut);
    const other = new BufferPool(64, 1024);
    assert.throws(() => other.put(kept), isDoublePut, "another pool is not a second owner either");
    // Handed out again, it may be put once more.
    const again = pool.get(10);
    assert.equal(again, kept);
    pool.put(again);
    // Never two owners: gets after a failed double put hand the buffer out once.
    const x = pool.get(10);
    const y = pool.get(10);
    assert.notEqual(x, y);
  });

  it("bounds idle buffers and bytes per shard and in total", () => {
    const pool = new BufferPool(64, 1024, {
      maxIdleBuffersPerShard: 3,
      maxIdleBytesPerShard: 2048,
      maxIdleBytes: 3000,
    });
    const small = Array.from({ length: 5 }, () => pool.get(64));
    for (const b of small) pool.put(b);
    assert.equal(pool.stats().shards[0]?.idleBuffers, 3, "count bound");
    const large = Array.from({ length: 5 }, () => pool.get(1024));
    for (const b of large) pool.put(b);
    const s = pool.stats();
    // 1024-byte shard: per-shard bytes allow 2, total allows 3000 - 192 = 2808 -> 2
    assert.equal(s.shards.find((x) => x.size === 1024)?.idleBuffers, 2);
    assert.ok(s.idleBytes <= 3000);
    assertStatsAddUp(s);
  });

  it("keeps retained memory within its bounds under random churn, and stats add up", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.nat(70_000), fc.constant(-1), fc.constant(-2)), { maxLength: 300 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1024, max: 40_000 }),
        (ops, perShard, total) => {
          const pool = new BufferPool(256, 32 * 1024, {
            maxIdleBuffersPerShard: perShard,
            maxIdleBytes: total,
          });
          const held: ByteBuffer[] = [];
          for (const op of ops) {
            if (op === -1) {
              const b = held.pop();
              if (b) pool.put(b);
            } else if (op === -2) {
              pool.decay();
            } else {
              const b = pool.get(op);
              b.write(new Uint8Array(Math.min(op, 100)));
              held.push(b);
            }
            const s = pool.stats();
            assert.ok(s.idleBytes <= total, "total bound");
            for (const shard of s.shards) assert.ok(shard.idleBuffers <= perShard, "shard bound");
            assertStatsAddUp(s);
          }
          const distinct = new Set(held);
          assert.equal(distinct.size, held.length, "no buffer handed to two owners");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("trim releases every idle buffer", () => {
    const pool = new BufferPool(64, 1024);
    const bufs = [pool.get(64), pool.get(500), pool.get(1000)];
    for (const b of bufs) pool.put(b);
    assert.equal(pool.stats().idleBuffers, 3);
    pool.trim();
    const s = pool.stats();
    assert.equal(s.idleBuffers, 0);
    assert.equal(s.idleBytes, 0);
    assert.equal(s.drops, 3);
    assert.notEqual(pool.get(64), bufs[0]);
  });

  it("decay releases only the buffers that stayed idle for a whole interval", () => {
    const pool = new BufferPool(64, 1024);
    const bufs = Array.from({ length: 4 }, () => pool.get(64));
    for (const b of bufs) pool.put(b);
    pool.decay(); // first tick: low-water mark was 0 (a miss happened), nothing released
    assert.equal(pool.stats().idleBuffers, 4);
    const inUse = pool.get(64); // idle drops to 3: one was needed
    pool.decay(); // 3 stayed idle the whole interval
    assert.equal(pool.stats().idleBuffers, 0);
    pool.put(inUse);
    pool.decay();
    assert.equal(pool.stats().idleBuffers, 1, "the one put back after the tick stays");
    pool.decay();
    assert.equal(pool.stats().idleBuffers, 0);
  });

  it("runs decay on an unref'd timer when asked and close() stops it", async () => {
    const pool = new BufferPool(64, 1024, { decayIntervalMs: 1 });
    pool.put(pool.get(64));
    pool.put(pool.get(64)); // hit: low-water is 0 until the first tick
    const deadline = Date.now() + 5000;
    while (pool.stats().idleBuffers > 0 && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(pool.stats().idleBuffers, 0, "the timer decayed the idle buffer");
    pool.close();
    pool.put(pool.get(64));
  });
});

describe("SimplePool", () => {
  it("hands out 1 KiB buffers and keeps them whatever they grew to", () => {
    const pool = new SimplePool();
    const a = pool.get(10);
    assert.equal(a.cap, SIMPLE_POOL_BUFFER_SIZE);
    a.write(new Uint8Array(5000));
    pool.put(a);
    const b = pool.get(10);
    assert.equal(b, a);
    assert.equal(b.len, 0);
    assert.ok(b.cap >= 5000, "grown capacity is kept (the naive pool's waste)");
    pool.put(b);
    assert.throws(() => pool.put(b), isDoublePut);
    const s = pool.stats();
    assert.equal(s.gets, 2);
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
    assert.equal(s.idleBuffers, 1);
    assert.equal(s.idleBytes, b.cap);
    pool.trim();
    assert.equal(pool.stats().idleBytes, 0);
  });
});
