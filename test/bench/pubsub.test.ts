// `npm run bench:pubsub -- --quick`: the harness runs both scenarios and reports every figure.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runScript } from "../helpers/run-script.js";

interface Row {
  scenario: string;
  server: string;
  deliveriesPerSecond: number;
  subscriberNodeRss: number;
  subscriberNodeHeap: number;
  subscriberNodeYoung: number;
  subscriberNodeHeapAfterGc: number;
}

describe("npm run bench:pubsub -- --quick", () => {
  it("runs tidews and ws, in one process and over Redis, with rates and memory", {
    timeout: 300_000,
  }, async () => {
    const { code, stdout, stderr } = await runScript("bench/pubsub.ts", ["--quick", "--json"]);
    assert.equal(code, 0, `exit ${code}\n${stderr.slice(-4000)}`);
    const doc = JSON.parse(stdout) as { results: Row[]; note: string | null };
    // Without redis-server the Redis rows are left out, with a note saying so.
    const scenarios = new Set(doc.results.map((r) => r.scenario));
    assert.ok(scenarios.size === 2 || doc.note !== null, `scenarios ${[...scenarios]}`);
    assert.ok(doc.results.length >= 2);
    for (const r of doc.results) {
      assert.ok(r.deliveriesPerSecond > 0, `${r.scenario} ${r.server}`);
      assert.ok(r.subscriberNodeRss > r.subscriberNodeHeap, `${r.server}: RSS above the heap`);
      assert.ok(r.subscriberNodeHeap > 0 && r.subscriberNodeYoung > 0, r.server);
      assert.ok(r.subscriberNodeHeapAfterGc > 0, `${r.server}: heap after GC measured`);
    }
  });
});
