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
  type TargetCheck,
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

/** Summaries by server: of a scenario, or of one of its rounds (see {@link roundsOf}). */
export type ServerSummaries = Partial<Record<ServerName, ServerSummary>>;

/** One scenario's summaries. */
export interface ScenarioSummary {
  readonly scenario: Scenario;
  readonly servers: ServerSummaries;
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
  const servers: ServerSummaries = {};
  for (const name of SERVER_NAMES) {
    const records = runs[name];
    if (records !== undefined) servers[name] = summarizeServer(scenario, name, records);
  }
  return { scenario, servers, runs };
}

/**
 * The scenario's servers round by round: for each round that some server ran, in order, the
 * summaries of that round's records alone. Rounds interleave the servers, so the runs of one
 * round are next to each other in time, within one state of the machine.
 */
export function roundsOf(s: ScenarioSummary): ServerSummaries[] {
  const rounds = new Set<number>();
  for (const name of SERVER_NAMES) for (const r of s.runs[name] ?? []) rounds.add(r.round);
  return [...rounds]
    .sort((a, b) => a - b)
    .map((round) => {
      const servers: ServerSummaries = {};
      for (const name of SERVER_NAMES) {
        const record = s.runs[name]?.find((r) => r.round === round);
        if (record !== undefined) servers[name] = summarizeServer(s.scenario, name, [record]);
      }
      return servers;
    });
}

/**
 * The ratio of `a` to `b` on `pick`, paired by round: the median over the rounds that both ran
 * of each round's own ratio, with its lowest and highest round; `undefined` when no round has
 * both.
 *
 * This machine's speed moves between runs by up to a quarter, and in some scenarios the runs
 * fall into a fast and a slow state. The ratio of two medians over rounds then compares the
 * state that one server drew most often with the state the other drew: in one 10-round run of
 * `random-64k`, tidews was at 0.78-0.90x the ceiling in every round where both ran in the same
 * state, and at 1.01x by the medians, because the ceiling had drawn three slow rounds out of ten.
 */
