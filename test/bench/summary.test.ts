// The e2e benchmark's verdicts: each target is also judged round by round (its spread).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServerStats } from "../../bench/e2e/ipc.js";
import type { RunRecord, ScenarioRuns } from "../../bench/e2e/runner.js";
import { SCENARIOS } from "../../bench/e2e/scenarios.js";
import {
  checkTargets,
  poolRuns,
  roundsTable,
  summarizeScenario,
  targetsOverRuns,
  targetsTable,
  throughputTable,
} from "../../bench/e2e/summary.js";

function stats(rss: number, heapUsed: number, young?: number): ServerStats {
  return {
    ...(young !== undefined ? { young } : {}),
    time: 0,
    monoUs: 0,
    cpuUser: 0,
    cpuSystem: 0,
    rss,
    heapUsed,
    heapTotal: 0,
    external: 0,
    arrayBuffers: 0,
    connections: 0,
  };
}

/** An idle run: `perConn` bytes of RSS growth per connection over 1,000 connections. */
function idleRun(round: number, perConn: number): RunRecord {
  return {
    round,
    label: "test",
    connections: 1000,
    connectMs: 1,
    memoryBaseline: stats(50e6, 5e6),
    memoryLoaded: stats(50e6 + perConn * 1000, 5e6 + 1000),
    extensions: "",
    errors: 0,
  };
}

const idle = SCENARIOS.find((s) => s.name === "idle-10k");

describe("e2e summary: targets", () => {
  it("judges the medians, and counts the rounds that meet the target on their own", () => {
    assert.ok(idle !== undefined);
    // tidews against the bare socket, per round: 1.00x, 1.10x, 1.02x (target <= 1.05x).
    const runs: ScenarioRuns = {
      tidews: [idleRun(0, 5000), idleRun(1, 5500), idleRun(2, 5100)],
      raw: [idleRun(0, 5000), idleRun(1, 5000), idleRun(2, 5000)],
    };
    const [result] = checkTargets([summarizeScenario(idle, runs)]);
    assert.ok(result !== undefined);
    assert.equal(result.verdict, "met", "the median, 5100 against 5000");
    assert.equal(result.rounds, "2/3");
    assert.match(targetsTable([result]), /rounds met[\s\S]*2\/3/);
  });

  it("reports RSS without the young generation next to RSS, and judges RSS", () => {
    assert.ok(idle !== undefined);
    // Both hold 2,500 B per connection; tidews' young generation grew by 2 MB more (2,000 B per
    // connection of RSS growth that no connection holds).
    const run = (young: number): RunRecord => ({
      ...idleRun(0, 0),
      memoryBaseline: stats(50e6, 5e6, 1e6),
      memoryLoaded: stats(50e6 + 2500 * 1000 + young, 5e6 + 1000, 1e6 + young),
    });
    const summary = summarizeScenario(idle, { tidews: [run(4e6)], raw: [run(2e6)] });
    assert.equal(summary.servers.tidews?.rssPerConn, 6500);
    assert.equal(summary.servers.tidews?.heldPerConn, 2500);
    assert.equal(summary.servers.raw?.heldPerConn, 2500);
    const [result] = checkTargets([summary]);
    assert.equal(result?.verdict, "MISSED");
    assert.equal(result?.value, "1.44x raw");
  });

  it("leaves the count empty for a single round", () => {
    assert.ok(idle !== undefined);
    const runs: ScenarioRuns = { tidews: [idleRun(0, 6000)], raw: [idleRun(0, 5000)] };
    const [result] = checkTargets([summarizeScenario(idle, runs)]);
    assert.equal(result?.verdict, "MISSED");
    assert.equal(result?.rounds, "");
  });
});

/** A throughput run: 3 s, `messages` echoes, the server's CPU split as given (microseconds). */
function echoRun(round: number, messages: number, user: number, system: number): RunRecord {
  const before = { ...stats(50e6, 5e6), time: 1000 };
  const after = { ...before, time: 4000, cpuUser: user, cpuSystem: system };
  return {
    round,
    label: "test",
    connections: 100,
    connectMs: 1,
    extensions: "",
    errors: 0,
    serverBefore: before,
    serverAfter: after,
    load: {
      messages,
      bytes: messages * 1024,
      elapsedMs: 3000,
      cpuUser: 0,
      cpuSystem: 0,
      latency: [],
      sent: messages,
      verified: messages,
      errors: 0,
    },
  };
}

