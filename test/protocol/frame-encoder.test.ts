import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import { SimplePool } from "../../src/buffer/simple-pool.js";
import {
  appendFrame,
  appendFrameRange,
  encodeCloseFrame,
  encodeControlFrame,
  encodeFrame,
  encodeFrameParts,
  encodeTextFrame,
  frameSize,
  headerSize,
  MAX_HEADER_SIZE,
  writeHeader,
  writeHeaderBefore,
} from "../../src/protocol/frame-encoder.js";
import {
  copyXorRange,
  FixedMaskSource,
  type MaskSource,
  xorRange,
} from "../../src/protocol/mask.js";
import { CryptoMaskSource } from "../../src/runtime/mask-source.js";
import {
  bytewise,
  type FrameEvent,
  hex,
  parseChunks,
  parseWhole,
  split,
  withOffset,
} from "./frame-log.js";

const RFC_KEY = new FixedMaskSource([0x37, 0xfa, 0x21, 0x3d]);

function frameBytes(buf: ByteBuffer, pool: { put(b: ByteBuffer): void }): Buffer {
  const out = Buffer.from(buf.bytes());
  pool.put(buf);
  return out;
}

/** Deterministic payload bytes: fast-check need not generate 64 KiB arrays. */
function payloadOf(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("headerSize", () => {
  it("follows the RFC 6455 section 5.2 length encodings", () => {
    const table: [number, boolean, number][] = [
      [0, false, 2],
      [125, false, 2],
      [126, false, 4],
      [65535, false, 4],
      [65536, false, 10],
      [2 ** 53 - 1, false, 10],
      [0, true, 6],
      [126, true, 8],
      [65536, true, 14],
    ];
    for (const [n, masked, size] of table) assert.equal(headerSize(n, masked), size, `${n}`);
    assert.equal(MAX_HEADER_SIZE, 14);
  });
});

describe("encoders: RFC 6455 section 5.7 examples", () => {
  const pool = new BufferPool(64, 1 << 20);

  it("unmasked and masked single-frame text messages", () => {
    assert.deepEqual(frameBytes(encodeTextFrame(pool, "Hello"), pool), hex("81 05 48 65 6c 6c 6f"));
    assert.deepEqual(
      frameBytes(encodeTextFrame(pool, "Hello", { mask: RFC_KEY }), pool),
      hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    );
    assert.deepEqual(
      frameBytes(encodeFrame(pool, 1, Buffer.from("Hello"), { mask: RFC_KEY }), pool),
      hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    );
  });

  it("a fragmented unmasked text message", () => {
    const first = encodeTextFrame(pool, "Hel", { fin: false });
    const second = encodeFrame(pool, 0, Buffer.from("lo"));
    assert.deepEqual(frameBytes(first, pool), hex("01 03 48 65 6c"));
    assert.deepEqual(frameBytes(second, pool), hex("80 02 6c 6f"));
  });

  it("an unmasked ping and a masked pong", () => {
    assert.deepEqual(
      frameBytes(encodeControlFrame(pool, 9, Buffer.from("Hello"), null), pool),
      hex("89 05 48 65 6c 6c 6f"),
    );
    assert.deepEqual(
      frameBytes(encodeControlFrame(pool, 10, Buffer.from("Hello"), RFC_KEY), pool),
      hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
    );
  });

  it("256 bytes and 64 KiB of binary data in single unmasked frames", () => {
    const small = payloadOf(256, 1);
    assert.deepEqual(
      frameBytes(encodeFrame(pool, 2, small), pool),
      Buffer.concat([hex("82 7e 01 00"), small]),
    );
    const large = payloadOf(65536, 2);
    assert.deepEqual(
      frameBytes(encodeFrame(pool, 2, large), pool),
      Buffer.concat([hex("82 7f 00 00 00 00 00 01 00 00"), large]),
    );
  });
});

describe("encodeFrame", () => {
  it("builds the frame in one pooled buffer, read offset at the header", () => {
    const pool = new BufferPool(64, 1 << 20);
    const payload = withOffset(payloadOf(300, 3), 3);
    const buf = encodeFrame(pool, 2, payload);
    assert.equal(buf.off, MAX_HEADER_SIZE - 4, "the 4-byte header is right-aligned");
    assert.equal(buf.len, 4 + 300);
    assert.equal(buf.storage.subarray(buf.off + 4, buf.end).equals(payload), true);
    pool.put(buf);
    assert.equal(pool.stats().gets, 1);
  });

  it("masks a copy and leaves the payload alone", () => {
    const pool = new BufferPool(64, 1 << 20);
    const payload = withOffset(payloadOf(1000, 4), 1);
    const copy = Buffer.from(payload);
    const frame = frameBytes(encodeFrame(pool, 2, payload, { mask: RFC_KEY }), pool);
    assert.deepEqual(payload, copy);
    assert.deepEqual(parseWhole(frame, { role: "server" }), [
      { type: "start", opcode: 2, fin: true, rsv1: false, length: 1000 },
      { type: "data", data: copy },
      { type: "end", fin: true },
    ]);
  });

  it("works with a pool whose buffers are smaller than the frame", () => {
    const pool = new SimplePool();
    const payload = payloadOf(5000, 5);
    const frame = frameBytes(encodeFrame(pool, 2, payload), pool);
    assert.deepEqual(frame, Buffer.concat([hex("82 7e 13 88"), payload]));
  });

  it("rejects frames that may not be sent, without taking a buffer", () => {
    const pool = new BufferPool(64, 1024);
    const bad: [() => unknown, string][] = [
      [() => encodeFrame(pool, 9, Buffer.alloc(126)), "ERR_INVALID_ARGUMENT"],
      [() => encodeFrame(pool, 8, Buffer.alloc(0), { fin: false }), "ERR_INVALID_ARGUMENT"],
      [() => encodeFrame(pool, 16, Buffer.alloc(0)), "ERR_INVALID_ARGUMENT"],
      [() => encodeControlFrame(pool, 2, Buffer.alloc(0), null), "ERR_INVALID_ARGUMENT"],
      [
        () => encodeFrameParts(pool, 10, [Buffer.alloc(100), Buffer.alloc(26)]),
        "ERR_INVALID_ARGUMENT",
      ],
      [() => encodeCloseFrame(pool, 1006, "", null), "ERR_INVALID_ARGUMENT"],
      [() => encodeCloseFrame(pool, 1005, "why", null), "ERR_INVALID_ARGUMENT"],
      [() => encodeCloseFrame(pool, 1000, "x".repeat(124), null), "ERR_INVALID_ARGUMENT"],
    ];
    for (const [fn, code] of bad) assert.throws(fn, { name: "UsageError", code });
    assert.equal(pool.stats().gets, 0);
  });
});

describe("encodeTextFrame / encodeFrameParts / encodeCloseFrame", () => {
  const pool = new BufferPool(64, 1 << 20);

  it("a text frame equals the binary encoding of the UTF-8 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.boolean(), (text, masked) => {
        const mask = masked ? RFC_KEY : null;
        const a = frameBytes(encodeTextFrame(pool, text, { mask }), pool);
        const b = frameBytes(encodeFrame(pool, 1, Buffer.from(text), { mask }), pool);
        assert.deepEqual(a, b);
      }),
    );
  });

  it("parts make the same frame as their concatenation, masked or not", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }),
        fc.boolean(),
        fc.nat(3),
        (parts, masked, offset) => {
          const views = parts.map((p, i) => withOffset(p, (offset + i) & 3));
          const mask = masked ? new FixedMaskSource([0x01, 0x80, 0xfe, 0x7f]) : null;
          const a = frameBytes(encodeFrameParts(pool, 2, views, { mask }), pool);
          const b = frameBytes(encodeFrame(pool, 2, Buffer.concat(views), { mask }), pool);
          assert.deepEqual(a, b);
        },
      ),
    );
  });

  it("close frames: code and reason, or an empty body for 1005", () => {
    assert.deepEqual(
      frameBytes(encodeCloseFrame(pool, 1000, "bye", null), pool),
      hex("88 05 03 e8 62 79 65"),
    );
    assert.deepEqual(frameBytes(encodeCloseFrame(pool, 1005, "", null), pool), hex("88 00"));
    assert.deepEqual(
      frameBytes(encodeCloseFrame(pool, 1005, "", RFC_KEY), pool),
      hex("88 80 37 fa 21 3d"),
    );
    const masked = frameBytes(encodeCloseFrame(pool, 4000, "ok", RFC_KEY), pool);
    assert.deepEqual(parseWhole(masked, { role: "server" }), [
      { type: "control", opcode: 8, payload: hex("0f a0 6f 6b") },
    ]);
  });
});

