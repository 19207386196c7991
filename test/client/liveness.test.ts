// The client's heartbeat (idleTimeout) and backpressure policy, against real peers: a raw server
// that stops answering or stops reading, and the ws server that answers pings.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import type WebSocket from "ws";
import { ClientContext, connect } from "../../src/client/index.js";
import { loopLag } from "../helpers/loop-lag.js";
import { Inbox, rejectsWith, startRawServer, startWsServer, switching } from "./helpers.js";

/** A raw server that completes the handshake, then reads frames and never answers anything. */
async function startSilentServer(read: boolean) {
  const opcodes: number[] = [];
  let sawPing: () => void = () => {};
  const pinged = new Promise<void>((resolve) => {
    sawPing = resolve;
  });
  const sockets: Socket[] = [];
  const raw = await startRawServer((req, socket) => {
    sockets.push(socket);
    socket.write(switching(req));
    if (!read) {
      socket.pause();
      return;
    }
    socket.on("data", (chunk: Buffer) => {
      // Small control frames arrive whole here: the first byte carries the opcode.
      const opcode = (chunk[0] ?? 0) & 0x0f;
      opcodes.push(opcode);
      if (opcode === 0x9) sawPing();
    });
  });
  return { raw, opcodes, pinged, sockets };
}

describe("idleTimeout", () => {
  it("pings a silent server, then terminates it within 2 x idleTimeout", async () => {
    const { raw, pinged } = await startSilentServer(true);
    try {
      const inbox = new Inbox();
      const lag = loopLag();
      const started = Date.now();
      await connect(raw.url, inbox, { idleTimeout: 100, perMessageDeflate: false });
      await pinged;
      const info = await inbox.closed;
      const elapsed = Date.now() - started;
      const late = lag.stop();
      assert.equal(info.error?.code, "ERR_WS_HEARTBEAT_TIMEOUT");
      assert.equal(info.wasClean, false);
      assert.ok(
        elapsed >= 100 && elapsed <= 400 + 2 * late,
        `closed after ${elapsed} ms (loop lag ${late} ms)`,
      );
    } finally {
      await raw.close();
    }
  });

  it("keeps a server that answers pings", async () => {
    const server = await startWsServer();
    try {
      const accepted = once(server.wss, "connection");
      const conn = await connect(server.url, {}, { idleTimeout: 40 });
      const [remote] = (await accepted) as [WebSocket];
      for (let i = 0; i < 3; i++) await once(remote, "ping");
      assert.equal(conn.readyState, 1, "still open after three pings answered");
      conn.close();
    } finally {
      await server.close();
    }
  });

  it("connections of a context with the same idleTimeout share one heartbeat", async () => {
    const server = await startWsServer();
    try {
      const context = new ClientContext();
      const inboxes = [new Inbox(), new Inbox()];
      const conns = await Promise.all(
        inboxes.map((inbox) => connect(server.url, inbox, { context, idleTimeout: 5000 })),
      );
      assert.equal(context.heartbeat(5000).size, 2);
      for (const c of conns) c.close();
      await Promise.all(inboxes.map((i) => i.closed));
      assert.equal(context.heartbeat(5000).size, 0);
    } finally {
      await server.close();
    }
  });

  it("an idleTimeout under 2 ms is refused before dialling", async () => {
    await rejectsWith(connect("ws://127.0.0.1:1/", {}, { idleTimeout: 1 }), {
      code: "ERR_INVALID_ARGUMENT",
    });
  });
});

describe("backpressure against a server that never reads", () => {
  it('"close": closes (1008) once maxBufferedAmount is passed', async () => {
    const { raw } = await startSilentServer(false);
    try {
      const inbox = new Inbox();
      const conn = await connect(raw.url, inbox, {
        perMessageDeflate: false,
        maxBufferedAmount: 1 << 20,
        closeTimeout: 200,
      });
      const chunk = Buffer.alloc(256 * 1024, 1);
      let sent = 0;
      while (conn.readyState === 1 && sent < 4096) {
        conn.send(chunk);
        sent++;
      }
      assert.ok(conn.readyState !== 1, `still open after ${sent} sends`);
      const info = await inbox.closed;
      assert.equal(conn.readyState, 3);
      assert.equal(info.error?.code, "ERR_WS_BUFFERED_AMOUNT");
      // The close frame (1008) could not get out; the close timer destroyed the stream. No close
      // frame came back, so onClose reports the code the connection was closed with.
      assert.deepEqual([info.code, info.wasClean], [1008, false]);
    } finally {
      await raw.close();
    }
  });

  it('"drop": messages past the limit are dropped, the connection stays open', async () => {
    const { raw } = await startSilentServer(false);
    try {
      const conn = await connect(
        raw.url,
        {},
        {
          perMessageDeflate: false,
          maxBufferedAmount: 1 << 20,
          backpressure: "drop",
        },
      );
      const chunk = Buffer.alloc(256 * 1024, 2);
      for (let i = 0; i < 200; i++) conn.send(chunk);
      assert.equal(conn.readyState, 1);
      assert.ok(conn.bufferedAmount <= 1 << 20, `bufferedAmount ${conn.bufferedAmount}`);
      conn.terminate();
    } finally {
      await raw.close();
    }
  });

  it("highWaterMark: send returns false past it", async () => {
    const { raw } = await startSilentServer(false);
    try {
      const conn = await connect(raw.url, {}, { perMessageDeflate: false, highWaterMark: 1000 });
      assert.equal(conn.send(Buffer.alloc(10)), true);
      let ok = true;
      for (let i = 0; i < 10 && ok; i++) ok = conn.send(Buffer.alloc(500));
      assert.equal(ok, false);
      conn.terminate();
    } finally {
      await raw.close();
    }
  });
});
