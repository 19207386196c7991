// The reasons a connection pauses its input (an inflate with much input queued behind it, a full
// backlog) are set and cleared on their own: the end of one never resumes reading while the
// other still holds it. A Connection over a fake stream and a codec whose inflates finish when
// the test says so; no sockets, so every step is deterministic.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { ProtocolConnection } from "../../src/protocol/connection.js";
import { type ByteStream, Connection, ConnectionConfig } from "../../src/runtime/connection.js";
import type { CodecHost, MessageCodec } from "../../src/runtime/message-codec.js";

class FakeStream implements ByteStream {
  paused = false;
  pauses = 0;
  resumes = 0;
  readonly writableLength = 0;
  readonly writableNeedDrain = false;
  write(_data: Uint8Array, callback: (error?: Error | null) => void): boolean {
    queueMicrotask(() => callback());
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
}

/** Inflates nothing by itself: `finish(text)` delivers the pending message. */
class ManualCodec implements MessageCodec {
  core: ProtocolConnection | undefined;
  host: CodecHost | undefined;
  pending = 0;
  readonly sharedWindowBits = undefined;
  readonly busy = false;
  readonly pendingBytes = 0;
  constructor(private readonly pool: BufferPool) {}
  attach(core: ProtocolConnection, host: CodecHost): void {
    this.core = core;
    this.host = host;
  }
  shouldCompress(): boolean {
    return false;
  }
  compress(): void {}
  enqueuePlain(): void {}
  enqueueShared(): void {}
  decompress(_opcode: number, data: ByteBuffer): void {
    this.pool.put(data);
    this.pending++;
  }
  close(): void {}
  finish(text: string): void {
    this.pending--;
    const out = this.pool.get(text.length);
    out.writeString(text);
    this.core?.deliverInflated(out);
    this.host?.resumeInput();
  }
}

const MASK = Buffer.from([9, 8, 7, 6]);

function frame(payload: string | Buffer, rsv1 = false): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const b0 = 0x80 | (rsv1 ? 0x40 : 0) | (typeof payload === "string" ? 1 : 2);
  const head =
    len < 126 ? Buffer.from([b0, 0x80 | len]) : Buffer.from([b0, 0x80 | 126, len >> 8, len & 0xff]);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = (data[i] as number) ^ (MASK[i & 3] as number);
  return Buffer.concat([head, MASK, masked]);
}

/** 300 KiB of 1 KiB binary messages: more than the inflate pause threshold (256 KiB). */
const PADDING = Buffer.concat(Array.from({ length: 300 }, () => frame(Buffer.alloc(1024))));

function setup() {
  const pool = new BufferPool(64, 1024 * 1024);
  const stream = new FakeStream();
  const codec = new ManualCodec(pool);
  const seen: string[] = [];
  let release: (() => void) | undefined;
  const config = new ConnectionConfig(
    {
      onMessage(_c, m) {
        seen.push(m.isText ? m.text() : "bin");
        if (m.isText && m.text() === "hold") {
          return new Promise<void>((r) => {
            release = r;
          });
        }
      },
    },
    { role: "server", pool, maxBacklogMessages: 1 },
  );
  const conn = new Connection(stream, config, { codec });
  conn.open();
  return { conn, stream, codec, seen, release: () => release?.() };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("pause reasons", () => {
  it("an inflate that finishes does not resume reading held by the backlog", async () => {
    const { conn, stream, codec, seen, release } = setup();
    conn.handleData(Buffer.concat([frame("hold"), frame("zz", true), PADDING]));
    // The inflate is pending and 300 KiB wait behind it: paused for the inflate.
    assert.equal(codec.pending, 1);
    assert.equal(stream.paused, true);
    codec.finish("inflated");
    // Parsing went on, the backlog passed its bound (1): still paused, now for the backlog.
    assert.equal(stream.paused, true, "the finished inflate must not resume");
    assert.deepEqual(seen, ["hold"]);
    release();
    await turn();
    assert.equal(stream.paused, false);
    assert.equal(seen.length, 2 + 300);
    assert.equal(seen[1], "inflated");
    conn.handleClose();
  });

  it("a drained backlog does not resume reading held by a pending inflate", async () => {
    const { conn, stream, codec, seen, release } = setup();
    conn.handleData(Buffer.concat([frame("hold"), frame("a"), frame("b")]));
    assert.equal(stream.paused, true, "backlog over its bound");
    conn.handleData(Buffer.concat([frame("zz", true), PADDING]));
    release();
    await turn();
    // The backlog drained and parsing went on into the compressed message: its inflate is
    // pending with 300 KiB behind it, so reading stays paused.
    assert.deepEqual(seen, ["hold", "a", "b"]);
    assert.equal(codec.pending, 1);
    assert.equal(stream.paused, true, "the drained backlog must not resume");
    codec.finish("inflated");
    assert.equal(stream.paused, false);
    assert.equal(seen.length, 4 + 300);
    assert.equal(stream.pauses, stream.resumes);
    conn.handleClose();
  });
});
