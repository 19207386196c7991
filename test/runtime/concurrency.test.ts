// Parallel async handlers (`concurrency`) and the bounded backlog, on real sockets (127.0.0.1,
// port 0) with `ws` as the peer.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { type Connection, type Message, Upgrader } from "../../src/index.js";
import { CountingPool } from "../hardening/lib/counting-pool.js";
import { openClient as open, startServer as start, until } from "../hardening/lib/harness.js";

/** A CountingPool that also remembers the most buffers it had out at once. */
class PeakPool extends CountingPool {
  peak = 0;
  override get(n: number) {
    const b = super.get(n);
    if (this.outstanding > this.peak) this.peak = this.outstanding;
    return b;
  }
}

describe("concurrency", () => {
  it("runs up to N async handlers at once, never N+1, started in arrival order", async () => {
    const N = 4;
    const total = 40;
    const started: number[] = [];
    let active = 0;
    let maxActive = 0;
    let gate: (() => void)[] = [];
    const { url } = await start(
      {
        async onMessage(conn, m) {
          const n = Number(m.text());
          started.push(n);
          active++;
          maxActive = Math.max(maxActive, active);
          // Wait until N handlers are in flight together (the last batch may be smaller).
          await new Promise<void>((resolve) => {
            gate.push(resolve);
            if (gate.length === N || started.length === total) {
              const g = gate;
              gate = [];
              for (const r of g) r();
            }
          });
          // Its own buffer is still valid although other handlers settled meanwhile.
          assert.equal(m.text(), String(n));
          active--;
          if (started.length === total && active === 0) conn.send("done");
        },
      },
      { concurrency: N },
    );
    const ws = await open(url);
    for (let i = 0; i < total; i++) ws.send(String(i));
    await once(ws, "message");
    assert.deepEqual(
      started,
      Array.from({ length: total }, (_, i) => i),
    );
    assert.equal(maxActive, N);
    ws.terminate();
  });

  it("releases each message's buffer when its own handler settles", async () => {
    const pool = new PeakPool();
    const held: Message[] = [];
    const resolvers: (() => void)[] = [];
    let conn: Connection | undefined;
    const { url } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        async onMessage(_c, m) {
          held.push(m);
          await new Promise<void>((r) => resolvers.push(r));
        },
      },
      { concurrency: 3, pool },
    );
    const ws = await open(url);
    for (let i = 0; i < 3; i++) ws.send(Buffer.alloc(1000, i));
    await until(() => resolvers.length === 3);
    assert.equal(pool.outstanding, 3);
    // Settle the second one only: its buffer goes back, the others stay valid.
    resolvers[1]?.();
    await until(() => pool.outstanding === 2);
    assert.equal(held[1]?.length, 0);
    assert.equal(held[0]?.data[0], 0);
    assert.equal(held[2]?.data[0], 2);
    resolvers[0]?.();
    resolvers[2]?.();
    await until(() => pool.outstanding === 0);
    assert.ok(conn !== undefined);
    ws.terminate();
  });

  it("keeps the sync fast path: sync handlers make no handler slot", async () => {
    let conn: Connection | undefined;
    let seen = 0;
    const { url } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        onMessage(c, m) {
          seen++;
          if (m.text() === "last") c.send("done");
        },
      },
      { concurrency: 8 },
    );
    const ws = await open(url);
    for (let i = 0; i < 100; i++) ws.send(String(i));
    ws.send("last");
    await once(ws, "message");
    assert.equal(seen, 101);
    // No slot, nor the occasional state that would hold one (connection-extras.ts).
    const internals = conn as unknown as {
      extras: { slots: unknown[] } | undefined;
      inFlight: number;
    };
    assert.equal(internals.extras, undefined);
    assert.equal(internals.inFlight, 0);
    ws.terminate();
  });

  it("validates the option (UsageError ERR_INVALID_ARGUMENT)", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, "2" as unknown as number]) {
      assert.throws(
        () => new Upgrader({}, { concurrency: bad }),
        (e: { code?: string; name?: string }) =>
          e.code === "ERR_INVALID_ARGUMENT" && e.name === "UsageError",
      );
    }
    assert.throws(() => new Upgrader({}, { maxBacklogBytes: -1 }), /maxBacklogBytes/);
    assert.throws(() => new Upgrader({}, { maxBacklogMessages: 0 }), /maxBacklogMessages/);
    assert.doesNotThrow(() => new Upgrader({}, { concurrency: 16 }));
  });
});

