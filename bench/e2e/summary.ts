/**
 * From the runs of a scenario to the figures the report shows: medians over rounds, latency
 * percentiles over the merged histograms, ratios, the load-bound flag and the targets.
 *
 * @module
 */

import { type Cell, formatBytes, formatNumber, formatTable, ratio } from "../lib/report.js";
import { median } from "../lib/stats.js";
import {
  mergedLatency,
  NOISE_CPU,
  otherCpuOf,
  type RunRecord,
  type ScenarioRuns,
} from "./runner.js";
import {
  type Scenario,
  SERVER_NAMES,
  type ServerName,
  TARGETS,
  type Target,
  type TargetInputs,
} from "./scenarios.js";

/**
 * A load generator above this share of its core, with the server below it, was the bottleneck:
 * the run is flagged and its figures are not a result.
 */
export const LOAD_BOUND_CPU = 0.9;

/** The figures of one server in one scenario. */
export interface ServerSummary {
  readonly server: ServerName;
  readonly label: string;
  readonly rounds: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly verified: number;
  readonly extensions: string;
  // Throughput scenarios (medians over rounds; latency over all rounds).
  readonly rate?: number;
  readonly mbps?: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly p999?: number;
  readonly serverCpu?: number;
  /**
   * Server CPU time per message, microseconds. Unlike the rate it hardly moves when other
   * processes share the cores, so it still compares servers on a busy machine.
   */
  readonly cpuPerMsg?: number;
  /**
   * The user-mode part of {@link cpuPerMsg}, microseconds: the server's own code (JavaScript,
   * Node's C++, the native unmask). The rest is the kernel's (system calls, the copies of the
   * bytes, TCP), which moves with the machine's state for every server alike; this part is
   * what a library can change.
   */
  readonly userPerMsg?: number;
  /** Messages per second of server CPU: `1e6 / cpuPerMsg`, what one saturated core would do. */
  readonly capacity?: number;
  readonly serverRss?: number;
  readonly loadCpu?: number;
  readonly loadBound?: boolean;
  /** The largest share of the server's or the load's core taken by other processes. */
  readonly otherCpu?: number;
  readonly poolHit?: number;
  // Memory scenarios.
  readonly connections?: number;
  readonly rss?: number;
  readonly rssPerConn?: number;
  /**
   * RSS growth per connection without V8's young generation (see `ServerStats.young`): what
   * the connections hold. The young generation grows with the allocation rate of the handshake
   * burst and stays grown, empty, after full collections: from 2.5 MiB to 17.7 MiB in one run
   * of the bare socket and to 25.8 MiB in the next (800 B per connection of difference in RSS
   * growth over 10,000 connections). Shown next to RSS/conn, which the target judges (issue
   * 7 names RSS): without the young generation the noise left is as large in bytes, on a figure
   * half the size.
   */
  readonly heldPerConn?: number;
  readonly heapPerConn?: number;
  readonly connectMs?: number;
}

/** One scenario's summaries. */
export interface ScenarioSummary {
  readonly scenario: Scenario;
  readonly servers: Partial<Record<ServerName, ServerSummary>>;
  readonly runs: ScenarioRuns;
}

/** The CPU times of a server's stats. */
interface CpuStats {
  readonly cpuUser: number;
  readonly cpuSystem: number;
  readonly time: number;
}

/**
 * The server's CPU use between two of its stats, as a share of one core (of its own clock):
 * user and system time, or user time alone with `userOnly`.
 */
function cpuOf(before: CpuStats, after: CpuStats, userOnly = false): number {
  let us = after.cpuUser - before.cpuUser;
  if (!userOnly) us += after.cpuSystem - before.cpuSystem;
  return after.time > before.time ? us / 1000 / (after.time - before.time) : Number.NaN;
}

function medianOf(
  records: readonly RunRecord[],
  f: (r: RunRecord) => number | undefined,
): number | undefined {
  const values = records.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length === 0 ? undefined : median(values);
}

