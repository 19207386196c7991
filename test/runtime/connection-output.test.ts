import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
import { Connection, ConnectionConfig } from "../../src/runtime/connection.js";
import { RecordingStream } from "./recording-stream.js";

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
});
