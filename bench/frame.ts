/**
 * Frame parser and encoder throughput: tidews against `ws` 8 on the same inputs, in the same run.
 *
 * Payloads of 16 B, 1 KiB, 64 KiB and 1 MiB, binary frames, in both directions:
 * - `masked` (client to server): the parser runs as a server and unmasks, the encoder masks;
 * - `unmasked` (server to client).
 *
 * Parsing. Each input is a stream of whole frames (about 1-4 MiB), cut into 64 KiB chunks as a
 * socket would deliver them; both sides get the very same chunks.
 * - tidews `FrameParser` with a sink that counts payload bytes: payloads are delivered as views
 *   into the chunks (unmasked in place), never copied, even when a frame spans chunks.
 * - tidews `FrameParser` with an assembling sink: a frame that arrives in one piece is delivered
 *   as that view; one that spans chunks is copied into a pooled buffer, given back after delivery.
 *   This is what message assembly in the connection costs, and is closest to what ws does.
 * - ws `Receiver` (`ws/lib/receiver.js`, fed through `write()` as ws's WebSocket does): parses,
 *   unmasks in place, gathers a payload that spans chunks into a new Buffer (a copy), emits one
 *   `'message'` per frame (single-frame messages, `skipUTF8Validation` is irrelevant for binary).
 *   The listener counts bytes.
 * Masked payloads are unmasked in place by both sides, so the chunks flip between masked and
 * unmasked from one pass to the next; nobody looks at the content, and both do the same work.
 *
 * Encoding.
 * - masked: tidews `encodeFrame` (header and masked copy of the payload in one pooled buffer,
 *   given back to the pool) against ws `Sender.frame(data, { mask: true, readOnly: true })` (one
 *   new Buffer with header and masked copy: what ws does for a user's Buffer). Keys come from
 *   a `CryptoMaskSource` and ws's own random pool respectively.
 * - unmasked: tidews `writeHeader` into a reused header buffer (the `[header, payload]` path, no
 *   copy) against ws `Sender.frame(data, { readOnly: true })` (a new header Buffer, no copy); and
 *   tidews `encodeFrame` (whole frame copied into a pooled buffer) for reference.
 *
 * Rates are frames per second and payload megabytes (10^6 B) per second; each figure is the
 * median of interleaved rounds, after a warm-up. Ratios are tidews / ws (above 1: tidews faster).
 *
 * Usage: `node --import tsx bench/frame.ts [--quick] [--json] [--rounds N] [--ms N]`.
 * `--json` prints one JSON document on stdout; progress always goes to stderr.
 */

import { createRequire } from "node:module";
import os from "node:os";
import { BufferPool } from "../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../src/buffer/byte-buffer.js";
import type { ProtocolError } from "../src/errors.js";
import { encodeFrame, writeHeader } from "../src/protocol/frame-encoder.js";
import { FrameParser, type FrameSink } from "../src/protocol/frame-parser.js";
import { FixedMaskSource } from "../src/protocol/mask.js";
import { CryptoMaskSource } from "../src/runtime/mask-source.js";
import {
  type Cell,
  flagValue,
  hasFlag,
  printTable,
  progress,
  progressDone,
  ratio,
} from "./lib/report.js";
import { median } from "./lib/stats.js";

// --- ws, loaded as CommonJS ----------------------------------------------------------------------

interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}
type WsReceiverClass = new (options: {
  isServer: boolean;
  maxPayload: number;
  skipUTF8Validation: boolean;
  allowSynchronousEvents: boolean;
}) => WsReceiver;
interface WsSenderClass {
  frame(
    data: Buffer,
    options: { opcode: number; fin: boolean; rsv1: boolean; mask: boolean; readOnly: boolean },
  ): Buffer[];
}

const require = createRequire(import.meta.url);
// `ws/lib/receiver.js` and `ws/lib/sender.js`, as the package exports them.
const ws = require("ws") as { Receiver: WsReceiverClass; Sender: WsSenderClass };
const WsReceiverCtor = ws.Receiver;
const WsSender = ws.Sender;
const WS_VERSION = (require("ws/package.json") as { version: string }).version;

// --- Configuration -------------------------------------------------------------------------------

