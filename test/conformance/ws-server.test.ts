// The suite's server role against `ws` 8.23 as the echo server, on 127.0.0.1: all 517 cases
// (the bulk cases shortened with `quick`) must get the verdicts Autobahn gives ws.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { runServerSuite } from "../../src/conformance/runner.js";
import { mismatches, tally, WS_EXCEPTIONS } from "./verdicts.js";

describe("conformance suite against ws as a server", () => {
  let wss: WebSocketServer;
  let url: string;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      ws.on("error", () => {});
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  });
  after(() => new Promise((resolve) => wss.close(resolve)));

  it("gives Autobahn's verdicts: 506 OK, 4 NON-STRICT, 3 INFORMATIONAL, 4 FAILED", async () => {
    const results = await runServerSuite({ url, agent: "ws", quick: true });
    assert.equal(results.length, 517);
    assert.deepEqual(mismatches(results, WS_EXCEPTIONS), []);
    assert.deepEqual(tally(results), { OK: 506, "NON-STRICT": 4, INFORMATIONAL: 3, FAILED: 4 });
    // ws closes properly everywhere, except where it fails the connection itself (9.3, 9.4).
    const badClose = results.filter(
      (r) => r.behavior !== "FAILED" && !["OK", "INFORMATIONAL"].includes(r.behaviorClose),
    );
    assert.deepEqual(
      badClose.map((r) => `${r.id} ${r.behaviorClose}`),
      [],
    );
    for (const id of ["9.3.1", "9.4.2"]) {
      assert.equal(results.find((r) => r.id === id)?.remoteCloseCode, 1008, id);
    }
  });
});
