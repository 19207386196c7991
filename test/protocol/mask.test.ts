import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyMask,
  copyXorRange,
  FixedMaskSource,
  maskInto,
  xorRange,
} from "../../src/protocol/mask.js";
import { withOffset } from "./frame-log.js";

/** The RFC 6455 section 5.3 definition, one octet at a time. */
function reference(data: Uint8Array, mask: Uint8Array, offset: number): Buffer {
  return Buffer.from(data.map((b, i) => b ^ (mask[(i + offset) & 3] as number)));
}

const arbMask = fc.uint8Array({ minLength: 4, maxLength: 4 });
const arbData = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 120, maxLength: 700 }),
);

describe("applyMask", () => {
  it("masks the RFC 6455 section 5.7 example", () => {
    const data = Buffer.from("Hello");
    applyMask(data, Buffer.from([0x37, 0xfa, 0x21, 0x3d]), 0);
    assert.deepEqual(data, Buffer.from([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
  });

  it("matches the octet-by-octet definition at any byteOffset and mask offset", () => {
    fc.assert(
      fc.property(arbData, arbMask, fc.nat(3), fc.nat(7), (data, mask, maskOffset, byteOffset) => {
        const view = withOffset(data, byteOffset);
        const neighbours = Buffer.from(view.buffer, 0, view.buffer.byteLength);
        const before = Buffer.from(neighbours);
        applyMask(view, withOffset(mask, (byteOffset + 1) & 3), maskOffset);
        assert.deepEqual(view, reference(data, mask, maskOffset));
        // Bytes around the view are untouched.
        const start = view.byteOffset;
        assert.deepEqual(neighbours.subarray(0, start), before.subarray(0, start));
        assert.deepEqual(
          neighbours.subarray(start + view.length),
          before.subarray(start + view.length),
        );
      }),
    );
  });

  it("unmasks a payload piece by piece with the running offset", () => {
    fc.assert(
      fc.property(arbData, arbMask, fc.array(fc.nat(700)), (data, mask, cuts) => {
        const buf = withOffset(data, 1);
        const points = [...new Set(cuts.filter((c) => c < data.length))].sort((a, b) => a - b);
        let from = 0;
        for (const to of [...points, data.length]) {
          applyMask(buf.subarray(from, to), Buffer.from(mask), from & 3);
          from = to;
        }
        assert.deepEqual(buf, reference(data, mask, 0));
      }),
    );
  });

  it("is its own inverse", () => {
    const data = Buffer.alloc(1000, 0x5a);
    const mask = Buffer.from([1, 2, 3, 4]);
    applyMask(data, mask, 2);
    applyMask(data, mask, 2);
    assert.deepEqual(data, Buffer.alloc(1000, 0x5a));
  });

  it("rejects a mask shorter than 4 bytes", () => {
    assert.throws(() => applyMask(Buffer.alloc(4), Buffer.alloc(3), 0), {
      code: "ERR_INVALID_ARGUMENT",
    });
  });
});

describe("maskInto", () => {
  it("copies and masks, leaving the source alone, at any alignment", () => {
    fc.assert(
      fc.property(
        arbData,
        arbMask,
        fc.nat(7),
        fc.nat(7),
        fc.nat(3),
        (data, mask, srcOffset, dstAt, maskOffset) => {
          const src = withOffset(data, srcOffset);
          const dst = withOffset(Buffer.alloc(data.length + dstAt + 3, 0xcc), (srcOffset * 3) & 7);
          maskInto(dst, dstAt, src, Buffer.from(mask), maskOffset);
          assert.deepEqual(src, Buffer.from(data), "source unchanged");
          assert.deepEqual(
            dst.subarray(dstAt, dstAt + data.length),
            reference(data, mask, maskOffset),
          );
          assert.ok(dst.subarray(0, dstAt).every((b) => b === 0xcc));
          assert.ok(dst.subarray(dstAt + data.length).every((b) => b === 0xcc));
        },
      ),
    );
  });

  it("rejects a target without room", () => {
    assert.throws(() => maskInto(Buffer.alloc(4), 1, Buffer.alloc(4), Buffer.alloc(4)), {
      code: "ERR_OUT_OF_RANGE",
    });
  });
});

describe("copyXorRange", () => {
  it("equals a copy then an in-place XOR, leaves the source alone, at any alignment", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        (bytes, a, b, key, phase, srcShift, dstShift) => {
          const backing = new Uint8Array(bytes.length + srcShift);
          backing.set(bytes, srcShift);
          const src = backing.subarray(srcShift);
          const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
          const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
          const dst = new Uint8Array(end - start + dstShift + 3).fill(0x55);
          const expected = Uint8Array.from(dst);
          expected.set(bytes.subarray(start, end), dstShift);
          xorRange(expected, dstShift, dstShift + end - start, key, phase);
          copyXorRange(src, start, end, dst, dstShift, key, phase);
          assert.deepEqual(dst, expected);
          assert.deepEqual(src, bytes, "the source is unchanged");
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("FixedMaskSource", () => {
  it("writes its key at the given position every time", () => {
    const source = new FixedMaskSource([0x37, 0xfa, 0x21, 0x3d]);
    const target = Buffer.alloc(8);
    source.nextMask(target, 2);
    source.nextMask(target, 3);
    assert.deepEqual(target, Buffer.from([0, 0, 0x37, 0x37, 0xfa, 0x21, 0x3d, 0]));
  });

  it("needs exactly 4 bytes", () => {
    assert.throws(() => new FixedMaskSource([1, 2, 3]), { code: "ERR_INVALID_ARGUMENT" });
  });
});