describe("bounded backlog", () => {
  for (const perMessageDeflate of [false, true]) {
    it(`pauses reading while a handler awaits, loses nothing (deflate ${perMessageDeflate})`, async () => {
      const pool = new PeakPool();
      const size = 16 * 1024;
      const total = 2048; // 32 MiB: more than the loopback socket buffers hold
      const got: number[] = [];
      let release: (() => void) | undefined;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let conn: Connection | undefined;
      const { url } = await start(
        {
          onOpen(c) {
            conn = c;
          },
          async onMessage(c, m) {
            const n = m.data.readUInt32BE(0);
            got.push(n);
            if (n === 0) await held;
            if (got.length === total) c.send("done");
          },
        },
        { pool, maxBacklogBytes: 256 * 1024, perMessageDeflate, maxMessageSize: 64 * 1024 },
      );
      const ws = await open(url, { perMessageDeflate });
      for (let i = 0; i < total; i++) {
        const b = Buffer.alloc(size, i & 0xff);
        b.writeUInt32BE(i, 0);
        ws.send(b, { compress: perMessageDeflate });
      }
      const internals = () =>
        conn as unknown as {
          backlog: unknown[];
          extras: { backlogBytes: number } | undefined;
          inputPaused: boolean;
        };
      // The server stops reading at the bound: the client's bytes stay on its side.
      await until(() => internals().inputPaused || internals().backlog.length > 100);
      assert.ok(ws.bufferedAmount > 0);
      assert.ok(
        internals().backlog.length <= 256 / 16 + 2,
        `${internals().backlog.length} waiting`,
      );
      assert.ok((internals().extras?.backlogBytes ?? 0) <= 256 * 1024 + size);
      assert.ok(pool.peak < 100, `pool peak ${pool.peak}`);
      release?.();
      await once(ws, "message");
      assert.deepEqual(
        got,
        Array.from({ length: total }, (_, i) => i),
      );
      assert.ok(pool.peak < 100, `pool peak ${pool.peak}`);
      ws.terminate();
    });
  }

  it("bounds the count of tiny messages too", async () => {
    const total = 20_000;
    let count = 0;
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let conn: Connection | undefined;
    const { url } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        async onMessage(c, m) {
          count++;
          if (m.text() === "first") await held;
          if (count === total + 1) c.send("done");
        },
      },
      { maxBacklogMessages: 64 },
    );
    const ws = await open(url);
    ws.send("first");
    for (let i = 0; i < total; i++) ws.send("");
    const internals = () => conn as unknown as { backlog: unknown[]; inputPaused: boolean };
    const backlog = () => internals().backlog.length;
    // Reading pauses at the bound; without one, the backlog grows past it.
    await until(() => internals().inputPaused || backlog() > 64 + 1);
    assert.ok(internals().inputPaused);
    assert.ok(backlog() <= 64 + 1, `${backlog()} waiting`);
    release?.();
    await once(ws, "message");
    assert.equal(count, total + 1);
    ws.terminate();
  });

  it("releases every waiting message when the connection closes", async () => {
    const pool = new PeakPool();
    let closed: (() => void) | undefined;
    const done = new Promise<void>((r) => {
      closed = r;
    });
    let first = true;
    let conn: Connection | undefined;
    const { url } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        async onMessage() {
          if (first) {
            first = false;
            await new Promise(() => {}); // never settles
          }
        },
        onClose() {
          closed?.();
        },
      },
      { pool, maxBacklogMessages: 8 },
    );
    const ws = await open(url);
    for (let i = 0; i < 50; i++) ws.send(Buffer.alloc(500, i));
    await until(() => pool.outstanding >= 9);
    // A paused socket does not see the peer's FIN before it reads again (idleTimeout catches a
    // peer gone meanwhile): close from this side.
    conn?.terminate();
    await done;
    ws.terminate();
    assert.equal(pool.outstanding, 0);
  });
});
