import assert from "node:assert/strict";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import { isTidewsError, type TidewsError } from "../../src/errors.js";
import { bytesOf, Collector, MODES, type Outcome, rig, sample, split } from "./helpers.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

function failed(o: Outcome, code: string, closeCode: number): TidewsError {
  assert.ok(!o.ok, "expected an error");
  assert.equal(o.error.code, code);
  assert.equal(o.error.closeCode, closeCode);
  return o.error;
}

/** `size` zeros compressed with a sync flush, tail removed: a small bomb. */
function bomb(size: number): Buffer {
  const c = zlib.deflateRawSync(Buffer.alloc(size), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return c.subarray(0, c.length - 4);
}

for (const mode of MODES) {
  describe(`ZlibInflater, ${mode.name}`, () => {
    // RFC 7692 section 7.2.3: each payload inflates to "Hello".
    const fixtures: [string, string][] = [
      ["7.2.3.1 a message compressed with one block", "f2 48 cd c9 c9 07 00"],
      ["7.2.3.3 a DEFLATE block with no compression", "00 05 00 fa ff 48 65 6c 6c 6f 00"],
      ["7.2.3.4 a DEFLATE block with BFINAL set to 1", "f3 48 cd c9 c9 07 00 00"],
      ["7.2.3.5 two DEFLATE blocks in one message", "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],
      ["a final block without the trailing empty block", "f3 48 cd c9 c9 07 00"],
    ];
    for (const [name, payload] of fixtures) {
      it(`inflates ${name}`, async () => {
        const { pool, factory } = rig(mode.options);
        for (const noTakeover of [false, true]) {
          const c = new Collector(pool);
          const inflater = factory.createInflater(15, noTakeover);
          // Twice in a row: the state left by the first message must not spoil the second.
          for (const t of [0, 1]) {
            const o = await c.result(inflater.inflate([hex(payload)], 100, c, t), t);
            assert.equal(bytesOf(o).toString(), "Hello");
          }
          // A normal message after it, context takeover or not.
          const o = await c.result(inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 2), 2);
          assert.equal(bytesOf(o).toString(), "Hello");
          inflater.close();
        }
      });
    }

    it("inflates the context-takeover pair of section 7.2.3.2", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const inflater = factory.createInflater(15, false);
      assert.equal(
        bytesOf(
          await c.result(inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 0), 0),
        ).toString(),
        "Hello",
      );
      assert.equal(
        bytesOf(await c.result(inflater.inflate([hex("f2 00 11 00 00")], 100, c, 1), 1)).toString(),
        "Hello",
      );
      inflater.close();
    });

    it("inflates the empty message 0x00 and an empty payload to nothing", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const inflater = factory.createInflater(15, false);
      assert.equal(bytesOf(await c.result(inflater.inflate([hex("00")], 100, c, 0), 0)).length, 0);
      assert.equal(bytesOf(await c.result(inflater.inflate([], 100, c, 1), 1)).length, 0);
      assert.equal(
        bytesOf(await c.result(inflater.inflate([new Uint8Array(0)], 100, c, 2), 2)).length,
        0,
      );
      assert.equal(
        bytesOf(
          await c.result(inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 3), 3),
        ).toString(),
        "Hello",
      );
      inflater.close();
    });

    it("accepts the payload in any pieces and does not keep them", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const data = sample(200_000, 4);
      const compressed = zlib
        .deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
        .subarray(0, -4);
      const inflater = factory.createInflater(15, true);
      for (let t = 0; t < 10; t++) {
        const pieces = split(Buffer.from(compressed), t, 8);
        const r = inflater.inflate(pieces, 1 << 20, c, t);
        for (const p of pieces) p.fill(0xaa); // the caller reuses its buffers at once
        assert.deepEqual(bytesOf(await c.result(r, t)), data);
      }
      inflater.close();
      assert.equal(pool.out, 0);
    });

    it("stops a bomb early with ERR_WS_MESSAGE_TOO_BIG (1009)", async () => {
      const { pool, factory, codecPool } = rig(mode.options);
      const c = new Collector(pool);
      const payload = bomb(1 << 20);
      assert.ok(payload.length < 2048, `1 MiB of zeros compresses to ${payload.length} bytes`);
      const maxSize = 64 * 1024;
      const inflater = factory.createInflater(15, false);
      // Count what zlib itself emits on the asynchronous path.
      let emitted = 0;
      const o = await c.result(
        (() => {
          const r = inflater.inflate([payload], maxSize, c, 0);
          for (const ctx of codecPool.made)
            ctx.stream.on("data", (chunk: Buffer) => {
              emitted += chunk.length;
            });
          return r;
        })(),
        0,
      );
      failed(o, "ERR_WS_MESSAGE_TOO_BIG", 1009);
      assert.ok(pool.largest <= 2 * (maxSize + 1), `largest buffer ${pool.largest}`);
      assert.ok(emitted <= maxSize + 16 * 1024, `zlib produced ${emitted} bytes`);
      assert.equal(pool.out, 0, "the partial output went back to the pool");
      assert.equal(codecPool.stats().live, 0, "the context was freed");
      // The codec stays failed: the same error, no callback.
      const again = inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 1);
      assert.ok(isTidewsError(again, "ERR_WS_MESSAGE_TOO_BIG"));
      assert.equal(c.heard(1), false);
      inflater.close();
    });

    it("allows exactly maxSize bytes", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      for (const [t, size] of [1, 1000, 70_000].entries()) {
        const inflater = factory.createInflater(15, true);
        const payload = bomb(size);
        assert.equal(
          bytesOf(await c.result(inflater.inflate([payload], size, c, t * 2), t * 2)).length,
          size,
        );
        const over = await c.result(inflater.inflate([payload], size - 1, c, t * 2 + 1), t * 2 + 1);
        failed(over, "ERR_WS_MESSAGE_TOO_BIG", 1009);
        inflater.close();
      }
    });

    it("fails corrupt data with ERR_WS_INFLATE_FAILED (1007) and stays failed", async () => {
      const { pool, factory, codecPool } = rig(mode.options);
      const c = new Collector(pool);
      for (const [t, payload] of [
        hex("ff ff ff ff"),
        hex("07 00"),
        hex("f2 48 cd c9 c9 07 00 ff ff ff"),
      ].entries()) {
        for (const noTakeover of [false, true]) {
          const inflater = factory.createInflater(15, noTakeover);
          const token = t * 10 + (noTakeover ? 1 : 0);
          failed(
            await c.result(inflater.inflate([payload], 1000, c, token), token),
            "ERR_WS_INFLATE_FAILED",
            1007,
          );
          const again = inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, token + 5);
          assert.ok(isTidewsError(again, "ERR_WS_INFLATE_FAILED"));
          inflater.close();
        }
      }
      assert.equal(pool.out, 0);
      codecPool.trim();
      assert.equal(codecPool.stats().live, 0);
      // A shared context that saw corrupt data was not handed to anyone else.
      const ok = factory.createInflater(15, true);
      assert.equal(
        bytesOf(
          await c.result(ok.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 99), 99),
        ).toString(),
        "Hello",
      );
      ok.close();
    });

    it("never throws on random payloads", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const rnd = sample(4096, 77);
      for (let t = 0; t < 200; t++) {
        const inflater = factory.createInflater(15, t % 2 === 0);
        const start = (t * 37) % 3000;
        const payload = rnd.subarray(start, start + 1 + (t % 300));
        const o = await c.result(inflater.inflate([payload], 1 << 16, c, t), t);
        if (!o.ok)
          assert.ok(["ERR_WS_INFLATE_FAILED", "ERR_WS_MESSAGE_TOO_BIG"].includes(o.error.code));
        inflater.close();
      }
      assert.equal(pool.out, 0);
    });
  });
}

