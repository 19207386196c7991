import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import fc from "fast-check";
import WebSocket from "ws";
import { copyXorRange, xorRange } from "../../src/protocol/mask.js";
import { loadNativeXor, NATIVE_XOR_MIN, nativeXor } from "../../src/runtime/native-mask.js";
import { createServer } from "../../src/server/server.js";

/** A range [start, end) within `length` bytes, picked by two arbitrary naturals. */
function rangeIn(length: number, a: number, b: number): [number, number] {
  const start = length === 0 ? 0 : a % (length + 1);
  return [start, start + (length === start ? 0 : b % (length - start + 1))];
}

/** Bytes, two naturals for a range in them, a key, a phase and a small offset (0..7). */
const masked = [
  fc.uint8Array({ minLength: 0, maxLength: 3000 }),
  fc.nat(),
  fc.nat(),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 0, max: 7 }),
] as const;

describe("native unmasking (bufferutil)", () => {
  it("loads bufferutil when installed (a devDependency here) and nothing for a missing package", async () => {
    assert.equal(typeof (await loadNativeXor()), "function");
    assert.equal(await loadNativeXor("tidews-no-such-package"), undefined);
  });

  it("gives the same bytes as the core's xorRange for any range, key, phase and view", async () => {
    const native = await loadNativeXor();
    assert.ok(native);
    fc.assert(
      fc.property(...masked, fc.boolean(), (bytes, a, b, key, phase, shift, plain) => {
        // A view at an odd offset into a larger allocation, as socket chunks are.
        const backing = new Uint8Array(bytes.length + shift);
        backing.set(bytes, shift);
        const view = plain
          ? backing.subarray(shift)
          : Buffer.from(backing.buffer, shift, bytes.length);
        const [start, end] = rangeIn(bytes.length, a, b);
        const expected = Uint8Array.from(bytes);
        xorRange(expected, start, end, key, phase);
        native(view, start, end, key, phase);
        assert.deepEqual(Uint8Array.from(view), expected);
      }),
      { numRuns: 500 },
    );
  });

  it("unmasks into another buffer (into) as copyXorRange does, the source unchanged", async () => {
    const native = await loadNativeXor();
    const into = native?.into;
    assert.ok(into, "bufferutil's mask gives the copying variant");
    fc.assert(
      fc.property(...masked, (bytes, a, b, key, phase, at) => {
        const src = Buffer.from(bytes);
        const [start, end] = rangeIn(bytes.length, a, b);
        const expected = Buffer.alloc(end - start + at + 2, 0x77);
        copyXorRange(src, start, end, expected, at, key, phase);
        const dst = Buffer.alloc(expected.length, 0x77);
        into(src, start, end, dst, at, key, phase);
        assert.deepEqual(dst, expected);
        assert.deepEqual(src, Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it("unmasks the pieces of one chunk, then of another, each from its own bytes", async () => {
    const native = await loadNativeXor();
    const into = native?.into;
    assert.ok(native && into);
    // Two chunks at different offsets into different allocations, as two reads give them; the
    // pieces alternate between them, the way the parser hands over messages.
    const make = (fill: number, shift: number) => {
      const backing = Buffer.alloc(8192 + shift, fill);
      for (let i = 0; i < backing.length; i++) backing[i] = (fill + i * 7) & 0xff;
      return backing.subarray(shift, shift + 8192);
    };
    const a = make(1, 3);
    const b = make(2, 5);
    const pieces: [Buffer, number, number][] = [
      [a, 0, 1000],
      [a, 1000, 3000],
      [b, 0, 2048],
      [a, 3000, 8192],
      [b, 2048, 8192],
    ];
    for (const [chunk, start, end] of pieces) {
      const expected = Buffer.alloc(end - start);
      copyXorRange(chunk, start, end, expected, 0, 0x12345678, 1);
      const dst = Buffer.alloc(end - start);
      into(chunk, start, end, dst, 0, 0x12345678, 1);
      assert.deepEqual(dst, expected, `into ${start}..${end}`);
      const inPlace = Buffer.from(chunk.subarray(start, end));
      const copy = Buffer.from(chunk);
      native(copy, start, end, 0x12345678, 1);
      xorRange(inPlace, 0, inPlace.length, 0x12345678, 1);
      assert.deepEqual(copy.subarray(start, end), inPlace, `in place ${start}..${end}`);
    }
  });

  it("leaves short pieces to the TypeScript loop", () => {
    let calls = 0;
    const xor = nativeXor({
      unmask: () => {
        calls++;
      },
    });
    const data = new Uint8Array(NATIVE_XOR_MIN * 2);
    xor(data, 0, NATIVE_XOR_MIN - 1, 0x01020304, 0);
    assert.equal(calls, 0);
    assert.equal(data[0], 1, "unmasked in TypeScript");
    xor(data, 0, NATIVE_XOR_MIN, 0x01020304, 0);
    assert.equal(calls, 1);
  });

  for (const nativeMask of [true, false]) {
    it(`a server with nativeMask: ${nativeMask} echoes large masked messages from ws intact`, async () => {
      const server = createServer(
        {
          onMessage(conn, message) {
            conn.send(message.data, { binary: message.isBinary });
          },
        },
        { nativeMask },
      );
      const { port } = await server.listen(0, "127.0.0.1");
      assert.equal(server.upgrader.nativeMask, nativeMask);
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      await once(ws, "open");
      const sizes = [1, 127, 128, 129, 4099, 65_536, 300_001];
      const sent = sizes.map((n, i) => Buffer.alloc(n, (i * 37 + 11) & 0xff).fill(i, 0, 1));
      const got: Buffer[] = [];
      const done = new Promise<void>((resolve) => {
        ws.on("message", (data: Buffer) => {
          got.push(data);
          if (got.length === sent.length) resolve();
        });
      });
      for (const b of sent) ws.send(b);
      await done;
      for (let i = 0; i < sent.length; i++) assert.ok(got[i]?.equals(sent[i] as Buffer), `#${i}`);
      ws.close();
      await once(ws, "close");
      await server.close(1000);
    });
  }
});
