import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import WebSocket from "ws";
import type { Message } from "../../src/runtime/message.js";
import { createServer } from "../../src/server/server.js";
import { maskedFrame, rawConnect } from "../helpers/raw-client.js";

/** An echo server whose handler forwards each message with `conn.send(message)`. */
async function forwardingServer(options: { perMessageDeflate?: boolean } = {}) {
  const seen: { sent: boolean; dataAfter: string }[] = [];
  const server = createServer(
    {
      onMessage(conn, message: Message) {
        const sent = conn.send(message);
        let dataAfter = "readable";
        try {
          void message.data;
        } catch (e) {
          dataAfter = (e as { code?: string }).code ?? "threw";
        }
        seen.push({ sent, dataAfter });
      },
    },
    options,
  );
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, port, seen };
}

/**
 * An echo server that records, for each `conn.send(message)`, how many buffers it took from the
 * pool.
 */
async function countingServer() {
  const deltas: number[] = [];
  const server = createServer({
    onMessage(conn, message: Message) {
      const before = server.pool.stats().gets;
      conn.send(message);
      deltas.push(server.pool.stats().gets - before);
    },
  });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, port, deltas };
}

async function roundTrip(
  port: number,
  messages: (Buffer | string)[],
  clientOptions: WebSocket.ClientOptions = {},
  sendOptions: { fin?: boolean }[] = [],
): Promise<{ data: Buffer; isBinary: boolean }[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, clientOptions);
  await once(ws, "open");
  const got: { data: Buffer; isBinary: boolean }[] = [];
  const done = new Promise<void>((resolve) => {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      got.push({ data, isBinary });
      if (got.length === messages.length) resolve();
    });
  });
  messages.forEach((m, i) => {
    ws.send(m, { ...sendOptions[i] });
  });
  await done;
  ws.close();
  await once(ws, "close");
  return got;
}

describe("conn.send(message): forwarding a received message", () => {
  const sizes = [0, 1, 4096, 16 * 1024 - 1, 16 * 1024, 65_535, 65_536, 70_000, 1_000_003];

  it("echoes every size byte for byte, keeps text and binary, and consumes the message", async () => {
    const { server, port, seen } = await forwardingServer();
    const messages: (Buffer | string)[] = sizes.flatMap((n, i) => [
      Buffer.alloc(n, (i * 41 + 3) & 0xff),
      "é".repeat(Math.floor(n / 2)),
    ]);
    const got = await roundTrip(port, messages);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as Buffer | string;
      const g = got[i];
      assert.ok(g);
      assert.equal(g.isBinary, typeof m !== "string", `#${i} type`);
      assert.ok(g.data.equals(Buffer.from(m)), `#${i} bytes (${Buffer.byteLength(m)} B)`);
    }
    assert.ok(
      seen.every((s) => s.dataAfter === "ERR_WS_INVALID_STATE"),
      "message.data throws after",
    );
    await server.close(1000);
    const stats = server.stats();
    assert.equal(stats.messagesOut, messages.length);
    assert.equal(stats.pool.gets, stats.pool.puts, "every buffer went back to the pool");
  });

  it("forwards fragmented messages and, with permessage-deflate, compressed ones", async () => {
    const { server, port } = await forwardingServer({ perMessageDeflate: true });
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const messages = [big, "x".repeat(40_000), Buffer.alloc(20_000, 1), "tail"];
    const got = await roundTrip(port, messages, { perMessageDeflate: { threshold: 0 } });
    messages.forEach((m, i) => {
      assert.ok(got[i]?.data.equals(Buffer.from(m)), `#${i}`);
    });
    await server.close(1000);
  });

  it("forwards a message of 16 KiB and more with one pool buffer in all, received and sent", async () => {
    // Pool buffers taken from the end of one handler call to the end of the next: what one
    // message cost, received (assembled, when it spanned reads) and sent on.
    const perMessage: number[] = [];
    let mark = 0;
    const server = createServer({
      onOpen() {
        mark = server.pool.stats().gets;
      },
      onMessage(conn, message: Message) {
        conn.send(message);
        const gets = server.pool.stats().gets;
        perMessage.push(gets - mark);
        mark = gets;
      },
    });
    const { port } = await server.listen(0, "127.0.0.1");
    try {
      const sizes = [16 * 1024, 20_000, 65_536, 200_000];
      const got = await roundTrip(
        port,
        sizes.map((n) => Buffer.alloc(n, 7)),
      );
      got.forEach((g, i) => {
        assert.ok(g.data.equals(Buffer.alloc(sizes[i] as number, 7)), `echo ${i}`);
      });
      // Whole in a read, it is unmasked from the input into its frame (or into the room after
      // the frame before it: none); spanning reads, it is assembled with headroom and its
      // buffer is the frame. A copy on the way would take a second one.
      assert.equal(perMessage.length, sizes.length);
      assert.ok(
        perMessage.every((n) => n <= 1),
        `one buffer at most per message: ${perMessage}`,
      );
    } finally {
      await server.close(1000);
    }
  });

  it("builds the echo of a mid-size message into the room after the large one before it", async () => {
    const { server, port, deltas } = await countingServer();
    const { socket, rest } = await rawConnect(port);
    try {
      const large = Buffer.alloc(20_000, 3); // unmasked into a frame with room for the rest
      const mid = Buffer.alloc(6_000, 4); // over the batch's 4 KiB, whole in the read
      const chunks: Buffer[] = [rest];
      let have = rest.length;
      const want = 4 + large.length + 4 + mid.length;
      const done = new Promise<void>((resolve) => {
        socket.on("data", (d: Buffer) => {
          chunks.push(d);
          have += d.length;
          if (have >= want) resolve();
        });
      });
      socket.write(Buffer.concat([maskedFrame(2, large), maskedFrame(2, mid)]));
      await done;
      const out = Buffer.concat(chunks);
      assert.equal(out.length, want);
      assert.deepEqual(
        [...out.subarray(0, 4)],
        [0x82, 126, large.length >> 8, large.length & 0xff],
      );
      assert.ok(out.subarray(4, 4 + large.length).equals(large), "the large echo");
      const at = 4 + large.length;
      assert.deepEqual(
        [...out.subarray(at, at + 4)],
        [0x82, 126, mid.length >> 8, mid.length & 0xff],
      );
      assert.ok(out.subarray(at + 4).equals(mid), "the mid-size echo");
      // Its own frame would be a buffer from the pool; in the room it takes none.
      assert.deepEqual(deltas, [1, 0]);
    } finally {
      socket.destroy();
      await server.close(1000);
    }
  });

  it("sending a consumed message again throws a typed error", async () => {
    let second: unknown;
    const server = createServer({
      onMessage(conn, message) {
        conn.send(message);
        try {
          conn.send(message);
        } catch (e) {
          second = e;
        }
      },
    });
    const { port } = await server.listen(0, "127.0.0.1");
    const got = await roundTrip(port, [Buffer.alloc(30_000, 9)]);
    assert.equal(got.length, 1);
    assert.equal((second as { code?: string }).code, "ERR_WS_INVALID_STATE");
    await server.close(1000);
  });
});
