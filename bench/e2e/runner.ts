/**
 * Runs the scenarios: for each scenario, rounds in which every server takes its turn (in a
 * rotating order, so drift hits all alike), each server in a fresh process on core 0 and a fresh
 * load generator on core 1, one server at a time.
 *
 * One run: start both processes; the load generator connects; traffic for a warm-up; the window
 * opens (server counters and load counters read); the window closes (read again); traffic stops
 * and every outstanding echo is awaited and checked; sockets are reset and both processes end.
 * A memory scenario reads the server's memory after full collections before and after the
 * connections are opened.
 *
 * @module
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LatencyHistogram } from "./histogram.js";
import type {
  LoadCommand,
  LoadReply,
  LoadResult,
  ServerCommand,
  ServerReply,
  ServerStats,
} from "./ipc.js";
import { Child, ROOT } from "./processes.js";
import type { Scenario, ServerName } from "./scenarios.js";

/** Settings of a whole benchmark run. */
export interface RunSettings {
  readonly rounds: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly quick: boolean;
  /** Write a `--cpu-prof` profile of every server process into this folder. */
  readonly profileDir?: string;
  /** Progress messages. */
  readonly progress: (message: string) => void;
  /**
   * On a shared machine: before each run, wait up to this many milliseconds for both cores to be
   * quiet (below {@link QUIET_BUSY}), and run a noisy run once more. 0 turns both off.
   */
  readonly quietWaitMs: number;
}

/** A core busier than this before a run, with nothing of ours running, is not quiet. */
export const QUIET_BUSY = 0.2;
/** Other processes above this share of a pinned core during a window make the run noisy. */
export const NOISE_CPU = 0.15;

/** Waits until every core is below {@link QUIET_BUSY} over 500 ms, at most `ms`. */
async function waitQuiet(ms: number, progress: (m: string) => void, what: string): Promise<number> {
  const deadline = Date.now() + ms;
  let busiest = 0;
  for (;;) {
    const a = coreTimes();
    await sleep(500);
    busiest = Math.max(0, ...busyBetween(a, coreTimes()));
    if (busiest < QUIET_BUSY || Date.now() >= deadline) return busiest;
    progress(`${what}: waiting for a quiet machine (a core is ${Math.round(busiest * 100)}% busy)`);
  }
}

/** The largest share of a pinned core that other processes took during the window of `r`. */
export function otherCpuOf(r: RunRecord): number | undefined {
  const [c0, c1] = r.coreBusy ?? [];
  const a = r.serverBefore;
  const b = r.serverAfter;
  if (c0 === undefined || c1 === undefined || !a || !b || !r.load || !(b.time > a.time)) {
    return undefined;
  }
  const srv = (b.cpuUser + b.cpuSystem - a.cpuUser - a.cpuSystem) / 1000 / (b.time - a.time);
  const load = (r.load.cpuUser + r.load.cpuSystem) / 1000 / r.load.elapsedMs;
  return Math.max(0, c0 - srv, c1 - load);
}

/** One run of one server in one round. */
export interface RunRecord {
  readonly round: number;
  readonly label: string;
  readonly connections: number;
  readonly connectMs: number;
  /** Throughput scenarios. */
  readonly load?: LoadResult;
  readonly serverBefore?: ServerStats;
  readonly serverAfter?: ServerStats;
  /** Memory scenarios: after full collections, before and after connecting. */
  readonly memoryBaseline?: ServerStats;
  readonly memoryLoaded?: ServerStats;
  readonly extensions: string;
  readonly errors: number;
  readonly firstError?: string;
  /** Share of each core that was busy during the window, all processes together (Linux). */
  readonly coreBusy?: number[];
}

/** Busy and total jiffies of each core, from `/proc/stat`; empty where it cannot be read. */
function coreTimes(): { busy: number; total: number }[] {
  try {
    const out: { busy: number; total: number }[] = [];
    for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (m === null) continue;
      const v = (m[2] as string).split(/\s+/).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      out[Number(m[1])] = { busy: total - idle, total };
    }
    return out;
  } catch {
    return [];
  }
}

