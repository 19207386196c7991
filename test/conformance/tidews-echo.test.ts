// The suite's server role against the tidews echo server, without and with permessage-deflate:
// every case OK, except where Autobahn only informs (7.1.6, 7.13.x) and, without the extension,
// the compression families (UNIMPLEMENTED).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startEchoServer } from "../../src/cli/echo.js";
import { runServerSuite } from "../../src/conformance/runner.js";
import { mismatches } from "./verdicts.js";

const INFORMATIONAL = {
  "7.1.6": "INFORMATIONAL",
  "7.13.1": "INFORMATIONAL",
  "7.13.2": "INFORMATIONAL",
};

for (const deflate of [false, true]) {
  describe(`conformance suite against the tidews echo server${deflate ? " with permessage-deflate" : ""}`, () => {
    it("passes every case", async () => {
      const server = await startEchoServer({ port: 0, deflate });
      try {
        const results = await runServerSuite({
          url: `ws://127.0.0.1:${server.port}/`,
          agent: "tidews",
          quick: true,
        });
        assert.equal(results.length, 517);
        const compression = (id: string) =>
          !deflate && /^1[23]\./.test(id) ? "UNIMPLEMENTED" : "OK";
        assert.deepEqual(mismatches(results, INFORMATIONAL, compression), []);
      } finally {
        await server.close();
      }
    });
  });
}