export function pairedRatio(
  rounds: readonly ServerSummaries[],
  a: ServerName,
  b: ServerName,
  pick: (s: ServerSummary) => number | undefined,
): { median: number; low: number; high: number; rounds: number } | undefined {
  const ratios: number[] = [];
  for (const servers of rounds) {
    const x = servers[a];
    const y = servers[b];
    const vx = x === undefined ? undefined : pick(x);
    const vy = y === undefined ? undefined : pick(y);
    if (vx !== undefined && vy !== undefined && vy > 0 && Number.isFinite(vx / vy))
      ratios.push(vx / vy);
  }
  if (ratios.length === 0) return undefined;
  return {
    median: median(ratios),
    low: Math.min(...ratios),
    high: Math.max(...ratios),
    rounds: ratios.length,
  };
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

/**
 * `"rate ratio / per-CPU ratio"` of tidews against another server, each the median of the
 * rounds' own ratios (see {@link pairedRatio}).
 */
function both(rounds: readonly ServerSummaries[], o: ServerName): string {
  const rate = pairedRatio(rounds, "tidews", o, (s) => s.rate);
  if (rate === undefined) return "";
  const cpu = pairedRatio(rounds, "tidews", o, (s) => s.capacity);
  return `${ratio(rate.median, 1)} / ${cpu === undefined ? "" : ratio(cpu.median, 1)}`;
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
  for (const summary of summaries) {
    const { scenario, servers } = summary;
    if (scenario.measure !== "throughput") continue;
    const rounds = servers.tidews === undefined ? [] : roundsOf(summary);
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
        mine ? both(rounds, "ws") : "",
        mine ? both(rounds, "raw") : "",
        note(s),
      ]);
    }
  }
  return formatTable(
    "Throughput (per second: messages, deliveries for broadcast, handshakes for setup; MB = 10^6 B of payload;\n" +
      "µs/msg = server CPU per message, usr = its user-mode part (the rest is the kernel's);\n" +
      "vs ws / vs ceil = tidews rate ratio / ratio per server CPU-second, each the median of the rounds' own ratios)",
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

/**
 * Each round of each throughput scenario on its own (`--from FILE --per-round`): per server, the
 * rate, the server's CPU per message and its user part, its share of a core, the load
 * generator's, and the ratio to the ceiling of the same round on the metric of the scenario's
 * ceiling target (MB/s for `random-64k`, messages elsewhere). What a paired verdict is the
 * median of, and where a machine state shows (a round whose kernel time per message doubles).
 */
export function roundsTable(summaries: readonly ScenarioSummary[]): string {
  const rows: Cell[][] = [];
  for (const summary of summaries) {
    const { scenario } = summary;
    if (scenario.measure !== "throughput") continue;
    const metric =
      TARGETS.find((t) => t.scenario === scenario.name && t.ceilingMetric !== undefined)
        ?.ceilingMetric === "mbps"
        ? "mbps"
        : "rate";
    roundsOf(summary).forEach((servers, i) => {
      const ceiling = servers.raw?.[metric];
      for (const name of SERVER_NAMES) {
        const v = servers[name];
        if (v === undefined) continue;
        const own = v[metric];
        rows.push([
          scenario.name,
          String(i),
          name,
          v.rate === undefined ? "" : formatNumber(v.rate),
          v.mbps === undefined ? "" : formatNumber(v.mbps),
          v.cpuPerMsg === undefined ? "" : v.cpuPerMsg.toPrecision(3),
          v.userPerMsg === undefined ? "" : v.userPerMsg.toPrecision(3),
          pct(v.serverCpu),
          pct(v.loadCpu),
          name === "raw" || ceiling === undefined || own === undefined ? "" : ratio(own, ceiling),
          [
            v.loadBound === true ? "load-bound" : "",
            v.otherCpu !== undefined && v.otherCpu > NOISE_CPU
              ? `NOISY (others: ${Math.round(v.otherCpu * 100)}%)`
              : "",
          ]
            .filter((n) => n !== "")
            .join("; "),
        ]);
      }
    });
  }
  return formatTable(
    "Rounds (each server's run of each round; vs ceil = against the ceiling's run of the same round,\n" +
      "in MB/s for random-64k and messages elsewhere; rounds are numbered from 0, as in the JSON)",
    [
      "scenario",
      "round",
      "server",
      "rate/s",
      "MB/s",
      "µs/msg",
      "usr",
      "srv CPU",
      "load CPU",
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
   * between the two copies of the ceiling, judged as the target is (the median of the rounds'
   * ratios for a rate), then its range over the rounds: `"0.97x (0.91-1.04)"`. "" otherwise.
   */
  readonly noise: string;
}

/** The metrics of a scenario's servers as a target reads them (per CPU-second when noisy). */
function targetInputs(servers: ServerSummaries, noisy: boolean): TargetInputs {
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
 * `target` judged on each round alone (see {@link roundsOf}), in round order; empty with fewer
 * than two rounds. A round without a server the target reads is left out.
 */
function roundChecks(
  rounds: readonly ServerSummaries[],
  target: Target,
  noisy: boolean,
): TargetCheck[] {
  if (rounds.length < 2) return [];
  const checks: TargetCheck[] = [];
  for (const servers of rounds) {
    const res = target.check(targetInputs(servers, noisy));
    if (res !== undefined) checks.push(res);
  }
  return checks;
}

/**
 * The ceiling's twin against the ceiling on the metric of `target`, with the target's own
 * estimator (the median of the rounds' ratios for a rate target, else the ratio of the
 * medians), then its range over the rounds (see {@link TargetResult.noise}).
 */
function noiseOf(
  s: ScenarioSummary,
  rounds: readonly ServerSummaries[],
  target: Target,
  noisy: boolean,
): string {
  const metric = target.ceilingMetric;
  if (metric === undefined) return "";
  const pick = (servers: ServerSummaries, name: ServerName) =>
    targetInputs(servers, noisy).metric(name, metric);
  // Only the rounds that had a twin count (all of them but in runs pooled with others).
  const paired = pairedRatio(rounds, "twin", "raw", (v) => pick({ [v.server]: v }, v.server));
  if (paired === undefined) return "";
  let whole = paired.median;
  if (target.paired === undefined) {
    const both = sharedRounds(s, ["twin", "raw"]);
    const a = pick(both, "twin");
    const b = pick(both, "raw");
    if (a === undefined || b === undefined || !(b > 0)) return "";
    whole = a / b;
  }
  const range = paired.rounds < 2 ? "" : ` (${paired.low.toFixed(2)}-${paired.high.toFixed(2)})`;
  return `${whole.toFixed(2)}x${range}`;
}

/**
 * The summaries of `servers` over the rounds that all of them ran: the scenario's own when
 * every round had them all (one run), else made again from those rounds' records (runs pooled
 * from documents with different servers).
 */
function sharedRounds(s: ScenarioSummary, servers: readonly ServerName[]): ServerSummaries {
  const rounds = servers.map((name) => new Set((s.runs[name] ?? []).map((r) => r.round)));
  const [first, ...others] = rounds;
  if (first === undefined) return s.servers;
  const shared = [...first].filter((round) => others.every((o) => o.has(round)));
  if (rounds.every((set) => set.size === shared.length)) return s.servers;
  const out: ServerSummaries = {};
  for (const name of servers) {
    const records = (s.runs[name] ?? []).filter((r) => shared.includes(r.round));
    if (records.length > 0) out[name] = summarizeServer(s.scenario, name, records);
  }
  return out;
}

/**
 * Checks the issue's targets against the summaries. A rate target is judged on the median of
 * the rounds' own ratios ({@link Target.paired}, so "met" means most rounds met it); the others
 * on the medians over rounds.
 */
export function checkTargets(summaries: readonly ScenarioSummary[]): TargetResult[] {
  const out: TargetResult[] = [];
  for (const target of TARGETS) {
    const s = summaries.find((x) => x.scenario.name === target.scenario);
    if (s === undefined) continue;
    // On a busy machine, rates compare what the servers were given, not what they can do:
    // compare messages per second of server CPU instead (the same payloads, so MB/s alike).
    const noisy = SERVER_NAMES.some((n) => (s.servers[n]?.otherCpu ?? 0) > NOISE_CPU);
    const rounds = roundsOf(s);
    const perRound = roundChecks(rounds, target, noisy);
    const res =
      target.paired !== undefined && perRound.length >= 2
        ? target.paired(median(perRound.map((c) => c.figure)))
        : target.check(targetInputs(sharedRounds(s, target.servers), noisy));
    // A run is not judged when a server the target reads was load-bound or failed a check.
    const bound = target.servers.some((n) => s.servers[n]?.loadBound === true);
    const failed = target.servers.some((n) => (s.servers[n]?.errors ?? 0) > 0);
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
      rounds:
        perRound.length === 0 ? "" : `${perRound.filter((c) => c.met).length}/${perRound.length}`,
      ...(res !== undefined ? { figure: res.figure } : {}),
      noise: noiseOf(s, rounds, target, noisy),
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
          "judged as the target is, and its range over rounds: how far apart this run put two\n" +
          "identical servers)"
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