function busyBetween(a: ReturnType<typeof coreTimes>, b: ReturnType<typeof coreTimes>): number[] {
  return b.map((t, i) => {
    const s = a[i];
    return s === undefined || t.total === s.total ? 0 : (t.busy - s.busy) / (t.total - s.total);
  });
}

/**
 * The server scripts. `BENCH_AB_SCRIPT` (a path) takes the place of the ws server, to compare two
 * builds of tidews in one interleaved run, e.g. the tidews echo of a git worktree at an older
 * commit: `BENCH_AB_SCRIPT=/tmp/base/bench/e2e/servers/tidews-echo.ts npm run bench --
 * --servers tidews,ws` (the rows labelled ws are then that build). The twin is the ceiling
 * again, in a process of its own (`--noise`).
 */
const SERVER_SCRIPTS: Record<ServerName, string> = {
  tidews: "bench/e2e/servers/tidews-echo.ts",
  ws: process.env.BENCH_AB_SCRIPT ?? "bench/e2e/servers/ws-echo.ts",
  raw: "bench/e2e/servers/raw-echo.ts",
  twin: "bench/e2e/servers/raw-echo.ts",
};

type ServerChild = Child<ServerCommand, ServerReply>;
type LoadChild = Child<LoadCommand, LoadReply>;

let requestId = 0;

async function serverStats(server: ServerChild): Promise<ServerStats> {
  const id = ++requestId;
  server.send({ type: "stats", id });
  return (await server.next("stats")).stats;
}