describe("e2e summary: server CPU", () => {
  it("splits the CPU per message into its user-mode part and the rest", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    // 300,000 messages in 3 s on 1.5 s of user and 0.9 s of system time.
    const summary = summarizeScenario(echo, { tidews: [echoRun(0, 300_000, 1.5e6, 0.9e6)] });
    const t = summary.servers.tidews;
    assert.ok(t?.cpuPerMsg !== undefined && t.userPerMsg !== undefined);
    assert.ok(Math.abs(t.cpuPerMsg - 8) < 1e-9, `${t.cpuPerMsg}`);
    assert.ok(Math.abs(t.userPerMsg - 5) < 1e-9, `${t.userPerMsg}`);
    assert.match(throughputTable([summary]), /µs\/msg\s+usr[\s\S]*\s8\.00\s+5\.00\s/);
  });
});

describe("e2e summary: the ceiling's twin (A/A)", () => {
  const echo = SCENARIOS.find((s) => s.name === "echo-1k");
  const ceilingTarget = (runs: ScenarioRuns) =>
    checkTargets([summarizeScenario(echo as NonNullable<typeof echo>, runs)]).find((t) =>
      t.target.includes("ceiling"),
    );

  it("shows the twin against the ceiling next to a ceiling target, medians then rounds", () => {
    assert.ok(echo !== undefined);
    // Ceiling 100k, 100k, 100k; twin 90k, 100k, 105k: medians 1.00x, rounds 0.90 to 1.05.
    const runs: ScenarioRuns = {
      tidews: [0, 1, 2].map((r) => echoRun(r, 270_000, 1e6, 1e6)),
      raw: [0, 1, 2].map((r) => echoRun(r, 300_000, 1e6, 1e6)),
      twin: [270_000, 300_000, 315_000].map((m, r) => echoRun(r, m, 1e6, 1e6)),
    };
    const result = ceilingTarget(runs);
    assert.equal(result?.value, "0.90x raw");
    assert.equal(result?.figure, 0.9);
    assert.equal(result?.noise, "1.00x (0.90-1.05)");
    const table = targetsTable(checkTargets([summarizeScenario(echo, runs)]));
    assert.match(table, /A\/A/);
    assert.match(table, /0\.90x raw\s+met\s+3\/3\s+1\.00x \(0\.90-1\.05\)/);
    // The twin is a server of its own in the throughput table.
    assert.match(throughputTable([summarizeScenario(echo, runs)]), /echo-1k\s+twin\s+100k/);
  });

  it("leaves the column out without the twin, and the ratio to ws has none", () => {
    assert.ok(echo !== undefined);
    const runs: ScenarioRuns = {
      tidews: [echoRun(0, 270_000, 1e6, 1e6)],
      ws: [echoRun(0, 100_000, 1e6, 1e6)],
      raw: [echoRun(0, 300_000, 1e6, 1e6)],
    };
    const results = checkTargets([summarizeScenario(echo, runs)]);
    assert.ok(results.every((t) => t.noise === ""));
    assert.doesNotMatch(targetsTable(results), /A\/A/);
    const withTwin = checkTargets([
      summarizeScenario(echo, { ...runs, twin: [echoRun(0, 300_000, 1e6, 1e6)] }),
    ]);
    assert.equal(withTwin.find((t) => t.target.includes("ws"))?.noise, "");
    assert.equal(withTwin.find((t) => t.target.includes("ceiling"))?.noise, "1.00x");
  });
});

