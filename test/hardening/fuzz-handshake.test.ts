// Fuzzing the opening handshake: requests built field by field (lib/handshake-model.ts), judged
// in process (validateRequest throws nothing but a HandshakeError with the model's status) and
// against a running server, where Node's http parser comes first; then raw request bytes with
// flipped bits, cuts and splices, which must get a well-formed refusal or a 101, never a 500,
// never a hang, and leave the server serving.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { upgradeRequest } from "../helpers/raw-client.js";
import {
  expectedStatus,
  type HandshakeCase,
  handshakeCase,
  requestText,
} from "./lib/handshake-model.js";
import { collect, dial, echo, startServer } from "./lib/harness.js";
import { checkHandshake } from "./lib/targets.js";

const SEED = 0x4a5d;

/** Sends `request`, half-closes, and returns the status line's code (0: no answer). */
async function statusOf(
  port: number,
  request: string | Buffer,
): Promise<{ status: number; text: string }> {
  const socket = await dial(port);
  const all = collect(socket);
  socket.end(request);
  const text = (await all).toString("latin1");
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return { status: m === null ? 0 : Number(m[1]), text };
}

/** Header values as Node hands them over: leading and trailing whitespace trimmed. */
function asParsed(c: HandshakeCase): HandshakeCase {
  const trim = <T extends string | readonly string[] | undefined>(v: T): T =>
    (typeof v === "string" ? v.replace(/^[ \t]+|[ \t]+$/g, "") : v) as T;
  return {
    ...c,
    upgrade: trim(c.upgrade),
    connection: trim(c.connection),
    key: trim(c.key),
    version: trim(c.version),
    protocol: trim(c.protocol),
  };
}

/**
 * What the server answers on the wire. Node's parser passes a request to the `upgrade` event only
 * when it has an Upgrade header and Connection lists `upgrade`; any other request is plain HTTP
 * and gets the default 426. (Node 20's parser does not see the token when a tab follows it,
 * `Upgrade\t,`, although RFC 7230 OWS includes HTAB.) Node refuses an HTTP/1.1 request without
 * Host (400) and versions other than 0.9, 1.0, 1.1 and 2.0 itself, and closes a CONNECT request
 * without an answer.
 */
function wireStatus(c: HandshakeCase): number {
  const p = asParsed(c);
  if (!["0.9", "1.0", "1.1", "2.0"].includes(p.httpVersion)) return 400;
  // CONNECT goes to the http server's 'connect' event; without a listener Node closes the socket.
  if (p.method === "CONNECT") return 0;
  if (p.host === undefined && p.httpVersion === "1.1") return 400;
  const listsUpgrade = (c.connection ?? "")
    .split(",")
    .some((e) => e.replace(/^[ \t]+| +$/g, "").toLowerCase() === "upgrade");
  if (p.upgrade === undefined || !listsUpgrade) return 426;
  return expectedStatus({
    ...p,
    key: Array.isArray(p.key) ? p.key.join(", ") : p.key,
    version: Array.isArray(p.version) ? p.version.join(", ") : p.version,
  });
}

describe("fuzz: handshake", () => {
  it("validateRequest gives the model's status for 5,000 requests and throws nothing else", () => {
    fc.assert(fc.property(handshakeCase, checkHandshake), { seed: SEED, numRuns: 5000 });
  });

  it("a running server answers 150 requests with the status the model and Node's parser give", async () => {
    const { port } = await startServer(echo, { protocols: ["chat"] });
    const cases = fc.sample(
      handshakeCase.filter((c) => !/[^\x20-\x7e\t\r\n]/.test(requestText(c))),
      { seed: SEED + 1, numRuns: 150 },
    );
    const seen = new Set<number>();
    for (const c of cases) {
      const { status, text } = await statusOf(port, requestText(c));
      assert.equal(status, wireStatus(c), `${requestText(c)}\n->\n${text.slice(0, 200)}`);
      seen.add(status);
    }
    for (const s of [101, 400, 405, 426]) assert.ok(seen.has(s), `no ${s} in ${[...seen]}`);
  });

  it("raw bytes with flipped bits, cuts and splices get a clean answer, and the server goes on", async () => {
    const { port } = await startServer(echo, { maxHeaderSize: 1024 });
    const valid = Buffer.from(upgradeRequest("/chat", { "Sec-WebSocket-Protocol": "chat" }));
    const mutated = fc
      .array(
        fc.oneof(
          fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
          fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
          fc.record({
            kind: fc.constant("splice" as const),
            at: fc.nat(),
            from: fc.nat(),
            length: fc.integer({ min: 1, max: 1200 }),
          }),
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((edits) =>
        edits.reduce((b, e) => {
          if (e.kind === "flip") {
            const c = Buffer.from(b);
            if (c.length > 0) c[e.at % c.length] = (c[e.at % c.length] as number) ^ (1 << e.bit);
            return c;
          }
          if (e.kind === "cut") return b.subarray(0, e.at % (b.length + 1));
          const at = e.at % (b.length + 1);
          const from = b.length === 0 ? 0 : e.from % b.length;
          // Repeat the piece so that splices also overflow the header limit.
          const piece = Buffer.concat(
            Array(Math.ceil(e.length / 10)).fill(b.subarray(from, from + 10)),
          );
          return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
        }, valid),
      );
    const allowed = new Set([0, 101, 400, 404, 405, 426, 431]);
    const seen = new Map<number, number>();
    for (const bytes of fc.sample(mutated, { seed: SEED + 2, numRuns: 200 })) {
      const { status, text } = await statusOf(port, bytes);
      assert.ok(
        allowed.has(status),
        `${status}: ${JSON.stringify(bytes.toString("latin1"))} -> ${text.slice(0, 100)}`,
      );
      seen.set(status, (seen.get(status) ?? 0) + 1);
    }
    assert.ok((seen.get(400) ?? 0) > 0 && (seen.get(101) ?? 0) > 0, `statuses: ${[...seen]}`);
    // Still serving.
    assert.equal((await statusOf(port, valid)).status, 101);
  });
});
