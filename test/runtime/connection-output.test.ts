import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
import { Connection, ConnectionConfig } from "../../src/runtime/connection.js";
import { encodeFrame as wireFrame } from "../hardening/lib/frame-model.js";
import { parseFrames, type WireFrame } from "../hardening/lib/server-frames.js";
import { buildWire, cuts, ReusedBuffer, readsOf, wireItems } from "../protocol/transient-feed.js";
import { RecordingStream } from "./recording-stream.js";

const KEY = [0x11, 0x22, 0x33, 0x44];

/** A masked binary frame of `payload`, as a client sends it. */
function maskedBinary(pool: BufferPool, payload: Buffer): Buffer {
  const f = encodeFrame(pool, 2, payload, { mask: new FixedMaskSource(KEY) });
  const b = Buffer.from(f.bytes());
  pool.put(f);
  return b;
}

/** A payload whose bytes tell where they are (`seed` tells payloads apart). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** The server frame of `payload` (unmasked, binary). */
function serverFrame(payload: Buffer): Buffer {
  return wireFrame({ fin: true, rsv: 0, opcode: 2, payload, mask: null });
}

/** The frames of an unmasked (server to client) stream, all of it at hand. */
function serverFrames(bytes: Buffer): WireFrame[] {
  const { frames, rest } = parseFrames(bytes);
  assert.equal(rest.length, 0, "whole frames only");
  assert.ok(
    frames.every((f) => !f.masked),
    "a server frame is not masked",
  );
  return frames;
}

/** A server whose handler forwards each message (`conn.send(message)`), or keeps it. */
function forwardingConnection(keep = false) {
  const pool = new BufferPool(64, 1 << 20);
  const stream = new RecordingStream();
  const kept: Buffer[] = [];
  const config = new ConnectionConfig(
    {
      onMessage(c, message) {
        if (keep) kept.push(message.retain().data);
        else c.send(message);
      },
    },
    { role: "server", pool },
  );
  const conn = new Connection(stream, config);
  conn.open();
  conn.send("warm"); // the write queue exists from here on
  conn.flush();
  stream.writes.length = 0;
  return { pool, stream, conn, kept };
}

function masked(pool: BufferPool, text: string): Buffer {
  const f = encodeFrame(pool, 1, Buffer.from(text), { mask: new FixedMaskSource([1, 2, 3, 4]) });
  const b = Buffer.from(f.bytes());
  pool.put(f);
  return b;
}

function echoConnection() {
  const pool = new BufferPool(64, 1 << 20);
  const stream = new RecordingStream();
  const config = new ConnectionConfig(
    {
      onMessage(c, message) {
        c.send(message.text());
      },
    },
    { role: "server", pool },
  );
  const conn = new Connection(stream, config);
  conn.open();
  return { pool, stream, conn };
}

