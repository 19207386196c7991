// The suite fails what it must fail: a careless echo server that checks nothing (see
// broken-echo.ts), and the verdict rules on their own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { selectCases } from "../../src/conformance/cases/index.js";
import { runServerSuite } from "../../src/conformance/runner.js";
import { type BrokenEcho, startBrokenEcho } from "./broken-echo.js";

describe("conformance suite against a careless echo server", () => {
  let server: BrokenEcho;
  before(async () => {
    server = await startBrokenEcho();
  });
  after(() => server.close());

  it("fails it where RFC 6455 requires a check, and reports its unclean close", async () => {
    const ids = ["1.1.2", "2.5", "3.1", "4.1.1", "5.1", "6.3.1", "6.4.1", "7.9.1", "9.1.1"];
    const results = await runServerSuite({
      url: `ws://127.0.0.1:${server.port}/`,
      cases: selectCases(ids),
      agent: "careless",
    });
    const verdict = Object.fromEntries(results.map((r) => [r.id, r.behavior]));
    assert.deepEqual(verdict, {
      // Echoing is all these need.
      "1.1.2": "OK",
      "9.1.1": "OK",
      // A 126-byte pong, RSV bits, a reserved opcode, a fragmented pong, invalid UTF-8 and an
      // invalid close code came back: each is a protocol violation the tester catches.
      "2.5": "FAILED",
      "3.1": "FAILED",
      "4.1.1": "FAILED",
      "5.1": "FAILED",
      "6.3.1": "FAILED",
      "6.4.1": "FAILED",
      "7.9.1": "FAILED",
    });
    const byId = new Map(results.map((r) => [r.id, r]));
    // It answers the close but never drops the TCP connection: the tester has to.
    const echo = byId.get("1.1.2")!;
    assert.equal(echo.behaviorClose, "UNCLEAN");
    assert.equal(echo.wasClean, false);
    assert.equal(echo.droppedByMe, true);
    assert.match(byId.get("3.1")!.result, /RSV bits 1/);
    assert.match(byId.get("6.3.1")!.result, /invalid UTF-8/);
    assert.equal(byId.get("7.9.1")!.remoteCloseCode, 0);
    // The wire log shows what went out and what came back.
    assert.ok(byId.get("3.1")!.wirelog.some((e) => e.kind === "rx-frame" && /rsv=1/.test(e.text)));
  });

  it("reports a server that refuses connections as FAILED, never opened", async () => {
    const [result] = await runServerSuite({
      url: "ws://127.0.0.1:1/",
      cases: selectCases(["1.1.1"]),
      agent: "nobody",
    });
    assert.equal(result?.behavior, "FAILED");
    assert.match(result?.result ?? "", /never opened/);
  });
});
