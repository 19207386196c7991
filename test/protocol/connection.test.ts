// The sans-I/O connection: bytes in, messages and frames out, no sockets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import { createError, type TidewsError } from "../../src/errors.js";
import {
  ProtocolConnection,
  type ProtocolOptions,
  type ProtocolSink,
  ReadyState,
} from "../../src/protocol/connection.js";
import { FixedMaskSource, xorRange } from "../../src/protocol/mask.js";
import { CountingPool } from "../hardening/lib/counting-pool.js";
import {
  buildWire,
  cuts,
  pausesAt,
  ReusedBuffer,
  readsOf,
  type Sent,
  schedule,
  wireItems,
} from "./transient-feed.js";

type Event =
  | { kind: "message"; opcode: number; data: string }
  | { kind: "compressed"; opcode: number; data: string }
  | { kind: "ping" | "pong"; data: string }
  | { kind: "output"; hex: string }
  | { kind: "peerClose"; code: number; reason: string }
  | { kind: "end" };

class Recorder implements ProtocolSink {
  events: Event[] = [];
  constructor(readonly pool: BufferPool) {}
  onMessage(opcode: number, data: ByteBuffer): void {
    this.events.push({ kind: "message", opcode, data: data.toString("hex") });
    this.pool.put(data);
  }
  onCompressedMessage(opcode: number, data: ByteBuffer): void {
    this.events.push({ kind: "compressed", opcode, data: data.toString("hex") });
    this.pool.put(data);
  }
  onPing(payload: Buffer): void {
    this.events.push({ kind: "ping", data: payload.toString("hex") });
  }
  onPong(payload: Buffer): void {
    this.events.push({ kind: "pong", data: payload.toString("hex") });
  }
  onOutput(frame: ByteBuffer): void {
    this.events.push({ kind: "output", hex: frame.toString("hex") });
    this.pool.put(frame);
  }
  onPeerClose(code: number, reason: string): void {
    this.events.push({ kind: "peerClose", code, reason });
  }
  onEnd(): void {
    this.events.push({ kind: "end" });
  }
}

/**
 * A {@link Recorder} that takes whole messages where they lie (`onMessageView`) and logs them as
 * `onMessage` would: its log must equal the plain one.
 */
class ViewRecorder extends Recorder {
  views = 0;
  constructor(
    pool: BufferPool,
    readonly validates: boolean,
  ) {
    super(pool);
  }
  onMessageView(opcode: number, chunk: Buffer, start: number, end: number, key: number): void {
    this.views++;
    // Text to validate arrives unmasked (it was checked in place); the rest may still be masked.
    if (opcode === 1 && this.validates) assert.equal(key, 0, "text is unmasked to be checked");
    const data = Buffer.from(chunk.subarray(start, end));
    xorRange(data, 0, data.length, key, 0);
    this.events.push({ kind: "message", opcode, data: data.toString("hex") });
  }
}

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client-to-server frame, masked with MASK. */
function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const len = data.length;
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
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

function closePayload(code: number, reason = ""): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

function server(options: Partial<ProtocolOptions> = {}, views = false) {
  const pool = new BufferPool(64, 64 * 1024);
  const sink = views ? new ViewRecorder(pool, options.validateUtf8 !== false) : new Recorder(pool);
  const conn = new ProtocolConnection(sink, { role: "server", pool, ...options });
  return { conn, sink, pool };
}

/**
 * Feeds `bytes` whole, one byte at a time and in random splits, and whole to a sink that takes
 * messages where they lie (`onMessageView`); the event logs must agree.
 */
function feedAllWays(bytes: Buffer, options: Partial<ProtocolOptions> = {}): Event[] {
  const whole = server(options);
  whole.conn.receive(Buffer.from(bytes));
  const viewing = server(options, true);
  viewing.conn.receive(Buffer.from(bytes));
  assert.deepEqual(viewing.sink.events, whole.sink.events, "messages taken where they lie");
  const single = server(options);
  for (let i = 0; i < bytes.length; i++) single.conn.receive(Buffer.from(bytes.subarray(i, i + 1)));
  assert.deepEqual(single.sink.events, whole.sink.events, "one byte at a time");
  fc.assert(
    fc.property(fc.array(fc.nat(bytes.length), { maxLength: 8 }), (cuts) => {
      const s = server(options);
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      let at = 0;
      for (const p of [...points, bytes.length]) {
        s.conn.receive(Buffer.from(bytes.subarray(at, p)));
        at = p;
      }
      assert.deepEqual(s.sink.events, whole.sink.events, `split at ${points}`);
    }),
    { numRuns: 30 },
  );
  return whole.sink.events;
}

