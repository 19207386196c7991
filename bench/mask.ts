/**
 * Unmasking throughput: the core's TypeScript word loop (`xorRange`) against bufferutil's native
 * `unmask`, as tidews' server uses it when bufferutil is installed (`src/runtime/native-mask.ts`),
 * on views at an odd offset into a larger allocation (as socket chunks are).
 *
 * Usage: `node --import tsx bench/mask.ts [--ms N]` (progress on stderr, a table at the end).
 */

import { xorRange } from "../src/protocol/mask.js";
import { loadNativeXor } from "../src/runtime/native-mask.js";
import { flagValue } from "./lib/report.js";

const ms = Number(flagValue("ms") ?? 400);
const native = await loadNativeXor();
if (native === undefined) {
  process.stderr.write(
    "bufferutil is not installed (or only its JS fallback loads): nothing to compare\n",
  );
  process.exit(1);
}

function rate(fn: (b: Buffer, i: number) => void, buf: Buffer): number {
  let n = 0;
  const until = performance.now() + ms;
  let bytes = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 64; i++) fn(buf, n++);
    bytes += 64 * buf.length;
  }
  return bytes / (ms / 1000) / 1e9;
}

const rows: string[][] = [];
for (const size of [64, 128, 256, 512, 1024, 16 * 1024, 64 * 1024, 1024 * 1024]) {
  process.stderr.write(`unmask ${size} B\n`);
  const buf = Buffer.alloc(size + 3, 7).subarray(3);
  const js = (b: Buffer, i: number) => xorRange(b, 0, b.length, 0x37fa213d, i & 3);
  const nat = (b: Buffer, i: number) => native(b, 0, b.length, 0x37fa213d, i & 3);
  rate(js, buf);
  rate(nat, buf);
  const a = rate(js, buf);
  const b = rate(nat, buf);
  rows.push([String(size), a.toFixed(2), b.toFixed(2), `${(b / a).toFixed(2)}x`]);
}
const head = ["bytes", "TS GB/s", "native GB/s", "native/TS"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i] as number)).join("  ");
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