const QUICK = hasFlag("quick");
const JSON_OUTPUT = hasFlag("json");
const ROUNDS = Math.max(1, Number(flagValue("rounds") ?? (QUICK ? 1 : 3)));
/** Milliseconds per measurement (one contender, one round). */
const SLICE_MS = Math.max(10, Number(flagValue("ms") ?? (QUICK ? 40 : 150)));
const WARMUP_MS = QUICK ? 20 : 80;

/** `--only parse` or `--only encode` runs one half (the summary then has gaps). */
const ONLY = flagValue("only");

const SIZES = [16, 1024, 64 * 1024, 1024 * 1024] as const;
const CHUNK = 64 * 1024;
/** Bytes of frames per parser input stream (at least 4 frames). */
const STREAM_BYTES = 2 * 1024 * 1024;

const pool = new BufferPool(64, 4 * 1024 * 1024);

// --- Timing --------------------------------------------------------------------------------------

/** Runs `step` (which does `perStep` frames) for about `ms` milliseconds; returns frames/s. */
function rate(step: () => void, perStep: number, ms: number): number {
  let steps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    step();
    steps++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (steps * perStep * 1000) / elapsed;
}

interface Contender {
  readonly name: string;
  readonly step: () => void;
  /** Frames per step. */
  readonly frames: number;
}

/** Interleaved rounds (rotating order), median frames/s per contender. */
function measure(label: string, contenders: readonly Contender[]): number[] {
  for (const c of contenders) {
    progress(`${label}: warm-up ${c.name}`);
    rate(c.step, c.frames, WARMUP_MS);
  }
  const samples: number[][] = contenders.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + r) % contenders.length;
      const c = contenders[i] as Contender;
      progress(`${label}: round ${r + 1}/${ROUNDS} ${c.name}`);
      (samples[i] as number[]).push(rate(c.step, c.frames, SLICE_MS));
    }
  }
  return samples.map((s) => median(s));
}

// --- Inputs --------------------------------------------------------------------------------------

function payloadOf(size: number): Buffer {
  const p = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) p[i] = (i * 131 + 7) & 0xff;
  return p;
}

/** A stream of `count` binary frames of `size` bytes, masked or not, cut into socket chunks. */
function buildStream(size: number, masked: boolean): { chunks: Buffer[]; frames: number } {
  const frames = Math.max(4, Math.floor(STREAM_BYTES / (size + 14)));
  const payload = payloadOf(size);
  const mask = masked ? new FixedMaskSource([0x9a, 0x3c, 0x51, 0xe7]) : null;
  const parts: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const buf = encodeFrame(pool, 2, payload, { mask });
    parts.push(Buffer.from(buf.bytes()));
    pool.put(buf);
  }
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  // Each chunk gets its own memory, at an odd offset, as socket reads would.
  for (let at = 0; at < all.length; at += CHUNK) {
    const piece = all.subarray(at, Math.min(all.length, at + CHUNK));
    const own = Buffer.allocUnsafeSlow(piece.length + 1).subarray(1);
    piece.copy(own);
    chunks.push(own);
  }
  return { chunks, frames };
}

// --- tidews sinks ----------------------------------------------------------------------------------

/** Counts payload bytes; delivers nothing else. */
class CountingSink implements FrameSink {
  bytes = 0;
  frames = 0;
  onDataFrameStart(): boolean {
    return true;
  }
  onDataFrameChunk(data: Buffer): boolean {
    this.bytes += data.length;
    return true;
  }
  onDataFrameEnd(): boolean {
    this.frames++;
    return true;
  }
  onControlFrame(): boolean {
    return true;
  }
  onFrameError(error: ProtocolError): void {
    throw error;
  }
}

/**
 * Delivers each frame as one contiguous payload: the view itself when the frame arrived in one
 * piece, else a pooled buffer the pieces are copied into, given back after "delivery".
 */
class AssemblingSink implements FrameSink {
  bytes = 0;
  frames = 0;
  private length = 0;
  private gathered: ByteBuffer | null = null;
  onDataFrameStart(_opcode: number, _fin: boolean, _rsv1: boolean, length: number): boolean {
    this.length = length;
    return true;
  }
  onDataFrameChunk(data: Buffer): boolean {
    if (this.gathered === null && data.length === this.length) {
      this.bytes += data.length; // delivered as is
      return true;
    }
    if (this.gathered === null) this.gathered = pool.get(this.length);
    this.gathered.write(data);
    return true;
  }
  onDataFrameEnd(): boolean {
    if (this.gathered !== null) {
      this.bytes += this.gathered.len; // delivered
      pool.put(this.gathered);
      this.gathered = null;
    }
    this.frames++;
    return true;
  }
  onControlFrame(): boolean {
    return true;
  }
  onFrameError(error: ProtocolError): void {
    throw error;
  }
}

