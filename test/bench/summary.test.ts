// The e2e benchmark's verdicts: each target is also judged round by round (its spread).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServerStats } from "../../bench/e2e/ipc.js";
import type { RunRecord, ScenarioRuns } from "../../bench/e2e/runner.js";
import { SCENARIOS } from "../../bench/e2e/scenarios.js";
import { checkTargets, summarizeScenario, targetsTable } from "../../bench/e2e/summary.js";

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
