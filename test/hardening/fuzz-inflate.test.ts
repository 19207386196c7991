// Fuzzing the inflater: permessage-deflate payloads from zlib (levels, windows, BFINAL blocks)
// with flipped bits, cuts, splices and concatenations, judged against zlib.inflateRawSync
// (lib/inflate-model.ts) through the connection's own inflater on the synchronous, spilled and
// thread-pool paths, then against a running server: the echo of the inflated bytes, 1007 for
// corrupt data, 1009 past the limit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeFrame } from "./lib/frame-model.js";
import { echo, exchangeFrames, startServer } from "./lib/harness.js";
import { compressMessage, expectedInflate, inflateCase } from "./lib/inflate-model.js";
import { closeCodeOf, messagesOf } from "./lib/server-frames.js";
import { checkInflate } from "./lib/targets.js";

const SEED = 0x1f1a7e;
const MASK = Buffer.from([0xa1, 0xb2, 0xc3, 0xd4]);
const OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/** A compressed message as client frames: RSV1 on the first, the payload split at `cuts`. */
function compressedFrames(opcode: number, payload: Buffer, cuts: readonly number[]): Buffer {
  const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, payload.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    frames.push(
      encodeFrame({
        fin: i + 2 === bounds.length,
        rsv: i === 0 ? 0x40 : 0,
        opcode: i === 0 ? opcode : 0,
        payload: payload.subarray(bounds[i], bounds[i + 1]),
        mask: MASK,
      }),
    );
  }
  return Buffer.concat(frames);
}

describe("fuzz: inflate", () => {
  it("the zlib inflater matches zlib on 300 mutated payloads, on every path", async () => {
    await fc.assert(fc.asyncProperty(inflateCase, checkInflate), { seed: SEED, numRuns: 300 });
  });

  it("a running server echoes, or closes with 1007 or 1009, as zlib says (100 payloads)", async () => {
    const ports = new Map<number, number>();
    for (const max of [100, 4096, 65536, 1 << 20]) {
      const { port } = await startServer(echo, {
        maxMessageSize: max,
        // Echoes go out uncompressed, so the test reads them as they are.
        perMessageDeflate: { threshold: Number.MAX_SAFE_INTEGER },
      });
      ports.set(max, port);
    }
    const seen = new Map<string, number>();
    for (const c of fc.sample(inflateCase, { seed: SEED + 1, numRuns: 100 })) {
      const bytes = compressedFrames(0x2, c.payload, c.cuts);
      const { head, frames } = await exchangeFrames(ports.get(c.maxSize) as number, bytes, {
        "Sec-WebSocket-Extensions": OFFER,
      });
      assert.match(head, /^HTTP\/1\.1 101/);
      assert.match(head, /permessage-deflate/);
      const { messages, controls } = messagesOf(frames);
      const close = controls.find((f) => f.opcode === 0x8);
      // The limit counts the compressed bytes too, before anything is inflated.
      const want =
        c.payload.length > c.maxSize
          ? { kind: "too-big" as const }
          : expectedInflate(c.payload, c.maxSize);
      seen.set(want.kind, (seen.get(want.kind) ?? 0) + 1);
      if (want.kind === "ok") {
        assert.equal(messages.length, 1, "echoed");
        assert.equal(messages[0]?.rsv, 0);
        assert.equal(messages[0]?.data.toString("hex"), want.data.toString("hex"));
        assert.equal(close, undefined, "EOF ends it without a close frame");
      } else {
        assert.equal(messages.length, 0);
        assert.ok(close !== undefined, "a close frame");
        const code = closeCodeOf(close);
        const codes =
          want.kind === "too-big" ? [1009] : want.kind === "corrupt" ? [1007] : [1007, 1009];
        assert.ok(codes.includes(code), `${code} for ${want.kind}`);
      }
    }
    for (const k of ["ok", "corrupt", "too-big"]) assert.ok((seen.get(k) ?? 0) > 0, `${[...seen]}`);
  });

  it("a message still inflating on the thread pool when the peer half-closes is delivered", async () => {
    // Found by the fuzzer: 128 KiB of compressed input goes to the thread pool; the FIN that
    // follows it must wait for the inflate, as it does behind an uncompressed message.
    const { port } = await startServer(echo, {
      perMessageDeflate: { threshold: Number.MAX_SAFE_INTEGER },
    });
    const data = Buffer.alloc(200_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const payload = compressMessage(data, 0, 15, false);
    assert.ok(payload.length > 64 * 1024, "over the synchronous limit");
    const { frames } = await exchangeFrames(port, compressedFrames(0x2, payload, []), {
      "Sec-WebSocket-Extensions": OFFER,
    });
    const { messages } = messagesOf(frames);
    assert.equal(messages.length, 1, "the message was delivered and echoed");
    assert.ok(messages[0]?.data.equals(data));
  });

  it("inflated text must be UTF-8 (1007), checked after inflating", async () => {
    const { port } = await startServer(echo, {
      perMessageDeflate: { threshold: Number.MAX_SAFE_INTEGER },
    });
    const headers = { "Sec-WebSocket-Extensions": OFFER };
    const good = compressMessage(Buffer.from("héllo wörld"), 6, 15, false);
    const ok = await exchangeFrames(port, compressedFrames(0x1, good, [3]), headers);
    assert.equal(messagesOf(ok.frames).messages[0]?.data.toString(), "héllo wörld");
    const bad = compressMessage(Buffer.from([0x68, 0xc3, 0x28, 0x69]), 6, 15, false);
    const ko = await exchangeFrames(port, compressedFrames(0x1, bad, []), headers);
    const close = messagesOf(ko.frames).controls.find((f) => f.opcode === 0x8);
    assert.ok(close !== undefined);
    assert.equal(closeCodeOf(close), 1007);
  });
});