describe("ZlibInflater synchronous budget", () => {
  it("continues a large synchronous inflate on the thread pool", async () => {
    const { pool, factory } = rig({ syncOutputLimit: 4096 });
    const c = new Collector(pool);
    const inflater = factory.createInflater(15, false);
    const messages = [
      sample(100_000, 1),
      sample(3000, 2),
      sample(50_000, 3),
      Buffer.alloc(300_000, 7),
    ];
    const results = messages.map((m, t) => {
      const payload = zlib
        .deflateRawSync(m, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
        .subarray(0, -4);
      return inflater.inflate(split(payload, t), 1 << 20, c, t);
    });
    assert.equal(results[0], null, "the first message spilled to the thread pool");
    assert.equal(results[1], null, "a small one queues behind it");
    for (const [t, m] of messages.entries())
      assert.deepEqual(bytesOf(await c.result(results[t]!, t)), m);
    assert.deepEqual(c.order, [0, 1, 2, 3]);
    inflater.close();
    assert.equal(pool.out, 0);
  });

  it("spills with context takeover and keeps the window", async () => {
    const { pool, factory } = rig({ syncOutputLimit: 1000 });
    const c = new Collector(pool);
    const inflater = factory.createInflater(15, false);
    const deflate = zlib.createDeflateRaw();
    const chunks: Buffer[] = [];
    deflate.on("data", (x: Buffer) => chunks.push(x));
    for (let t = 0; t < 6; t++) {
      const m = sample(5000 + t * 3000, t % 2); // repeats across messages
      chunks.length = 0;
      deflate.write(m);
      await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      const payload = Buffer.concat(chunks).subarray(0, -4);
      assert.deepEqual(bytesOf(await c.result(inflater.inflate([payload], 1 << 20, c, t), t)), m);
    }
    deflate.close();
    inflater.close();
  });

  it("refuses reset while jobs are pending", async () => {
    const { pool, factory } = rig({ syncLimit: 0 });
    const c = new Collector(pool);
    const inflater = factory.createInflater(15, false);
    const r = inflater.inflate([hex("f2 48 cd c9 c9 07 00")], 100, c, 0);
    assert.equal(r, null);
    assert.throws(
      () => inflater.reset(),
      (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
    );
    assert.equal(bytesOf(await c.wait(0)).toString(), "Hello");
    inflater.reset();
    // After a reset the takeover pair's second message no longer decodes.
    const o = await c.result(inflater.inflate([hex("f2 00 11 00 00")], 100, c, 1), 1);
    failed(o, "ERR_WS_INFLATE_FAILED", 1007);
    inflater.close();
    assert.throws(
      () => inflater.inflate([], 1, c, 2),
      (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
    );
  });
});