async function serverGc(server: ServerChild): Promise<void> {
  const id = ++requestId;
  server.send({ type: "gc", id });
  await server.next("gc");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Connections of `scenario` in this run. */
export function connectionsOf(scenario: Scenario, quick: boolean): number {
  return quick && scenario.quickConnections !== undefined
    ? scenario.quickConnections
    : scenario.job.connections;
}

/** Runs one server once. */
async function runOnce(
  scenario: Scenario,
  name: ServerName,
  round: number,
  settings: RunSettings,
): Promise<RunRecord> {
  const connections = connectionsOf(scenario, settings.quick);
  const files = connections + 256;
  // BENCH_NODE_FLAGS: extra node flags for the servers (e.g. --trace-gc), for investigations.
  const nodeFlags = [
    "--expose-gc",
    ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
  ];
  let profileDir: string | undefined;
  if (settings.profileDir !== undefined) {
    // One folder per run: V8 writes one profile per thread (the main one is the largest; tsx's
    // loader thread has its own).
    const dir = join(settings.profileDir, `${name}-${scenario.name}-r${round}`);
    // Fresh: profiles of earlier runs would be taken for this one's.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    nodeFlags.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
    profileDir = dir;
  }
  const args = ["--mode", scenario.mode, ...(scenario.job.deflate ? ["--deflate"] : [])];
  const server: ServerChild = new Child(
    { script: SERVER_SCRIPTS[name], args, nodeFlags, core: 0, files },
    () => undefined,
  );
  const load: LoadChild = new Child({ script: "bench/e2e/load.ts", core: 1, files }, (r) =>
    r.type === "fatal" ? r.message : undefined,
  );
  try {
    const ready = await server.next("ready", 30_000);
    const memory = scenario.measure === "memory";
    let memoryBaseline: ServerStats | undefined;
    if (memory) {
      await serverGc(server);
      memoryBaseline = await serverStats(server);
    }
    load.send({
      type: "setup",
      job: { ...scenario.job, connections, host: "127.0.0.1", port: ready.port },
    });
    const setup = await load.next("ready", 180_000);
    const base = {
      round,
      label: ready.label,
      connections,
      connectMs: setup.connectMs,
      extensions: setup.extensions,
    };
    if (memory) {
      await serverGc(server);
      const memoryLoaded = await serverStats(server);
      return {
        ...base,
        memoryBaseline,
        memoryLoaded,
        errors: setup.errors,
        ...(setup.firstError !== undefined ? { firstError: setup.firstError } : {}),
      };
    }
    if (setup.errors > 0) {
      return { ...base, errors: setup.errors, firstError: setup.firstError ?? "setup failed" };
    }
    load.send({ type: "start" });
    await sleep(settings.warmupMs);
    const serverBefore = await serverStats(server);
    load.send({ type: "mark" });
    await load.next("marked");
    const cores0 = coreTimes();
    await sleep(settings.measureMs);
    const cores1 = coreTimes();
    load.send({ type: "end" });
    const serverAfter = await serverStats(server);
    const { result } = await load.next("result", 60_000);
    if (profileDir !== undefined) {
      // The measurement window on the profile's clock, for bench/e2e/profile.ts.
      const window = { fromUs: serverBefore.monoUs, toUs: serverAfter.monoUs };
      writeFileSync(join(profileDir, "window.json"), `${JSON.stringify(window)}\n`);
    }
    return {
      ...base,
      load: result,
      serverBefore,
      serverAfter,
      coreBusy: busyBetween(cores0, cores1),
      errors: result.errors,
      ...(result.firstError !== undefined ? { firstError: result.firstError } : {}),
    };
  } finally {
    load.send({ type: "close" });
    await load.next("closed", 10_000).catch(() => undefined);
    server.send({ type: "stop" });
    await Promise.all([load.exit(5000), server.exit(5000)]);
  }
}

/** {@link runOnce} after waiting for a quiet machine; a failure becomes a record with an error. */
async function runGuarded(
  scenario: Scenario,
  name: ServerName,
  round: number,
  settings: RunSettings,
): Promise<RunRecord> {
  if (settings.quietWaitMs > 0) {
    await waitQuiet(settings.quietWaitMs, settings.progress, `${scenario.name}: ${name}`);
  }
  try {
    return await runOnce(scenario, name, round, settings);
  } catch (e) {
    return {
      round,
      label: name,
      connections: connectionsOf(scenario, settings.quick),
      connectMs: 0,
      extensions: "",
      errors: 1,
      firstError: e instanceof Error ? e.message : String(e),
    };
  }
}

/** All runs of one scenario, by server. */
export type ScenarioRuns = Partial<Record<ServerName, RunRecord[]>>;

/** Runs `scenario` against `servers` (those it applies to), `settings.rounds` times each. */
export async function runScenario(
  scenario: Scenario,
  servers: readonly ServerName[],
  settings: RunSettings,
): Promise<ScenarioRuns> {
  const chosen = scenario.servers.filter((s) => servers.includes(s));
  const runs: ScenarioRuns = {};
  for (let round = 0; round < settings.rounds; round++) {
    // Rotate the order: each server goes first in some round.
    const order = chosen.map((_, i) => chosen[(i + round) % chosen.length] as ServerName);
    for (const name of order) {
      settings.progress(
        `${scenario.name}: round ${round + 1}/${settings.rounds}, ${name}` +
          (settings.profileDir !== undefined ? " (profiling)" : ""),
      );
      let record = await runGuarded(scenario, name, round, settings);
      const other = otherCpuOf(record);
      if (settings.quietWaitMs > 0 && other !== undefined && other > NOISE_CPU) {
        settings.progress(
          `${scenario.name}: ${name}: other processes took ${Math.round(other * 100)}% of a core, once more`,
        );
        record = await runGuarded(scenario, name, round, settings);
      }
      if (record.errors > 0) {
        settings.progress(
          `${scenario.name}: ${name}: ${record.errors} errors: ${record.firstError}`,
        );
      }
      const list = runs[name] ?? [];
      list.push(record);
      runs[name] = list;
    }
  }
  return runs;
}

/** Merges the latency histograms of `records`. */
export function mergedLatency(records: readonly RunRecord[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const r of records)
    if (r.load !== undefined) h.merge(LatencyHistogram.fromPairs(r.load.latency));
  return h;
}

/** The default folder for profiles. */
export const PROFILE_DIR: string = join(ROOT, "bench", "results", "profiles");
