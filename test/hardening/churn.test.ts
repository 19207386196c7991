// Connect/disconnect churn against a running server: thousands of cycles that open, subscribe,
// echo and end in every way a connection ends (clean close from either side, reset, refused
// handshake), then heap, external memory, RSS and the pool's idle bytes are back at their
// baseline, and nothing is left behind: no connection, subscriber, socket, timer or listener.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import WebSocket from "ws";
import type { Connection } from "../../src/index.js";
import { upgradeRequest } from "../helpers/raw-client.js";
import { activeResources, collect, dial, MiB, memory, startServer, until } from "./lib/harness.js";

const CYCLES = Number(process.env.CHURN_CYCLES ?? 2000);
const PARALLEL = 25;

type Ending = "client-close" | "server-close" | "reset" | "refused";

/** One cycle: open (or be refused), subscribe, echo a message, end as `how` says. */
async function cycle(url: string, port: number, how: Ending, n: number): Promise<void> {
  if (how === "refused") {
    const socket = await dial(port);
    const all = collect(socket);
    socket.end(upgradeRequest("/").replace("Version: 13", "Version: 99"));
    assert.match((await all).toString(), /^HTTP\/1\.1 426/);
    return;
  }
  const ws = new WebSocket(`${url}/?n=${n}&end=${how}`);
  await once(ws, "open");
  ws.send(`hello ${n}`);
  const [reply] = await once(ws, "message");
  assert.equal(String(reply), `hello ${n}`);
  const closed = once(ws, "close");
  if (how === "client-close") ws.close(1000);
  else if (how === "reset") ws.terminate();
  else ws.send("close me");
  await closed;
}

async function churn(url: string, port: number, cycles: number, offset: number): Promise<void> {
  const endings: Ending[] = ["client-close", "server-close", "reset", "refused"];
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < cycles) {
        const n = offset + next++;
        await cycle(url, port, endings[n % endings.length] as Ending, n);
      }
    }),
  );
}

function snapshot(server: {
  connections: ReadonlySet<unknown>;
  pool: { stats(): { idleBytes: number } };
}) {
  const m = memory();
  return {
    ...m,
    idle: server.pool.stats().idleBytes,
    resources: activeResources(),
    conns: server.connections.size,
  };
}

describe("churn", () => {
  it(`${CYCLES} connect/echo/disconnect cycles leave nothing behind`, async () => {
    const opened = new Set<Connection>();
    const { server, url, port } = await startServer(
      {
        onOpen(conn) {
          opened.add(conn);
          conn.subscribe("room");
          conn.subscribe(`private-${opened.size % 7}`);
        },
        onMessage(conn, m) {
          if (m.text() === "close me") conn.close(1000, "bye");
          else conn.send(m.data, { binary: m.isBinary });
        },
        onClose(conn) {
          opened.delete(conn);
        },
      },
      { idleTimeout: 60_000, perMessageDeflate: true },
    );
    const listeners = () =>
      ["upgrade", "request", "clientError", "connection", "close", "error"].map((e) =>
        server.http.listenerCount(e),
      );
    // Warm up: pools, zlib contexts, JIT.
    await churn(url, port, 200, 0);
    await until(() => server.connections.size === 0, "the warm-up to end");
    const base = snapshot(server);
    const baseListeners = listeners();
    const started = performance.now();
    await churn(url, port, CYCLES, 200);
    await until(() => server.connections.size === 0, "every connection to end");
    const elapsed = performance.now() - started;
    const after = snapshot(server);
    const s = server.stats();
    console.log(
      `churn: ${CYCLES} cycles in ${(elapsed / 1000).toFixed(1)} s; heap ${((after.heap - base.heap) / MiB).toFixed(2)} MiB, external ${((after.external - base.external) / MiB).toFixed(2)} MiB, RSS ${((after.rss - base.rss) / MiB).toFixed(1)} MiB, pool idle ${(base.idle / 1024).toFixed(0)} -> ${(after.idle / 1024).toFixed(0)} KiB`,
    );
    assert.equal(opened.size, 0, "onClose for every onOpen");
    assert.equal(after.conns, 0);
    assert.equal(server.numSubscribers("room"), 0, "no subscription left");
    for (let i = 0; i < 7; i++) assert.equal(server.numSubscribers(`private-${i}`), 0);
    assert.equal(s.refused[426], (CYCLES + 200) / 4);
    assert.deepEqual(listeners(), baseListeners, "no listener added to the http server");
    // Sockets, timers (heartbeat, close timers) and zlib handles are back to the baseline.
    for (const [kind, count] of after.resources) {
      assert.ok(
        count <= (base.resources.get(kind) ?? 0),
        `${kind}: ${base.resources.get(kind) ?? 0} -> ${count}`,
      );
    }
    assert.ok(after.heap - base.heap < 4 * MiB, "heap back to its baseline");
    assert.ok(after.external - base.external < 2 * MiB, "external memory back to its baseline");
    assert.ok(after.idle <= base.idle + MiB, "the pool's idle bytes do not grow");
    assert.ok(after.rss - base.rss < 48 * MiB, "RSS flat");
  });
});