/** Summarizes the runs of one server. */
export function summarizeServer(
  scenario: Scenario,
  server: ServerName,
  records: readonly RunRecord[],
): ServerSummary {
  const ok = records.filter((r) => r.errors === 0);
  const errors = records.reduce((s, r) => s + r.errors, 0);
  const firstError = records.find((r) => r.firstError !== undefined)?.firstError;
  const verified = records.reduce((s, r) => s + (r.load?.verified ?? 0), 0);
  const common = {
    server,
    label: records[0]?.label ?? server,
    rounds: records.length,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    verified,
    extensions: records[0]?.extensions ?? "",
    connectMs: medianOf(ok, (r) => r.connectMs),
  };
  if (scenario.measure === "memory") {
    const per = (f: (s: NonNullable<RunRecord["memoryLoaded"]>) => number) =>
      medianOf(ok, (r) =>
        r.memoryLoaded !== undefined && r.memoryBaseline !== undefined
          ? (f(r.memoryLoaded) - f(r.memoryBaseline)) / r.connections
          : undefined,
      );
    return {
      ...common,
      connections: records[0]?.connections,
      rss: medianOf(ok, (r) => r.memoryLoaded?.rss),
      rssPerConn: per((s) => s.rss),
      heldPerConn: per((s) => (s.young === undefined ? Number.NaN : s.rss - s.young)),
      heapPerConn: per((s) => s.heapUsed),
    };
  }
  const seconds = (r: RunRecord) => (r.load?.elapsedMs ?? Number.NaN) / 1000;
  const serverCpu = medianOf(ok, (r) =>
    r.serverBefore && r.serverAfter ? cpuOf(r.serverBefore, r.serverAfter) : undefined,
  );
  const loadCpu = medianOf(ok, (r) =>
    r.load ? (r.load.cpuUser + r.load.cpuSystem) / 1e6 / seconds(r) : undefined,
  );
  // Server CPU microseconds per message: its share of a core over the load's message rate.
  const perMessage = (userOnly: boolean) =>
    medianOf(ok, (r) => {
      if (!r.serverBefore || !r.serverAfter || !r.load || r.load.messages === 0) return undefined;
      const share = cpuOf(r.serverBefore, r.serverAfter, userOnly);
      return (share / (r.load.messages / seconds(r))) * 1e6;
    });
  const cpuPerMsg = perMessage(false);
  const userPerMsg = perMessage(true);
  const hist = mergedLatency(ok);
  const otherCpu = medianOf(ok, otherCpuOf);
  const poolHit = medianOf(ok, (r) => {
    const a = r.serverBefore?.pool;
    const b = r.serverAfter?.pool;
    if (a === undefined || b === undefined || b.gets === a.gets) return undefined;
    return (b.hits - a.hits) / (b.gets - a.gets);
  });
  return {
    ...common,
    rate: medianOf(ok, (r) => (r.load ? r.load.messages / seconds(r) : undefined)),
    mbps: medianOf(ok, (r) => (r.load ? r.load.bytes / 1e6 / seconds(r) : undefined)),
    p50: hist.total > 0 ? hist.quantile(0.5) : undefined,
    p99: hist.total > 0 ? hist.quantile(0.99) : undefined,
    p999: hist.total > 0 ? hist.quantile(0.999) : undefined,
    serverCpu,
    ...(cpuPerMsg !== undefined ? { cpuPerMsg, capacity: 1e6 / cpuPerMsg } : {}),
    ...(userPerMsg !== undefined ? { userPerMsg } : {}),
    serverRss: medianOf(ok, (r) => r.serverAfter?.rss),
    loadCpu,
    loadBound:
      loadCpu !== undefined &&
      serverCpu !== undefined &&
      loadCpu >= LOAD_BOUND_CPU &&
      serverCpu < LOAD_BOUND_CPU,
    ...(otherCpu !== undefined ? { otherCpu } : {}),
    ...(poolHit !== undefined ? { poolHit } : {}),
  };
}