describe("Connection output batching", () => {
  it("answers to a chunk leave when the chunk is parsed: one write, before handleData returns", () => {
    const { pool, stream, conn } = echoConnection();
    const chunk = Buffer.concat(["a", "bb", "ccc"].map((t) => masked(pool, t)));
    conn.handleData(chunk);
    assert.equal(stream.writes.length, 1, "three echoes, one write, no tick needed");
    assert.deepEqual(
      stream.writes[0],
      Buffer.from([0x81, 1, 0x61, 0x81, 2, 0x62, 0x62, 0x81, 3, 0x63, 0x63, 0x63]),
    );
    assert.equal(stream.corks, 0, "no cork for one buffer");
  });

  it("the echo of a chunk of 1 KiB messages is one buffer: the batch is sized for the chunk", () => {
    const { pool, stream, conn } = echoConnection();
    conn.send("warm"); // the write queue exists from here on
    conn.flush();
    const texts = Array.from({ length: 8 }, (_, i) => String(i).repeat(1024));
    conn.handleData(Buffer.concat(texts.map((t) => masked(pool, t))));
    assert.equal(stream.writes.length, 2);
    assert.equal(stream.corks, 0, "one buffer, one plain write (no writev of growing batches)");
    const echo = stream.writes[1] as Buffer;
    assert.equal(echo.length, 8 * (4 + 1024));
    for (let i = 0; i < 8; i++) {
      const at = i * 1028;
      assert.deepEqual(echo.subarray(at, at + 4), Buffer.from([0x81, 126, 4, 0]));
      assert.equal(echo.toString("latin1", at + 4, at + 1028), texts[i]);
    }
  });

  it("sends outside a chunk go out together at the next tick", async () => {
    const { stream, conn } = echoConnection();
    conn.send("x");
    conn.send("yy");
    conn.send(Buffer.alloc(10_000, 7));
    assert.equal(stream.writes.length, 0, "nothing before the tick ends");
    assert.equal(conn.bufferedAmount, 3 + 4 + 10_004, "but counted as buffered");
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.equal(stream.writes.length, 2, "the small ones coalesced, the large one on its own");
    assert.deepEqual(stream.writes[0], Buffer.from([0x81, 1, 0x78, 0x81, 2, 0x79, 0x79]));
    assert.equal(stream.writes[1]?.length, 10_004);
    assert.equal(stream.corks, 1, "two buffers: one corked burst");
    assert.equal(conn.bufferedAmount, 0);
  });

  it("answers a read of large messages with one buffer: the first echo's frame has room for the rest", () => {
    const { pool, stream, conn } = forwardingConnection();
    const payloads = [pattern(20_000, 1), pattern(30_000, 2), pattern(6_000, 3), pattern(900, 4)];
    conn.handleData(Buffer.concat(payloads.map((p) => maskedBinary(pool, p))));
    assert.equal(stream.writes.length, 1, "four echoes, one write");
    assert.equal(stream.corks, 0, "one buffer: no corked writev");
    assert.ok((stream.writes[0] as Buffer).equals(Buffer.concat(payloads.map(serverFrame))));
  });

  it("an echo that forwarded a message spanning reads gets room after the next one for the rest of its read", () => {
    const { pool, stream, conn } = forwardingConnection();
    const round = (seed: number) => {
      // 60,000 bytes and 14 of headroom: a 64 KiB pool buffer, 5.5 KiB free after it.
      const spanning = maskedBinary(pool, pattern(60_000, seed));
      const after = [pattern(20_000, seed + 1), pattern(3_000, seed + 2)];
      const rest = Buffer.concat(after.map((p) => maskedBinary(pool, p)));
      const corks = stream.corks;
      const writes = stream.writes.length;
      conn.handleData(spanning.subarray(0, 30_000));
      conn.handleData(Buffer.concat([spanning.subarray(30_000), rest]));
      const out = Buffer.concat(stream.writes.slice(writes));
      const want = Buffer.concat([pattern(60_000, seed), ...after].map(serverFrame));
      assert.ok(out.equals(want), "the echoes, in order");
      return { writes: stream.writes.length - writes, corks: stream.corks - corks };
    };
    // The first spanning message is assembled with no room after it: its echo and the echoes
    // behind it in the same read are two buffers, one corked writev.
    assert.deepEqual(round(10), { writes: 2, corks: 1 });
    // From then on the connection is known to echo: the next one has room for them.
    assert.deepEqual(round(20), { writes: 1, corks: 0 });
    assert.deepEqual(round(30), { writes: 1, corks: 0 });
    assert.equal(pool.stats().gets, pool.stats().puts, "every buffer went back to the pool");
  });

  it("a message an application keeps gets no room for answers: its buffer is sized for it", () => {
    const { pool, conn, kept } = forwardingConnection(true);
    for (const seed of [1, 2, 3]) {
      const spanning = maskedBinary(pool, pattern(60_000, seed));
      conn.handleData(spanning.subarray(0, 30_000));
      conn.handleData(spanning.subarray(30_000));
    }
    assert.equal(kept.length, 3);
    for (const [i, data] of kept.entries()) {
      assert.ok(data.equals(pattern(60_000, i + 1)));
      // 60,000 bytes and 14 of headroom: a 64 KiB pool buffer; with room after it for the rest
      // of a 30,000-byte read, it would take 128 KiB.
      assert.equal(data.buffer.byteLength, 65_536, `kept #${i}`);
    }
  });

  it("forwards every message of any client stream, cut like socket reads into one reused buffer (property)", () => {
    fc.assert(
      fc.property(wireItems, cuts, (items, c) => {
        const wire = buildWire(items);
        const { pool, stream, conn } = forwardingConnection();
        const reads = new ReusedBuffer();
        for (const read of readsOf(wire, c)) {
          conn.handleData(reads.load(read), true);
          // The next read (of this or another socket) overwrites the buffer.
          reads.clobber();
        }
        const frames = serverFrames(Buffer.concat(stream.writes));
        const messages = wire.sent.filter((x) => x.type === "message");
        const echoes = frames.filter((f) => f.opcode === 1 || f.opcode === 2);
        assert.equal(echoes.length, messages.length, "one echo per message");
        echoes.forEach((f, i) => {
          const m = messages[i] as { opcode: number; data: Buffer };
          assert.ok(f.fin, `echo ${i}: one frame`);
          assert.equal(f.opcode, m.opcode, `echo ${i}: its type`);
          assert.ok(f.payload.equals(m.data), `echo ${i}: byte for byte`);
        });
        const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
        const pings = wire.sent.filter((x) => x.type === "ping").map((x) => x.data.toString("hex"));
        assert.deepEqual(pongs, pings, "a pong per ping, in order");
        assert.equal(pool.stats().gets, pool.stats().puts, "every buffer went back to the pool");
      }),
      { numRuns: 150 },
    );
  });
});
