import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { CryptoMaskSource, DEFAULT_MASK_BLOCK_SIZE } from "../../src/runtime/mask-source.js";

function keys(source: CryptoMaskSource, count: number): string[] {
  const out: string[] = [];
  const target = Buffer.alloc(8, 0xcc);
  for (let i = 0; i < count; i++) {
    source.nextMask(target, 2);
    out.push(target.subarray(2, 6).toString("hex"));
    assert.equal(target[1], 0xcc, "nothing before the key");
    assert.equal(target[6], 0xcc, "nothing after the key");
  }
  return out;
}

describe("CryptoMaskSource", () => {
  it("writes 4-byte keys that differ across calls and across block refills", () => {
    const source = new CryptoMaskSource({ blockSize: 16 });
    const seen = keys(source, 400);
    // 400 random 32-bit keys collide with probability below 2e-5.
    assert.equal(new Set(seen).size, seen.length);
  });

  it("two sources do not share state", () => {
    const a = keys(new CryptoMaskSource(), 50);
    const b = keys(new CryptoMaskSource(), 50);
    assert.notDeepEqual(a, b);
    assert.equal(new Set([...a, ...b]).size, 100);
  });

  it("uses the whole byte range", () => {
    const source = new CryptoMaskSource();
    const counts = new Uint32Array(256);
    const target = Buffer.alloc(4);
    for (let i = 0; i < 4096; i++) {
      source.nextMask(target, 0);
      for (const b of target) counts[b] = (counts[b] as number) + 1;
    }
    // 16384 bytes, 64 expected per value: a missing value would mean a broken source.
    assert.ok(counts.every((c) => c > 0));
  });

  it("takes its block from a pool and gives it back on release", () => {
    const pool = new BufferPool(64, 8192);
    const source = new CryptoMaskSource({ pool });
    assert.equal(pool.stats().gets, 1);
    assert.equal(pool.stats().shards.find((s) => s.size === DEFAULT_MASK_BLOCK_SIZE)?.gets, 1);
    keys(source, 3);
    source.release();
    assert.equal(pool.stats().puts, 1);
    source.release();
    assert.equal(pool.stats().puts, 1, "release is idempotent");
    assert.throws(() => source.nextMask(Buffer.alloc(4), 0), { code: "ERR_WS_INVALID_STATE" });
  });

  it("rejects block sizes that are not positive multiples of 4", () => {
    for (const blockSize of [0, 3, 6, -4, 4.5]) {
      assert.throws(() => new CryptoMaskSource({ blockSize }), { code: "ERR_INVALID_ARGUMENT" });
    }
  });
});