// --- Benchmarks ----------------------------------------------------------------------------------

interface Row {
  readonly bench: "parse" | "encode";
  readonly size: number;
  readonly masked: boolean;
  readonly impl: string;
  readonly framesPerSec: number;
  readonly mbPerSec: number;
}

const rows: Row[] = [];

function record(
  bench: Row["bench"],
  size: number,
  masked: boolean,
  impls: string[],
  fps: number[],
) {
  impls.forEach((impl, i) => {
    const framesPerSec = fps[i] as number;
    rows.push({ bench, size, masked, impl, framesPerSec, mbPerSec: (framesPerSec * size) / 1e6 });
  });
}

function sizeName(size: number): string {
  return size >= 1024 * 1024
    ? `${size / 1024 / 1024} MiB`
    : size >= 1024
      ? `${size / 1024} KiB`
      : `${size} B`;
}

function benchParse(size: number, masked: boolean): void {
  const { chunks, frames } = buildStream(size, masked);
  const role = masked ? "server" : "client";
  const counting = new CountingSink();
  const countingParser = new FrameParser(counting, { role });
  const assembling = new AssemblingSink();
  const assemblingParser = new FrameParser(assembling, { role });
  let wsBytes = 0;
  let wsFrames = 0;
  const receiver = new WsReceiverCtor({
    isServer: masked,
    maxPayload: 0,
    skipUTF8Validation: true,
    allowSynchronousEvents: true,
  });
  receiver.on("message", (data) => {
    wsBytes += data.length;
    wsFrames++;
  });
  receiver.on("error", (error) => {
    throw error;
  });
  const fps = measure(`parse ${sizeName(size)} ${masked ? "masked" : "unmasked"}`, [
    {
      name: "tidews",
      frames,
      step: () => {
        for (const c of chunks) countingParser.receive(c);
      },
    },
    {
      name: "tidews+assemble",
      frames,
      step: () => {
        for (const c of chunks) assemblingParser.receive(c);
      },
    },
    {
      name: "ws",
      frames,
      step: () => {
        for (const c of chunks) receiver.write(c);
      },
    },
  ]);
  // Both sides must have seen every byte of every frame.
  if (counting.bytes !== counting.frames * size || assembling.bytes !== assembling.frames * size) {
    throw new Error("tidews sink lost bytes");
  }
  if (wsBytes !== wsFrames * size) throw new Error("ws receiver lost bytes");
  record("parse", size, masked, ["tidews", "tidews+assemble", "ws"], fps);
}

function benchEncode(size: number, masked: boolean): void {
  const payload = payloadOf(size);
  const batch = Math.max(1, Math.floor(65536 / size));
  const label = `encode ${sizeName(size)} ${masked ? "masked" : "unmasked"}`;
  let sink = 0;
  if (masked) {
    const mask = new CryptoMaskSource();
    const options = { mask };
    const wsOptions = { opcode: 2, fin: true, rsv1: false, mask: true, readOnly: true };
    const fps = measure(label, [
      {
        name: "tidews encodeFrame",
        frames: batch,
        step: () => {
          for (let i = 0; i < batch; i++) {
            const buf = encodeFrame(pool, 2, payload, options);
            sink += buf.len;
            pool.put(buf);
          }
        },
      },
      {
        name: "ws Sender.frame",
        frames: batch,
        step: () => {
          for (let i = 0; i < batch; i++)
            sink += (WsSender.frame(payload, wsOptions)[0] as Buffer).length;
        },
      },
    ]);
    record("encode", size, masked, ["tidews encodeFrame", "ws Sender.frame"], fps);
  } else {
    const header = Buffer.allocUnsafe(14);
    const wsOptions = { opcode: 2, fin: true, rsv1: false, mask: false, readOnly: true };
    const fps = measure(label, [
      {
        name: "tidews writeHeader",
        frames: batch,
        step: () => {
          for (let i = 0; i < batch; i++)
            sink += writeHeader(header, 0, 2, true, false, payload.length, null);
        },
      },
      {
        name: "ws Sender.frame",
        frames: batch,
        step: () => {
          for (let i = 0; i < batch; i++)
            sink += (WsSender.frame(payload, wsOptions)[0] as Buffer).length;
        },
      },
      {
        name: "tidews encodeFrame",
        frames: batch,
        step: () => {
          for (let i = 0; i < batch; i++) {
            const buf = encodeFrame(pool, 2, payload);
            sink += buf.len;
            pool.put(buf);
          }
        },
      },
    ]);
    record(
      "encode",
      size,
      masked,
      ["tidews writeHeader", "ws Sender.frame", "tidews encodeFrame"],
      fps,
    );
  }
  if (sink === 0) throw new Error("nothing encoded");
}

