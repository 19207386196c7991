// Ordering, concurrency and cleanup of the job queue both zlib codecs share.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { CodecListener } from "../../src/deflate/codec.js";
import type { TidewsError } from "../../src/errors.js";
import { bytesOf, Collector, rig, sample } from "./helpers.js";

describe("zlib job queue", () => {
  it("delivers every codec's outcomes in submission order, sync and async mixed", async () => {
    const { pool, factory, limiter } = rig({ syncLimit: 8 * 1024 }, 2);
    const codecs = Array.from({ length: 6 }, (_, k) => ({
      deflater: factory.createDeflater(15, k % 2 === 0),
      inflater: factory.createInflater(15, k % 2 === 0),
    }));
    let maxActive = 0;
    const c = new Collector(pool);
    const watch: CodecListener = {
      onDeflated(data: ByteBuffer, token: number) {
        maxActive = Math.max(maxActive, limiter.active);
        c.onDeflated(data, token);
      },
      onInflated(data: ByteBuffer, token: number) {
        c.onInflated(data, token);
      },
      onCodecError(error: TidewsError, token: number) {
        c.onCodecError(error, token);
      },
    };
    // Sizes alternate below and above the sync limit, so jobs take both paths.
    const sizes = [100, 50_000, 10, 3000, 200_000, 1, 9000, 0, 20_000, 500];
    const jobs: {
      codec: number;
      token: number;
      data: Buffer;
      result: ReturnType<typeof c.result>;
    }[] = [];
    let token = 0;
    for (let round = 0; round < sizes.length; round++) {
      for (const [k, codec] of codecs.entries()) {
        const data = sample(sizes[(round + k) % sizes.length]!, token);
        const t = token++;
        jobs.push({
          codec: k,
          token: t,
          data,
          result: c.result(codec.deflater.deflate(data, watch, t), t),
        });
      }
    }
    const compressed = await Promise.all(jobs.map((j) => j.result));
    assert.ok(maxActive <= 2, `limiter bound held (saw ${maxActive})`);
    // Per codec, the listener heard its async tokens in increasing order.
    for (let k = 0; k < codecs.length; k++) {
      const mine = new Set(jobs.filter((j) => j.codec === k).map((j) => j.token));
      const heard = c.order.filter((t) => mine.has(t));
      assert.deepEqual(
        heard,
        [...heard].sort((a, b) => a - b),
        `codec ${k}`,
      );
    }
    // Inflating each codec's stream in order gives the messages back (context takeover for odd
    // codecs proves the order was right: a swapped pair would not decode).
    const inflated = jobs.map((j, i) => {
      const t = token++;
      return {
        j,
        t,
        r: c.result(codecs[j.codec]!.inflater.inflate([bytesOf(compressed[i]!)], 1 << 20, c, t), t),
      };
    });
    for (const { j, r } of inflated) assert.deepEqual(bytesOf(await r), j.data);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.waiting, 0);
    for (const x of codecs) {
      x.deflater.close();
      x.inflater.close();
    }
    assert.equal(pool.out, 0);
  });

  it("a job submitted while others are queued waits its turn even when small", async () => {
    const { pool, factory } = rig({}, 1);
    const c = new Collector(pool);
    const d = factory.createDeflater(15, false);
    const big = d.deflate(sample(500_000, 1), c, 0);
    assert.equal(big, null);
    const small = d.deflate(Buffer.from("Hello"), c, 1);
    assert.equal(small, null, "queued, not run synchronously ahead of the big one");
    assert.equal(d.pending, 2);
    await c.wait(1);
    assert.deepEqual(c.order, [0, 1]);
    assert.equal(d.pending, 0);
    // Once the queue is empty the fast path is back.
    assert.notEqual(d.deflate(Buffer.from("Hello"), c, 2), null);
    d.close();
  });

  it("closing a codec that waits for a slot frees the slot for the others", async () => {
    const { pool, factory, limiter } = rig({ syncLimit: 0 }, 1);
    const c = new Collector(pool);
    const a = factory.createDeflater(15, true);
    const b = factory.createDeflater(15, true);
    const d = factory.createDeflater(15, true);
    assert.equal(a.deflate(sample(100_000, 1), c, 0), null);
    assert.equal(b.deflate(sample(100_000, 2), c, 1), null);
    assert.equal(d.deflate(sample(100_000, 3), c, 2), null);
    assert.equal(limiter.active, 1);
    assert.equal(limiter.waiting, 2);
    b.close();
    assert.equal(limiter.waiting, 1);
    a.close(); // running: its slot goes to d
    assert.equal(limiter.active, 1);
    assert.equal(limiter.waiting, 0);
    assert.ok((await c.wait(2)).ok);
    assert.equal(c.heard(0), false);
    assert.equal(c.heard(1), false);
    assert.equal(limiter.active, 0);
    d.close();
    assert.equal(pool.out, 0);
  });

  it("a listener may submit or close from inside a callback", async () => {
    const { pool, factory } = rig({ syncLimit: 0 });
    const c = new Collector(pool);
    const d = factory.createDeflater(15, false);
    let closedInside = false;
    const reentrant: CodecListener = {
      onDeflated(data, token) {
        c.onDeflated(data, token);
        if (token === 0) assert.equal(d.deflate(Buffer.from("again"), reentrant, 10), null);
        if (token === 10) {
          d.close();
          closedInside = true;
        }
      },
      onInflated: () => assert.fail("not an inflater"),
      onCodecError: (e, t) => c.onCodecError(e, t),
    };
    assert.equal(d.deflate(Buffer.from("first"), reentrant, 0), null);
    assert.equal(d.deflate(Buffer.from("second"), reentrant, 1), null);
    await c.wait(10);
    assert.deepEqual(c.order, [0, 1, 10]);
    assert.ok(closedInside);
    assert.equal(pool.out, 0);
  });
});
