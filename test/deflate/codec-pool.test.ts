import assert from "node:assert/strict";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import { CodecPool } from "../../src/deflate/codec-pool.js";
import type { ContextSettings } from "../../src/deflate/zlib-context.js";
import { isTidewsError } from "../../src/errors.js";

const INFLATE: ContextSettings = {
  kind: "inflate",
  windowBits: 15,
  level: -1,
  memLevel: 8,
  chunkSize: 16384,
  sync: true,
};
const DEFLATE: ContextSettings = {
  kind: "deflate",
  windowBits: 15,
  level: -1,
  memLevel: 8,
  chunkSize: 16384,
  sync: true,
};

describe("CodecPool", () => {
  it("reuses idle shared contexts of the same settings only", () => {
    const pool = new CodecPool({ maxIdlePerKey: 2 });
    const a = pool.acquire(INFLATE);
    pool.release(a);
    assert.equal(pool.acquire(INFLATE), a);
    const d = pool.acquire(DEFLATE);
    assert.notEqual(d, a);
    const d8 = pool.acquire({ ...DEFLATE, windowBits: 8 });
    const d9 = pool.acquire({ ...DEFLATE, windowBits: 9 });
    pool.release(d8);
    assert.equal(
      pool.acquire({ ...DEFLATE, windowBits: 9 }),
      d8,
      "8 runs as zlib's 9: the same context",
    );
    assert.notEqual(pool.acquire({ ...DEFLATE, level: 1 }), d);
    assert.equal(pool.stats().created, 5);
    for (const ctx of [a, d, d8, d9]) pool.release(ctx);
    pool.trim();
  });

  it("bounds idle contexts and counts the live ones", () => {
    const pool = new CodecPool({ maxIdlePerKey: 2 });
    const ctxs = Array.from({ length: 5 }, () => pool.acquire(INFLATE));
    assert.deepEqual(pool.stats(), { live: 5, idle: 0, created: 5 });
    for (const ctx of ctxs) pool.release(ctx);
    assert.deepEqual(pool.stats(), { live: 2, idle: 2, created: 5 });
    assert.ok(
      ctxs.slice(2).every((c) => c.dead),
      "the extra ones were destroyed",
    );
    const owned = pool.createOwned(DEFLATE);
    assert.equal(pool.stats().live, 3);
    assert.throws(
      () => pool.release(owned),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
    pool.discard(owned);
    pool.discard(owned);
    assert.equal(pool.stats().live, 2, "discarding twice counts once");
    pool.trim();
    assert.deepEqual(pool.stats(), { live: 0, idle: 0, created: 6 });
  });

  it("resets a context it takes back and drops a dead one", () => {
    const pool = new CodecPool();
    const ctx = pool.acquire(DEFLATE);
    const out = Buffer.alloc(64);
    ctx.writeSync(zlib.constants.Z_SYNC_FLUSH, Buffer.from("Hello"), 0, 5, out, 0, 64);
    pool.release(ctx);
    const again = pool.acquire(DEFLATE);
    assert.equal(again, ctx);
    ctx.writeSync(zlib.constants.Z_SYNC_FLUSH, Buffer.from("Hello"), 0, 5, out, 0, 64);
    // Reset: the second "Hello" compresses like the first, not as a back-reference.
    assert.equal(out.subarray(0, 64 - ctx.availOut).toString("hex"), "f248cdc9c907000000ffff");
    const broken = pool.acquire(INFLATE);
    const bad = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    assert.equal(broken.writeSync(zlib.constants.Z_SYNC_FLUSH, bad, 0, 4, out, 0, 64), false);
    assert.equal(broken.dead, true);
    pool.release(broken);
    assert.notEqual(pool.acquire(INFLATE), broken);
    assert.equal(
      broken.writeSync(zlib.constants.Z_SYNC_FLUSH, bad, 0, 4, out, 0, 64),
      false,
      "a dead context refuses work",
    );
    pool.trim();
  });

  it("refuses a bad bound", () => {
    assert.throws(
      () => new CodecPool({ maxIdlePerKey: -1 }),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
  });
});