function closeFrameHex(code: number): string {
  return Buffer.concat([Buffer.from([0x88, 2]), closePayload(code)]).toString("hex");
}

function failedWith(events: Event[], code: number): void {
  const outputs = events.filter((e) => e.kind === "output");
  assert.deepEqual(outputs.at(-1), { kind: "output", hex: closeFrameHex(code) }, `close ${code}`);
  assert.deepEqual(events.at(-1), { kind: "end" });
}

describe("ProtocolConnection (server role)", () => {
  it("delivers a text message and a binary message", () => {
    const events = feedAllWays(
      Buffer.concat([clientFrame(1, "Hello"), clientFrame(2, Buffer.from([0, 1, 2, 255]))]),
    );
    assert.deepEqual(events, [
      { kind: "message", opcode: 1, data: Buffer.from("Hello").toString("hex") },
      { kind: "message", opcode: 2, data: "000102ff" },
    ]);
  });

  it("assembles fragments, with control frames between them", () => {
    const events = feedAllWays(
      Buffer.concat([
        clientFrame(1, "Hel", false),
        clientFrame(9, "p"),
        clientFrame(0, "lo", false),
        clientFrame(0, " world"),
      ]),
    );
    assert.deepEqual(events, [
      { kind: "output", hex: `8a01${Buffer.from("p").toString("hex")}` },
      { kind: "ping", data: Buffer.from("p").toString("hex") },
      { kind: "message", opcode: 1, data: Buffer.from("Hello world").toString("hex") },
    ]);
  });

  it("answers a ping with a pong carrying the same payload, unless autoPong is off", () => {
    const ping = clientFrame(9, "abc");
    assert.deepEqual(feedAllWays(ping)[0], { kind: "output", hex: "8a03616263" });
    assert.deepEqual(feedAllWays(ping, { autoPong: false }), [{ kind: "ping", data: "616263" }]);
    assert.deepEqual(feedAllWays(clientFrame(10, "x")), [{ kind: "pong", data: "78" }]);
  });

  it("answers a close frame by echoing its code, then ends", () => {
    const { conn, sink } = server();
    conn.receive(clientFrame(8, closePayload(1000, "bye")));
    assert.deepEqual(sink.events, [
      { kind: "peerClose", code: 1000, reason: "bye" },
      { kind: "output", hex: closeFrameHex(1000) },
      { kind: "end" },
    ]);
    assert.equal(conn.state, ReadyState.Closed);
    assert.deepEqual(conn.closeInfo, {
      code: 1000,
      reason: "bye",
      wasClean: true,
      error: undefined,
    });
    assert.ok(conn.closeExpected());
  });

  it("answers an empty close frame with an empty close frame (1005 seen)", () => {
    const { conn, sink } = server();
    conn.receive(clientFrame(8, ""));
    assert.deepEqual(sink.events, [
      { kind: "peerClose", code: 1005, reason: "" },
      { kind: "output", hex: "8800" },
      { kind: "end" },
    ]);
  });

  it("ignores data after a close frame", () => {
    const { conn, sink } = server();
    conn.receive(Buffer.concat([clientFrame(8, closePayload(1000)), clientFrame(1, "late")]));
    conn.receive(clientFrame(1, "later"));
    assert.equal(sink.events.filter((e) => e.kind === "message").length, 0);
  });

  it("holds no frame parser until the peer sends a byte", () => {
    const { conn, sink } = server();
    const parserOf = () => (conn as unknown as { parser: unknown }).parser;
    conn.send(2, Buffer.from([1, 2, 3])); // sending needs none
    assert.equal(parserOf(), undefined);
    assert.equal(conn.paused, false);
    assert.equal(conn.bufferedInput, 0);
    conn.receive(clientFrame(1, "first"));
    assert.notEqual(parserOf(), undefined);
    assert.equal(sink.events.filter((e) => e.kind === "message").length, 1);
  });

  it("ignores data that comes after a failure before the first byte", () => {
    const { conn, sink } = server();
    conn.abort();
    conn.receive(clientFrame(1, "late"));
    assert.equal(sink.events.filter((e) => e.kind === "message").length, 0);
    const failed = server();
    failed.conn.fail(createError("ERR_WS_INVALID_OPCODE"));
    failed.conn.receive(clientFrame(1, "late"));
    assert.equal(failed.sink.events.filter((e) => e.kind === "message").length, 0);
  });

  it("runs the close handshake it starts", () => {
    const { conn, sink } = server();
    conn.close(4000, "done");
    assert.equal(conn.state, ReadyState.Closing);
    const sent = sink.events[0];
    assert.equal(sent?.kind, "output");
    assert.throws(
      () => conn.send(1, "x"),
      (e: TidewsError) => e.code === "ERR_WS_NOT_OPEN",
    );
    conn.receive(clientFrame(1, "still delivered"));
    conn.receive(clientFrame(8, closePayload(4000)));
    assert.equal(conn.state, ReadyState.Closed);
    assert.deepEqual(sink.events.at(-1), { kind: "end" });
    assert.equal(sink.events.filter((e) => e.kind === "output").length, 1, "close answered once");
    assert.ok(conn.closeInfo.wasClean);
  });

  it("fails with 1002 on protocol violations", () => {
    const cases: Array<[string, Buffer]> = [
      ["reserved opcode", clientFrame(3, "")],
      ["reserved control opcode", clientFrame(0xb, "")],
      ["RSV1 without extension", clientFrame(1, "x", true, 4)],
      ["RSV2", clientFrame(1, "x", true, 2)],
      ["continuation without start", clientFrame(0, "x")],
      [
        "new message inside fragmented one",
        Buffer.concat([clientFrame(1, "a", false), clientFrame(1, "b")]),
      ],
      ["fragmented ping", clientFrame(9, "x", false)],
      ["ping over 125 bytes", clientFrame(9, Buffer.alloc(126))],
      ["unmasked client frame", Buffer.from([0x81, 0x01, 0x61])],
      ["1-byte close payload", clientFrame(8, Buffer.from([3]))],
      ["invalid close code 999", clientFrame(8, closePayload(999))],
      ["invalid close code 1005", clientFrame(8, closePayload(1005))],
      ["invalid close code 1016", clientFrame(8, closePayload(1016))],
      ["invalid close code 5000", clientFrame(8, closePayload(5000))],
    ];
    for (const [name, bytes] of cases) {
      const events = feedAllWays(bytes);
      assert.ok(
        events.every((e) => e.kind !== "message"),
        `${name}: nothing delivered`,
      );
      failedWith(events, 1002);
    }
  });

  it("fails with 1007 on invalid UTF-8, fast when fragmented", () => {
    failedWith(feedAllWays(clientFrame(1, Buffer.from([0xce, 0xba, 0xe1, 0xbd]))), 1007);
    failedWith(feedAllWays(clientFrame(1, Buffer.from([0xed, 0xa0, 0x80]))), 1007); // surrogate
    failedWith(
      feedAllWays(clientFrame(8, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))),
      1007,
    );
    // Fail-fast: the invalid byte arrives in the second fragment; the third is never needed.
    const { conn, sink } = server();
    conn.receive(clientFrame(1, "valid ", false));
    assert.equal(sink.events.length, 0);
    conn.receive(clientFrame(0, Buffer.from([0xf4, 0x90]), false)); // > U+10FFFF
    failedWith(sink.events, 1007);
    // Fail-fast inside one frame split across chunks (Autobahn 6.4.3).
    const frame = clientFrame(
      1,
      Buffer.concat([Buffer.from("abc"), Buffer.from([0xc0, 0x80]), Buffer.from("x".repeat(50))]),
    );
    const s = server();
    s.conn.receive(frame.subarray(0, 10));
    failedWith(s.sink.events, 1007);
  });

  it("accepts valid multi-byte text split anywhere", () => {
    const text = "κόσμε \u{1f600} ascii \u00e9";
    const bytes = Buffer.from(text);
    const frames = Buffer.concat([
      clientFrame(1, bytes.subarray(0, 3), false),
      clientFrame(0, bytes.subarray(3, 12), false),
      clientFrame(0, bytes.subarray(12)),
    ]);
    assert.deepEqual(feedAllWays(frames), [
      { kind: "message", opcode: 1, data: bytes.toString("hex") },
    ]);
    assert.equal(
      feedAllWays(clientFrame(1, Buffer.from([0xff])), { validateUtf8: false })[0]?.kind,
      "message",
    );
  });

  it("fails with 1009 when a message exceeds the maximum size, across fragments", () => {
    failedWith(feedAllWays(clientFrame(2, Buffer.alloc(101)), { maxMessageSize: 100 }), 1009);
    const frames = Buffer.concat([
      clientFrame(2, Buffer.alloc(60), false),
      clientFrame(0, Buffer.alloc(41)),
    ]);
    failedWith(feedAllWays(frames, { maxMessageSize: 100 }), 1009);
    assert.equal(
      feedAllWays(clientFrame(2, Buffer.alloc(100)), { maxMessageSize: 100 })[0]?.kind,
      "message",
    );
    // A compressed payload may be slightly larger than the limit (incompressible data): the
    // inflater enforces the limit on the output instead; far past it still fails at once.
    const compressed = feedAllWays(clientFrame(2, Buffer.alloc(110), true, 4), {
      maxMessageSize: 100,
      compression: true,
    });
    assert.equal(compressed[0]?.kind, "compressed");
    failedWith(
      feedAllWays(clientFrame(2, Buffer.alloc(200), true, 4), {
        maxMessageSize: 100,
        compression: true,
      }),
      1009,
    );
  });

  it("fails with 1006 info when the stream ends without a close frame", () => {
    const { conn, sink } = server();
    conn.receive(clientFrame(1, "a", false));
    conn.receiveEof();
    assert.equal(conn.state, ReadyState.Closed);
    assert.equal(conn.closeInfo.code, 1006);
    assert.equal(conn.closeInfo.wasClean, false);
    assert.equal(conn.closeInfo.error?.code, "ERR_WS_UNEXPECTED_EOF");
    assert.deepEqual(sink.events, [{ kind: "end" }]);
  });

  it("hands compressed messages to the codec and pauses until they are delivered", () => {
    const { conn, sink, pool } = server({ compression: true });
    conn.receive(Buffer.concat([clientFrame(1, "zz", true, 4), clientFrame(1, "after")]));
    assert.deepEqual(sink.events, [{ kind: "compressed", opcode: 1, data: "7a7a" }]);
    assert.ok(conn.paused);
    const inflated = pool.get(5);
    inflated.writeString("hello");
    conn.deliverInflated(inflated);
    assert.deepEqual(sink.events.slice(1), [
      { kind: "message", opcode: 1, data: Buffer.from("hello").toString("hex") },
      { kind: "message", opcode: 1, data: Buffer.from("after").toString("hex") },
    ]);
    // RSV1 on a continuation frame is still a protocol error.
    failedWith(
      feedAllWays(Buffer.concat([clientFrame(1, "a", false, 4), clientFrame(0, "b", true, 4)]), {
        compression: true,
      }),
      1002,
    );
  });

  it("validates inflated text and fails with 1007", () => {
    const { conn, sink, pool } = server({ compression: true });
    conn.receive(clientFrame(1, "zz", true, 4));
    const bad = pool.get(1);
    bad.writeByte(0xff);
    conn.deliverInflated(bad);
    failedWith(sink.events, 1007);
  });

  it("returns every pooled buffer it took", () => {
    const { conn, pool } = server({ maxMessageSize: 1000 });
    conn.receive(clientFrame(1, "abc", false));
    conn.receive(clientFrame(0, "def"));
    conn.receive(clientFrame(2, Buffer.alloc(500), false));
    conn.receive(clientFrame(0, Buffer.alloc(600))); // too big: the partial message is released
    const s = pool.stats();
    assert.equal(s.gets, s.puts, "every get matched by a put");
  });

  it("encodes messages, fragments and control frames as a server (unmasked)", () => {
    const { conn, sink } = server();
    conn.send(1, "Hello");
    conn.send(2, Buffer.from([1, 2]), false);
    conn.send(2, Buffer.from([3]));
    conn.sendParts(2, [Buffer.from([4]), Buffer.from([5, 6])]);
    conn.ping(Buffer.from("p"));
    assert.deepEqual(
      sink.events.map((e) => (e.kind === "output" ? e.hex : e.kind)),
      ["810548656c6c6f", "02020102", "800103", "8203040506", "890170"],
    );
    sink.events.length = 0;
    conn.sendFragmented(2, Buffer.from([1, 2, 3, 4, 5]), 2);
    assert.deepEqual(
      sink.events.map((e) => (e.kind === "output" ? e.hex : e.kind)),
      ["02020102", "00020304", "800105"],
    );
    assert.throws(
      () => conn.sendFragmented(2, Buffer.alloc(3), 0),
      (e: TidewsError) => e.code === "ERR_INVALID_ARGUMENT",
    );
    assert.throws(
      () => conn.ping(Buffer.alloc(126)),
      (e: TidewsError) => e.code === "ERR_INVALID_ARGUMENT",
    );
    assert.throws(
      () => conn.close(1005),
      (e: TidewsError) => e.code === "ERR_INVALID_ARGUMENT",
    );
    assert.throws(
      () => conn.close(1000, "x".repeat(124)),
      (e: TidewsError) => e.code === "ERR_INVALID_ARGUMENT",
    );
  });
});