describe("writeHeader / writeHeaderBefore", () => {
  it("writes the same bytes left- or right-aligned", () => {
    for (const n of [0, 125, 126, 65535, 65536, 2 ** 40]) {
      for (const mask of [null, Buffer.from([9, 8, 7, 6])]) {
        const a = Buffer.alloc(20, 0xcc);
        const size = writeHeader(a, 3, 2, true, true, n, mask);
        assert.equal(size, headerSize(n, mask !== null));
        const b = Buffer.alloc(20, 0xcc);
        const start = writeHeaderBefore(b, 17, 2, true, true, n, mask);
        assert.equal(start, 17 - size);
        assert.deepEqual(a.subarray(3, 3 + size), b.subarray(start, 17));
        assert.equal(a[3 + size], 0xcc, "nothing written past the header");
      }
    }
    const big = Buffer.alloc(10);
    writeHeader(big, 0, 2, true, false, 2 ** 40 + 5, null);
    assert.deepEqual(big, hex("82 7f 00 00 01 00 00 00 00 05"));
  });

  it("refuses headers that do not fit", () => {
    assert.throws(() => writeHeader(Buffer.alloc(3), 0, 2, true, false, 126, null), {
      code: "ERR_OUT_OF_RANGE",
    });
    assert.throws(() => writeHeaderBefore(Buffer.alloc(20), 3, 2, true, false, 126, null), {
      code: "ERR_OUT_OF_RANGE",
    });
    assert.throws(() => writeHeader(Buffer.alloc(20), 0, 2, true, false, -1, null), {
      code: "ERR_OUT_OF_RANGE",
    });
    assert.throws(() => writeHeader(Buffer.alloc(20), 0, 2, true, false, 2 ** 53, null), {
      code: "ERR_OUT_OF_RANGE",
    });
  });
});

