// Fuzzing Sec-WebSocket-Extensions: headers from the RFC 6455 section 9.1 grammar with
// character edits, judged against the regular-expression reading of lib/extension-model.ts, in
// process and against a running server with permessage-deflate on (400, or 101 with a valid
// answer).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseExtensions } from "../../src/protocol/extension-header.js";
import { upgradeRequest } from "../helpers/raw-client.js";
import { expectedExtensions, extensionCase } from "./lib/extension-model.js";
import { collect, dial, echo, startServer } from "./lib/harness.js";
import { checkExtensions } from "./lib/targets.js";

const SEED = 0xe47;

async function answer(
  port: number,
  header: string,
): Promise<{ status: number; extensions: string | undefined }> {
  const socket = await dial(port);
  const all = collect(socket);
  socket.end(upgradeRequest("/", { "Sec-WebSocket-Extensions": header }));
  const text = (await all).toString("latin1");
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const ext = /\r\nSec-WebSocket-Extensions: ([^\r]*)/i.exec(head)?.[1];
  return { status, extensions: ext };
}

describe("fuzz: Sec-WebSocket-Extensions", () => {
  it("parseExtensions reads 5,000 headers as the grammar does, or refuses them with 400", () => {
    fc.assert(fc.property(extensionCase, checkExtensions), { seed: SEED, numRuns: 5000 });
  });

  it("a running server with permessage-deflate answers 150 headers with 400 or a valid 101", async () => {
    const { port } = await startServer(echo, { perMessageDeflate: true });
    // What can travel in a header line: no CR, LF or NUL; Node trims the outer whitespace.
    const printable = extensionCase.filter((c) => /^[\x20-\x7e\t]*$/.test(c.header));
    const seen = new Map<string, number>();
    for (const { header } of fc.sample(printable, { seed: SEED + 1, numRuns: 150 })) {
      const want = expectedExtensions(header.replace(/^[ \t]+|[ \t]+$/g, ""));
      const got = await answer(port, header);
      if (want === null) {
        assert.equal(got.status, 400, `refused: ${JSON.stringify(header)}`);
        seen.set("400", (seen.get("400") ?? 0) + 1);
        continue;
      }
      assert.equal(got.status, 101, `accepted: ${JSON.stringify(header)}`);
      if (got.extensions !== undefined) {
        assert.ok(
          want.some((o) => o.name === "permessage-deflate"),
          "only what was offered",
        );
        const [accepted] = parseExtensions(got.extensions);
        assert.equal(accepted?.name, "permessage-deflate");
        seen.set("101+deflate", (seen.get("101+deflate") ?? 0) + 1);
      } else {
        seen.set("101", (seen.get("101") ?? 0) + 1);
      }
    }
    for (const k of ["400", "101", "101+deflate"])
      assert.ok((seen.get(k) ?? 0) > 0, `${[...seen]}`);
  });

  it("without permessage-deflate the header is not parsed: a malformed one still opens", async () => {
    const { port } = await startServer(echo);
    const got = await answer(port, 'permessage-deflate; x="unterminated');
    assert.equal(got.status, 101);
    assert.equal(got.extensions, undefined);
  });
});
