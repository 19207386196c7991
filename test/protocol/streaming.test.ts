// The sans-I/O core streaming messages to its sink (streamThreshold), and pausing when the sink
// asks: bytes in, sink events out, no sockets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import {
  ProtocolConnection,
  type ProtocolOptions,
  type ProtocolSink,
} from "../../src/protocol/connection.js";
import { CountingPool } from "../hardening/lib/counting-pool.js";

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A masked client frame. */
function frame(opcode: number, payload: Uint8Array | string, fin = true): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = (data[i] as number) ^ (MASK[i & 3] as number);
  return Buffer.concat([Buffer.from(head), MASK, masked]);
}

/** One message as frames cut at `cuts`. */
function fragments(opcode: number, data: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, data.length]) {
    out.push(frame(out.length === 0 ? opcode : 0, data.subarray(at, p), p === data.length));
    at = p;
  }
  return out;
}

class StreamSink implements ProtocolSink {
  events: string[] = [];
  chunks: Buffer[] = [];
  /** Pause after this many chunks (then after each one). */
  pauseAfter = Number.POSITIVE_INFINITY;
  constructor(readonly pool: { put(b: ByteBuffer): void }) {}
  onMessage(opcode: number, data: ByteBuffer): boolean {
    this.events.push(`message ${opcode} ${data.toString("hex")}`);
    this.pool.put(data);
    return true;
  }
  onMessageStart(opcode: number): void {
    this.events.push(`start ${opcode}`);
    this.chunks = [];
  }
  onMessageChunk(data: Buffer): boolean {
    this.chunks.push(Buffer.from(data));
    return this.chunks.length < this.pauseAfter;
  }
  onMessageEnd(): void {
    this.events.push(`end ${Buffer.concat(this.chunks).toString("hex")}`);
  }
  onMessageAbort(): void {
    this.events.push("abort");
  }
  onCompressedMessage(_opcode: number, data: ByteBuffer): void {
    this.pool.put(data);
  }
  onPing(): void {
    this.events.push("ping");
  }
  onPong(): void {}
  onOutput(frame: ByteBuffer): void {
    this.events.push(`output ${frame.bytes()[0]?.toString(16)}`);
    this.pool.put(frame);
  }
  onPeerClose(): void {}
  onEnd(): void {
    this.events.push("eof");
  }
}

function core(options: Partial<ProtocolOptions> = {}) {
  const pool = new CountingPool(new BufferPool(64, 64 * 1024));
  const sink = new StreamSink(pool);
  const conn = new ProtocolConnection(sink, { role: "server", pool, ...options });
  return { conn, sink, pool };
}

