// Memory per connection: create N codec pairs, run one message each way, measure after GC.
// Run: node --expose-gc --import tsx bench/deflate/memory.ts --mode=<mode> [--n=1000]
import { createRequire } from "node:module";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { CodecListener } from "../../src/deflate/codec.js";
import { factory, text } from "./common.js";

const require = createRequire(import.meta.url);
const PerMessageDeflate = require(
  new URL("../../node_modules/ws/lib/permessage-deflate.js", import.meta.url).pathname,
);
const args = new Map(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const N = Number(args.get("n") ?? 1000);
const MODE = args.get("mode") ?? "takeover";
const gc = (globalThis as { gc?: () => void }).gc!;

function snapshot() {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

const message = text(4096, 1);
const keep: unknown[] = [];
const BITS = Number(args.get("bits") ?? 15);
const before = snapshot();

await (async () => {
  if (MODE.startsWith("ws")) {
    const noTakeover = MODE === "ws-no-takeover";
    for (let i = 0; i < N; i++) {
      const pmd = new PerMessageDeflate(
        noTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : {},
        true,
        0,
      );
      pmd.accept([
        noTakeover
          ? { server_no_context_takeover: [true], client_no_context_takeover: [true] }
          : {},
      ]);
      keep.push(pmd);
      await new Promise<void>((resolve, reject) =>
        pmd.compress(message, true, (e: Error | null, c: Buffer) => {
          if (e) return reject(e);
          pmd.decompress(c, true, (e2: Error | null) => (e2 ? reject(e2) : resolve()));
        }),
      );
    }
    return;
  }
  const { f, bufferPool, codecPool } = factory();
  keep.push(f, bufferPool, codecPool);
  const noTakeover = MODE === "no-takeover";
  const idle = MODE === "idle";
  const sink: CodecListener = {
    onDeflated: (b: ByteBuffer) => bufferPool.put(b),
    onInflated: (b: ByteBuffer) => bufferPool.put(b),
    onCodecError: (e) => {
      throw e;
    },
  };
  for (let i = 0; i < N; i++) {
    const d = f.createDeflater(BITS, noTakeover);
    const inf = f.createInflater(BITS, noTakeover);
    keep.push(d, inf);
    if (idle) continue;
    const c = d.deflate(message, sink, 0) as ByteBuffer;
    const back = inf.inflate([c.bytes()], 1 << 20, sink, 0) as ByteBuffer;
    bufferPool.put(c);
    bufferPool.put(back);
  }
  console.log(`  codec pool: ${JSON.stringify(codecPool.stats())}`);
})();

const after = snapshot();
const per = (k: "rss" | "heap" | "external") => ((after[k] - before[k]) / N / 1024).toFixed(1);
console.log(
  `${MODE}: per connection rss ${per("rss")} KiB, JS heap ${per("heap")} KiB, external ${per("external")} KiB (N=${N})`,
);
