import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bucketLow, bucketOf, LatencyHistogram } from "../../bench/e2e/histogram.js";
import { buildPayloads } from "../../bench/e2e/payloads.js";
import { SCENARIOS } from "../../bench/e2e/scenarios.js";
import {
  acceptKey,
  buildFrame,
  FrameReader,
  type FrameReaderSink,
  maskInto,
  OP_BINARY,
  OP_TEXT,
} from "../../bench/e2e/wire.js";
import { runScript } from "../helpers/run-script.js";

/** Records what a FrameReader reports, payloads gathered per frame. */
class Recorder implements FrameReaderSink {
  readonly frames: { fin: boolean; rsv1: boolean; opcode: number; payload: Buffer }[] = [];
  private parts: Buffer[] = [];
  private head: { fin: boolean; rsv1: boolean; opcode: number } | undefined;

  onFrameStart(fin: boolean, rsv1: boolean, opcode: number): void {
    this.head = { fin, rsv1, opcode };
    this.parts = [];
  }
  onPayload(chunk: Buffer, start: number, end: number): void {
    this.parts.push(Buffer.from(chunk.subarray(start, end)));
  }
  onFrameEnd(): void {
    assert.ok(this.head);
    this.frames.push({ ...this.head, payload: Buffer.concat(this.parts) });
  }
}

describe("bench/e2e/wire", () => {
  it("computes the accept key of RFC 6455 section 1.3", () => {
    assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("masks with any phase, natively or not", () => {
    const src = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const mask = Buffer.from([1, 2, 3, 4]);
    for (const phase of [0, 1, 2, 3, 5]) {
      const out = Buffer.alloc(110);
      maskInto(src, mask, phase, out, 10, src.length);
      for (let i = 0; i < src.length; i++) {
        assert.equal(out[10 + i], (src[i] as number) ^ (mask[(phase + i) & 3] as number));
      }
    }
  });

  it("reads frames of every length form, split at every byte", () => {
    const payloads = [0, 1, 125, 126, 65535, 65536, 70_000].map((n) =>
      Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff)),
    );
    const frames = payloads.map((p, i) =>
      buildFrame(i % 2 === 0 ? OP_BINARY : OP_TEXT, p, { rsv1: i === 3, fin: i !== 5 }),
    );
    const stream = Buffer.concat(frames);
    for (const step of [1, 3, 127, 4096, stream.length]) {
      const rec = new Recorder();
      const reader = new FrameReader(rec, (m) => assert.fail(m));
      for (let off = 0; off < stream.length; off += step)
        reader.push(stream.subarray(off, off + step));
      assert.equal(rec.frames.length, payloads.length);
      rec.frames.forEach((f, i) => {
        assert.ok(f.payload.equals(payloads[i] as Buffer), `frame ${i}, step ${step}`);
        assert.equal(f.opcode, i % 2 === 0 ? OP_BINARY : OP_TEXT);
        assert.equal(f.rsv1, i === 3);
        assert.equal(f.fin, i !== 5);
      });
    }
  });

  it("refuses a masked frame from a server", () => {
    const errors: string[] = [];
    const reader = new FrameReader(new Recorder(), (m) => errors.push(m));
    reader.push(buildFrame(OP_BINARY, Buffer.from("x"), { mask: Buffer.from([1, 2, 3, 4]) }));
    assert.deepEqual(errors, ["masked frame from the server"]);
  });
});

describe("bench/e2e/histogram", () => {
  it("maps values to buckets whose bounds contain them", () => {
    for (const v of [0, 1, 63, 64, 65, 127, 128, 1000, 123_456, 2 ** 30]) {
      const b = bucketOf(v);
      assert.ok(bucketLow(b) <= v && v < bucketLow(b + 1), `value ${v}, bucket ${b}`);
    }
  });

  it("gives quantiles within a bucket's width", () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i);
    const p50 = h.quantile(0.5);
    assert.ok(Math.abs(p50 - 5000) / 5000 < 0.04, String(p50));
    const merged = LatencyHistogram.fromPairs(h.toPairs());
    assert.equal(merged.total, 10_000);
    assert.equal(merged.quantile(0.99), h.quantile(0.99));
  });
});

describe("bench/e2e/payloads", () => {
  it("draws distinct payloads of the sizes asked, text as ASCII", () => {
    const text = buildPayloads({ count: 16, minSize: 4096, maxSize: 4096, text: true, seed: 1 });
    assert.ok(text.every((p) => p.length === 4096 && /^[\x20-\x7e]*$/.test(p.toString("latin1"))));
    const bin = buildPayloads({ count: 64, minSize: 2, maxSize: 100, text: false, seed: 2 });
    assert.equal(new Set(bin.map((p) => p.toString("hex"))).size, 64);
  });
});

interface QuickDocument {
  scenarios: {
    name: string;
    measure: string;
    servers: Record<
      string,
      { errors: number; firstError?: string; verified: number; rate?: number; rssPerConn?: number }
    >;
  }[];
  targets: { scenario: string; verdict: string; value: string; noise: string }[];
}

describe("npm run bench -- --quick", () => {
  it("runs every scenario against every server (the ceiling's twin too) and every echo checks out", {
    timeout: 600_000,
  }, async () => {
    // --noise adds the twin wherever the ceiling runs, so every server script is exercised.
    const { code, stdout, stderr } = await runScript("bench/index.ts", [
      "--quick",
      "--noise",
      "--json",
    ]);
    assert.equal(code, 0, `exit ${code}\n${stderr.slice(-4000)}`);
    const doc = JSON.parse(stdout) as QuickDocument;
    assert.deepEqual(
      doc.scenarios.map((s) => s.name),
      SCENARIOS.map((s) => s.name),
    );
    for (const s of doc.scenarios) {
      const expected = SCENARIOS.find((x) => x.name === s.name)?.servers ?? [];
      assert.deepEqual(Object.keys(s.servers).sort(), [...expected].sort(), s.name);
      for (const [server, v] of Object.entries(s.servers)) {
        const where = `${s.name} / ${server}`;
        assert.equal(v.errors, 0, `${where}: ${v.firstError}`);
        if (s.measure === "throughput") {
          assert.ok(v.verified > 0, `${where}: no message checked`);
          assert.ok((v.rate ?? 0) > 0, `${where}: no rate`);
        } else {
          assert.equal(typeof v.rssPerConn, "number", `${where}: no memory figure`);
        }
      }
    }
    assert.ok(doc.targets.length > 0);
    // The A/A figure stands next to every target against the ceiling, and nowhere else.
    for (const t of doc.targets) {
      const vsCeiling = / raw$/.test(t.value);
      assert.equal(
        /^\d+\.\d\dx/.test(t.noise),
        vsCeiling,
        `${t.scenario}: ${t.value} / ${t.noise}`,
      );
    }
  });
});