describe("e2e summary: rate targets paired by round", () => {
  it("judges the median of the rounds' own ratios, not the ratio of the medians", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    const runsOf = (ms: number[]) => ms.map((m, r) => echoRun(r, m, 1e6, 1e6));
    // A machine with a fast and a slow state (100 and 60 units). tidews is at 0.80x the
    // ceiling whenever both ran in the same state, but the ceiling drew the slow state in
    // three rounds of five and tidews in one: by the medians, 240k messages in
    // 3 s against 180k (1.33x).
    const runs: ScenarioRuns = {
      tidews: runsOf([240e3, 240e3, 240e3, 144e3, 240e3]),
      raw: runsOf([300e3, 180e3, 180e3, 180e3, 300e3]),
      // The twin drew the slow state in two rounds, once with the ceiling: 1.00x in four
      // rounds, 1.67x in one, and 1.67x by the medians.
      twin: runsOf([300e3, 300e3, 180e3, 180e3, 300e3]),
    };
    const summary = summarizeScenario(echo, runs);
    const ceiling = checkTargets([summary]).find((t) => t.target.includes("ceiling"));
    assert.equal(ceiling?.value, "0.80x raw");
    assert.equal(ceiling?.verdict, "MISSED");
    assert.equal(ceiling?.rounds, "2/5", "0.80, 1.33, 1.33, 0.80, 0.80");
    assert.equal(ceiling?.noise, "1.00x (1.00-1.67)");
    // The throughput table's ratio agrees with the verdict.
    assert.match(throughputTable([summary]), /echo-1k\s+tidews\s+80\.0k.*0\.80x \/ 0\.80x/);
  });

  it("prints each round against the ceiling of the same round (--per-round)", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    const runsOf = (ms: number[]) => ms.map((m, r) => echoRun(r, m, 1e6, 1e6));
    const table = roundsTable([
      summarizeScenario(echo, {
        tidews: runsOf([240e3, 144e3]),
        raw: runsOf([300e3, 180e3]),
        twin: runsOf([300e3, 300e3]),
      }),
    ]);
    // 240k and 144k messages in 3 s: 80.0k and 48.0k per second, 0.80x the ceiling in both.
    assert.match(table, /echo-1k\s+0\s+tidews\s+80\.0k.*0\.80x/);
    assert.match(table, /echo-1k\s+1\s+tidews\s+48\.0k.*0\.80x/);
    assert.match(table, /echo-1k\s+1\s+twin\s+100k.*1\.67x/);
    // The ceiling's own rows have no ratio.
    assert.match(table, /echo-1k\s+1\s+raw\s+60\.0k[^x]*$/m);
  });

  it("keeps the ratio of the medians for memory targets", () => {
    assert.ok(idle !== undefined);
    // Per round 1.20x, 0.90x, 1.10x; by the medians 5500 against 5000.
    const runs: ScenarioRuns = {
      tidews: [idleRun(0, 6000), idleRun(1, 4500), idleRun(2, 5500)],
      raw: [idleRun(0, 5000), idleRun(1, 5000), idleRun(2, 5000)],
    };
    const [result] = checkTargets([summarizeScenario(idle, runs)]);
    assert.equal(result?.value, "1.10x raw");
    assert.equal(result?.rounds, "1/3");
  });
});

describe("e2e summary: targets over several runs", () => {
  it("puts each run's figure side by side, marks misses and counts the runs that met", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    // tidews at 0.95x, 0.80x and 0.90x the ceiling in three runs (target >= 0.85x).
    const run = (messages: number) =>
      checkTargets([
        summarizeScenario(echo, {
          tidews: [echoRun(0, messages, 1e6, 1e6)],
          raw: [echoRun(0, 300_000, 1e6, 1e6)],
        }),
      ]);
    const table = targetsOverRuns([run(285_000), run(240_000), run(270_000)]);
    assert.match(table, /over 3 runs/);
    assert.match(
      table,
      />= 85% of the ceiling\s+0\.95x\s+0\.80x\*\s+0\.90x\s+2\/3\s+0\.90x\s+0\.80x-0\.95x/,
    );
    // Pool hit rates are not in these records: no row for a target no run could judge.
    assert.doesNotMatch(table, /pool hit rate/);
  });

  it("does not count a load-bound run", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    const bound = echoRun(0, 240_000, 1e6, 1e6);
    // The load generator used 95% of its core while the server used 67% of its own.
    const load = { ...(bound.load as NonNullable<RunRecord["load"]>), cpuUser: 2.85e6 };
    const results = checkTargets([
      summarizeScenario(echo, {
        tidews: [{ ...bound, load }],
        raw: [echoRun(0, 300_000, 1e6, 1e6)],
      }),
    ]);
    const table = targetsOverRuns([results]);
    assert.match(table, />= 85% of the ceiling\s+0\.80x\?\s+0\/0/);
  });
});