/** Summarizes a scenario. */
export function summarizeScenario(scenario: Scenario, runs: ScenarioRuns): ScenarioSummary {
  const servers: Partial<Record<ServerName, ServerSummary>> = {};
  for (const name of SERVER_NAMES) {
    const records = runs[name];
    if (records !== undefined) servers[name] = summarizeServer(scenario, name, records);
  }
  return { scenario, servers, runs };
}

/** A latency in microseconds for a table: `"87µs"`, `"1.23ms"`. */
export function formatLatency(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return "";
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 999_500) return `${(us / 1000).toPrecision(3)}ms`;
  return `${(us / 1e6).toPrecision(3)}s`;
}

function pct(v: number | undefined): string {
  return v === undefined ? "" : `${Math.round(v * 100)}%`;
}

function r(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? "" : ratio(a, b);
}

/** `"rate ratio / per-CPU ratio"` of tidews against another server. */
function both(t: ServerSummary | undefined, o: ServerSummary | undefined): string {
  if (t === undefined || o === undefined) return "";
  return `${r(t.rate, o.rate)} / ${r(t.capacity, o.capacity)}`;
}

function note(s: ServerSummary): string {
  const notes: string[] = [];
  if (s.errors > 0) notes.push(`FAILED: ${s.errors} errors (${s.firstError ?? ""})`);
  if (s.loadBound === true) notes.push("LOAD-BOUND: not a result");
  if (s.otherCpu !== undefined && s.otherCpu > NOISE_CPU) {
    notes.push(`NOISY (others: ${Math.round(s.otherCpu * 100)}% of a core)`);
  }
  if (s.poolHit !== undefined) notes.push(`pool ${(s.poolHit * 100).toFixed(2)}%`);
  return notes.join("; ");
}

/** The throughput table. */
export function throughputTable(summaries: readonly ScenarioSummary[]): string {
  const rows: Cell[][] = [];
  for (const { scenario, servers } of summaries) {
    if (scenario.measure !== "throughput") continue;
    const t = servers.tidews;
    for (const name of SERVER_NAMES) {
      const s = servers[name];
      if (s === undefined) continue;
      const mine = name === "tidews";
      rows.push([
        scenario.name,
        name,
        s.rate === undefined ? "" : formatNumber(s.rate),
        s.mbps === undefined ? "" : formatNumber(s.mbps),
        formatLatency(s.p50),
        formatLatency(s.p99),
        formatLatency(s.p999),
        pct(s.serverCpu),
        s.cpuPerMsg === undefined ? "" : s.cpuPerMsg.toPrecision(3),
        s.userPerMsg === undefined ? "" : s.userPerMsg.toPrecision(3),
        s.serverRss === undefined ? "" : formatBytes(s.serverRss),
        pct(s.loadCpu),
        mine ? both(t, servers.ws) : "",
        mine ? both(t, servers.raw) : "",
        note(s),
      ]);
    }
  }
  return formatTable(
    "Throughput (per second: messages, deliveries for broadcast, handshakes for setup; MB = 10^6 B of payload;\n" +
      "µs/msg = server CPU per message, usr = its user-mode part (the rest is the kernel's);\n" +
      "vs ws / vs ceil = tidews rate ratio / ratio per server CPU-second)",
    [
      "scenario",
      "server",
      "rate/s",
      "MB/s",
      "p50",
      "p99",
      "p99.9",
      "srv CPU",
      "µs/msg",
      "usr",
      "srv RSS",
      "load CPU",
      "vs ws",
      "vs ceil",
      "note",
    ],
    rows,
  );
}

