// Fuzzing the frame parser through ProtocolConnection, in process and against a running server:
// mutated client streams (flipped bits, cut lengths, spliced, dropped, duplicated and swapped
// frames) in random chunkings. Every run is judged against the reference model of
// lib/frame-model.ts: the same messages, one pong per ping, and the right ending (1002, 1007,
// 1009, the peer's close echoed, or 1006 at EOF); nothing thrown, every buffer given back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { expectedOutcome, frameCase } from "./lib/frame-model.js";
import { echo, exchangeFrames, startServer } from "./lib/harness.js";
import { closeCodeOf, messagesOf } from "./lib/server-frames.js";
import { checkFrames } from "./lib/targets.js";

const SEED = 0x7d15;

describe("fuzz: frames", () => {
  it("ProtocolConnection matches the reference model on 1,000 mutated streams", () => {
    fc.assert(fc.property(frameCase, checkFrames), { seed: SEED, numRuns: 1000 });
  });

  it("a running server answers 200 mutated streams as the model says", async () => {
    const servers = new Map<number, number>();
    for (const max of [64, 1000, 100_000]) {
      const { port } = await startServer(echo, { maxMessageSize: max });
      servers.set(max, port);
    }
    const cases = fc.sample(frameCase, { seed: SEED + 1, numRuns: 200 });
    const seen = new Map<string, number>();
    for (const c of cases) {
      const want = expectedOutcome(c.bytes, c.maxMessageSize);
      // The server reads whatever chunks TCP makes; the case's own cuts do not apply here.
      const { head, frames, rest } = await exchangeFrames(
        servers.get(c.maxMessageSize) as number,
        c.bytes,
      );
      assert.match(head, /^HTTP\/1\.1 101/);
      assert.equal(rest.length, 0);
      const { messages, controls } = messagesOf(frames);
      assert.deepEqual(
        messages.map((m) => ({ opcode: m.opcode, hex: m.data.toString("hex") })),
        want.messages,
        "every message echoed, in order",
      );
      const pongs = controls
        .filter((f) => f.opcode === 0xa)
        .map((f) => `ping:${f.payload.toString("hex")}`);
      // RFC 6455 section 5.5.3: while the stream is full the server answers only the latest
      // ping, so the pongs are the expected ones in order, some of the earlier ones skipped.
      const wanted = want.controls.filter((x) => x.startsWith("ping:"));
      let at = 0;
      for (const p of pongs) {
        while (at < wanted.length && wanted[at] !== p) at++;
        assert.ok(
          at < wanted.length,
          `pong ${p} answers no ping, or out of order: ${pongs} vs ${wanted}`,
        );
        at++;
      }
      if (wanted.length > 0) assert.ok(pongs.length > 0, "at least the latest ping is answered");
      const close = controls.filter((f) => f.opcode === 0x8);
      const ending = want.ending;
      if (ending.kind === "eof") {
        assert.equal(close.length, 0, "EOF: no close frame");
      } else {
        assert.equal(close.length, 1);
        assert.equal(frames.at(-1)?.opcode, 0x8, "the close frame is the last frame");
        assert.equal(closeCodeOf(close[0] as (typeof close)[number]), ending.code);
      }
      const key =
        ending.kind === "eof"
          ? "eof"
          : `${ending.kind} ${ending.code >= 3000 ? "3000+" : ending.code}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    // The sample covers every way a stream can end.
    for (const k of ["eof", "fail 1002", "fail 1007", "fail 1009", "close 1005"]) {
      assert.ok((seen.get(k) ?? 0) > 0, `no case ended with ${k}: ${[...seen]}`);
    }
  });

  it("chunking does not change the outcome (one byte at a time)", () => {
    const cases = fc.sample(frameCase, { seed: SEED + 2, numRuns: 200 });
    for (const c of cases) {
      if (c.bytes.length > 5000) continue;
      const everyByte = Array.from({ length: c.bytes.length }, (_, i) => i);
      checkFrames({ ...c, cuts: everyByte });
    }
  });
});