describe("ProtocolConnection: streamed messages", () => {
  it("streams by threshold: fragmented or large first frames; small whole frames assemble", () => {
    const { conn, sink, pool } = core({ streamThreshold: 4 });
    conn.receive(frame(2, "abc"));
    conn.receive(frame(2, "abcd"));
    conn.receive(Buffer.concat(fragments(1, Buffer.from("xy"), [1])));
    assert.deepEqual(sink.events, [
      `message 2 ${Buffer.from("abc").toString("hex")}`,
      "start 2",
      `end ${Buffer.from("abcd").toString("hex")}`,
      "start 1",
      `end ${Buffer.from("xy").toString("hex")}`,
    ]);
    // A streamed message takes no pooled buffer.
    assert.equal(pool.outstanding, 0);
  });

  it("never streams without the option, or for a sink without onMessageStart", () => {
    const a = core();
    a.conn.receive(Buffer.concat(fragments(2, Buffer.alloc(10, 1), [3, 6])));
    assert.deepEqual(a.sink.events, [`message 2 ${"01".repeat(10)}`]);
    const pool = new BufferPool(64, 64 * 1024);
    const events: string[] = [];
    const plain: ProtocolSink = {
      onMessage: (_o, d) => {
        events.push(d.toString("hex"));
        pool.put(d);
      },
      onCompressedMessage: () => {},
      onPing: () => {},
      onPong: () => {},
      onOutput: (f) => pool.put(f),
      onPeerClose: () => {},
      onEnd: () => {},
    };
    const c = new ProtocolConnection(plain, { role: "server", pool, streamThreshold: 0 });
    c.receive(frame(2, "zz"));
    assert.deepEqual(events, [Buffer.from("zz").toString("hex")]);
  });

  it("property: any fragmentation and any chunking stream the same bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(3000), { maxLength: 10 }),
        fc.array(fc.nat(4000), { maxLength: 10 }),
        fc.integer({ min: 1, max: 5 }),
        (bytes, cuts, splits, pauseAfter) => {
          const data = Buffer.from(bytes);
          const wire = Buffer.concat([
            ...fragments(2, data, cuts),
            frame(9, "p"),
            frame(2, "tail"),
          ]);
          const { conn, sink, pool } = core({ streamThreshold: 0 });
          sink.pauseAfter = pauseAfter;
          const points = [...new Set(splits.map((s) => s % (wire.length + 1)))].sort(
            (a, b) => a - b,
          );
          let at = 0;
          for (const p of [...points, wire.length]) {
            conn.receive(Buffer.from(wire.subarray(at, p)));
            at = p;
            // The sink's backpressure: resume whenever paused, as a consumer reading would.
            while (conn.pausedBySink) conn.resumeSink();
          }
          assert.deepEqual(sink.events, [
            "start 2",
            `end ${data.toString("hex")}`,
            "output 8a",
            "ping",
            "start 2",
            `end ${Buffer.from("tail").toString("hex")}`,
          ]);
          assert.equal(pool.outstanding, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("pauses after a chunk when the sink returns false, and goes on with resumeSink", () => {
    const { conn, sink } = core({ streamThreshold: 0 });
    sink.pauseAfter = 1;
    conn.receive(Buffer.concat([...fragments(2, Buffer.from("abcdef"), [2, 4]), frame(2, "n")]));
    assert.deepEqual(sink.events, ["start 2"]);
    assert.equal(conn.pausedBySink, true);
    assert.equal(conn.paused, true);
    conn.resumeSink();
    conn.resumeSink();
    assert.deepEqual(sink.events, ["start 2"]);
    assert.equal(sink.chunks.length, 3);
    conn.resumeSink();
    assert.equal(sink.events[1], `end ${Buffer.from("abcdef").toString("hex")}`);
    assert.equal(conn.pausedBySink, true, "paused again after the next message's chunk");
    conn.resumeSink();
    assert.equal(sink.events.at(-1), `end ${Buffer.from("n").toString("hex")}`);
    assert.equal(conn.paused, false);
  });

  it("pauses after a whole message when onMessage returns false", () => {
    const pool = new BufferPool(64, 64 * 1024);
    const got: string[] = [];
    let accept = false;
    const sink: ProtocolSink = {
      onMessage: (_o, d) => {
        got.push(d.toString());
        pool.put(d);
        return accept;
      },
      onCompressedMessage: () => {},
      onPing: () => {},
      onPong: () => {},
      onOutput: (f) => pool.put(f),
      onPeerClose: () => {},
      onEnd: () => {},
    };
    const c = new ProtocolConnection(sink, { role: "server", pool });
    c.receive(Buffer.concat([frame(1, "a"), frame(1, "b"), frame(1, "c")]));
    assert.deepEqual(got, ["a"]);
    assert.equal(c.bufferedInput > 0, true);
    c.resumeSink();
    assert.deepEqual(got, ["a", "b"]);
    accept = true;
    c.resumeSink();
    assert.deepEqual(got, ["a", "b", "c"]);
    assert.equal(c.paused, false);
  });

  it("validates streamed text incrementally: 1007 before the bad bytes reach the sink", () => {
    const { conn, sink } = core({ streamThreshold: 0 });
    conn.receive(frame(1, "ok ", false));
    conn.receive(frame(0, Buffer.from([0x61, 0xc0, 0x80]), true));
    assert.deepEqual(
      sink.chunks.map((c) => c.toString()),
      ["ok "],
    );
    assert.deepEqual(sink.events, ["start 1", "abort", "output 88", "eof"]);
    assert.equal(conn.closeInfo.error?.code, "ERR_WS_INVALID_UTF8");
  });

  it("limits a streamed message to maxStreamSize, across fragments (1009)", () => {
    const { conn, sink } = core({ streamThreshold: 0, maxMessageSize: 4, maxStreamSize: 10 });
    conn.receive(Buffer.concat(fragments(2, Buffer.alloc(10), [5])));
    assert.equal(sink.events[1], `end ${"00".repeat(10)}`);
    conn.receive(Buffer.concat(fragments(2, Buffer.alloc(11), [5])));
    assert.deepEqual(sink.events.slice(2), ["start 2", "abort", "output 88", "eof"]);
    assert.equal(conn.closeInfo.error?.code, "ERR_WS_MESSAGE_TOO_BIG");
    // maxMessageSize still applies to assembled messages (none here: all streamed); and a
    // first frame over the limit fails before the sink hears of it.
    const b = core({ streamThreshold: 0, maxStreamSize: 3 });
    b.conn.receive(frame(2, "abcd"));
    assert.deepEqual(b.sink.events, ["output 88", "eof"]);
  });

  it("aborts a streamed message on a close frame, on EOF and on abort()", () => {
    for (const end of ["close", "eof", "abort"] as const) {
      const { conn, sink, pool } = core({ streamThreshold: 0 });
      conn.receive(frame(2, "part", false));
      if (end === "close") conn.receive(frame(8, Buffer.from([0x03, 0xe8])));
      else if (end === "eof") conn.receiveEof();
      else conn.abort();
      assert.equal(sink.events[0], "start 2");
      assert.equal(sink.events[1], "abort", end);
      assert.equal(pool.outstanding, 0);
    }
  });

  it("rejects bad options", () => {
    assert.throws(() => core({ streamThreshold: -1 }), /streamThreshold/);
    assert.throws(() => core({ maxStreamSize: 0.5 }), /maxStreamSize/);
  });
});