describe("e2e summary: every round of several runs at once", () => {
  it("takes a median target over the rounds where both of its servers ran", () => {
    assert.ok(idle !== undefined);
    const perConn = (values: number[]) => values.map((v, r) => idleRun(r, v));
    // Run A: tidews and the bare socket at 5,000 B per connection. Run B: tidews alone, at
    // 9,000. Over all six of tidews' rounds its median would be 7,000 (1.40x, missed).
    const [pooled] = poolRuns([
      {
        rounds: 3,
        scenarios: [
          {
            name: "idle-10k",
            runs: { tidews: perConn([5000, 5000, 5000]), raw: perConn([5000, 5000, 5000]) },
          },
        ],
      },
      {
        rounds: 3,
        scenarios: [{ name: "idle-10k", runs: { tidews: perConn([9000, 9000, 9000]) } }],
      },
    ]);
    const [result] = checkTargets([summarizeScenario(idle, pooled?.runs ?? {})]);
    assert.equal(result?.value, "1.00x raw");
    assert.equal(result?.verdict, "met");
  });

  it("judges a target whose own servers were not load-bound, whatever the twin was", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    const bound = echoRun(0, 300_000, 1e6, 1e6);
    // The twin's load generator used 95% of its core while its server used 67%.
    const load = { ...(bound.load as NonNullable<RunRecord["load"]>), cpuUser: 2.85e6 };
    const results = checkTargets([
      summarizeScenario(echo, {
        tidews: [echoRun(0, 270_000, 1e6, 1e6)],
        raw: [echoRun(0, 300_000, 1e6, 1e6)],
        twin: [{ ...bound, load }],
      }),
    ]);
    assert.equal(results.find((t) => t.target.includes("ceiling"))?.verdict, "met");
  });

  it("renumbers the rounds, judges the pooled medians, and pairs the twin with its own rounds", () => {
    const echo = SCENARIOS.find((s) => s.name === "echo-1k");
    assert.ok(echo !== undefined);
    const runsOf = (ms: number[]) => ms.map((m, r) => echoRun(r, m, 1e6, 1e6));
    // Run A (no twin): tidews at 0.80x, 0.90x and 0.95x a ceiling of 200k. Run B: 0.95x a
    // ceiling of 300k in each round, and a twin at 1.10x it.
    const a = {
      rounds: 3,
      scenarios: [
        {
          name: "echo-1k",
          runs: { tidews: runsOf([480e3, 540e3, 570e3]), raw: runsOf([600e3, 600e3, 600e3]) },
        },
      ],
    };
    const b = {
      rounds: 3,
      scenarios: [
        {
          name: "echo-1k",
          runs: {
            tidews: runsOf([855e3, 855e3, 855e3]),
            raw: runsOf([900e3, 900e3, 900e3]),
            twin: runsOf([990e3, 990e3, 990e3]),
          },
        },
      ],
    };
    const [pooled] = poolRuns([a, b]);
    assert.equal(pooled?.name, "echo-1k");
    assert.deepEqual(
      pooled?.runs.tidews?.map((r) => r.round),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      pooled?.runs.twin?.map((r) => r.round),
      [3, 4, 5],
    );
    const all = checkTargets([summarizeScenario(echo, pooled?.runs ?? {})]);
    const ceiling = all.find((t) => t.target.includes("ceiling"));
    // Medians over the six rounds: 237.5k against 250k.
    assert.equal(ceiling?.value, "0.95x raw");
    // Every round is judged, not only as many as the server with the fewest rounds ran.
    assert.equal(ceiling?.rounds, "5/6");
    // The twin against the ceiling's rounds that had a twin (330k / 300k), not against the
    // median of all the ceiling's rounds (330k / 250k).
    assert.equal(ceiling?.noise, "1.10x (1.10-1.10)");
    const perRun = [a, b].map((doc) =>
      checkTargets(doc.scenarios.map((x) => summarizeScenario(echo, x.runs as ScenarioRuns))),
    );
    assert.match(
      targetsOverRuns(perRun, all),
      />= 85% of the ceiling\s+0\.90x\s+0\.95x\s+2\/2\s+0\.9[23]x\s+0\.90x-0\.95x\s+0\.95x\s+5\/6\s+1\.10x/,
    );
  });
});