/** The memory table. */
export function memoryTable(summaries: readonly ScenarioSummary[]): string {
  const rows: Cell[][] = [];
  for (const { scenario, servers } of summaries) {
    if (scenario.measure !== "memory") continue;
    const t = servers.tidews;
    for (const name of SERVER_NAMES) {
      const s = servers[name];
      if (s === undefined) continue;
      const mine = name === "tidews";
      rows.push([
        scenario.name,
        name,
        s.connections ?? "",
        s.rss === undefined ? "" : formatBytes(s.rss),
        s.rssPerConn === undefined ? "" : formatBytes(s.rssPerConn),
        s.heldPerConn === undefined ? "" : formatBytes(s.heldPerConn),
        s.heapPerConn === undefined ? "" : formatBytes(s.heapPerConn),
        mine ? r(t?.rssPerConn, servers.ws?.rssPerConn) : "",
        mine ? r(t?.rssPerConn, servers.raw?.rssPerConn) : "",
        mine ? r(t?.rss, servers.ws?.rss) : "",
        note(s),
      ]);
    }
  }
  return formatTable(
    "Memory (server, after full collections; per connection = growth over the idle server / connections;\n" +
      "held = RSS without V8's young generation, which the handshake burst grows and leaves empty; vs = RSS)",
    [
      "scenario",
      "server",
      "conns",
      "RSS",
      "RSS/conn",
      "held/conn",
      "heap/conn",
      "vs ws",
      "vs ceil",
      "RSS vs ws",
      "note",
    ],
    rows,
  );
}

/** One checked target. */
export interface TargetResult {
  readonly scenario: string;
  readonly target: string;
  readonly value: string;
  /** `"met"`, `"MISSED"`, or why it could not be judged. */
  readonly verdict: string;
  /**
   * The same target judged on each round alone (the servers' runs of that round, next to each
   * other in time): `"4/5"` met in four rounds of five; "" with one round.
   */
  readonly rounds: string;
  /** The number the threshold was applied to (`TargetCheck.figure`). */
  readonly figure?: number;
  /**
   * For a target against the ceiling, in a run with its twin (`--noise`): the same ratio
   * between the two copies of the ceiling, from the medians, then its range over the rounds:
   * `"0.97x (0.91-1.04)"`. "" otherwise.
   */
  readonly noise: string;
}

/** The metrics of a scenario's servers as a target reads them (per CPU-second when noisy). */
function targetInputs(
  servers: Partial<Record<ServerName, ServerSummary>>,
  noisy: boolean,
): TargetInputs {
  return {
    metric(server, name) {
      const v = servers[server];
      if (v === undefined) return undefined;
      if (noisy && (name === "rate" || name === "mbps")) return v.capacity;
      return v[name === "perConn" ? "rssPerConn" : name];
    },
  };
}

/**
 * How many rounds meet `target` when each is judged alone: the verdict's spread. Rounds
 * interleave the servers, so one round's runs are minutes apart at most; a target met in most
 * rounds but missed by the medians (or the reverse) sits inside this machine's noise.
 */
function roundsMet(s: ScenarioSummary, target: Target, noisy: boolean): string {
  // Every round that some server ran; a round without a server the target reads is not judged.
  const rounds = new Set<number>();
  for (const name of SERVER_NAMES) for (const r of s.runs[name] ?? []) rounds.add(r.round);
  if (rounds.size < 2) return "";
  let met = 0;
  let judged = 0;
  for (const round of [...rounds].sort((a, b) => a - b)) {
    const servers: Partial<Record<ServerName, ServerSummary>> = {};
    for (const name of SERVER_NAMES) {
      const record = s.runs[name]?.find((r) => r.round === round);
      if (record !== undefined) servers[name] = summarizeServer(s.scenario, name, [record]);
    }
    const res = target.check(targetInputs(servers, noisy));
    if (res === undefined) continue;
    judged++;
    if (res.met) met++;
  }
  return judged === 0 ? "" : `${met}/${judged}`;
}

/**
 * The ceiling's twin against the ceiling on the metric of `target`, from the medians and round
 * by round (see {@link TargetResult.noise}).
 */
