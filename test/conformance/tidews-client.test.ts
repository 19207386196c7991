// The suite's client role against the tidews client, driven by the client-driver: every case
// OK, except where Autobahn only informs (7.1.6, 7.13.x). Also the `client-driver` command.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { selectCases } from "../../src/conformance/cases/index.js";
import { runConformanceCli } from "../../src/conformance/cli.js";
import { runClientDriver } from "../../src/conformance/client-driver.js";
import { startFuzzingServer } from "../../src/conformance/fuzzing-server.js";
import { tidewsDriverClient } from "../../src/conformance/tidews-client.js";
import { mismatches } from "./verdicts.js";

const INFORMATIONAL = {
  "7.1.6": "INFORMATIONAL",
  "7.13.1": "INFORMATIONAL",
  "7.13.2": "INFORMATIONAL",
};

describe("conformance suite against the tidews client", () => {
  it("passes every case", async () => {
    const server = await startFuzzingServer({ quick: true });
    try {
      const count = await runClientDriver({
        url: `ws://127.0.0.1:${server.port}`,
        agent: "tidews",
        client: tidewsDriverClient(),
      });
      assert.equal(count, 517);
      const results = server.resultsOf("tidews");
      assert.equal(results.length, 517);
      assert.deepEqual(mismatches(results, INFORMATIONAL), []);
    } finally {
      await server.close();
    }
  });

  it("runs as `tidews conformance client-driver`, exiting 0 once the reports were asked for", async () => {
    let reports: string | undefined;
    const server = await startFuzzingServer({
      cases: selectCases(["1.1.1", "5.6", "6.4.1"]),
      onReports: (agent) => {
        reports = agent;
      },
    });
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const status = await runConformanceCli([
        "client-driver",
        "--url",
        `ws://127.0.0.1:${server.port}`,
        "--agent",
        "cli",
      ]);
      assert.equal(status, 0);
      assert.equal(reports, "cli");
      assert.deepEqual(
        server.resultsOf("cli").map((r) => `${r.id} ${r.behavior}`),
        ["1.1.1 OK", "5.6 OK", "6.4.1 OK"],
      );
      // Nothing listens there: the driver cannot connect and says so with its status.
      assert.equal(await runConformanceCli(["client-driver", "--url", "ws://127.0.0.1:1"]), 1);
    } finally {
      process.stderr.write = write;
      await server.close();
    }
  });
});
