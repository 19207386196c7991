// Peers that vanish without a close (a crashed process, a dropped NAT mapping, a cable pulled):
// the socket stays open and nothing arrives. The heartbeat (idleTimeout) pings quiet
// connections and terminates those that do not answer, within 2 x idleTimeout, whatever state
// they vanished in; peers that answer, or keep sending, are left alone.
import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { describe, it } from "node:test";
import WebSocket from "ws";
import type { Connection, ConnectionCloseInfo } from "../../src/index.js";
import { maskedFrame, rawConnect } from "../helpers/raw-client.js";
import { echo, loopLag, startServer, until } from "./lib/harness.js";

const IDLE = 100;

describe("vanished peers", () => {
  it("20 peers that vanish in different states are all found within 2 x idleTimeout; 5 live ones stay", async () => {
    const closes: { conn: Connection; info: ConnectionCloseInfo; at: number }[] = [];
    let opened: Connection[] = [];
    const { port, url, server } = await startServer(
      {
        ...echo,
        onOpen(c) {
          opened.push(c);
        },
        onClose(conn, info) {
          closes.push({ conn, info, at: performance.now() });
        },
      },
      { idleTimeout: IDLE },
    );
    const live = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const ws = new WebSocket(url); // answers pings by itself
        await once(ws, "open");
        return ws;
      }),
    );
    await until(() => opened.length === 5, "the live ones to open");
    opened = [];
    const dead: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const { socket } = await rawConnect(port);
      if (i % 4 === 1) socket.write(maskedFrame(2, Buffer.alloc(100)).subarray(0, 30)); // mid-frame
      if (i % 4 === 2) socket.write(maskedFrame(2, Buffer.alloc(10), false)); // mid-message
      if (i % 4 === 3) socket.pause(); // and never reads: the ping cannot even get through
      dead.push(socket);
    }
    await until(() => opened.length === 20, "the dead ones to open");
    const vanished = performance.now();
    const lag = loopLag();
    const deadConns = new Set(opened);
    // One of them stops reading with data queued for it: the ping waits behind it.
    (opened[3] as Connection).send(Buffer.alloc(4 * 1024 * 1024));
    await until(() => closes.length === 20, "every vanished peer to be found", 20_000);
    const latest = Math.max(...closes.map((c) => c.at)) - vanished;
    const late = lag.stop();
    assert.ok(
      latest <= 2 * IDLE + 50 + 2 * late,
      `the last found after ${latest.toFixed(0)} ms (event loop up to ${late.toFixed(0)} ms late)`,
    );
    for (const c of closes) {
      assert.ok(deadConns.has(c.conn), "only vanished peers");
      assert.equal(c.info.error?.code, "ERR_WS_HEARTBEAT_TIMEOUT");
      assert.equal(c.info.code, 1006);
    }
    // The live ones are still here, and still answer.
    assert.equal(server.connections.size, 5);
    for (const ws of live) {
      ws.send("alive");
      const [m] = await once(ws, "message");
      assert.equal(String(m), "alive");
      ws.terminate();
    }
    for (const s of dead) s.destroy();
  });

  it("a peer that keeps sending but never answers pings is alive: bytes are what count", async () => {
    let closed = false;
    const { port } = await startServer({ onClose: () => (closed = true) }, { idleTimeout: IDLE });
    const { socket } = await rawConnect(port);
    socket.on("data", () => {});
    // Pongs of our own, unsolicited, every 30 ms for 5 idle periods: never pinged out.
    for (let i = 0; i < 17; i++) {
      socket.write(maskedFrame(0xa, "still here"));
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(closed, false);
    socket.destroy();
    await until(() => closed, "onClose");
  });
});
