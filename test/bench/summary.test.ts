// The e2e benchmark's verdicts: each target is also judged round by round (its spread).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServerStats } from "../../bench/e2e/ipc.js";
import type { RunRecord, ScenarioRuns } from "../../bench/e2e/runner.js";
import { SCENARIOS } from "../../bench/e2e/scenarios.js";
import {
  checkTargets,
  summarizeScenario,
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
