// Graceful shutdown under load: clients sending as fast as they can, the server answering each
// message and pushing bulk data, and server.close() in the middle of it. Every message the
// server accepted (send while open) reaches its client before the close frame; every message it
// could not send is reported (send returned false on a closing connection, or onClose says the
// connection did not close cleanly); every client gets 1001 as the last frame before the socket
// ends; new connections are refused meanwhile.
import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { type ConnectionCloseInfo, ReadyState } from "../../src/index.js";
import { maskedFrame, rawConnect } from "../helpers/raw-client.js";
import { forget, startServer, until } from "./lib/harness.js";
import { closeCodeOf, parseFrames } from "./lib/server-frames.js";

interface Ledger {
  /** Messages the server queued with send() while the connection was open. */
  accepted: number;
  /** send() calls on a connection that was closing: reported to the caller by `false`. */
  refused: number;
  info?: ConnectionCloseInfo;
}

describe("graceful shutdown under load", () => {
  it("delivers everything accepted, then 1001 to every client; reports the rest", async () => {
    const ledgers = new Map<string, Ledger>();
    const { server, url, port } = await startServer<{ id: string }>(
      {
        onOpen(conn) {
          // Bulk data queued up front, so shutdown finds full queues.
          const l = ledgers.get(conn.session.id) as Ledger;
          for (let i = 0; i < 20; i++) {
            conn.send(Buffer.alloc(16 * 1024, i));
            l.accepted++;
          }
        },
        onMessage(conn, m) {
          const l = ledgers.get(conn.session.id) as Ledger;
          if (conn.readyState === ReadyState.Open) {
            conn.send(`ack ${m.text()}`);
            l.accepted++;
          } else {
            assert.equal(conn.send(`ack ${m.text()}`), false);
            l.refused++;
          }
        },
        onClose(conn, info) {
          (ledgers.get(conn.session.id) as Ledger).info = info;
        },
      },
      {
        authorize(req) {
          const id = new URL(req.url ?? "/", "http://x").searchParams.get("id") ?? "?";
          ledgers.set(id, { accepted: 0, refused: 0 });
          return { session: { id } };
        },
        maxBufferedAmount: 0,
      },
    );
    forget(server);

    // 20 ws clients that send as fast as they can and count what they receive.
    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const ws = new WebSocket(`${url}/?id=ws${i}`);
        const c = { id: `ws${i}`, ws, received: 0, code: 0, sending: true };
        // Listening before "open": the bulk data may come in the same read as the 101.
        ws.on("message", () => c.received++);
        await once(ws, "open");
        const closed = once(ws, "close").then(([code]) => {
          c.code = code as number;
          c.sending = false;
        });
        (async () => {
          let n = 0;
          while (c.sending && ws.readyState === WebSocket.OPEN) {
            for (let k = 0; k < 20; k++) ws.send(String(n++));
            await new Promise((r) => setImmediate(r));
          }
        })();
        return { c, closed };
      }),
    );
    // 5 raw clients that read every frame and answer the close, and 3 that never read.
    const raws = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const { socket, rest } = await rawConnect(port, `/?id=raw${i}`);
        const chunks: Buffer[] = [rest];
        socket.on("data", (c: Buffer) => {
          chunks.push(c);
          const { frames } = parseFrames(Buffer.concat(chunks));
          const close = frames.find((f) => f.opcode === 0x8);
          if (close !== undefined && !socket.writableEnded)
            socket.end(maskedFrame(8, close.payload));
        });
        const ended = once(socket, "close").then(() => parseFrames(Buffer.concat(chunks)).frames);
        return { id: `raw${i}`, ended };
      }),
    );
    const stuck: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const { socket } = await rawConnect(port, `/?id=stuck${i}`);
      socket.pause();
      stuck.push(socket);
    }
    await until(() => server.connections.size === 28, "every client to open");
    // Let the load build up, then shut down in the middle of it.
    await until(() => [...ledgers.values()].reduce((a, l) => a + l.accepted, 0) > 20_000, "load");
    const started = performance.now();
    const shutdown = server.close(1500);
    // A new connection during shutdown is refused: the listener is closed first (an upgrade
    // already on its way over an accepted socket would get 503).
    const late = new WebSocket(`${url}/?id=late`);
    const lateStatus = await new Promise<number | string>((resolve) => {
      late.on("open", () => resolve("open"));
      late.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      late.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    await shutdown;
    const took = performance.now() - started;
    await Promise.all(clients.map((x) => x.closed));
    const rawFrames = await Promise.all(raws.map((r) => r.ended));

    assert.ok(lateStatus === "ECONNREFUSED" || lateStatus === 503, `a late client: ${lateStatus}`);
    assert.equal(server.connections.size, 0);
    assert.equal(server.http.listening, false);
    let delivered = 0;
    let refused = 0;
    for (const { c } of clients) {
      const l = ledgers.get(c.id) as Ledger;
      assert.equal(c.code, 1001, `${c.id} got a close frame with 1001`);
      assert.equal(c.received, l.accepted, `${c.id}: every accepted message delivered`);
      assert.equal(l.info?.wasClean, true);
      delivered += c.received;
      refused += l.refused;
    }
    raws.forEach((r, i) => {
      const frames = rawFrames[i] ?? [];
      const l = ledgers.get(r.id) as Ledger;
      const last = frames.at(-1);
      assert.equal(last?.opcode, 0x8, `${r.id}: the close frame is the last frame before the end`);
      assert.equal(closeCodeOf(last as NonNullable<typeof last>), 1001);
      assert.equal(frames.length - 1, l.accepted, `${r.id}: every accepted message delivered`);
    });
    for (let i = 0; i < 3; i++) {
      const info = ledgers.get(`stuck${i}`)?.info;
      assert.equal(
        info?.wasClean,
        false,
        "a reader that never reads is terminated, and it is reported",
      );
    }
    assert.ok(took < 1500 + 500, `shutdown took ${took.toFixed(0)} ms`);
    console.log(
      `shutdown under load: ${delivered} messages delivered to 20 ws clients before 1001, ${refused} refused while closing, 3 stuck readers terminated after ${took.toFixed(0)} ms`,
    );
    for (const s of stuck) s.destroy();
  });
});