// --- Round trip: parse(encode(frames)) == frames ---------------------------------------------------

interface FrameSpec {
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly payload: Buffer;
}

const arbLength = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 125, 126, 127, 65535, 65536) },
  { weight: 4, arbitrary: fc.nat(300) },
);
const arbControl = fc
  .tuple(fc.constantFrom(8, 9, 10), fc.nat(125), fc.nat())
  .map(([opcode, n, seed]): FrameSpec[] => [
    { opcode, fin: true, rsv1: false, payload: payloadOf(n, seed) },
  ]);
const arbMessage = fc
  .tuple(
    fc.constantFrom(1, 2),
    fc.boolean(),
    fc.array(fc.tuple(arbLength, fc.nat(), fc.option(arbControl, { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([opcode, rsv1, fragments]): FrameSpec[] => {
    const frames: FrameSpec[] = [];
    fragments.forEach(([n, seed, control], i) => {
      const last = i === fragments.length - 1;
      frames.push({
        opcode: i === 0 ? opcode : 0,
        fin: last,
        rsv1: rsv1 && i === 0,
        payload: payloadOf(n, seed),
      });
      // RFC 6455 section 5.4: control frames may be injected between fragments.
      if (control !== undefined && !last) frames.push(...control);
    });
    return frames;
  });
const arbStream = fc
  .array(fc.oneof(arbMessage, arbControl), { minLength: 1, maxLength: 5 })
  .map((items) => items.flat());

function expectedEvents(frames: readonly FrameSpec[]): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (const f of frames) {
    if (f.opcode >= 8) {
      events.push({ type: "control", opcode: f.opcode, payload: f.payload });
      continue;
    }
    events.push({
      type: "start",
      opcode: f.opcode,
      fin: f.fin,
      rsv1: f.rsv1,
      length: f.payload.length,
    });
    if (f.payload.length > 0) events.push({ type: "data", data: f.payload });
    events.push({ type: "end", fin: f.fin });
  }
  return events;
}

describe("round trip: parse(encode(frames)) == frames", () => {
  const pool = new BufferPool(64, 1 << 20);

  for (const [role, mask] of [
    ["client", null],
    ["server", new CryptoMaskSource({ blockSize: 64 })],
  ] as ["client" | "server", MaskSource | null][]) {
    it(`${mask === null ? "unmasked" : "masked"} frames, parsed as a ${role}, in any chunking`, () => {
      fc.assert(
        fc.property(arbStream, fc.array(fc.nat(140000), { maxLength: 6 }), (frames, cuts) => {
          const encoded = frames.map((f) => {
            const opts = { fin: f.fin, rsv1: f.rsv1, mask };
            return frameBytes(
              f.opcode >= 8
                ? encodeControlFrame(pool, f.opcode, f.payload, mask)
                : encodeFrame(pool, f.opcode, f.payload, opts),
              pool,
            );
          });
          const stream = Buffer.concat(encoded);
          const options = { role, allowRsv1: true };
          const expected = expectedEvents(frames);
          assert.deepEqual(parseWhole(stream, options), expected);
          assert.deepEqual(
            parseChunks(split(stream, cuts, cuts.length & 3), options).events,
            expected,
          );
          if (stream.length <= 4096) {
            assert.deepEqual(parseChunks(bytewise(stream), options).events, expected);
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});

describe("mutated streams", () => {
  const pool = new BufferPool(64, 1 << 20);

  it("never throw, log the same events in any chunking, and stop at the first error", () => {
    fc.assert(
      fc.property(
        arbStream,
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(2000), { maxLength: 5 }),
        fc.boolean(),
        (frames, flips, cuts, masked) => {
          const mask = masked ? RFC_KEY : null;
          const stream = Buffer.concat(
            frames.map((f) =>
              frameBytes(
                encodeFrame(pool, f.opcode, f.payload.subarray(0, 500), {
                  fin: f.fin,
                  rsv1: f.rsv1,
                  mask,
                }),
                pool,
              ),
            ),
          );
          for (const [at, b] of flips) stream[at % stream.length] = b;
          const options = { role: masked ? "server" : "client", allowRsv1: true } as const;
          const whole = parseWhole(stream, options);
          assert.deepEqual(parseChunks(split(stream, cuts, 1), options).events, whole);
          const errors = whole.filter((e) => e.type === "error");
          assert.ok(errors.length <= 1);
          if (errors.length === 1) assert.equal(whole.at(-1)?.type, "error");
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("appendFrame", () => {
  it("appends exactly the bytes encodeFrame / encodeTextFrame build, after what is there", () => {
    const pool = new BufferPool(64, 1 << 16);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ unit: "grapheme", maxLength: 100 }),
        ),
        fc.constantFrom(0, 1, 2),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.uint8Array({ maxLength: 40 }),
        (payload, opcode, fin, rsv1, masked, before) => {
          const key = [0x01, 0x80, 0xfe, 0x7f];
          const mask = masked ? new FixedMaskSource(key) : null;
          const expected =
            typeof payload === "string"
              ? encodeTextFrame(pool, payload, { fin, rsv1, mask })
              : encodeFrame(pool, opcode, payload, { fin, rsv1, mask });
          const want = Buffer.from(expected.bytes());
          pool.put(expected);
          if (typeof payload === "string") want[0] = ((want[0] as number) & 0xf0) | opcode;
          const n = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
          const size = frameSize(n, masked);
          const buf = pool.get(before.length + size);
          buf.write(before);
          const original = typeof payload === "string" ? payload : Uint8Array.from(payload);
          appendFrame(buf, opcode, payload, n, fin, rsv1, mask);
          assert.equal(buf.len, before.length + size);
          assert.deepEqual(buf.bytes().subarray(0, before.length), Buffer.from(before));
          assert.deepEqual(buf.bytes().subarray(before.length), want);
          assert.deepEqual(payload, original, "the payload is not modified");
          pool.put(buf);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("appendFrameRange builds the same frame from a range of a larger buffer, masked or not", () => {
    const pool = new BufferPool(64, 1 << 16);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1200 }),
        fc.nat(40),
        fc.nat(40),
        fc.constantFrom(1, 2),
        fc.boolean(),
        fc.boolean(),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
        (payload, lead, tail, opcode, fin, masked, srcKey) => {
          const key = [0x01, 0x80, 0xfe, 0x7f];
          const src = Buffer.concat([Buffer.alloc(lead, 0xaa), payload, Buffer.alloc(tail, 0xbb)]);
          // srcKey: the payload as a client sent it, masked, byte `lead` taking key byte 0.
          xorRange(src, lead, lead + payload.length, srcKey, 0);
          const copy = Buffer.from(src);
          const n = payload.length;
          const want = pool.get(frameSize(n, masked));
          appendFrame(
            want,
            opcode,
            payload,
            n,
            fin,
            false,
            masked ? new FixedMaskSource(key) : null,
          );
          const got = pool.get(frameSize(n, masked));
          const mask = masked ? new FixedMaskSource(key) : null;
          // Both keys in one pass when the frame is masked too (a client forwarding).
          appendFrameRange(got, opcode, src, lead, n, fin, false, mask, srcKey, copyXorRange);
          assert.deepEqual(got.bytes(), want.bytes());
          assert.deepEqual(src, copy, "the source is not modified");
          pool.put(want);
          pool.put(got);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses what RFC 6455 forbids, before writing anything", () => {
    const pool = new BufferPool(64, 1 << 16);
    const buf = pool.get(256);
    assert.throws(
      () => appendFrame(buf, 9, new Uint8Array(126), 126, true, false, null),
      (e: unknown) => (e as { code?: string }).code === "ERR_INVALID_ARGUMENT",
    );
    assert.throws(
      () => appendFrame(buf, 16, new Uint8Array(1), 1, true, false, null),
      (e: unknown) => (e as { code?: string }).code === "ERR_INVALID_ARGUMENT",
    );
    assert.equal(buf.len, 0);
  });
});
