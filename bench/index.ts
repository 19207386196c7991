/**
 * `npm run bench`: the end-to-end benchmark of issue 7. tidews' echo server against `ws` (with
 * `bufferutil`, as its users run it) and a raw `node:net` echo that only handshakes and reframes
 * (the ceiling), each in its own process pinned to core 0, driven by a load generator on core 1
 * that uses no WebSocket library and checks every echo. See `docs/bench/e2e.md`.
 *
 * Usage: `npm run -s bench -- [options]` (`-s` keeps npm's banner off stdout, for `--json`):
 *
 * - `--quick`: one short round with fewer connections (under a minute), for CI: it checks that
 *   the harness works and that every echo is right, never a timing;
 * - `--json`: one JSON document on stdout instead of the tables (progress stays on stderr);
 * - `--scenario NAME[,NAME...]`: only these scenarios (`--list` prints them);
 * - `--servers tidews,ws,raw`: only these servers;
 * - `--noise`: also run `twin`, a second copy of the ceiling, wherever the ceiling runs: the
 *   targets table then shows, next to each target against the ceiling, the same ratio between
 *   the two identical copies (an A/A test: this run's noise);
 * - `--rounds N`, `--warmup MS`, `--ms MS`: rounds per server, warm-up and window of each run;
 * - `--quiet-wait MS`: on a shared machine, wait up to MS (default 0: off) before each run for
 *   both cores to be quiet, and repeat once a run during which other processes took more than
 *   15% of a pinned core (the note column flags noisy runs either way);
 * - `--profile`: run the tidews server under `--cpu-prof` (profiles in
 *   `bench/results/profiles/`; figures of a profiled run are not results);
 * - `--docs`: also copy the charts to `docs/bench/`;
 * - `--from FILE`: run nothing; print the tables of a JSON document written earlier (`--json`,
 *   or `bench/results/e2e.json`; gzipped when the name ends in `.gz`, as the runs kept in
 *   `docs/bench/runs/` are), judged by this checkout's summary code. `--from A,B,...`
 *   (several documents): one table of the targets over those runs, each run's figure side by
 *   side, with how many runs met each target. `--per-round` (with one document): also every
 *   round of every throughput scenario on its own, against the ceiling of the same round.
 *
 * Charts and the JSON document are always written to `bench/results/`.
 *
 * @module
 */

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { charts } from "./e2e/charts.js";
import { fileLimits, HAS_TASKSET, ROOT } from "./e2e/processes.js";
import { PROFILE_DIR, type RunSettings, runScenario } from "./e2e/runner.js";
import { DEFAULT_SERVERS, SCENARIOS, SERVER_NAMES, type ServerName } from "./e2e/scenarios.js";
import {
  checkTargets,
  memoryTable,
  poolRuns,
  roundsTable,
  type SavedScenario,
  type ScenarioSummary,
  summarizeScenario,
  type TargetResult,
  targetsOverRuns,
  targetsTable,
  throughputTable,
} from "./e2e/summary.js";
import { flagValue, hasFlag, progress, progressDone } from "./lib/report.js";

const QUICK = hasFlag("quick");
const JSON_OUT = hasFlag("json");

