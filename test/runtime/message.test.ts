// Message: the received message and the ownership of its payload, in both of its forms: in a
// pooled buffer of its own, and left where it was received (the connection's input) until
// something needs it to outlive that input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { HEADROOM_MIN } from "../../src/protocol/connection.js";
import { MAX_HEADER_SIZE } from "../../src/protocol/frame-encoder.js";
import { copyXorRange, xorRange } from "../../src/protocol/mask.js";
import { Message } from "../../src/runtime/message.js";
import { CountingPool } from "../hardening/lib/counting-pool.js";

const KEY = 0x37fa213d;

/** `payload` masked with KEY at `at` of a larger input buffer, as a client sends it. */
function inputWith(payload: Buffer, at: number): Buffer {
  const input = Buffer.alloc(at + payload.length + 5, 0xee);
  payload.copy(input, at);
  xorRange(input, at, at + payload.length, KEY, 0);
  return input;
}

function inInput(opcode: number, payload: Buffer, masked: boolean) {
  const pool = new CountingPool(new BufferPool(64, 4096));
  const at = 3;
  const input = masked ? inputWith(payload, at) : Buffer.concat([Buffer.alloc(at), payload]);
  const end = at + payload.length;
  const m = Message.inInput(opcode, input, at, end, masked ? KEY : 0, pool, copyXorRange);
  return { m, pool, input };
}

const invalidState = (e: unknown) => (e as { code?: string }).code === "ERR_WS_INVALID_STATE";

describe("Message left in the input", () => {
  it("takes no pool buffer for its length, text and JSON", () => {
    const body = Buffer.from(JSON.stringify({ hello: "wörld" }));
    const { m, pool } = inInput(1, body, false);
    assert.equal(m.length, body.length);
    assert.equal(m.isText, true);
    assert.equal(m.text(), body.toString());
    assert.deepEqual(m.json(), { hello: "wörld" });
    assert.equal(pool.largestRequest, 0, "nothing copied");
    m.done();
    assert.equal(m.length, 0);
    assert.throws(() => m.data, invalidState);
    assert.throws(() => m.text(), invalidState);
  });

  it("data moves it into a pooled buffer, unmasked, that no later input changes", () => {
    const body = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
    const { m, pool, input } = inInput(2, body, true);
    const data = m.data;
    assert.deepEqual(Buffer.from(data), body);
    input.fill(0x55);
    assert.deepEqual(Buffer.from(m.data), body, "its own copy");
    assert.equal(m.text(), body.toString(), "text of a masked one from its copy");
    assert.equal(pool.outstanding, 1);
    m.done();
    assert.equal(pool.outstanding, 0, "the buffer went back");
    assert.throws(() => m.data, invalidState);
  });

  it("retain() copies it at once: it outlives the input until release()", () => {
    const body = Buffer.from("kept past the handler");
    const { m, pool, input } = inInput(1, body, false);
    m.retain();
    input.fill(0);
    m.done();
    assert.equal(m.isRetained, true);
    assert.equal(m.text(), body.toString());
    m.release();
    assert.equal(pool.outstanding, 0);
    assert.throws(() => m.data, invalidState);
  });

  it("take() hands over a buffer of its own, and the message counts as released", () => {
    const body = Buffer.alloc(300, 7);
    const { m, pool, input } = inInput(2, body, true);
    const buf = m.take();
    input.fill(1);
    assert.deepEqual(Buffer.from(buf.bytes()), body);
    assert.throws(() => m.take(), invalidState);
    assert.throws(() => m.data, invalidState);
    pool.put(buf);
    assert.equal(pool.outstanding, 0);
  });

  it("an empty message", () => {
    const { m, pool } = inInput(2, Buffer.alloc(0), true);
    assert.equal(m.length, 0);
    assert.equal(m.data.length, 0);
    m.release();
    m.release();
    assert.equal(pool.outstanding, 0);
  });

  it("a large one moved out of the input keeps room for a frame header in front, a small one none", () => {
    for (const [n, head] of [
      [20_000, MAX_HEADER_SIZE],
      [HEADROOM_MIN, MAX_HEADER_SIZE],
      [HEADROOM_MIN - 1, 0],
    ] as const) {
      const pool = new CountingPool(new BufferPool(64, 1 << 20));
      const body = Buffer.alloc(n);
      for (let i = 0; i < n; i++) body[i] = (i * 13) & 0xff;
      const input = inputWith(body, 3);
      const m = Message.inInput(2, input, 3, 3 + n, KEY, pool, copyXorRange);
      assert.ok(m.retain().data.equals(body), `${n}: unmasked on the way`);
      // conn.send(message) builds the header into that room: the buffer is the frame.
      const buf = m.take();
      assert.equal(buf.off, head, `${n}: room in front`);
      assert.equal(buf.len, n);
      pool.put(buf);
      assert.equal(pool.outstanding, 0);
    }
  });
});
