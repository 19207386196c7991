// `npm run bench:flush`: the script measures every round, and the flush it measures is sliced.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FLUSH_SLICE } from "../../src/runtime/tick-flusher.js";
import { runScript } from "../helpers/run-script.js";

interface Round {
  flushMs: number;
  longestGapMs: number;
  turns: number;
}

describe("npm run bench:flush", () => {
  it("reports each round, with a turn of the event loop per slice", {
    timeout: 120_000,
  }, async () => {
    const n = 2 * FLUSH_SLICE + 100;
    const { code, stdout, stderr } = await runScript("bench/flush-slices.ts", [
      "--connections",
      String(n),
      "--rounds",
      "3",
      "--json",
    ]);
    assert.equal(code, 0, `exit ${code}\n${stderr.slice(-4000)}`);
    const doc = JSON.parse(stdout) as { connections: number; slice: number; rounds: Round[] };
    assert.equal(doc.connections, n);
    assert.equal(doc.rounds.length, 3);
    for (const r of doc.rounds) {
      // Three slices: the ticker sees at least three turns, and no gap is the whole flush.
      assert.ok(r.turns >= Math.ceil(n / FLUSH_SLICE), `${r.turns} turns`);
      assert.ok(r.flushMs > 0 && r.longestGapMs > 0);
      assert.ok(r.longestGapMs < r.flushMs, `gap ${r.longestGapMs} of ${r.flushMs} ms`);
    }
  });
});
