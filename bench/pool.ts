/**
 * Buffer pool benchmark: {@link BufferPool} against {@link SimplePool} (the naive pool of the GWS
 * article) and no pool at all, on three workloads:
 *
 * - `gws`: the article's workload, payload sizes uniform in 1..65536 B, each written into a buffer
 *   taken from the pool and given back right away;
 * - `skewed`: 90% small payloads (16..512 B), 10% large ones (log-uniform 512 B..1 MiB);
 * - `held`: 10,000 connections each take a buffer for a skewed payload and hold it until all have
 *   one, then all give theirs back, in cycles.
 *
 * "No pool" models a user without a pool: a fresh, empty `ByteBuffer` per message, which allocates
 * on the first write (Go's `var b bytes.Buffer; b.Write(p)`).
 *
 * Every (pool, workload) run starts from a fresh pool and a forced garbage collection, warms the
 * pool up, then measures. Rounds interleave the pools (in a rotating order) so drift hits them
 * alike; tables show the median of the rounds. Payload sizes come from a seeded PRNG: every pool
 * sees the same sequence, and every invocation with the same seed the same numbers of operations.
 *
 * Usage: `npm run -s bench:pool -- [--quick] [--json] [--docs] [--rounds N] [--seed N]
 * [--left BYTES] [--right BYTES]` (`-s` keeps npm's own banner off stdout, for `--json`). The
 * process runs itself again with `--expose-gc` when started without it.
 *
 * - `--quick`: a short run (a few seconds) that checks the benchmark works, for CI;
 * - `--json`: one JSON document on stdout instead of the tables (progress stays on stderr);
 * - `--docs`: also copy the charts to `docs/bench/`;
 * - `--left`, `--right`: the BufferPool bounds, 256 and 65536 by default;
 * - `--shard-buffers`, `--shard-bytes`, `--idle-bytes`: the BufferPool's idle bounds
 *   (`maxIdleBuffersPerShard`, `maxIdleBytesPerShard`, `maxIdleBytes`), its defaults otherwise.
 *
 * Charts and the JSON document are written to `bench/results/`.
 */

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BufferPool,
  type BufferPoolOptions,
  ByteBuffer,
  type Pool,
  type PoolStats,
  SIMPLE_POOL_BUFFER_SIZE,
  SimplePool,
} from "../src/buffer/index.js";
import { ensureExposeGc, forceGc, GcMeter, now } from "./lib/gc.js";
import { Mulberry32 } from "./lib/random.js";
import {
  type Cell,
  flagValue,
  formatBytes,
  formatNumber,
  hasFlag,
  printTable,
  progress,
  progressDone,
  ratio,
} from "./lib/report.js";
import { median } from "./lib/stats.js";
import { barChart, histogram } from "./lib/svg.js";

// --- Configuration -----------------------------------------------------------------------------

const QUICK = hasFlag("quick");
const JSON_OUTPUT = hasFlag("json");
const COPY_TO_DOCS = hasFlag("docs");

