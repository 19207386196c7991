// Endless fragments of one message against a running server. No fragment-count cap: legitimate
// heavily fragmented messages pass (Autobahn 9.3.1's 4 MiB in 64-byte fragments, 100,000
// one-byte fragments), while memory stays bounded by the message limit plus a small
// per-message overhead, and the message that passes the limit is closed with 1009.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import type { Connection } from "../../src/index.js";
import { rawConnect } from "../helpers/raw-client.js";
import { echo, exchangeFrames, MiB, memory, startServer, until } from "./lib/harness.js";
import { closeCodeOf, messagesOf, parseFrames } from "./lib/server-frames.js";

/** `payload` as masked client frames of `size` bytes each (the first `opcode`, then 0). */
function fragments(opcode: number, payload: Buffer, size: number): Buffer {
  const count = Math.max(1, Math.ceil(payload.length / size));
  const header = size < 126 ? 6 : 8;
  const out = Buffer.alloc(count * header + payload.length);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const piece = payload.subarray(i * size, (i + 1) * size);
    out[at++] = (i === count - 1 ? 0x80 : 0) | (i === 0 ? opcode : 0);
    if (size < 126) out[at++] = 0x80 | piece.length;
    else {
      out[at++] = 0x80 | 126;
      out.writeUInt16BE(piece.length, at);
      at += 2;
    }
    // Mask key 0: the payload goes as it is.
    at += 4;
    piece.copy(out, at);
    at += piece.length;
  }
  return out;
}

/** `total` bytes as masked frames of `size` bytes, FIN clear: `opcode` first, then continuations. */
function unfinished(opcode: number, total: number, size: number): Buffer {
  const out = fragments(0x0, Buffer.alloc(total, 0x61), size);
  out[0] = opcode;
  out[out.length - size - 6] = 0x00;
  return out;
}

describe("fragments", () => {
  it("a 4 MiB message in 64-byte fragments is echoed intact (Autobahn 9.3.1)", async () => {
    const { port } = await startServer(echo);
    const payload = Buffer.alloc(4 * MiB);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const { frames } = await exchangeFrames(port, fragments(0x2, payload, 64));
    const { messages } = messagesOf(frames);
    assert.equal(messages.length, 1);
    assert.ok(messages[0]?.data.equals(payload), "same bytes");
  });

  it("100,000 one-byte fragments of text are echoed (no fragment-count cap)", async () => {
    const { port } = await startServer(echo);
    const text = Buffer.from("abcdefghij".repeat(10_000));
    const { frames } = await exchangeFrames(port, fragments(0x1, text, 1));
    const { messages } = messagesOf(frames);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.opcode, 0x1);
    assert.ok(messages[0]?.data.equals(text));
  });

  it("and with a 64 KiB limit the same 100,000 fragments end in 1009 at the limit", async () => {
    const { port, server } = await startServer(echo, { maxMessageSize: 64 * 1024 });
    const text = Buffer.from("abcdefghij".repeat(10_000));
    const { frames } = await exchangeFrames(port, fragments(0x1, text, 1));
    const { messages, controls } = messagesOf(frames);
    assert.equal(messages.length, 0);
    assert.equal(closeCodeOf(controls.find((f) => f.opcode === 0x8) ?? controls[0]!), 1009);
    await until(() => server.connections.size === 0, "the connection to close");
    assert.equal(server.stats().bytesIn, 0, "nothing delivered");
  });

  it("endless tiny fragments: memory stays at the limit plus a small overhead, then 1009", async () => {
    const limit = 4 * MiB;
    let conn: Connection | undefined;
    const { port, server } = await startServer(
      {
        onOpen(c) {
          conn = c;
        },
      },
      { maxMessageSize: limit },
    );
    const { socket } = await rawConnect(port);
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    await until(() => conn !== undefined, "onOpen");
    // 16-byte fragments, 64 KiB of payload per write, the message never finished.
    const first = unfinished(0x2, 64 * 1024, 16);
    const rest = unfinished(0x0, 64 * 1024, 16);
    const base = memory();
    let sent = 0;
    const writes = limit / (64 * 1024) - 1;
    for (let i = 0; i < writes; i++) {
      if (!socket.write(i === 0 ? first : rest)) await once(socket, "drain");
      sent += 64 * 1024;
    }
    // Wait until the server has read all of it: the heartbeat of a ping answered proves it.
    socket.write(Buffer.from([0x89, 0x80, 0, 0, 0, 0]));
    await until(() => Buffer.concat(received).includes(Buffer.from([0x8a, 0x00])), "the pong");
    const during = memory();
    const grew = during.external + during.heap - (base.external + base.heap);
    assert.ok(sent === limit - 64 * 1024);
    // The message buffer (a power of two: the limit) plus a little: no per-fragment cost.
    assert.ok(
      grew < limit + 2 * MiB,
      `grew ${(grew / MiB).toFixed(2)} MiB for ${sent / MiB} MiB of fragments`,
    );
    console.log(
      `${sent / 16} fragments, ${(sent / MiB).toFixed(2)} MiB held: heap+external +${(grew / MiB).toFixed(2)} MiB`,
    );
    // Over the limit: 1009, and the buffer goes back.
    socket.write(rest);
    socket.write(rest);
    await once(socket, "close");
    const { frames } = parseFrames(Buffer.concat(received));
    const close = frames.find((f) => f.opcode === 0x8);
    assert.ok(close !== undefined);
    assert.equal(closeCodeOf(close), 1009);
    await until(() => server.connections.size === 0, "the close");
    const after = memory();
    assert.ok(after.external - base.external < MiB, "the message buffer was released");
  });

  it("200,000 empty fragments: nothing grows, the empty message is echoed", async () => {
    const { port } = await startServer(echo, { maxMessageSize: 1024 });
    const n = 200_000;
    const bytes = Buffer.alloc(6 * n);
    for (let i = 0; i < n; i++) {
      bytes[6 * i] = (i === n - 1 ? 0x80 : 0) | (i === 0 ? 0x2 : 0);
      bytes[6 * i + 1] = 0x80;
    }
    const base = memory();
    const { frames } = await exchangeFrames(port, bytes);
    const after = memory();
    const { messages } = messagesOf(frames);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.data.length, 0);
    assert.ok(after.heap - base.heap < 2 * MiB, `heap +${after.heap - base.heap}`);
  });
});
