import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { binaryCeil, isPowerOfTwo } from "../../src/buffer/binary-ceil.js";
import { UsageError } from "../../src/errors.js";

describe("binaryCeil", () => {
  it("handles the edges", () => {
    assert.equal(binaryCeil(0), 1);
    assert.equal(binaryCeil(1), 1);
    assert.equal(binaryCeil(2), 2);
    assert.equal(binaryCeil(3), 4);
    assert.equal(binaryCeil(1.5), 2);
    assert.equal(binaryCeil(1023), 1024);
    assert.equal(binaryCeil(1024), 1024);
    assert.equal(binaryCeil(1025), 2048);
    assert.equal(binaryCeil(2 ** 30), 2 ** 30);
    assert.equal(binaryCeil(2 ** 30 + 1), 2 ** 31);
    assert.equal(binaryCeil(2 ** 31), 2 ** 31, "2^31 does not wrap");
    assert.equal(binaryCeil(2 ** 31 + 1), 2 ** 32);
    assert.equal(binaryCeil(2 ** 32 - 1), 2 ** 32, "no uint32 wrap-around to 0");
    assert.equal(binaryCeil(2 ** 32 + 1), 2 ** 33);
    assert.equal(binaryCeil(2 ** 40 - 1), 2 ** 40);
    assert.equal(binaryCeil(Number.MAX_SAFE_INTEGER), 2 ** 53);
    assert.equal(binaryCeil(2 ** 60), 2 ** 60);
  });

  it("rejects what has no ceiling", () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      assert.throws(() => binaryCeil(v), UsageError, String(v));
    }
  });

  it("is the smallest power of two >= v", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 2 ** 62, noNaN: true }), (v) => {
        const p = binaryCeil(v);
        assert.ok(isPowerOfTwo(p), `${p} is a power of two`);
        assert.ok(p >= v, `${p} >= ${v}`);
        assert.ok(p === 1 || p / 2 < v, `${p / 2} < ${v}`);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 62 }), fc.integer({ min: -1, max: 1 }), (k, d) => {
        const v = 2 ** k + d;
        const p = binaryCeil(v);
        assert.ok(p >= v && (p === 1 || p / 2 < v));
      }),
    );
  });
});