describe("ProtocolConnection (client role)", () => {
  it("masks what it sends and fails on masked server frames", () => {
    const pool = new BufferPool(64, 4096);
    const sink = new Recorder(pool);
    const conn = new ProtocolConnection(sink, {
      role: "client",
      pool,
      maskSource: new FixedMaskSource(MASK),
    });
    conn.send(1, "Hello");
    const hello = clientFrame(1, "Hello").toString("hex");
    assert.deepEqual(sink.events[0], { kind: "output", hex: hello });
    conn.receive(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    assert.deepEqual(sink.events[1], { kind: "message", opcode: 1, data: "6869" });
    conn.receive(clientFrame(1, "masked"));
    const last = sink.events.filter((e) => e.kind === "output").at(-1);
    assert.ok(last?.kind === "output" && last.hex.startsWith("8882"), "masked close frame sent");
    assert.equal(conn.closeInfo.error?.code, "ERR_WS_UNEXPECTED_MASK");
    assert.throws(() => new ProtocolConnection(sink, { role: "client", pool }));
  });
});

describe("ProtocolConnection.sendRangeOf", () => {
  const KEY = 0x01020304;
  /** `payload` masked with KEY at offset 5 of a larger buffer, as a client frame carries it. */
  function maskedRange(payload: Buffer): Buffer {
    const src = Buffer.concat([Buffer.alloc(5, 0xee), payload, Buffer.alloc(3, 0xee)]);
    xorRange(src, 5, 5 + payload.length, KEY, 0);
    return src;
  }

  it("a server sends the unmasked frame, of its own without a batch, and keeps the source", () => {
    for (const n of [0, 5, 125, 126, 4096, 16 * 1024 - 1]) {
      const payload = Buffer.alloc(n, n & 0xff);
      const a = server();
      a.conn.send(2, payload);
      const b = server();
      const src = maskedRange(payload);
      const copy = Buffer.from(src);
      b.conn.sendRangeOf(2, src, 5, 5 + n, KEY);
      assert.deepEqual(b.sink.events, a.sink.events, `${n} bytes`);
      assert.deepEqual(src, copy, "the source is not changed");
    }
  });

  it("a client applies its own key in the same pass", () => {
    const client = () => {
      const pool = new BufferPool(64, 64 * 1024);
      const sink = new Recorder(pool);
      const conn = new ProtocolConnection(sink, {
        role: "client",
        pool,
        maskSource: new FixedMaskSource(MASK),
      });
      return { conn, sink };
    };
    for (const n of [3, 700, 9000]) {
      const payload = Buffer.alloc(n, 0x5a);
      const a = client();
      a.conn.send(1, payload);
      const b = client();
      b.conn.sendRangeOf(1, maskedRange(payload), 5, 5 + n, KEY);
      assert.deepEqual(b.sink.events, a.sink.events, `${n} bytes`);
    }
  });

  it("refuses after the close frame, like send", () => {
    const { conn } = server();
    conn.close(1000, "");
    assert.throws(
      () => conn.sendRangeOf(2, Buffer.alloc(4), 0, 4, KEY),
      (e: unknown) => (e as { code?: string }).code === "ERR_WS_NOT_OPEN",
    );
  });
});

describe("ProtocolConnection.sendBuffer refusals", () => {
  it("says NOT_OPEN after close, OUT_OF_RANGE without headroom, and takes the buffer either way", () => {
    const pool = new BufferPool(64, 1 << 16);
    const outputs: ByteBuffer[] = [];
    const sink = {
      onMessage() {},
      onCompressedMessage() {},
      onPing() {},
      onPong() {},
      onOutput(f: ByteBuffer) {
        outputs.push(f);
      },
      onPeerClose() {},
      onEnd() {},
    };
    const core = new ProtocolConnection(sink, { role: "server", pool });
    const flat = pool.get(64);
    flat.writeString("no room in front");
    assert.throws(
      () => core.sendBuffer(2, flat),
      (e: unknown) => (e as { code?: string }).code === "ERR_OUT_OF_RANGE",
    );
    core.close(1000, "");
    const roomy = pool.get(64);
    roomy.off = 14;
    roomy.end = 14;
    roomy.writeString("late");
    assert.throws(
      () => core.sendBuffer(2, roomy),
      (e: unknown) => (e as { code?: string }).code === "ERR_WS_NOT_OPEN",
    );
    for (const f of outputs) pool.put(f);
    const st = pool.stats();
    assert.equal(st.gets, st.puts, "both refused buffers went back to the pool");
  });
});

describe("ProtocolConnection: transient input (a shared read buffer)", () => {
  type Logged =
    | { type: "message" | "ping" | "pong" | "output"; opcode?: number; data: Buffer }
    | { type: "stream"; opcode: number; pieces: Buffer[] }
    | { type: "abort" | "end" };
  type Normal =
    | { type: "message" | "stream" | "ping" | "pong" | "output"; opcode?: number; data: Buffer }
    | { type: "abort" | "end" };

  /**
   * Records what the core reports. A streamed message's pieces are views valid during the call
   * (the ProtocolSink contract; the runtime's MessageStream copies them), so the sink copies them,
   * and counts those that were views of the reused read buffer.
   */
  class KeepingSink implements ProtocolSink {
    readonly log: Logged[] = [];
    calls = 0;
    pauseAt: (call: number) => boolean = () => false;
    /** Streamed pieces that are views of the read buffer. */
    aliased = 0;
    private pieces: Buffer[] = [];
    private opcode = 0;
    constructor(
      readonly pool: CountingPool,
      readonly memory?: ReusedBuffer,
    ) {}
    protected answer(): boolean {
      return !this.pauseAt(this.calls++);
    }
    onMessage(opcode: number, data: ByteBuffer): boolean {
      this.log.push({ type: "message", opcode, data: Buffer.from(data.bytes()) });
      this.pool.put(data);
      return this.answer();
    }
    onMessageStart(opcode: number): void {
      this.opcode = opcode;
      this.pieces = [];
    }
    onMessageChunk(data: Buffer): boolean {
      if (this.memory?.owns(data)) this.aliased++;
      this.pieces.push(Buffer.from(data));
      return this.answer();
    }
    onMessageEnd(): boolean {
      this.log.push({ type: "stream", opcode: this.opcode, pieces: this.pieces });
      return this.answer();
    }
    onMessageAbort(): void {
      this.log.push({ type: "abort" });
    }
    onCompressedMessage(_opcode: number, data: ByteBuffer): void {
      this.pool.put(data);
      throw new Error("no compression here");
    }
    onPing(payload: Buffer): void {
      this.log.push({ type: "ping", data: Buffer.from(payload) });
    }
    onPong(payload: Buffer): void {
      this.log.push({ type: "pong", data: Buffer.from(payload) });
    }
    onOutput(frame: ByteBuffer): void {
      this.log.push({ type: "output", data: Buffer.from(frame.bytes()) });
      this.pool.put(frame);
    }
    onPeerClose(): void {}
    onEnd(): void {
      this.log.push({ type: "end" });
    }
    /** The log, each stream's pieces joined now (long after they were handed over). */
    normal(): Normal[] {
      return this.log.map((e) =>
        e.type === "stream"
          ? { type: "stream", opcode: e.opcode, data: Buffer.concat(e.pieces) }
          : e,
      );
    }
  }

  /** A {@link KeepingSink} that takes whole messages where they lie, copying them in time. */
  class ViewingSink extends KeepingSink {
    views = 0;
    onMessageView(opcode: number, chunk: Buffer, start: number, end: number, key: number): boolean {
      if (this.memory?.owns(chunk)) this.aliased++;
      this.views++;
      const data = Buffer.from(chunk.subarray(start, end));
      xorRange(data, 0, data.length, key, 0);
      this.log.push({ type: "message", opcode, data });
      return this.answer();
    }
  }

  /** What the core must report for `sent`, from the model. */
  function modelOf(sent: readonly Sent[], threshold: number | undefined): Normal[] {
    const out: Normal[] = [];
    for (const s of sent) {
      if (s.type === "message") {
        const streamed = threshold !== undefined && (s.fragments > 1 || s.firstLength >= threshold);
        out.push({ type: streamed ? "stream" : "message", opcode: s.opcode, data: s.data });
      } else if (s.type === "ping") {
        // RFC 6455 section 5.5.2: the pong goes out first, then the sink hears of the ping.
        out.push({
          type: "output",
          data: Buffer.concat([Buffer.from([0x8a, s.data.length]), s.data]),
        });
        out.push({ type: "ping", data: s.data });
      } else {
        out.push({ type: "pong", data: s.data });
      }
    }
    return out;
  }

  function core(threshold: number | undefined, memory?: ReusedBuffer, views = false) {
    const pool = new CountingPool(new BufferPool(64, 1024 * 1024));
    const sink = views ? new ViewingSink(pool, memory) : new KeepingSink(pool, memory);
    const conn = new ProtocolConnection(sink, { role: "server", pool, streamThreshold: threshold });
    return { conn, sink, pool };
  }

  it("property: reads overwritten after every call, sink pauses, streamed and whole messages: the same events", () => {
    fc.assert(
      fc.property(
        wireItems,
        cuts,
        schedule,
        fc.constantFrom(undefined, 0, 1000, 65_536),
        fc.boolean(),
        (items, c, s, threshold, views) => {
          const wire = buildWire(items);
          const reads = readsOf(wire, c);
          const reference = core(threshold);
          for (const read of reads) reference.conn.receive(Buffer.from(read));
          assert.deepEqual(reference.sink.normal(), modelOf(wire.sent, threshold));

          const memory = new ReusedBuffer();
          const { conn, sink, pool } = core(threshold, memory, views);
          sink.pauseAt = (call) => pausesAt(s, call);
          for (const [i, read] of reads.entries()) {
            conn.receive(memory.load(read), true);
            // The next read of any connection lands in the same memory.
            memory.clobber();
            for (let r = s.resumes[i] ?? 1; r > 0; r--) conn.resumeSink();
          }
          for (let guard = 0; conn.pausedBySink; guard++) {
            assert.ok(guard < 1_000_000, "the core makes progress");
            conn.resumeSink();
          }
          assert.equal(conn.paused, false);
          assert.equal(conn.bufferedInput, 0);
          assert.deepEqual(sink.normal(), reference.sink.normal());
          assert.equal(pool.outstanding, 0);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("a whole message is handed over where it lies, in the read buffer, and takes no pool buffer", () => {
    const memory = new ReusedBuffer();
    const wire = buildWire([
      { kind: "message", opcode: 2, size: 300, seed: 7, cuts: [], controls: [] },
      { kind: "message", opcode: 1, size: 200, seed: 8, cuts: [], controls: [] },
    ]);
    const a = core(undefined, memory, true);
    a.conn.receive(memory.load(wire.bytes), true);
    memory.clobber();
    const b = core(undefined);
    b.conn.receive(Buffer.from(wire.bytes));
    assert.deepEqual(a.sink.normal(), b.sink.normal());
    assert.equal((a.sink as ViewingSink).views, 2);
    assert.equal(a.sink.aliased, 2, "both are views of the read buffer");
    assert.equal(a.pool.largestRequest, 0, "no pool buffer for either");
  });

  it("a streamed piece is a view valid during the call, of transient input as of owned", () => {
    const memory = new ReusedBuffer();
    const wire = buildWire([
      { kind: "message", opcode: 2, size: 300, seed: 7, cuts: [100], controls: [] },
    ]);
    const a = core(0, memory);
    a.conn.receive(memory.load(wire.bytes), true);
    memory.clobber();
    const b = core(0);
    const owned = Buffer.from(wire.bytes);
    b.conn.receive(owned);
    const [x, y] = [a.sink.normal(), b.sink.normal()];
    assert.deepEqual(x, y);
    // No copy by the core: the piece is the read buffer itself (the sink copied it in time).
    assert.ok(a.sink.aliased > 0);
  });
});
