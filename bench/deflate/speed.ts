// Round trips (deflate then inflate) of N messages per connection, C connections in parallel,
// each connection one message at a time. Prints messages per second.
import { createRequire } from "node:module";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { Pool } from "../../src/buffer/pool.js";
import type { CodecListener, Deflater, Inflater } from "../../src/deflate/codec.js";
import { factory, text } from "./common.js";

const require = createRequire(import.meta.url);
const PerMessageDeflate = require(
  new URL("../../node_modules/ws/lib/permessage-deflate.js", import.meta.url).pathname,
);

const args = new Map(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const SIZE = Number(args.get("size") ?? 4096);
const CONNS = Number(args.get("conns") ?? 1);
const N = Number(args.get("n") ?? 20000);
const TAKEOVER = (args.get("takeover") ?? "on") === "on";
const LEVEL = Number(args.get("level") ?? -1);
const MESSAGES = Array.from({ length: 64 }, (_, i) => text(SIZE, i + 1));

class Conn implements CodecListener {
  sent = 0;
  constructor(
    readonly d: Deflater,
    readonly i: Inflater,
    readonly pool: Pool,
    readonly done: () => void,
  ) {}
  step(): void {
    while (this.sent < N) {
      const r = this.d.deflate(MESSAGES[this.sent % 64]!, this, this.sent);
      if (r === null) return;
      if (!this.compressed(r as ByteBuffer, this.sent)) return;
    }
    this.done();
  }
  compressed(c: ByteBuffer, token: number): boolean {
    const r = this.i.inflate([c.bytes()], 1 << 24, this, token);
    this.pool.put(c);
    if (r === null) return false;
    this.inflated(r as ByteBuffer);
    return true;
  }
  inflated(b: ByteBuffer): void {
    if (b.len !== SIZE) throw new Error("size");
    this.pool.put(b);
    this.sent++;
  }
  onDeflated(data: ByteBuffer, token: number) {
    if (this.compressed(data, token)) this.step();
  }
  onInflated(data: ByteBuffer) {
    this.inflated(data);
    this.step();
  }
  onCodecError(e: Error) {
    throw e;
  }
}

let cpuStart = process.cpuUsage();
function cpuPerTrip(): string {
  const u = process.cpuUsage(cpuStart);
  return `${((u.user + u.system) / (CONNS * N)).toFixed(1)} us CPU per round trip`;
}

async function tidews(syncLimit?: number): Promise<number> {
  const { f, bufferPool } = factory({
    deflate: { level: LEVEL },
    ...(syncLimit === undefined ? {} : { syncLimit }),
  });
  const t0 = process.hrtime.bigint();
  cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from(
      { length: CONNS },
      () =>
        new Promise<void>((resolve) => {
          new Conn(
            f.createDeflater(15, !TAKEOVER),
            f.createInflater(15, !TAKEOVER),
            bufferPool,
            resolve,
          ).step();
        }),
    ),
  );
  return (CONNS * N) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function ws(): Promise<number> {
  const base = { zlibDeflateOptions: { level: LEVEL } };
  const opts = TAKEOVER
    ? base
    : { ...base, serverNoContextTakeover: true, clientNoContextTakeover: true };
  const t0 = process.hrtime.bigint();
  cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from(
      { length: CONNS },
      () =>
        new Promise<void>((resolve, reject) => {
          const pmd = new PerMessageDeflate(opts, true, 0);
          pmd.accept([
            TAKEOVER
              ? {}
              : { server_no_context_takeover: [true], client_no_context_takeover: [true] },
          ]);
          let sent = 0;
          const next = () => {
            if (sent === N) return resolve();
            pmd.compress(MESSAGES[sent % 64], true, (err: Error | null, c: Buffer) => {
              if (err) return reject(err);
              pmd.decompress(c, true, (err2: Error | null, b: Buffer) => {
                if (err2) return reject(err2);
                if (b.length !== SIZE) return reject(new Error("size"));
                sent++;
                next();
              });
            });
          };
          next();
        }),
    ),
  );
  return (CONNS * N) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")} round trips/s`;
const compressedSize = require("node:zlib").deflateRawSync(MESSAGES[0]).length;
console.log(
  `size ${SIZE} B (compresses to ~${compressedSize} B), ${CONNS} connection(s) x ${N}, context takeover ${TAKEOVER ? "on" : "off"}, level ${LEVEL}`,
);
for (let round = 0; round < 2; round++) {
  let r = await tidews();
  console.log(`  tidews default (sync path): ${fmt(r)}, ${cpuPerTrip()}`);
  r = await tidews(0);
  console.log(`  tidews thread pool only:    ${fmt(r)}, ${cpuPerTrip()}`);
  r = await ws();
  console.log(`  ws 8.23 PerMessageDeflate:  ${fmt(r)}, ${cpuPerTrip()}`);
}