function noiseOf(s: ScenarioSummary, target: Target, noisy: boolean): string {
  const metric = target.ceilingMetric;
  if (metric === undefined) return "";
  const twinOver = (servers: Partial<Record<ServerName, ServerSummary>>): number | undefined => {
    const m = targetInputs(servers, noisy);
    const a = m.metric("twin", metric);
    const b = m.metric("raw", metric);
    return a === undefined || b === undefined || !(b > 0) ? undefined : a / b;
  };
  // The ceiling's rounds that had a twin (all of them but in runs pooled with others).
  const twins = s.runs.twin ?? [];
  const paired = (s.runs.raw ?? []).filter((r) => twins.some((t) => t.round === r.round));
  if (twins.length === 0 || paired.length === 0) return "";
  const whole = twinOver({
    twin: summarizeServer(s.scenario, "twin", twins),
    raw: summarizeServer(s.scenario, "raw", paired),
  });
  if (whole === undefined) return "";
  const perRound: number[] = [];
  for (const record of twins) {
    const raw = paired.find((r) => r.round === record.round);
    if (raw === undefined) continue;
    const v = twinOver({
      twin: summarizeServer(s.scenario, "twin", [record]),
      raw: summarizeServer(s.scenario, "raw", [raw]),
    });
    if (v !== undefined) perRound.push(v);
  }
  const range =
    perRound.length < 2
      ? ""
      : ` (${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)})`;
  return `${whole.toFixed(2)}x${range}`;
}

/** Checks the targets against the summaries. */
export function checkTargets(summaries: readonly ScenarioSummary[]): TargetResult[] {
  const out: TargetResult[] = [];
  for (const target of TARGETS) {
    const s = summaries.find((x) => x.scenario.name === target.scenario);
    if (s === undefined) continue;
    // On a busy machine, rates compare what the servers were given, not what they can do:
    // compare messages per second of server CPU instead (the same payloads, so MB/s alike).
    const noisy = SERVER_NAMES.some((n) => (s.servers[n]?.otherCpu ?? 0) > NOISE_CPU);
    const res = target.check(targetInputs(s.servers, noisy));
    const bound = SERVER_NAMES.some((n) => s.servers[n]?.loadBound === true);
    const failed = SERVER_NAMES.some((n) => (s.servers[n]?.errors ?? 0) > 0);
    out.push({
      scenario: target.scenario,
      target: target.text,
      value: res?.value ?? "n/a",
      verdict:
        res === undefined
          ? "n/a"
          : failed
            ? "n/a (errors)"
            : bound
              ? `${res.met ? "met" : "MISSED"} (load-bound run)`
              : `${res.met ? "met" : "MISSED"}${noisy && target.rate === true ? " (per server CPU-second: noisy run)" : ""}`,
      rounds: roundsMet(s, target, noisy),
      ...(res !== undefined ? { figure: res.figure } : {}),
      noise: noiseOf(s, target, noisy),
    });
  }
  return out;
}

/** The targets table; with the ceiling's twin in the run, a column for its A/A ratio. */
export function targetsTable(results: readonly TargetResult[]): string {
  const noise = results.some((t) => t.noise !== "");
  return formatTable(
    noise
      ? "Targets of issue 7 (tidews, same run; A/A = the ceiling's twin against the ceiling,\n" +
          "medians and range over rounds: how far apart this run put two identical servers)"
      : "Targets of issue 7 (tidews, same run)",
    ["scenario", "target", "measured", "verdict", "rounds met", ...(noise ? ["A/A"] : [])],
    results.map((t) => [
      t.scenario,
      t.target,
      t.value,
      t.verdict,
      t.rounds,
      ...(noise ? [t.noise] : []),
    ]),
  );
}

/** Whether a verdict is a pass (load-bound and failed runs are not judged). */
function judged(t: TargetResult): boolean | undefined {
  if (t.verdict.startsWith("met") && !t.verdict.includes("load-bound")) return true;
  if (t.verdict.startsWith("MISSED") && !t.verdict.includes("load-bound")) return false;
  return undefined;
}

