// The suite's client role: `ws` as the client under test, driven through the fuzzing server's
// HTTP protocol (getCaseCount, runCase, updateReports) by the client-driver. All 517 cases
// must get the verdicts Autobahn gives ws.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runClientDriver } from "../../src/conformance/client-driver.js";
import { type FuzzingServer, startFuzzingServer } from "../../src/conformance/fuzzing-server.js";
import { mismatches, tally, WS_EXCEPTIONS } from "./verdicts.js";
import { wsDriverClient } from "./ws-driver-client.js";

describe("conformance suite against ws as a client", () => {
  let server: FuzzingServer;
  let dir: string;
  let reportsFor: string | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tidews-conformance-"));
    server = await startFuzzingServer({
      outDir: dir,
      quick: true,
      onReports: (agent) => {
        reportsFor = agent;
      },
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives Autobahn's verdicts: 506 OK, 4 NON-STRICT, 3 INFORMATIONAL, 4 FAILED", async () => {
    const seen: number[] = [];
    const count = await runClientDriver({
      url: `ws://127.0.0.1:${server.port}`,
      agent: "ws client",
      client: wsDriverClient,
      onCase: (n) => seen.push(n),
    });
    assert.equal(count, 517);
    assert.equal(seen.length, 517);
    const results = server.resultsOf("ws client");
    assert.equal(results.length, 517);
    assert.deepEqual(mismatches(results, WS_EXCEPTIONS), []);
    assert.deepEqual(tally(results), { OK: 506, "NON-STRICT": 4, INFORMATIONAL: 3, FAILED: 4 });
    assert.ok(results.every((r) => r.isServer));

    // /updateReports wrote the reports for the agent, in Autobahn's index.json shape.
    assert.equal(reportsFor, "ws client");
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    assert.deepEqual(Object.keys(index), ["ws client"]);
    assert.deepEqual(index["ws client"]["6.4.1"], {
      behavior: "NON-STRICT",
      behaviorClose: "OK",
      duration: index["ws client"]["6.4.1"].duration,
      remoteCloseCode: 1007,
      reportfile: "ws_client_case_6_4_1.json",
    });
    const detail = JSON.parse(await readFile(join(dir, "ws_client_case_6_4_1.json"), "utf8"));
    assert.deepEqual(detail.received, [
      ["timeout", "A"],
      ["timeout", "B"],
    ]);

    // The other endpoints of Autobahn's protocol, and the reports over plain HTTP.
    const base = `ws://127.0.0.1:${server.port}`;
    assert.deepEqual(JSON.parse(await wsDriverClient.firstText(`${base}/getCaseInfo?case=1`)), {
      id: "1.1.1",
      description: "Send one text message with a payload of 0 bytes.",
    });
    const status = await wsDriverClient.firstText(
      `${base}/getCaseStatus?case=14&agent=ws%20client`,
    );
    assert.deepEqual(JSON.parse(status), { behavior: "OK" });
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /href="ws_client_case_6_4_1\.html">NON-STRICT</);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/../etc/passwd`)).status, 404);
  });
});
