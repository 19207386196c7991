/**
 * Broadcasts of one tick merged into one shared buffer (Upgrader.broadcast): every client still
 * gets every message, in call order, also around direct sends, closes and subsets; and the merge
 * really happens (one socket write per connection for several broadcasts), also into the frame
 * of connections that still wait for their slice of a long flush (see TickFlusher).
 */

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import type WebSocket from "ws";
import type { Connection } from "../../src/runtime/connection.js";
import { FLUSH_SLICE } from "../../src/runtime/tick-flusher.js";
import { forget, openClient, startServer, until } from "../hardening/lib/harness.js";

interface Setup {
  server: Awaited<ReturnType<typeof startServer>>["server"];
  clients: WebSocket[];
  /** What each client received, as "t:<text>" or "b:<hex>". */
  received: string[][];
  /** Calls of write() on each server-side socket, in the order the sockets connected. */
  writes: number[];
  conns: Connection<unknown>[];
}

async function setup(n: number, options: Parameters<typeof startServer>[1] = {}): Promise<Setup> {
  const conns: Connection<unknown>[] = [];
  const { server, url } = await startServer(
    {
      onOpen(conn) {
        conns.push(conn);
      },
    },
    options,
  );
  const writes: number[] = [];
  server.http.on("connection", (socket: Socket) => {
    const i = writes.length;
    writes.push(0);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args) => {
      writes[i] = (writes[i] as number) + 1;
      return write(...args);
    };
  });
  const clients: WebSocket[] = [];
  const received: string[][] = [];
  for (let i = 0; i < n; i++) {
    const ws = await openClient(url);
    const log: string[] = [];
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      log.push(isBinary ? `b:${data.toString("hex")}` : `t:${data.toString()}`);
    });
    clients.push(ws);
    received.push(log);
  }
  await until(() => conns.length === n, "the connections to open");
  return { server, clients, received, writes, conns };
}

/** How many server-side sockets wrote since `before` (a copy of `s.writes`). */
function writtenSince(s: Setup, before: number[]): number {
  return s.writes.filter((w, i) => w > (before[i] as number)).length;
}

function closeAll(s: Setup): void {
  for (const ws of s.clients) ws.terminate();
}

