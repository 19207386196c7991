// What an open, idle connection keeps alive (issue 7, memory targets): not the upgrade request,
// no listener closure of its own. Real sockets on 127.0.0.1; a full collection through the
// hardening harness's gc().
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { createServer, type Server, type ServerOptions } from "../../src/index.js";
import { gc } from "../hardening/lib/harness.js";
import { maskedFrame, rawConnect } from "../helpers/raw-client.js";

const servers: Server<never>[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)));
});

interface Upgrades {
  server: Server<unknown>;
  port: number;
  requests: WeakRef<IncomingMessage>[];
  sockets: Duplex[];
}

async function start(options: ServerOptions<unknown> = {}): Promise<Upgrades> {
  const server = createServer<unknown>(
    { onMessage: (conn, m) => void conn.send(m.data, { binary: m.isBinary }) },
    options,
  );
  servers.push(server as unknown as Server<never>);
  const requests: WeakRef<IncomingMessage>[] = [];
  const sockets: Duplex[] = [];
  // Runs before the server's own listener: sees every request and socket it upgrades.
  server.http.prependListener("upgrade", (req: IncomingMessage, socket: Duplex) => {
    requests.push(new WeakRef(req));
    sockets.push(socket);
  });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, port, requests, sockets };
}

/** Collects after the current job (a WeakRef target survives the job that created the ref). */
async function collect(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
}

async function openRaw(port: number, n: number, headers: Record<string, string> = {}) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = await rawConnect(port, "/", headers);
    assert.match(c.head, /^HTTP\/1\.1 101/);
    clients.push(c.socket);
  }
  return clients;
}

describe("an open connection's memory", () => {
  it("does not keep the upgrade request alive", async () => {
    const { server, port, requests } = await start();
    const clients = await openRaw(port, 3);
    // An echo goes through the whole receive and send path once.
    clients[0]?.write(maskedFrame(0x1, "hello"));
    await new Promise((r) => clients[0]?.once("data", r));
    await collect();
    assert.equal(server.connections.size, 3);
    assert.equal(requests.length, 3);
    for (const ref of requests) assert.equal(ref.deref(), undefined, "request still reachable");
    for (const c of clients) c.destroy();
  });

  it("does not keep the request alive with permessage-deflate either", async () => {
    const { server, port, requests } = await start({ perMessageDeflate: true });
    await openRaw(port, 2, {
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    await collect();
    assert.equal(server.connections.size, 2);
    for (const ref of requests) assert.equal(ref.deref(), undefined, "request still reachable");
  });

  it("detects a request that is kept (the check can fail)", async () => {
    // authorize makes the request the session: the connection holds it, and the check sees it.
    const { server, port, requests } = await start({ authorize: (req) => ({ session: req }) });
    await openRaw(port, 1);
    await collect();
    assert.equal(server.connections.size, 1);
    assert.notEqual(requests[0]?.deref(), undefined);
  });

  it("returns the messages queued behind an async handler to the pool when it closes", async () => {
    let release: (() => void) | undefined;
    let closed: (() => void) | undefined;
    const done = new Promise<void>((r) => {
      closed = r;
    });
    const server = createServer(
      {
        // The first message holds the handler; the next ones wait in the (lazily made) backlog.
        onMessage: () => new Promise<void>((r) => (release ??= r)),
        onClose: () => closed?.(),
      },
      {},
    );
    servers.push(server as unknown as Server<never>);
    const { port } = await server.listen(0, "127.0.0.1");
    const [client] = await openRaw(port, 1);
    for (let i = 0; i < 5; i++) client?.write(maskedFrame(0x1, `message ${i}`));
    while (release === undefined) await new Promise((r) => setImmediate(r));
    client?.destroy();
    await done;
    release();
    const stats = server.pool.stats();
    assert.ok(stats.gets >= 5, `${stats.gets} gets`);
    assert.equal(stats.puts, stats.gets);
  });

  it("shares its stream listeners with every other connection (no closure per connection)", async () => {
    const { port, sockets } = await start();
    await openRaw(port, 2);
    const [a, b] = sockets as [Duplex, Duplex];
    for (const event of ["data", "end", "error", "drain", "close"]) {
      const mine = a.listeners(event);
      const theirs = b.listeners(event);
      assert.ok(mine.length > 0, `${event}: no listener`);
      assert.deepEqual(mine, theirs, `${event}: listeners differ between connections`);
    }
  });
});
