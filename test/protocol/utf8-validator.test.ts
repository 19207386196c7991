import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isValidUtf8, type Utf8Check, Utf8Validator } from "../../src/protocol/utf8-validator.js";
import { split, withOffset } from "./frame-log.js";

/** Bytes near every boundary of the RFC 3629 grammar, plus plain ASCII. */
const edgeByte = fc.constantFrom(
  0x00,
  0x41,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xe1,
  0xec,
  0xed,
  0xee,
  0xef,
  0xf0,
  0xf1,
  0xf3,
  0xf4,
  0xf5,
  0xff,
);

/** Mostly valid UTF-8 (any code point, long ASCII runs), with random damage. */
const arbBytes = fc.oneof(
  fc.array(edgeByte, { maxLength: 12 }).map((a) => Uint8Array.from(a)),
  fc.uint8Array({ maxLength: 40 }),
  fc
    .tuple(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.string({ unit: "grapheme-ascii", minLength: 0, maxLength: 200 }),
      fc.array(fc.tuple(fc.nat(400), edgeByte), { maxLength: 2 }),
      fc.nat(500),
    )
    .map(([unicode, ascii, damage, cut]) => {
      const bytes = Buffer.from(ascii + unicode + ascii, "utf8");
      for (const [at, b] of damage) if (bytes.length > 0) bytes[at % bytes.length] = b;
      return cut < bytes.length && cut % 3 === 0 ? bytes.subarray(0, cut) : bytes;
    }),
);

/** For each chunk, whether the fatal streaming TextDecoder still accepts the prefix. */
function decoderVerdicts(chunks: readonly Uint8Array[]): {
  prefixes: boolean[];
  complete: boolean;
} {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const prefixes: boolean[] = [];
  for (const chunk of chunks) {
    try {
      decoder.decode(chunk, { stream: true });
      prefixes.push(true);
    } catch {
      prefixes.push(false);
      // The validator stays failed; so does the verdict.
      while (prefixes.length < chunks.length) prefixes.push(false);
      return { prefixes, complete: false };
    }
  }
  try {
    decoder.decode();
    return { prefixes, complete: true };
  } catch {
    return { prefixes, complete: false };
  }
}

function fatalDecode(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("isValidUtf8", () => {
  it("accepts every boundary code point", () => {
    for (const cp of [
      0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff,
    ]) {
      assert.ok(isValidUtf8(Buffer.from(String.fromCodePoint(cp))), cp.toString(16));
    }
  });

  it("rejects overlong forms, surrogates, code points above U+10FFFF and bad continuations", () => {
    const bad = [
      "c0 80", // overlong NUL
      "c1 bf", // overlong
      "e0 80 80", // overlong three-byte
      "e0 9f bf", // overlong U+07FF
      "f0 8f bf bf", // overlong U+FFFF
      "ed a0 80", // U+D800
      "ed bf bf", // U+DFFF
      "f4 90 80 80", // U+110000
      "f5 80 80 80",
      "ff",
      "80", // lone continuation
      "c2 41", // lead without its tail
      "e1 80 41",
      "c2", // cut short
      "f0 9f 98",
    ];
    for (const h of bad)
      assert.equal(isValidUtf8(Buffer.from(h.replace(/ /g, ""), "hex")), false, h);
  });

  it("agrees with the fatal TextDecoder, at any byteOffset", () => {
    fc.assert(
      fc.property(arbBytes, fc.nat(7), (bytes, offset) => {
        assert.equal(isValidUtf8(withOffset(bytes, offset)), fatalDecode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it("finds a bad byte after a long ASCII run (word scan), at every alignment", () => {
    for (let offset = 0; offset < 4; offset++) {
      for (let at = 0; at < 300; at += 7) {
        const bytes = Buffer.alloc(300, 0x61);
        bytes[at] = 0x80;
        assert.equal(isValidUtf8(withOffset(bytes, offset)), false, `bad at ${at}`);
        bytes[at] = 0x7f;
        assert.equal(isValidUtf8(withOffset(bytes, offset)), true);
      }
    }
  });

  it("has the Utf8Check shape", () => {
    const check: Utf8Check = isValidUtf8;
    assert.equal(check(Buffer.from("ok")), true);
  });
});

describe("Utf8Validator", () => {
  it("fails at the first chunk whose prefix cannot become valid, like the streaming decoder", () => {
    fc.assert(
      fc.property(arbBytes, fc.array(fc.nat(500), { maxLength: 8 }), (bytes, cuts) => {
        const chunks = split(bytes, cuts, cuts.length & 3);
        const expected = decoderVerdicts(chunks);
        const v = new Utf8Validator();
        const got = chunks.map((c) => v.push(c));
        assert.deepEqual(got, expected.prefixes);
        assert.equal(v.end(), expected.complete);
        assert.equal(v.failed, expected.prefixes.includes(false));
      }),
      { numRuns: 1000 },
    );
  });

  it("fails fast, byte by byte, on the byte that rules the input out", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(Buffer.from([0xed])), true);
    assert.equal(v.push(Buffer.from([0xa0])), false, "a surrogate is known at its second byte");
    assert.equal(v.failed, true);
    assert.equal(v.push(Buffer.from("a")), false, "stays failed");
    v.reset();
    assert.equal(v.failed, false);
    assert.equal(v.push(Buffer.from([0xf0, 0x9f])), true);
    assert.equal(v.end(), false, "incomplete");
    assert.equal(v.push(Buffer.from([0x98, 0x80])), true);
    assert.equal(v.end(), true);
  });

  it("accepts an empty message", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.end(), true);
  });
});