describe("broadcast merging", () => {
  it("sends one tick's broadcasts in one write per connection, in call order", async () => {
    const s = await setup(3);
    const before = [...s.writes];
    assert.equal(s.server.broadcast("one"), 3);
    assert.equal(s.server.broadcast(Buffer.from([1, 2, 3])), 3);
    assert.equal(s.server.broadcast("three", undefined, { binary: true }), 3);
    assert.equal(s.server.broadcast(Buffer.from("four"), undefined, { binary: false }), 3);
    await until(() => s.received.every((r) => r.length === 4), "every broadcast");
    for (const r of s.received) {
      assert.deepEqual(r, [
        "t:one",
        "b:010203",
        `b:${Buffer.from("three").toString("hex")}`,
        "t:four",
      ]);
    }
    // Merged: each server socket wrote once for the four broadcasts.
    s.writes.forEach((w, i) => {
      assert.equal(w - (before[i] as number), 1, `socket ${i} writes`);
    });
    const stats = s.server.stats();
    assert.equal(stats.messagesOut, 12);
    closeAll(s);
  });

  it("keeps the order around a direct send to one connection", async () => {
    const s = await setup(3);
    const target = s.conns[1] as Connection<unknown>;
    s.server.broadcast("a");
    s.server.broadcast("b");
    target.send("direct");
    s.server.broadcast("c");
    s.server.broadcast("d");
    await until(() => s.received.every((r, i) => r.length === (i === 1 ? 5 : 4)), "every message");
    assert.deepEqual(s.received[0], ["t:a", "t:b", "t:c", "t:d"]);
    assert.deepEqual(s.received[1], ["t:a", "t:b", "t:direct", "t:c", "t:d"]);
    assert.deepEqual(s.received[2], ["t:a", "t:b", "t:c", "t:d"]);
    closeAll(s);
  });

  it("does not reach a connection closed between two broadcasts, nor outsiders of a subset", async () => {
    const s = await setup(3);
    const [c0, c1, c2] = s.conns as [Connection<unknown>, Connection<unknown>, Connection<unknown>];
    s.server.broadcast("all-1");
    c2.close(1000, "bye");
    s.server.broadcast("all-2");
    // A subset after a broadcast to all: only c0 may get it.
    assert.equal(s.server.broadcast("only-0", [c0]), 1);
    s.server.broadcast("all-3", [c0, c1]);
    await until(
      () => (s.received[0] as string[]).length === 4 && (s.received[1] as string[]).length === 3,
      "the messages",
    );
    await until(() => s.clients[2]?.readyState === 3, "the close");
    assert.deepEqual(s.received[0], ["t:all-1", "t:all-2", "t:only-0", "t:all-3"]);
    assert.deepEqual(s.received[1], ["t:all-1", "t:all-2", "t:all-3"]);
    assert.deepEqual(s.received[2], ["t:all-1"]);
    closeAll(s);
  });

  it("starts anew in the next tick, and with compression merges only plain frames", async () => {
    const s = await setup(2, { perMessageDeflate: true });
    const before = [...s.writes];
    s.server.broadcast("x");
    s.server.broadcast("y");
    // At the default threshold this one is compressed for the clients (ws offers deflate).
    const big = "z".repeat(2000);
    s.server.broadcast(big);
    await until(() => s.received.every((r) => r.length === 3), "the first tick");
    await new Promise((r) => setImmediate(r));
    s.server.broadcast("next");
    await until(() => s.received.every((r) => r.length === 4), "the second tick");
    for (const r of s.received) assert.deepEqual(r, ["t:x", "t:y", `t:${big}`, "t:next"]);
    s.writes.forEach((w, i) => {
      // x+y merged (1 write), the compressed one after them (1 more), then "next".
      assert.ok(w - (before[i] as number) <= 3, `socket ${i}: ${w - (before[i] as number)} writes`);
    });
    closeAll(s);
  });

  it("merges a later tick's broadcast into the frame of connections still waiting for their slice", async () => {
    const n = FLUSH_SLICE + 20;
    const s = await setup(n);
    const before = [...s.writes];
    s.server.broadcast("a");
    // Queued before the flusher's own immediate: the first slice is written, the rest waits.
    await new Promise((r) => setImmediate(r));
    assert.equal(s.server.broadcast("b"), n);
    await until(() => s.received.every((r) => r.length === 2), "both broadcasts");
    for (const r of s.received) assert.deepEqual(r, ["t:a", "t:b"]);
    s.writes.forEach((w, i) => {
      // The first slice wrote "a" alone, then "b"; the others wrote both with one write.
      const expected = i < FLUSH_SLICE ? 2 : 1;
      assert.equal(w - (before[i] as number), expected, `socket ${i} writes`);
    });
    assert.equal(s.server.stats().messagesOut, 2 * n);
    closeAll(s);
  });

  it("copes with closes, on both sides, of connections waiting for their slice", async () => {
    const n = FLUSH_SLICE + 30;
    const s = await setup(n);
    const pool = s.server.pool;
    const before = [...s.writes];
    s.server.broadcast("a");
    await new Promise((r) => setImmediate(r));
    assert.equal(writtenSince(s, before), FLUSH_SLICE, "the first slice only");
    // Between the first slice and the rest: peers that go away, and closes from the server.
    const gone = new Set([FLUSH_SLICE + 1, FLUSH_SLICE + 2, 3]);
    for (const i of gone) s.clients[i]?.terminate();
    const closing = [FLUSH_SLICE + 10, 5];
    for (const i of closing) (s.conns[i] as Connection<unknown>).close(1000, "done");
    s.server.broadcast("b");
    const live = (i: number) => !gone.has(i) && !closing.includes(i);
    await until(
      () => s.received.every((r, i) => !live(i) || r.length === 2),
      "both broadcasts on the live connections",
    );
    s.received.forEach((r, i) => {
      if (live(i)) assert.deepEqual(r, ["t:a", "t:b"], `client ${i}`);
      // A close after a queued broadcast still lets that broadcast out first, and ends there.
      if (closing.includes(i)) assert.deepEqual(r, ["t:a"], `closed client ${i}`);
    });
    for (const i of closing) {
      const ws = s.clients[i] as WebSocket;
      if (ws.readyState !== 3) await new Promise((r) => ws.once("close", r));
    }
    closeAll(s);
    await until(() => s.server.connections.size === 0, "the server to see every close");
    await until(() => {
      const p = pool.stats();
      return p.gets === p.puts;
    }, "the pool's buffers to come back");
  });

  it("a shutdown during a sliced flush sends the broadcast, then 1001, to every client", async () => {
    const n = FLUSH_SLICE + 30;
    const s = await setup(n);
    const codes: number[] = [];
    for (const ws of s.clients) ws.on("close", (code: number) => codes.push(code));
    const before = [...s.writes];
    s.server.broadcast("last words");
    await new Promise((r) => setImmediate(r));
    assert.equal(writtenSince(s, before), FLUSH_SLICE, "the first slice only");
    forget(s.server as unknown as Parameters<typeof forget>[0]);
    await s.server.close();
    await until(() => codes.length === n, "every client to see the close");
    for (const r of s.received) assert.deepEqual(r, ["t:last words"]);
    assert.deepEqual(new Set(codes), new Set([1001]));
  });

  it("returns every merged buffer to the pool", async () => {
    const s = await setup(4);
    const pool = s.server.pool;
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 10; k++) s.server.broadcast(Buffer.alloc(100 + k * 700, k));
      await until(() => s.received.every((r) => r.length === (round + 1) * 10), `round ${round}`);
    }
    await until(() => {
      const p = pool.stats();
      return p.gets === p.puts;
    }, "the pool's buffers to come back");
    closeAll(s);
  });
});