// --- Run -----------------------------------------------------------------------------------------

const started = performance.now();
for (const masked of [true, false]) {
  for (const size of SIZES) if (ONLY !== "encode") benchParse(size, masked);
}
for (const masked of [true, false]) {
  for (const size of SIZES) if (ONLY !== "parse") benchEncode(size, masked);
}
progressDone();
const seconds = (performance.now() - started) / 1000;

function find(bench: Row["bench"], size: number, masked: boolean, impl: string): Row | undefined {
  return rows.find(
    (r) => r.bench === bench && r.size === size && r.masked === masked && r.impl === impl,
  );
}

const comparisons = [
  { bench: "parse", tidews: "tidews", ws: "ws" },
  { bench: "parse", tidews: "tidews+assemble", ws: "ws" },
  { bench: "encode", tidews: "tidews encodeFrame", ws: "ws Sender.frame", masked: true },
  { bench: "encode", tidews: "tidews writeHeader", ws: "ws Sender.frame", masked: false },
  { bench: "encode", tidews: "tidews encodeFrame", ws: "ws Sender.frame", masked: false },
] as const;

interface Comparison {
  readonly bench: Row["bench"];
  readonly size: number;
  readonly masked: boolean;
  readonly tidews: string;
  readonly ws: string;
  /** tidews frames/s divided by ws frames/s. */
  readonly ratio: number;
}

const summary: Comparison[] = [];
for (const c of comparisons) {
  for (const masked of [true, false]) {
    if ("masked" in c && c.masked !== masked) continue;
    for (const size of SIZES) {
      const t = find(c.bench, size, masked, c.tidews);
      const w = find(c.bench, size, masked, c.ws);
      if (t === undefined || w === undefined) continue;
      const r = t.framesPerSec / w.framesPerSec;
      summary.push({ bench: c.bench, size, masked, tidews: c.tidews, ws: c.ws, ratio: r });
    }
  }
}

if (JSON_OUTPUT) {
  const doc = {
    benchmark: "frame",
    node: process.version,
    ws: WS_VERSION,
    cpu: os.cpus()[0]?.model ?? "unknown",
    rounds: ROUNDS,
    sliceMs: SLICE_MS,
    seconds,
    results: rows,
    ratios: summary,
  };
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
} else {
  for (const bench of ["parse", "encode"] as const) {
    const table: Cell[][] = rows
      .filter((r) => r.bench === bench)
      .map((r) => [
        sizeName(r.size),
        r.masked ? "masked" : "unmasked",
        r.impl,
        r.framesPerSec,
        r.mbPerSec,
      ]);
    printTable(
      `${bench}: frames/s and payload MB/s (median of ${ROUNDS} x ${SLICE_MS} ms)`,
      ["payload", "dir", "impl", "frames/s", "MB/s"],
      table,
    );
  }
  const summaryRows: Cell[][] = [];
  for (const c of comparisons) {
    for (const masked of [true, false]) {
      if ("masked" in c && c.masked !== masked) continue;
      const cells = SIZES.map((size) => {
        const x = summary.find(
          (y) =>
            y.bench === c.bench && y.size === size && y.masked === masked && y.tidews === c.tidews,
        );
        return x === undefined ? "" : ratio(x.ratio, 1);
      });
      if (cells.some((cell) => cell !== "")) {
        summaryRows.push([c.bench, masked ? "masked" : "unmasked", c.tidews, c.ws, ...cells]);
      }
    }
  }
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  printTable(
    `Summary, frames/s ratio tidews / ws (node ${process.version}, ws ${WS_VERSION}, ${cpu}, ${seconds.toFixed(1)} s)`,
    ["bench", "dir", "tidews", "ws", ...SIZES.map(sizeName)],
    summaryRows,
  );
}
