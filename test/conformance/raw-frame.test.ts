// The tester's own frame writer and reader: any bits, any lengths, any chunking.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameReader } from "../../src/conformance/frame-reader.js";
import {
  applyMask,
  closePayload,
  encodeFrame,
  encodeHeader,
  fragmentPayload,
  repeatPayload,
} from "../../src/conformance/raw-frame.js";

describe("raw frame writer", () => {
  it("encodes each length class of RFC 6455 section 5.2 at its edges", () => {
    const hex = (length: number, mask: Buffer | null = null) =>
      encodeHeader({ opcode: 1, fin: true, rsv: 0, length, mask }).toString("hex");
    assert.equal(hex(0), "8100");
    assert.equal(hex(125), "817d");
    assert.equal(hex(126), "817e007e");
    assert.equal(hex(65535), "817effff");
    assert.equal(hex(65536), "817f0000000000010000");
    assert.equal(hex(2 ** 32 + 5), "817f0000000100000005");
    assert.equal(hex(5, Buffer.from("01020304", "hex")), "818501020304");
  });

  it("puts reserved bits, reserved opcodes and FIN=0 on the wire unchecked", () => {
    const h = encodeHeader({ opcode: 11, fin: false, rsv: 7, length: 200, mask: null });
    assert.equal(h.toString("hex"), "7b7e00c8");
  });

  it("masks with the key position carried across pieces", () => {
    const key = Buffer.from("a1b2c3d4", "hex");
    const data = Buffer.from("the quick brown fox");
    const whole = Buffer.from(data);
    applyMask(whole, key);
    const a = Buffer.from(data.subarray(0, 7));
    const b = Buffer.from(data.subarray(7));
    applyMask(a, key, 0);
    applyMask(b, key, 7);
    assert.deepEqual(Buffer.concat([a, b]), whole);
    applyMask(whole, key);
    assert.deepEqual(whole, data);
  });

  it("fragments like Autobahn: an exact multiple ends with an empty final frame", () => {
    const sizes = (n: number, size: number) =>
      fragmentPayload(Buffer.alloc(n), size).map((p) => p.length);
    assert.deepEqual(sizes(10, 4), [4, 4, 2]);
    assert.deepEqual(sizes(8, 4), [4, 4, 0]);
    assert.deepEqual(sizes(4, 4), [4]);
    assert.deepEqual(sizes(0, 4), [0]);
    // 9.3.2: 4 MiB in 256-byte fragments is 16385 frames, one more than ws accepts.
    assert.equal(fragmentPayload(Buffer.alloc(4 * 1024 * 1024), 256).length, 16385);
  });

  it("repeats a pattern to a length and builds close payloads with any code", () => {
    assert.equal(repeatPayload(Buffer.from("abc"), 7).toString(), "abcabca");
    assert.equal(repeatPayload(Buffer.from("abc"), 0).length, 0);
    assert.equal(closePayload().length, 0);
    assert.equal(closePayload(undefined, "a").toString(), "a");
    assert.equal(closePayload(65535, "x").toString("hex"), "ffff78");
  });
});

describe("raw frame reader", () => {
  const key = Buffer.from("37fa213d", "hex");
  const frames = [
    encodeFrame({ opcode: 1, fin: false, rsv: 4, payload: Buffer.from("Hello"), mask: key }),
    encodeFrame({ opcode: 0, fin: true, rsv: 0, payload: Buffer.alloc(300, 7), mask: null }),
    encodeFrame({ opcode: 9, fin: true, rsv: 0, payload: Buffer.alloc(0), mask: key }),
    encodeFrame({ opcode: 2, fin: true, rsv: 0, payload: Buffer.alloc(70000, 1), mask: key }),
  ];
  const stream = Buffer.concat(frames);

  for (const chunk of [1, 3, 1000, stream.length]) {
    it(`parses frames fed ${chunk} bytes at a time`, () => {
      const reader = new FrameReader();
      const out = [];
      for (let i = 0; i < stream.length; i += chunk)
        out.push(...reader.push(stream.subarray(i, i + chunk)));
      assert.equal(reader.error, null);
      assert.deepEqual(
        out.map((f) => [f.opcode, f.fin, f.rsv, f.masked, f.payload.length]),
        [
          [1, false, 4, true, 5],
          [0, true, 0, false, 300],
          [9, true, 0, true, 0],
          [2, true, 0, true, 70000],
        ],
      );
      assert.equal(out[0]!.payload.toString(), "Hello");
      assert.ok(out[3]!.payload.every((b) => b === 1));
    });
  }

  it("stops at a 64-bit length with its most significant bit set", () => {
    const reader = new FrameReader();
    assert.deepEqual(reader.push(Buffer.from("827f8000000000000001", "hex")), []);
    assert.match(reader.error ?? "", /most significant bit/);
  });
});