/**
 * The targets over several runs (`--from A.json,B.json,...`): per target, each run's figure
 * (`*` where the run missed it, `?` where it could not be judged), the runs that met it, and the
 * median and range of the figures of the runs that were judged. With `pooled` (the targets
 * judged on every round of every run at once, see {@link poolRuns}), that verdict too, with its
 * rounds met.
 */
export function targetsOverRuns(
  runs: readonly (readonly TargetResult[])[],
  pooled?: readonly TargetResult[],
): string {
  const rows: Cell[][] = [];
  for (const target of TARGETS) {
    const per = runs.map((results) =>
      results.find((t) => t.scenario === target.scenario && t.target === target.text),
    );
    // No row for a target that no run measured (a scenario left out, a figure not reported).
    if (per.every((t) => t?.figure === undefined)) continue;
    const figures: number[] = [];
    let met = 0;
    let count = 0;
    const cells = per.map((t) => {
      if (t?.figure === undefined || !Number.isFinite(t.figure)) return "";
      const verdict = judged(t);
      if (verdict === undefined) return `${target.format(t.figure)}?`;
      count++;
      if (verdict) met++;
      figures.push(t.figure);
      return `${target.format(t.figure)}${verdict ? "" : "*"}`;
    });
    const all = pooled?.find((t) => t.scenario === target.scenario && t.target === target.text);
    const allVerdict = all === undefined ? undefined : judged(all);
    rows.push([
      target.scenario,
      target.text,
      ...cells,
      `${met}/${count}`,
      figures.length > 0 ? target.format(median(figures)) : "",
      figures.length > 1
        ? `${target.format(Math.min(...figures))}-${target.format(Math.max(...figures))}`
        : "",
      ...(pooled === undefined
        ? []
        : [
            all?.figure === undefined
              ? ""
              : `${target.format(all.figure)}${allVerdict === false ? "*" : allVerdict === undefined ? "?" : ""}`,
            all?.rounds ?? "",
            all?.noise ?? "",
          ]),
    ]);
  }
  return formatTable(
    `Targets of issue 7 over ${runs.length} runs (* missed in that run; ? not judged: load-bound or failed)` +
      (pooled === undefined
        ? ""
        : ";\nall rounds = the medians over every round of every run, judged at once, its rounds met, and A/A"),
    [
      "scenario",
      "target",
      ...runs.map((_, i) => `run ${i + 1}`),
      "met",
      "median",
      "range",
      ...(pooled === undefined ? [] : ["all rounds", "rounds met", "A/A"]),
    ],
    rows,
  );
}

/**
 * The runs of several documents as one: each scenario's records by server, their rounds
 * renumbered after those of the documents before (`rounds`: how many each document ran), so
 * that a round still pairs the servers' runs that were next to each other in time.
 */
export function poolRuns(
  docs: readonly { readonly rounds: number; readonly scenarios: readonly SavedScenario[] }[],
): { name: string; runs: ScenarioRuns }[] {
  const out = new Map<string, ScenarioRuns>();
  let offset = 0;
  for (const doc of docs) {
    for (const saved of doc.scenarios) {
      let merged = out.get(saved.name);
      if (merged === undefined) {
        merged = {};
        out.set(saved.name, merged);
      }
      for (const name of SERVER_NAMES) {
        const records = saved.runs[name];
        if (records === undefined) continue;
        const list = merged[name] ?? [];
        for (const r of records) list.push({ ...r, round: r.round + offset });
        merged[name] = list;
      }
    }
    offset += doc.rounds;
  }
  return [...out].map(([name, runs]) => ({ name, runs }));
}

/** One scenario of a saved document: its name and its records by server. */
export interface SavedScenario {
  readonly name: string;
  readonly runs: ScenarioRuns;
}
