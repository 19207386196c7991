import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { CodecPool } from "../../src/deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../../src/deflate/concurrency-limiter.js";
import { acceptResponse, buildOffer, negotiateServer } from "../../src/deflate/negotiation.js";
import { ZlibCodecFactory } from "../../src/deflate/zlib-codec.js";
import { isTidewsError } from "../../src/errors.js";
import { parseExtensions } from "../../src/protocol/extension-header.js";
import { bytesOf, Collector, MODES, rig, sample, split } from "./helpers.js";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

describe("ZlibCodecFactory", () => {
  it("refuses invalid options and window sizes", () => {
    const base = {
      bufferPool: new BufferPool(64, 1024),
      limiter: new ConcurrencyLimiter(),
      codecPool: new CodecPool(),
    };
    for (const o of [
      { syncLimit: -1 },
      { syncOutputLimit: 0 },
      { headroom: 1.5 },
      { chunkSize: 10 },
      { deflate: { level: 11 } },
    ]) {
      assert.throws(
        () => new ZlibCodecFactory({ ...base, ...o }),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
      );
    }
    const f = new ZlibCodecFactory(base);
    assert.throws(
      () => f.createDeflater(7, false),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
    assert.throws(
      () => f.createInflater(16, false),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
    assert.equal(f.threshold, 1024);
  });
});

describe("ZlibCodecFactory.deflateOnce", () => {
  it("compresses each payload on its own, synchronously, on a shared context", async () => {
    const { pool, factory, codecPool } = rig({ syncLimit: 0 });
    const c = new Collector(pool);
    // The receiving peer keeps its window (it may); our own messages to it have no context
    // takeover, which is what makes mixing in shared payloads valid.
    const inflater = factory.createInflater(15, false);
    const own = factory.createDeflater(15, true);
    let token = 0;
    for (let m = 0; m < 10; m++) {
      const bits = m % 2 === 0 ? 15 : 8;
      const data = sample([0, 50, 4000, 200_000][m % 4]!, m);
      const once = factory.deflateOnce(data, bits);
      assert.ok(!isTidewsError(once));
      assert.equal(once.off, 14);
      const payload = Buffer.from(once.bytes());
      pool.put(once);
      // The same bytes a fresh raw deflate stream gives (nothing before it is referenced).
      const fresh = zlib.deflateRawSync(data, {
        windowBits: bits === 8 ? 9 : bits,
        level: 1,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      assert.deepEqual(payload, data.length === 0 ? Buffer.from([0]) : fresh.subarray(0, -4));
      const t1 = token++;
      assert.deepEqual(
        bytesOf(await c.result(inflater.inflate([payload], 1 << 20, c, t1), t1)),
        data,
      );
      const t2 = token++;
      const mine = bytesOf(await c.result(own.deflate(data, c, t2), t2));
      const t3 = token++;
      assert.deepEqual(bytesOf(await c.result(inflater.inflate([mine], 1 << 20, c, t3), t3)), data);
    }
    own.close();
    inflater.close();
    // The inflater's, our deflater's, and one per window size for deflateOnce: none per call.
    assert.ok(codecPool.stats().created <= 4, `contexts made: ${codecPool.stats().created}`);
    assert.equal(pool.out, 0);
  });

  it("is not for a peer we send to with context takeover (the check can fail)", async () => {
    const { pool, factory } = rig();
    const c = new Collector(pool);
    const inflater = factory.createInflater(15, false);
    const own = factory.createDeflater(15, false);
    const data = sample(4000, 1);
    let broken = false;
    for (let t = 0; t < 6 && !broken; t += 3) {
      const shared = sample(4000, 100 + t);
      const once = factory.deflateOnce(shared, 15) as ReturnType<typeof pool.get>;
      const r1 = await c.result(inflater.inflate([Buffer.from(once.bytes())], 1 << 20, c, t), t);
      pool.put(once);
      assert.deepEqual(bytesOf(r1), shared);
      const mine = bytesOf(await c.result(own.deflate(data, c, t + 1), t + 1));
      // Our second message points back into our first one, but the peer's window now ends
      // with the shared payload instead.
      const r2 = await c.result(inflater.inflate([mine], 1 << 20, c, t + 2), t + 2);
      broken = !r2.ok || !r2.bytes.equals(data);
    }
    assert.ok(broken);
    own.close();
    inflater.close();
  });
});

for (const mode of MODES) {
  describe(`zlib codecs, ${mode.name}`, () => {
    it("round-trips random data under every window size and takeover setting", async () => {
      const { pool, factory } = rig(mode.options);
      const collector = new Collector(pool);
      let token = 0;
      for (let bits = 8; bits <= 15; bits++) {
        for (const noTakeover of [false, true]) {
          const deflater = factory.createDeflater(bits, noTakeover);
          const inflater = factory.createInflater(bits, noTakeover);
          // A reference decoder with exactly the negotiated window and tiny output chunks, so a
          // match reaching past the window would fail it.
          const reference = zlib.createInflateRaw({ windowBits: bits, chunkSize: 64 });
          const seen: Buffer[] = [];
          reference.on("data", (c: Buffer) => seen.push(c));
          for (let m = 0; m < 6; m++) {
            const size = [0, 1, 200, 5000, 70_000, 3000][m]!;
            const data = sample(size, bits * 100 + m + (noTakeover ? 50 : 0));
            const d = await collector.result(
              deflater.deflate(split(data, token), collector, token),
              token,
            );
            token++;
            const compressed = bytesOf(d);
            assert.ok(d.ok && d.off >= deflater.headroom);
            const i = await collector.result(
              inflater.inflate(split(compressed, token), 1 << 20, collector, token),
              token,
            );
            token++;
            assert.deepEqual(bytesOf(i), data, `bits ${bits} takeover ${!noTakeover} message ${m}`);
            // RFC 7692 section 7.2.2: payload + 00 00 ff ff is a valid DEFLATE stream for a peer.
            seen.length = 0;
            await new Promise<void>((resolve, reject) => {
              reference.once("error", reject);
              reference.write(Buffer.concat([compressed, TAIL]), () => resolve());
            });
            assert.deepEqual(Buffer.concat(seen), data, `reference decoder, bits ${bits}`);
            if (noTakeover) reference.reset();
          }
          deflater.close();
          inflater.close();
          reference.close();
        }
      }
      assert.equal(pool.out, 0, "every buffer went back to the pool");
    });

    it("inflates what node:zlib compresses with a sync flush", async () => {
      const { pool, factory } = rig(mode.options);
      const collector = new Collector(pool);
      const inflater = factory.createInflater(15, false);
      const deflate = zlib.createDeflateRaw({ windowBits: 15 });
      const chunks: Buffer[] = [];
      deflate.on("data", (c: Buffer) => chunks.push(c));
      for (let m = 0; m < 5; m++) {
        const data = sample(1000 + m * 20000, 7 + m);
        chunks.length = 0;
        deflate.write(data);
        await new Promise<void>((resolve) =>
          deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()),
        );
        const all = Buffer.concat(chunks);
        assert.deepEqual(all.subarray(-4), TAIL);
        const r = await collector.result(
          inflater.inflate([all.subarray(0, -4)], 1 << 20, collector, m),
          m,
        );
        assert.deepEqual(bytesOf(r), data);
      }
      deflate.close();
      inflater.close();
    });

    it("keeps contexts per connection with takeover and shares them without", async () => {
      const { pool, factory, codecPool } = rig(mode.options);
      const collector = new Collector(pool);
      const deflaters = Array.from({ length: 20 }, () => factory.createDeflater(15, true));
      assert.equal(codecPool.stats().live, 0, "nothing is allocated before the first message");
      let token = 0;
      for (const d of deflaters) {
        for (let k = 0; k < 3; k++) {
          const t = token++;
          bytesOf(await collector.result(d.deflate(sample(2000, t), collector, t), t));
        }
      }
      const shared = codecPool.stats();
      assert.ok(shared.live <= 4, `shared contexts: ${shared.live}`);
      const owners = Array.from({ length: 5 }, () => factory.createDeflater(15, false));
      for (const d of owners) {
        const t = token++;
        bytesOf(await collector.result(d.deflate(sample(2000, t), collector, t), t));
      }
      assert.equal(codecPool.stats().live, shared.live + 5);
      for (const d of [...deflaters, ...owners]) d.close();
      assert.equal(codecPool.stats().live, shared.live);
      codecPool.trim();
      assert.equal(codecPool.stats().live, 0);
    });

    it("negotiated parameters drive both ends (client offer, server answer)", async () => {
      const { pool, factory } = rig(mode.options);
      const collector = new Collector(pool);
      const offer = buildOffer({ clientMaxWindowBits: 10, serverMaxWindowBits: 9 });
      const server = negotiateServer(parseExtensions(offer), { serverNoContextTakeover: true });
      assert.ok(server !== null);
      const clientParams = acceptResponse(parseExtensions(server.response), {
        clientMaxWindowBits: 10,
        serverMaxWindowBits: 9,
      });
      assert.ok(clientParams !== null);
      const s = factory.create(server.params, "server");
      const c = factory.create(clientParams, "client");
      let token = 0;
      for (let m = 0; m < 8; m++) {
        const data = sample(3000 + m * 9000, m);
        const t1 = token++;
        const up = bytesOf(await collector.result(c.deflater.deflate(data, collector, t1), t1));
        const t2 = token++;
        assert.deepEqual(
          bytesOf(await collector.result(s.inflater.inflate([up], 1 << 20, collector, t2), t2)),
          data,
        );
        const t3 = token++;
        const down = bytesOf(await collector.result(s.deflater.deflate(data, collector, t3), t3));
        const t4 = token++;
        assert.deepEqual(
          bytesOf(await collector.result(c.inflater.inflate([down], 1 << 20, collector, t4), t4)),
          data,
        );
      }
      for (const x of [s.inflater, s.deflater, c.inflater, c.deflater]) x.close();
    });
  });
}

describe("window bits 8", () => {
  // zlib has no raw 8-bit compressor; the codec uses 9. That is only correct because zlib's
  // deflate never emits a distance above w_size - 262 = 250 for a 512-byte window.
  function periodic(n: number, period: number, seed: number): Buffer {
    const base = sample(period, seed);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = base[i % period]!;
    return out;
  }

  function decodesWith8(compressed: Buffer, expected: Buffer): boolean {
    try {
      const out = zlib.inflateRawSync(Buffer.concat([compressed, TAIL]), {
        windowBits: 8,
        chunkSize: 64,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      return out.equals(expected);
    } catch {
      return false;
    }
  }

  it("a 9-bit zlib stream decodes with an 8-bit window, a 10-bit one does not", () => {
    let failures10 = 0;
    for (let period = 200; period < 700; period += 7) {
      const data = periodic(6000, period, period);
      const c9 = zlib.deflateRawSync(data, {
        windowBits: 9,
        level: 9,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      assert.ok(decodesWith8(c9.subarray(0, -4), data), `period ${period}`);
      const c10 = zlib.deflateRawSync(data, {
        windowBits: 10,
        level: 9,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      if (!decodesWith8(c10.subarray(0, -4), data)) failures10++;
    }
    assert.ok(failures10 > 10, "the check can fail: 10-bit streams reach past 256 bytes");
  });

  it("the codec's 8-bit deflater output decodes with an 8-bit window across messages", async () => {
    for (const level of [1, 6, 9]) {
      const { pool, factory } = rig({ deflate: { level } });
      const collector = new Collector(pool);
      const deflater = factory.createDeflater(8, false);
      const parts: Buffer[] = [];
      const messages: Buffer[] = [];
      for (let m = 0; m < 20; m++) {
        const data = periodic(1500, 180 + m * 5, m);
        messages.push(data);
        parts.push(bytesOf(await collector.result(deflater.deflate(data, collector, m), m)), TAIL);
      }
      // One 8-bit decoder over the whole conversation (context takeover).
      const out = zlib.inflateRawSync(Buffer.concat(parts), {
        windowBits: 8,
        chunkSize: 64,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      assert.deepEqual(out, Buffer.concat(messages), `level ${level}`);
      deflater.close();
    }
  });
});

describe("interoperability with ws 8 PerMessageDeflate", () => {
  const require = createRequire(import.meta.url);
  const wsDir = dirname(require.resolve("ws/package.json"));
  const PerMessageDeflate = require(join(wsDir, "lib", "permessage-deflate.js"));

  interface WsDeflate {
    accept(offers: unknown[]): unknown;
    compress(data: Buffer, fin: boolean, cb: (e: Error | null, out: Buffer) => void): void;
    decompress(data: Buffer, fin: boolean, cb: (e: Error | null, out: Buffer) => void): void;
    cleanup(): void;
  }

  for (const noTakeover of [false, true]) {
    it(`exchanges messages both ways, context takeover ${noTakeover ? "off" : "on"}`, async () => {
      const { pool, factory } = rig();
      const c = new Collector(pool);
      const peer: WsDeflate = new PerMessageDeflate(
        noTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : {},
        true,
        0,
      );
      peer.accept([
        noTakeover
          ? { server_no_context_takeover: [true], client_no_context_takeover: [true] }
          : {},
      ]);
      const inflater = factory.createInflater(15, noTakeover);
      const deflater = factory.createDeflater(15, noTakeover);
      let token = 0;
      for (let m = 0; m < 12; m++) {
        const data = sample([10, 2000, 30_000, 100_000][m % 4]!, m);
        const fromPeer = await new Promise<Buffer>((resolve, reject) =>
          peer.compress(data, true, (e, out) => (e ? reject(e) : resolve(out))),
        );
        const t1 = token++;
        assert.deepEqual(
          bytesOf(await c.result(inflater.inflate([fromPeer], 1 << 20, c, t1), t1)),
          data,
        );
        const t2 = token++;
        const toPeer = bytesOf(await c.result(deflater.deflate(data, c, t2), t2));
        const back = await new Promise<Buffer>((resolve, reject) =>
          peer.decompress(toPeer, true, (e, out) => (e ? reject(e) : resolve(out))),
        );
        assert.deepEqual(back, data);
      }
      peer.cleanup();
      inflater.close();
      deflater.close();
    });
  }
});
