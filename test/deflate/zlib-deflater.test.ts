import assert from "node:assert/strict";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import { isTidewsError } from "../../src/errors.js";
import { bytesOf, Collector, MODES, rig, sample } from "./helpers.js";

const HELLO = Buffer.from("Hello");

for (const mode of MODES) {
  describe(`ZlibDeflater, ${mode.name}`, () => {
    it('compresses "Hello" as RFC 7692 section 7.2.3.1 shows', async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const d = factory.createDeflater(15, true);
      for (let t = 0; t < 3; t++) {
        // Without context takeover every message is compressed alone.
        assert.equal(
          bytesOf(await c.result(d.deflate(HELLO, c, t), t)).toString("hex"),
          "f248cdc9c90700",
        );
      }
      d.close();
    });

    it("uses the previous message with context takeover (section 7.2.3.2)", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const d = factory.createDeflater(15, false);
      assert.equal(
        bytesOf(await c.result(d.deflate(HELLO, c, 0), 0)).toString("hex"),
        "f248cdc9c90700",
      );
      assert.equal(
        bytesOf(await c.result(d.deflate(HELLO, c, 1), 1)).toString("hex"),
        "f200110000",
      );
      d.close();
    });

    it("compresses an empty message to 0x00 (section 7.2.3.6), whatever came before", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      let t = 0;
      for (const noTakeover of [false, true]) {
        const d = factory.createDeflater(15, noTakeover);
        const run = async (input: Uint8Array | Uint8Array[]) => {
          const token = t++;
          return bytesOf(await c.result(d.deflate(input, c, token), token)).toString("hex");
        };
        assert.equal(await run(Buffer.alloc(0)), "00");
        await run(HELLO);
        assert.equal(await run([]), "00");
        assert.equal(await run([new Uint8Array(0), new Uint8Array(0)]), "00");
        // Queued behind a thread-pool job (100 kB is above the sync limit), an empty message
        // keeps its place and its form.
        const bigToken = t++;
        const emptyToken = t++;
        const big = d.deflate(sample(100_000, 1), c, bigToken);
        const empty = d.deflate(Buffer.alloc(0), c, emptyToken);
        assert.equal(big, null);
        assert.equal(empty, null);
        assert.equal(bytesOf(await c.wait(emptyToken)).toString("hex"), "00");
        assert.deepEqual(c.order.slice(-2), [bigToken, emptyToken]);
        d.close();
      }
    });

    it("leaves the headroom free in front of the payload", async () => {
      for (const headroom of [0, 10, 14]) {
        const { pool, factory } = rig({ ...mode.options, headroom });
        const c = new Collector(pool);
        const d = factory.createDeflater(15, false);
        assert.equal(d.headroom, headroom);
        for (const [t, size] of [0, 5, 3000, 200_000].entries()) {
          const o = await c.result(d.deflate(sample(size, t), c, t), t);
          assert.ok(o.ok);
          assert.equal(o.off, headroom);
        }
        d.close();
      }
    });

    it("accepts one buffer or pieces, and the caller may reuse them after the call", async () => {
      const { pool, factory } = rig(mode.options);
      const c = new Collector(pool);
      const d = factory.createDeflater(15, true);
      const data = sample(50_000, 3);
      const whole = await c.result(d.deflate(data, c, 0), 0);
      const scratch = Buffer.from(data);
      const r = d.deflate([scratch.subarray(0, 10_000), scratch.subarray(10_000)], c, 1);
      scratch.fill(0); // the deflater copied what it keeps
      const pieces = await c.result(r, 1);
      assert.deepEqual(bytesOf(pieces), bytesOf(whole));
      assert.deepEqual(
        zlib.inflateRawSync(bytesOf(pieces), { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
        data,
      );
      d.close();
    });

    it("throws on use after close and drops pending jobs without a callback", async () => {
      const { pool, factory } = rig({ syncLimit: 0 });
      const c = new Collector(pool);
      const d = factory.createDeflater(15, false);
      assert.equal(d.deflate(sample(10_000, 1), c, 0), null);
      assert.equal(d.pending, 1);
      d.close();
      assert.equal(d.pending, 0);
      assert.throws(
        () => d.deflate(HELLO, c, 1),
        (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
      );
      // A job on another deflater of the same rig completes; the closed one never reports.
      const other = factory.createDeflater(15, false);
      await c.result(other.deflate(sample(10_000, 2), c, 2), 2);
      assert.equal(c.heard(0), false);
      other.close();
      assert.equal(pool.out, 0);
    });
  });
}

describe("ZlibDeflater settings", () => {
  it("honours the compression level", async () => {
    const data = sample(100_000, 9);
    const sizes: number[] = [];
    for (const level of [0, 1, 9]) {
      const { pool, factory } = rig({ deflate: { level } });
      const c = new Collector(pool);
      const d = factory.createDeflater(15, true);
      const out = bytesOf(await c.result(d.deflate(data, c, 0), 0));
      assert.deepEqual(
        zlib.inflateRawSync(out, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
        data,
      );
      sizes.push(out.length);
      d.close();
    }
    assert.ok(sizes[0]! > data.length, "level 0 stores");
    assert.ok(sizes[2]! <= sizes[1]!, "level 9 compresses at least as well as level 1");
  });
});