function intFlag(name: string, fallback: number): number {
  const v = flagValue(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name}: expected a non-negative integer, got '${v}'`);
  return n;
}

function listFlag(name: string): string[] | undefined {
  const v = flagValue(name);
  return v === undefined
    ? undefined
    : v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
}

/** What a run prints: a header line, then the throughput, memory and targets tables. */
function printTables(
  machine: { cpu: string; cores: number; node: string },
  settings: { rounds: number; measureMs: number },
  seconds: number,
  summaries: readonly ScenarioSummary[],
  targets: ReturnType<typeof checkTargets>,
): void {
  process.stdout.write(
    `tidews end-to-end benchmark: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ` +
      `${settings.rounds} round(s) of ${settings.measureMs} ms, ${seconds.toFixed(0)} s\n\n`,
  );
  if (summaries.some((s) => s.scenario.measure === "throughput"))
    process.stdout.write(`${throughputTable(summaries)}\n`);
  if (summaries.some((s) => s.scenario.measure === "memory"))
    process.stdout.write(`${memoryTable(summaries)}\n`);
  if (targets.length > 0) process.stdout.write(`${targetsTable(targets)}\n`);
}

/** A document written by `--json` (or `bench/results/e2e.json`), as `--from` reads it. */
interface SavedRun {
  machine: { cpu: string; cores: number; node: string };
  date?: string;
  settings: { rounds: number; measureMs: number; seconds: number };
  scenarios: SavedScenario[];
}

/** The summaries of a saved document's scenarios, from their per-round records. */
function summariesOf(scenarios: readonly SavedScenario[], file: string): ScenarioSummary[] {
  const summaries: ScenarioSummary[] = [];
  for (const saved of scenarios) {
    const scenario = SCENARIOS.find((s) => s.name === saved.name);
    if (scenario === undefined) {
      process.stderr.write(`--from ${file}: skipping unknown scenario ${saved.name}\n`);
      continue;
    }
    summaries.push(summarizeScenario(scenario, saved.runs));
  }
  return summaries;
}

/**
 * `--from FILE`: the tables of a saved document. `--from A,B,...`: the targets over those runs,
 * one column each (numbered in the order given; the dates are listed under the table).
 */
function printSaved(files: readonly string[]): number {
  // The runs kept in docs/bench/runs/ are gzipped.
  const read = (file: string) =>
    (file.endsWith(".gz") ? gunzipSync(readFileSync(file)) : readFileSync(file)).toString("utf8");
  const docs = files.map((file) => JSON.parse(read(file)) as SavedRun);
  if (docs.length === 1) {
    const doc = docs[0] as SavedRun;
    const summaries = summariesOf(doc.scenarios, files[0] as string);
    const targets = checkTargets(summaries);
    printTables(doc.machine, doc.settings, doc.settings.seconds, summaries, targets);
    if (hasFlag("per-round")) process.stdout.write(`${roundsTable(summaries)}\n`);
    return 0;
  }
  const results: TargetResult[][] = docs.map((doc, i) =>
    checkTargets(summariesOf(doc.scenarios, files[i] as string)),
  );
  const pooled = poolRuns(
    docs.map((doc) => ({ rounds: doc.settings.rounds, scenarios: doc.scenarios })),
  );
  const all = checkTargets(summariesOf(pooled, files.join(",")));
  process.stdout.write(`${targetsOverRuns(results, all)}\n`);
  docs.forEach((doc, i) => {
    process.stdout.write(
      `run ${i + 1}: ${files[i]}, ${doc.date ?? "no date"}, ${doc.settings.rounds} round(s) of ` +
        `${doc.settings.measureMs} ms, node ${doc.machine.node}\n`,
    );
  });
  return 0;
}

async function main(): Promise<number> {
  const from = flagValue("from");
  if (from !== undefined) return printSaved(from.split(",").filter((f) => f !== ""));
  if (hasFlag("list")) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${s.title}\n`);
    return 0;
  }
  const names = listFlag("scenario");
  const unknown = names?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario: ${unknown.join(", ")} (try --list)\n`);
    return 2;
  }
  const scenarios =
    names === undefined ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
  const serverList = listFlag("servers") ?? [...DEFAULT_SERVERS];
  const badServer = serverList.filter((s) => !(SERVER_NAMES as readonly string[]).includes(s));
  if (badServer.length > 0) {
    process.stderr.write(`unknown server: ${badServer.join(", ")} (${SERVER_NAMES.join(", ")})\n`);
    return 2;
  }
  // The twin is only worth its time next to the ceiling it copies.
  if (hasFlag("noise")) {
    for (const name of ["raw", "twin"]) if (!serverList.includes(name)) serverList.push(name);
  }
  const servers = serverList as ServerName[];
  const settings: RunSettings = {
    quick: QUICK,
    rounds: intFlag("rounds", QUICK ? 1 : 5),
    warmupMs: intFlag("warmup", QUICK ? 200 : 1000),
    measureMs: intFlag("ms", QUICK ? 500 : 3000),
    ...(hasFlag("profile") ? { profileDir: PROFILE_DIR } : {}),
    progress,
    quietWaitMs: intFlag("quiet-wait", 0),
  };

  const limits = fileLimits();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memory: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    taskset: HAS_TASKSET,
    openFiles: limits,
    loadAverage: os.loadavg(),
  };
  progress(
    `e2e bench: ${scenarios.length} scenarios, ${servers.join("/")}, ${settings.rounds} round(s), ` +
      `${settings.warmupMs}+${settings.measureMs} ms; ${machine.cores} cores, ` +
      `taskset ${HAS_TASKSET ? "on (server core 0, load core 1)" : "absent (no pinning)"}, ` +
      `ulimit -n ${limits.soft}/${limits.hard}, load average ${machine.loadAverage.map((v) => v.toFixed(2)).join(" ")}`,
  );
  const started = Date.now();
  const summaries: ScenarioSummary[] = [];
  for (const scenario of scenarios) {
    const runs = await runScenario(scenario, servers, settings);
    summaries.push(summarizeScenario(scenario, runs));
  }
  progressDone();
  const seconds = (Date.now() - started) / 1000;
  const targets = checkTargets(summaries);

  const resultsDir = join(ROOT, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const files = charts(summaries);
  for (const [file, svg] of Object.entries(files)) writeFileSync(join(resultsDir, file), svg);
  const document = {
    benchmark: "e2e",
    date: new Date().toISOString(),
    machine,
    settings: { ...settings, progress: undefined, seconds },
    scenarios: summaries.map((s) => ({
      name: s.scenario.name,
      title: s.scenario.title,
      unit: s.scenario.unit,
      measure: s.scenario.measure,
      servers: s.servers,
      runs: s.runs,
    })),
    targets,
  };
  writeFileSync(join(resultsDir, "e2e.json"), `${JSON.stringify(document, null, 2)}\n`);
  if (hasFlag("docs")) {
    const docs = join(ROOT, "docs", "bench");
    mkdirSync(docs, { recursive: true });
    for (const file of Object.keys(files)) copyFileSync(join(resultsDir, file), join(docs, file));
  }

  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify(document)}\n`);
  } else {
    printTables(machine, settings, seconds, summaries, targets);
    process.stdout.write(
      `charts and JSON: ${relative(process.cwd(), resultsDir) || "."}/ (${Object.keys(files).join(", ")})\n`,
    );
  }
  const errors = summaries.reduce(
    (n, s) => n + Object.values(s.servers).reduce((m, v) => m + (v?.errors ?? 0), 0),
    0,
  );
  if (errors > 0)
    process.stderr.write(`e2e bench: ${errors} failed checks (see the note column)\n`);
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    progressDone();
    process.stderr.write(
      `e2e bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