/** Reads a non-negative integer option, or exits with a usage message. */
function intOption(name: string, fallback: number): number {
  const raw = flagValue(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`--${name} expects a non-negative integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return v;
}

/** `{ [key]: value }` when option `flag` is given, else `{}`. */
function optional(key: keyof BufferPoolOptions, flag: string): Partial<BufferPoolOptions> {
  return flagValue(flag) === undefined ? {} : { [key]: intOption(flag, 0) };
}

/**
 * BufferPool bounds. 256 B at the bottom: the many small frames of a chat or JSON server share one
 * shard, and smaller shards would save at most 240 B per buffer while splitting reuse over more
 * free lists. 64 KiB at the top: it covers the GWS workload entirely, while each shard above it
 * could keep up to 4 MiB (the default per-shard bound) of rarely used large buffers.
 */
const LEFT = intOption("left", 256);
const RIGHT = intOption("right", 64 * 1024);
const ROUNDS = Math.max(1, intOption("rounds", QUICK ? 2 : 5));
/** BufferPool idle bounds given on the command line; the pool's defaults for the others. */
const POOL_OPTIONS: BufferPoolOptions = {
  ...optional("maxIdleBuffersPerShard", "shard-buffers"),
  ...optional("maxIdleBytesPerShard", "shard-bytes"),
  ...optional("maxIdleBytes", "idle-bytes"),
};
const SEED = intOption("seed", 0x7de5);
/** Connections of the `held` workload: each holds one buffer at a time. */
const CONNECTIONS = 10_000;
/** The largest payload of any workload. */
const MAX_PAYLOAD = 1024 * 1024;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS_DIR = join(ROOT, "bench", "results");
const DOCS_DIR = join(ROOT, "docs", "bench");

// --- Contenders --------------------------------------------------------------------------------

/**
 * A user without a pool: each message gets a fresh, empty ByteBuffer that allocates on the first
 * write (exactly the payload size, or 64 B for a payload of at most 64 B), and is left to the
 * garbage collector afterwards.
 */
class NoPool implements Pool {
  private gets = 0;
  private puts = 0;

  get(_n: number): ByteBuffer {
    this.gets++;
    return new ByteBuffer();
  }

  put(_buf: ByteBuffer): void {
    this.puts++;
  }

  stats(): PoolStats {
    return {
      gets: this.gets,
      puts: this.puts,
      hits: 0,
      misses: 0,
      drops: this.puts,
      oversize: 0,
      idleBuffers: 0,
      idleBytes: 0,
      shards: [],
    };
  }

  trim(): void {}
}

/** A pool under test. */
interface Contender {
  readonly name: string;
  /** Whether a hit rate means anything. */
  readonly pooled: boolean;
  create(): Pool;
  /**
   * Bytes that `get` allocated between two snapshots of the pool's stats; `sizes` are the
   * requests made in between.
   */
  getAllocatedBytes(before: PoolStats, after: PoolStats, sizes: Uint32Array): number;
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "BufferPool",
    pooled: true,
    create: () => new BufferPool(LEFT, RIGHT, POOL_OPTIONS),
    getAllocatedBytes(before, after, sizes) {
      // A miss in a shard allocates the shard's size; a request above `right` exactly `n`.
      let bytes = 0;
      after.shards.forEach((s, i) => {
        bytes += (s.misses - (before.shards[i]?.misses ?? 0)) * s.size;
      });
      const right = (after.shards[after.shards.length - 1]?.size ?? 0) as number;
      for (const n of sizes) if (n > right) bytes += n;
      return bytes;
    },
  },
  {
    name: "SimplePool",
    pooled: true,
    create: () => new SimplePool(),
    getAllocatedBytes: (before, after) => (after.misses - before.misses) * SIMPLE_POOL_BUFFER_SIZE,
  },
  {
    name: "no pool",
    pooled: false,
    create: () => new NoPool(),
    getAllocatedBytes: () => 0,
  },
];

// --- Workloads ---------------------------------------------------------------------------------

/** A workload: how payload sizes are drawn and how many buffers are held at once. */
interface Workload {
  readonly key: string;
  readonly description: string;
  /** Buffers taken before any is given back: 1 for get/write/put one at a time. */
  readonly held: number;
  /** Measured operations per run (one operation: get, write, put). */
  readonly ops: number;
  /** Operations before the measurement, on the same pool. */
  readonly warmOps: number;
  draw(rng: Mulberry32): number;
}

/** 90% small (16..512 B), 10% large (log-uniform 512 B..1 MiB). */
function skewedSize(rng: Mulberry32): number {
  return rng.float() < 0.9 ? rng.int(16, 512) : rng.logInt(512, MAX_PAYLOAD);
}

const WORKLOADS: readonly Workload[] = [
  {
    key: "gws",
    description: "uniform 1..65536 B, one buffer at a time",
    held: 1,
    ops: QUICK ? 20_000 : 200_000,
    warmOps: QUICK ? 2_000 : 10_000,
    draw: (rng) => rng.int(1, 65536),
  },
  {
    key: "skewed",
    description: "90% 16..512 B, 10% log-uniform 512 B..1 MiB, one at a time",
    held: 1,
    ops: QUICK ? 20_000 : 200_000,
    warmOps: QUICK ? 2_000 : 10_000,
    draw: skewedSize,
  },
  {
    key: "held",
    description: `skewed sizes, ${formatNumber(CONNECTIONS)} held at once, then all returned`,
    held: CONNECTIONS,
    ops: (QUICK ? 2 : 15) * CONNECTIONS,
    warmOps: CONNECTIONS,
    draw: skewedSize,
  },
];

// --- One run -----------------------------------------------------------------------------------

/** Buckets of the capacity histogram: bucket `k` holds capacities in `[2^k, 2^(k+1))`. */
const BUCKETS = 32;

/** What one (pool, workload) run measured. */
interface RunResult {
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly gets: number;
  readonly hits: number;
  readonly misses: number;
  readonly growths: number;
  /** Pool misses plus ByteBuffer growths. */
  readonly allocations: number;
  /** New capacity of every miss and growth. */
  readonly bytesAllocated: number;
  /** Sum of the capacities the user held after each write. */
  readonly capacityHanded: number;
  /** Sum of the payload sizes. */
  readonly bytesUsed: number;
  /** `capacityHanded / bytesUsed`. */
  readonly waste: number;
  readonly drops: number;
  readonly idleBuffers: number;
  readonly idleBytes: number;
  /** Hits per get in the measured phase; `null` without a pool. */
  readonly hitRate: number | null;
  readonly gcCount: number;
  readonly gcMs: number;
  readonly gcByKind: Readonly<Record<string, number>>;
  /** Minor page faults during the measurement: first touches of freshly mapped memory. */
  readonly pageFaults: number;
  /** CPU time in the kernel during the measurement, in milliseconds. */
  readonly systemMs: number;
  /** Problems found in the pool's counters (empty when they add up). */
  readonly statsIssues: readonly string[];
  /** Capacities after the write, by power-of-two bucket (see {@link BUCKETS}). */
  readonly capacityHistogram: readonly number[];
}

/** Counters filled by {@link exercise}. */
interface Tally {
  growths: number;
  grownBytes: number;
  handed: number;
  used: number;
  readonly hist: Float64Array;
}

function newTally(): Tally {
  return { growths: 0, grownBytes: 0, handed: 0, used: 0, hist: new Float64Array(BUCKETS) };
}

/**
 * Takes `held` buffers at a time from `pool`, writes a payload of `sizes[i]` bytes into each, then
 * gives them all back, for `sizes[from..to)`.
 */
function exercise(
  pool: Pool,
  sizes: Uint32Array,
  from: number,
  to: number,
  held: number,
  payload: Buffer,
  slots: (ByteBuffer | undefined)[],
  t: Tally,
): void {
  for (let i = from; i < to; i += held) {
    const m = Math.min(held, to - i);
    for (let j = 0; j < m; j++) {
      const n = sizes[i + j] as number;
      const buf = pool.get(n);
      const before = buf.cap;
      buf.write(payload.subarray(0, n));
      const cap = buf.cap;
      if (cap !== before) {
        t.growths++;
        t.grownBytes += cap;
      }
      t.handed += cap;
      t.used += n;
      const bucket = 31 - Math.clz32(cap);
      t.hist[bucket] = (t.hist[bucket] as number) + 1;
      slots[j] = buf;
    }
    for (let j = 0; j < m; j++) {
      pool.put(slots[j] as ByteBuffer);
      slots[j] = undefined;
    }
  }
}

/** Checks that the pool's counters add up after every buffer was given back. */
function checkStats(s: PoolStats): string[] {
  const issues: string[] = [];
  if (s.gets !== s.hits + s.misses && s.misses > 0) {
    issues.push(`gets ${s.gets} != hits ${s.hits} + misses ${s.misses}`);
  }
  if (s.gets !== s.puts) issues.push(`gets ${s.gets} != puts ${s.puts} with nothing held`);
  // Every buffer given back was dropped, is still idle, or was handed out again (a hit).
  if (s.puts !== s.drops + s.idleBuffers + s.hits) {
    issues.push(`puts ${s.puts} != drops ${s.drops} + idle ${s.idleBuffers} + hits ${s.hits}`);
  }
  if (s.shards.length > 0) {
    let idleBytes = 0;
    let idleBuffers = 0;
    for (const sh of s.shards) {
      idleBytes += sh.idleBytes;
      idleBuffers += sh.idleBuffers;
      if (sh.gets !== sh.hits + sh.misses) issues.push(`shard ${sh.size}: gets != hits + misses`);
    }
    if (idleBytes !== s.idleBytes) issues.push(`shard idleBytes ${idleBytes} != ${s.idleBytes}`);
    if (idleBuffers !== s.idleBuffers) issues.push(`shard idleBuffers != ${s.idleBuffers}`);
  }
  return issues;
}

/** One (pool, workload) run on a fresh pool. */
async function run(
  contender: Contender,
  workload: Workload,
  sizes: Uint32Array,
  payload: Buffer,
  meter: GcMeter,
): Promise<RunResult> {
  const slots: (ByteBuffer | undefined)[] = new Array(workload.held).fill(undefined);
  forceGc();
  const pool = contender.create();
  exercise(pool, sizes, 0, workload.warmOps, workload.held, payload, slots, newTally());
  forceGc();
  await meter.flush();
  const before = pool.stats();
  const tally = newTally();
  const end = workload.warmOps + workload.ops;
  const usage = process.resourceUsage();
  const t0 = now();
  exercise(pool, sizes, workload.warmOps, end, workload.held, payload, slots, tally);
  const t1 = now();
  const usageAfter = process.resourceUsage();
  const after = pool.stats();
  await meter.flush();
  const gc = meter.between(t0, t1);
  meter.clear();
  const seconds = (t1 - t0) / 1000;
  const gets = after.gets - before.gets;
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  const measured = sizes.subarray(workload.warmOps, end);
  const result: RunResult = {
    ops: workload.ops,
    seconds,
    opsPerSec: workload.ops / seconds,
    gets,
    hits,
    misses,
    growths: tally.growths,
    allocations: misses + tally.growths,
    bytesAllocated: contender.getAllocatedBytes(before, after, measured) + tally.grownBytes,
    capacityHanded: tally.handed,
    bytesUsed: tally.used,
    waste: tally.handed / tally.used,
    drops: after.drops - before.drops,
    idleBuffers: after.idleBuffers,
    idleBytes: after.idleBytes,
    hitRate: contender.pooled && gets > 0 ? hits / gets : null,
    gcCount: gc.count,
    gcMs: gc.ms,
    gcByKind: gc.byKind,
    pageFaults: usageAfter.minorPageFault - usage.minorPageFault,
    systemMs: (usageAfter.systemCPUTime - usage.systemCPUTime) / 1000,
    statsIssues: checkStats(after),
    capacityHistogram: Array.from(tally.hist),
  };
  pool.trim();
  return result;
}

// --- Aggregation -------------------------------------------------------------------------------

/** The medians over the rounds of one (pool, workload). */
interface Summary {
  readonly pool: string;
  readonly opsPerSec: number;
  readonly allocations: number;
  readonly bytesAllocated: number;
  readonly capacityHanded: number;
  readonly bytesUsed: number;
  readonly waste: number;
  readonly idleBytes: number;
  readonly idleBuffers: number;
  readonly drops: number;
  readonly hitRate: number | null;
  readonly gcCount: number;
  readonly gcMs: number;
  readonly pageFaults: number;
  readonly systemMs: number;
}

function summarize(contender: Contender, runs: readonly RunResult[]): Summary {
  const m = (f: (r: RunResult) => number): number => median(runs.map(f));
  return {
    pool: contender.name,
    opsPerSec: m((r) => r.opsPerSec),
    allocations: m((r) => r.allocations),
    bytesAllocated: m((r) => r.bytesAllocated),
    capacityHanded: m((r) => r.capacityHanded),
    bytesUsed: m((r) => r.bytesUsed),
    waste: m((r) => r.waste),
    idleBytes: m((r) => r.idleBytes),
    idleBuffers: m((r) => r.idleBuffers),
    drops: m((r) => r.drops),
    hitRate: contender.pooled ? m((r) => r.hitRate ?? 0) : null,
    gcCount: m((r) => r.gcCount),
    gcMs: m((r) => r.gcMs),
    pageFaults: m((r) => r.pageFaults),
    systemMs: m((r) => r.systemMs),
  };
}

/** BufferPool compared with another pool on one workload. */
interface Comparison {
  readonly workload: string;
  readonly versus: string;
  readonly opsPerSec: string;
  readonly bytesAllocated: string;
  readonly gcMs: string;
  readonly idleBytes: string;
  readonly wasteBufferPool: string;
  readonly wasteOther: string;
}

function compare(workload: string, bp: Summary, other: Summary): Comparison {
  return {
    workload,
    versus: other.pool,
    opsPerSec: ratio(bp.opsPerSec, other.opsPerSec),
    bytesAllocated: ratio(bp.bytesAllocated, other.bytesAllocated),
    gcMs: ratio(bp.gcMs, other.gcMs),
    idleBytes: ratio(bp.idleBytes, other.idleBytes),
    wasteBufferPool: bp.waste.toFixed(2),
    wasteOther: other.waste.toFixed(2),
  };
}

// --- Main --------------------------------------------------------------------------------------

function drawSizes(workload: Workload, seed: number): Uint32Array {
  const rng = new Mulberry32(seed);
  const sizes = new Uint32Array(workload.warmOps + workload.ops);
  for (let i = 0; i < sizes.length; i++) sizes[i] = workload.draw(rng);
  return sizes;
}

/** `v` as a percentage with one decimal, or `"-"` for `null`. */
function percent(v: number | null): string {
  return v === null ? "-" : `${(v * 100).toFixed(1)}%`;
}

function printSummaries(summaries: Map<string, Summary[]>): void {
  const columns = [
    "pool",
    "ops/s",
    "allocs",
    "alloc bytes",
    "cap handed",
    "used",
    "waste",
    "idle after",
    "GCs",
    "GC ms",
    "faults",
    "hit rate",
  ];
  for (const w of WORKLOADS) {
    const rows: Cell[][] = (summaries.get(w.key) ?? []).map((s) => [
      s.pool,
      s.opsPerSec,
      s.allocations,
      formatBytes(s.bytesAllocated),
      formatBytes(s.capacityHanded),
      formatBytes(s.bytesUsed),
      s.waste.toFixed(2),
      formatBytes(s.idleBytes),
      s.gcCount,
      s.gcMs.toFixed(1),
      s.pageFaults,
      percent(s.hitRate),
    ]);
    const title = `${w.key}: ${w.description}; ${formatNumber(w.ops)} ops per run, median of ${ROUNDS}`;
    printTable(title, columns, rows);
  }
}

function printComparisons(comparisons: readonly Comparison[]): void {
  printTable(
    "BufferPool / other (ops/s > 1: BufferPool faster; bytes, GC, idle < 1: BufferPool lower)",
    ["workload", "vs", "ops/s", "alloc bytes", "GC time", "idle after", "waste BP", "waste other"],
    comparisons.map((c) => [
      c.workload,
      c.versus,
      c.opsPerSec,
      c.bytesAllocated,
      c.gcMs,
      c.idleBytes,
      c.wasteBufferPool,
      c.wasteOther,
    ]),
  );
}

/** The capacity histogram of the GWS workload, trimmed to the buckets in use. */
function capacityChart(histograms: Map<string, readonly number[]>): string {
  let lo = BUCKETS;
  let hi = -1;
  for (const h of histograms.values()) {
    h.forEach((v, k) => {
      if (v > 0) {
        lo = Math.min(lo, k);
        hi = Math.max(hi, k);
      }
    });
  }
  if (hi < lo) lo = hi = 0;
  const edges: number[] = [];
  for (let k = lo; k <= hi + 1; k++) edges.push(2 ** k);
  return histogram({
    title: "Capacities held by the user, GWS workload (uniform 1..65536 B)",
    edges,
    series: CONTENDERS.map((c) => ({
      name: c.name,
      values: (histograms.get(c.name) ?? []).slice(lo, hi + 1),
    })),
    xLabel: "buffer capacity after the write (power-of-two buckets)",
    yLabel: "buffers per run (log)",
    log: true,
    formatEdge: formatBytes,
  });
}

function opsChart(summaries: Map<string, Summary[]>): string {
  return barChart({
    title: `Operations per second (get, write, put), median of ${ROUNDS} rounds`,
    categories: WORKLOADS.map((w) => w.key),
    series: CONTENDERS.map((c) => ({
      name: c.name,
      values: WORKLOADS.map(
        (w) => summaries.get(w.key)?.find((s) => s.pool === c.name)?.opsPerSec ?? Number.NaN,
      ),
    })),
    yLabel: "ops/s",
    valueLabels: true,
  });
}

function allocationChart(summaries: Map<string, Summary[]>): string {
  return barChart({
    title: "Bytes allocated per operation (pool misses + buffer growth)",
    categories: WORKLOADS.map((w) => w.key),
    series: CONTENDERS.map((c) => ({
      name: c.name,
      values: WORKLOADS.map((w) => {
        const s = summaries.get(w.key)?.find((x) => x.pool === c.name);
        return s === undefined ? Number.NaN : s.bytesAllocated / w.ops;
      }),
    })),
    yLabel: "bytes per operation",
    valueLabels: true,
    formatValue: formatBytes,
    binaryTicks: true,
  });
}

async function main(): Promise<void> {
  ensureExposeGc();
  const started = now();
  const payload = Buffer.alloc(MAX_PAYLOAD, 0xa5);
  const meter = new GcMeter();
  meter.start();

  // Warm-up: every (pool, workload) pair once on a short sequence, so the JIT has compiled the
  // paths of all of them before anything is measured.
  for (const w of WORKLOADS) {
    const short: Workload = {
      ...w,
      ops: Math.max(w.held, Math.floor(w.ops / 10)),
      warmOps: w.warmOps,
    };
    const sizes = drawSizes(short, SEED ^ 0x5eed);
    for (const c of CONTENDERS) {
      progress(`warm-up: ${w.key} / ${c.name}`);
      await run(c, short, sizes, payload, meter);
    }
  }

  const runs = new Map<string, RunResult[]>();
  const key = (w: Workload, c: Contender): string => `${w.key}/${c.name}`;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [wi, w] of WORKLOADS.entries()) {
      const sizes = drawSizes(w, SEED + round * 1009 + wi);
      for (let i = 0; i < CONTENDERS.length; i++) {
        const c = CONTENDERS[(i + round) % CONTENDERS.length] as Contender;
        const r = await run(c, w, sizes, payload, meter);
        const list = runs.get(key(w, c)) ?? [];
        list.push(r);
        runs.set(key(w, c), list);
        progress(
          `round ${round + 1}/${ROUNDS}: ${w.key} / ${c.name}: ${formatNumber(r.opsPerSec)} ops/s`,
        );
        for (const issue of r.statsIssues) {
          progressDone();
          process.stderr.write(`warning: ${c.name} on ${w.key}: ${issue}\n`);
        }
      }
    }
  }
  meter.stop();
  progressDone();

  const summaries = new Map<string, Summary[]>();
  const comparisons: Comparison[] = [];
  for (const w of WORKLOADS) {
    const list = CONTENDERS.map((c) => summarize(c, runs.get(key(w, c)) ?? []));
    summaries.set(w.key, list);
    const [bp, ...others] = list;
    if (bp !== undefined) for (const o of others) comparisons.push(compare(w.key, bp, o));
  }
  const gwsHistograms = new Map<string, readonly number[]>();
  for (const c of CONTENDERS) {
    const first = runs.get(`gws/${c.name}`)?.[0];
    if (first !== undefined) gwsHistograms.set(c.name, first.capacityHistogram);
  }

  const charts: Record<string, string> = {
    "pool-capacities.svg": capacityChart(gwsHistograms),
    "pool-ops.svg": opsChart(summaries),
    "pool-allocated.svg": allocationChart(summaries),
  };
  const document = {
    benchmark: "pool",
    date: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model ?? "unknown",
      cpus: os.cpus().length,
    },
    options: {
      quick: QUICK,
      rounds: ROUNDS,
      seed: SEED,
      left: LEFT,
      right: RIGHT,
      bufferPool: POOL_OPTIONS,
    },
    workloads: WORKLOADS.map((w) => ({
      key: w.key,
      description: w.description,
      ops: w.ops,
      warmOps: w.warmOps,
      held: w.held,
      summaries: summaries.get(w.key) ?? [],
      runs: Object.fromEntries(
        CONTENDERS.map((c) => [
          c.name,
          (runs.get(key(w, c)) ?? []).map(({ capacityHistogram: _, ...r }) => r),
        ]),
      ),
    })),
    comparisons,
    gwsCapacityHistogram: Object.fromEntries(
      [...gwsHistograms].map(([name, h]) => [
        name,
        Object.fromEntries(h.flatMap((v, k) => (v > 0 ? [[String(2 ** k), v]] : []))),
      ]),
    ),
    seconds: (now() - started) / 1000,
  };

  mkdirSync(RESULTS_DIR, { recursive: true });
  const written: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    const path = join(RESULTS_DIR, name);
    writeFileSync(path, svg);
    written.push(path);
    if (COPY_TO_DOCS) {
      mkdirSync(DOCS_DIR, { recursive: true });
      copyFileSync(path, join(DOCS_DIR, name));
      written.push(join(DOCS_DIR, name));
    }
  }
  const jsonPath = join(RESULTS_DIR, "pool.json");
  writeFileSync(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
  written.push(jsonPath);

  if (JSON_OUTPUT) {
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else {
    printSummaries(summaries);
    printComparisons(comparisons);
  }
  process.stderr.write(
    `wrote ${written.map((p) => relative(process.cwd(), p)).join(", ")} in ${document.seconds.toFixed(1)} s\n`,
  );
}

await main();
