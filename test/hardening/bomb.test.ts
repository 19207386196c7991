// Decompression bombs against a running server: about 0.5 MiB of DEFLATE that would inflate to
// 512 MiB (zeros at the best ratio deflate allows) stops at the message limit with 1009, and the
// process's memory stays near the limit, not the bomb. Other connections go on meanwhile.
import assert from "node:assert/strict";
import { once } from "node:events";
import { before, describe, it } from "node:test";
import zlib from "node:zlib";
import WebSocket from "ws";
import { encodeFrame } from "./lib/frame-model.js";
import { echo, exchangeFrames, MiB, memory, rssPeak, startServer } from "./lib/harness.js";
import { closeCodeOf, messagesOf } from "./lib/server-frames.js";

const OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";
const MASK = Buffer.from([9, 8, 7, 6]);

/** 512 MiB of zeros, deflated in 1 MiB steps (never held whole), sync-flushed, tail removed. */
async function makeBomb(): Promise<Buffer> {
  const d = zlib.createDeflateRaw({ level: 9, memLevel: 9 });
  const parts: Buffer[] = [];
  d.on("data", (c: Buffer) => parts.push(c));
  const zero = Buffer.alloc(MiB);
  for (let i = 0; i < 512; i++) {
    if (!d.write(zero)) await once(d, "drain");
  }
  await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  const out = Buffer.concat(parts);
  return out.subarray(0, out.length - 4);
}

function bombFrame(bomb: Buffer, fragments = 1): Buffer {
  const step = Math.ceil(bomb.length / fragments);
  const frames: Buffer[] = [];
  for (let i = 0; i < fragments; i++) {
    frames.push(
      encodeFrame({
        fin: i === fragments - 1,
        rsv: i === 0 ? 0x40 : 0,
        opcode: i === 0 ? 0x2 : 0x0,
        payload: bomb.subarray(i * step, (i + 1) * step),
        mask: MASK,
      }),
    );
  }
  return Buffer.concat(frames);
}

let bomb: Buffer;

describe("decompression bomb", () => {
  before(async () => {
    bomb = await makeBomb();
  });

  it("is what it claims: ~0.5 MiB that inflates to 512 MiB", () => {
    assert.ok(bomb.length < 0.6 * MiB && bomb.length > 0.4 * MiB, `${bomb.length} bytes`);
    // Count the inflated size in bounded chunks rather than holding it.
    let total = 0;
    const inflater = zlib.createInflateRaw({
      chunkSize: MiB,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    inflater.on("data", (c: Buffer) => {
      total += c.length;
    });
    inflater.end(Buffer.concat([bomb, Buffer.from([0, 0, 0xff, 0xff])]));
    return once(inflater, "end").then(() => assert.equal(total, 512 * MiB));
  });

  for (const [label, limit] of [
    ["the default 16 MiB limit", undefined],
    ["a 1 MiB limit", MiB],
  ] as const) {
    it(`stops at ${label} with 1009; memory stays near the limit`, async () => {
      const max = limit ?? 16 * MiB;
      const { port, url, server } = await startServer(echo, {
        perMessageDeflate: true,
        maxMessageSize: limit,
      });
      const bystander = new WebSocket(url);
      await once(bystander, "open");
      const base = memory();
      const peak = rssPeak(2);
      const { frames } = await exchangeFrames(port, bombFrame(bomb), {
        "Sec-WebSocket-Extensions": OFFER,
      });
      const top = peak.stop();
      const { messages, controls } = messagesOf(frames);
      assert.equal(messages.length, 0);
      const close = controls.find((f) => f.opcode === 0x8);
      assert.ok(close !== undefined, "a close frame");
      assert.equal(closeCodeOf(close), 1009);
      const grew = top - base.rss;
      // The output buffer (the limit), its previous copy, zlib's 16 KiB output chunks waiting for
      // the collector: a few times the limit at most, far from the 512 MiB of the bomb.
      assert.ok(
        grew < 3 * max + 48 * MiB,
        `RSS grew by ${(grew / MiB).toFixed(1)} MiB for a ${max / MiB} MiB limit`,
      );
      console.log(
        `bomb vs ${max / MiB} MiB limit: RSS +${(grew / MiB).toFixed(1)} MiB at the peak`,
      );
      // The bystander was not disturbed.
      bystander.send("still here");
      const [reply] = await once(bystander, "message");
      assert.equal(String(reply), "still here");
      bystander.close();
      await once(bystander, "close");
      assert.equal(server.stats().closes[1009], 1);
      const after = memory();
      assert.ok(after.external - base.external < 4 * MiB, "the output buffer was released");
    });
  }

  it("a bomb in 64 fragments, and one with context takeover, stop the same way", async () => {
    const { port } = await startServer(echo, { perMessageDeflate: true, maxMessageSize: MiB });
    const split = await exchangeFrames(port, bombFrame(bomb, 64), {
      "Sec-WebSocket-Extensions": OFFER,
    });
    const c1 = messagesOf(split.frames).controls.find((f) => f.opcode === 0x8);
    assert.ok(c1 !== undefined);
    assert.equal(closeCodeOf(c1), 1009);
    const takeover = await exchangeFrames(port, bombFrame(bomb), {
      "Sec-WebSocket-Extensions": "permessage-deflate",
    });
    const c2 = messagesOf(takeover.frames).controls.find((f) => f.opcode === 0x8);
    assert.ok(c2 !== undefined);
    assert.equal(closeCodeOf(c2), 1009);
  });
});
