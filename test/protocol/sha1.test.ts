import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { sha1 } from "../../src/protocol/sha1.js";

function reference(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe("sha1", () => {
  it("matches the FIPS 180 examples", () => {
    assert.equal(hex(sha1(Buffer.from("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert.equal(
      hex(sha1(Buffer.from("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
  });

  it("matches node:crypto around the padding boundaries", () => {
    for (const n of [0, 1, 3, 4, 55, 56, 57, 60, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096]) {
      const data = randomBytes(n);
      assert.equal(hex(sha1(data)), reference(data), `length ${n}`);
    }
  });

  it("reads a view with a non-zero byteOffset", () => {
    const backing = randomBytes(300);
    const view = backing.subarray(37, 37 + 200);
    assert.equal(hex(sha1(view)), reference(view));
    const u8 = new Uint8Array(backing.buffer, backing.byteOffset + 5, 64);
    assert.equal(hex(sha1(u8)), reference(u8));
  });

  it("matches node:crypto on random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (data) => {
        assert.equal(hex(sha1(data)), reference(data));
      }),
      { numRuns: 300 },
    );
  });

  it("returns 20 fresh bytes", () => {
    const a = sha1(Buffer.from("x"));
    const b = sha1(Buffer.from("x"));
    assert.equal(a.byteLength, 20);
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
  });
});
