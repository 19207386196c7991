// The server on real sockets (127.0.0.1, port 0), with `ws` as the well-behaved peer and a raw
// node:net client as the misbehaving one.
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { once } from "node:events";
import { afterEach, describe, it } from "node:test";
import WebSocket from "ws";
import {
  type Connection,
  createServer,
  type Handler,
  type Server,
  type ServerOptions,
} from "../../src/index.js";
import { loopLag } from "../helpers/loop-lag.js";
import { maskedFrame, rawConnect, rawExchange, upgradeRequest } from "../helpers/raw-client.js";

const servers: Server<never>[] = [];

async function start<S = Record<string, unknown>>(
  handler: Handler<S>,
  options: ServerOptions<S> = {},
): Promise<{ server: Server<S>; url: string; port: number }> {
  const server = createServer(handler, options);
  const { port } = await server.listen(0, "127.0.0.1");
  servers.push(server as unknown as Server<never>);
  return { server, url: `ws://127.0.0.1:${port}`, port };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)));
});

function open(
  url: string,
  options?: WebSocket.ClientOptions,
  protocols?: string[],
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function refusal(
  url: string,
  options?: WebSocket.ClientOptions,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => reject(new Error("unexpectedly opened")));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once("error", () => {});
  });
}

const echo: Handler = {
  onMessage(conn, m) {
    conn.send(m.data, { binary: m.isBinary });
  },
};

describe("createServer: handshake policy", () => {
  it("answers plain HTTP with 426 and other paths with 404 when a path is set", async () => {
    const { port } = await start(echo, { path: "/ws" });
    const plain = await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(plain, /^HTTP\/1\.1 426/);
    const other = await rawExchange(port, upgradeRequest("/elsewhere"));
    assert.match(other, /^HTTP\/1\.1 404/);
    const { head, socket } = await rawConnect(port, "/ws?x=1");
    assert.match(head, /^HTTP\/1\.1 101/);
    socket.destroy();
  });

  it("refuses broken handshakes with 400 and a wrong version with 426", async () => {
    const { port } = await start(echo);
    const noKey = await rawExchange(
      port,
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert.match(noKey, /^HTTP\/1\.1 400/);
    const v8 = await rawExchange(
      port,
      upgradeRequest("/", {}).replace("Version: 13", "Version: 8"),
    );
    assert.match(v8, /^HTTP\/1\.1 426/);
    assert.match(v8, /Sec-WebSocket-Version: 13/i);
  });

  it("authorize: accept, 401, session data, thrown answers, async and its timeout", async () => {
    type Session = { user: string };
    const seen: string[] = [];
    const { url } = await start<Session>(
      {
        onOpen(conn) {
          seen.push(conn.session.user);
        },
      },
      {
        handshakeTimeout: 200,
        authorize(req) {
          const u = new URL(req.url ?? "/", "http://x");
          const who = u.searchParams.get("who");
          if (who === "nobody") return false;
          if (who === "banned")
            throw { status: 403, headers: { "x-why": "banned" }, body: "go away" };
          if (who === "slow") return new Promise(() => {});
          if (who === "later") return Promise.resolve({ session: { user: "later" } });
          if (who === "rejected")
            return Promise.reject({ status: 429, headers: { "retry-after": "3" } });
          return { session: { user: who ?? "anon" } };
        },
      },
    );
    (await open(`${url}/?who=alice`)).terminate();
    (await open(`${url}/?who=later`)).terminate();
    assert.equal((await refusal(`${url}/?who=nobody`)).status, 401);
    const banned = await refusal(`${url}/?who=banned`);
    assert.equal(banned.status, 403);
    assert.equal(banned.headers["x-why"], "banned");
    assert.equal(banned.body, "go away");
    const rejected = await refusal(`${url}/?who=rejected`);
    assert.equal(rejected.status, 429);
    assert.equal(rejected.headers["retry-after"], "3");
    assert.equal((await refusal(`${url}/?who=slow`)).status, 408, "handshake timeout");
    assert.deepEqual(seen.sort(), ["alice", "later"]);
  });

  it("checks origins", async () => {
    const { url } = await start(echo, { origins: ["https://good.example"] });
    (await open(url, { origin: "https://good.example" })).terminate();
    (await open(url)).terminate(); // no Origin: not a browser
    assert.equal((await refusal(url, { origin: "https://evil.example" })).status, 403);
  });

  it("limits connections with 503 and Retry-After", async () => {
    const { url, server } = await start(echo, { maxConnections: 2 });
    const a = await open(url);
    const b = await open(url);
    const r = await refusal(url);
    assert.equal(r.status, 503);
    assert.ok(r.headers["retry-after"]);
    assert.equal(server.connections.size, 2);
    a.close();
    await once(a, "close");
    while (server.connections.size > 1) await new Promise((res) => setImmediate(res));
    (await open(url)).terminate();
    b.terminate();
    assert.equal(server.stats().refused[503], 1);
  });

  it("selects a subprotocol and sends extra headers", async () => {
    const { url } = await start(
      {
        onOpen(conn) {
          conn.send(conn.protocol);
        },
      },
      { protocols: ["chat.v2", "chat.v1"], headers: () => ({ "x-server": "tidews" }) },
    );
    const ws = new WebSocket(url, ["chat.v1", "chat.v2"]);
    const message = once(ws, "message");
    const [res] = (await once(ws, "upgrade")) as [{ headers: Record<string, string> }];
    assert.equal(res.headers["x-server"], "tidews");
    const [msg] = await message;
    assert.equal(String(msg), "chat.v1", "the client's order of preference");
    assert.equal(ws.protocol, "chat.v1");
    ws.terminate();
  });

  it("answers oversized headers with 431", async () => {
    const { port } = await start(echo);
    const big = await rawExchange(port, upgradeRequest("/", { "x-big": "a".repeat(20_000) }));
    assert.match(big, /^HTTP\/1\.1 431/);
  });
});

describe("connections", () => {
  it("exposes session, remoteAddress, protocol, extensions, readyState", async () => {
    let seen: Connection | undefined;
    const { url } = await start(
      {
        onOpen(conn) {
          seen = conn;
          conn.session.n = 1;
        },
      },
      { perMessageDeflate: true },
    );
    const ws = await open(url);
    while (seen === undefined) await new Promise((r) => setImmediate(r));
    assert.equal(seen.readyState, 1);
    assert.equal(seen.remoteAddress, "127.0.0.1");
    assert.match(seen.extensions, /^permessage-deflate/);
    assert.equal(seen.session.n, 1);
    ws.close(4001, "bye");
    await once(ws, "close");
    assert.equal(seen.readyState, 3);
    assert.equal(seen.remoteAddress, "127.0.0.1", "kept after close");
  });

  it("reports close code, reason and cleanliness in onClose", async () => {
    const closes: unknown[] = [];
    const { url } = await start({
      onClose(_conn, info) {
        closes.push({ code: info.code, reason: info.reason, wasClean: info.wasClean });
      },
    });
    const ws = await open(url);
    ws.close(4001, "bye");
    await once(ws, "close");
    const ws2 = await open(url);
    ws2.terminate();
    while (closes.length < 2) await new Promise((r) => setImmediate(r));
    assert.deepEqual(closes[0], { code: 4001, reason: "bye", wasClean: true });
    assert.deepEqual(closes[1], { code: 1006, reason: "", wasClean: false });
  });

  it("isolates handler exceptions: log and go on, or close with 1011", async () => {
    const errors: unknown[] = [];
    const { url } = await start({
      onMessage(conn, m) {
        if (m.text() === "boom") throw new Error("handler bug");
        conn.send(m.text());
      },
      onError(_conn, e) {
        errors.push(e);
      },
    });
    const ws = await open(url);
    ws.send("boom");
    ws.send("still alive");
    const [msg] = await once(ws, "message");
    assert.equal(String(msg), "still alive");
    assert.equal(errors.length, 1);
    ws.terminate();
    const strict = await start(
      {
        async onMessage() {
          throw new Error("async bug");
        },
        onError() {},
      },
      { recovery: "close" },
    );
    const ws2 = await open(strict.url);
    ws2.send("x");
    const [code] = await once(ws2, "close");
    assert.equal(code, 1011);
  });

  it("processes messages of an async handler in order, one at a time", async () => {
    const order: number[] = [];
    let active = 0;
    let maxActive = 0;
    const { url } = await start({
      async onMessage(conn, m) {
        const n = Number(m.text());
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setImmediate(r));
        order.push(n);
        active--;
        if (n === 49) conn.send("done");
      },
    });
    const ws = await open(url);
    for (let i = 0; i < 50; i++) ws.send(String(i));
    await once(ws, "message");
    assert.deepEqual(
      order,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(maxActive, 1);
    ws.terminate();
  });

  it("keeps a retained message valid after the handler returns", async () => {
    const kept: { text: () => string; release: () => void }[] = [];
    const { url } = await start({
      onMessage(conn, m) {
        if (m.text() === "keep") kept.push(m.retain());
        else conn.send(kept.map((k) => k.text()).join(","));
      },
    });
    const ws = await open(url);
    ws.send("keep");
    ws.send(Buffer.alloc(5000, 1), { binary: true }); // reuses pool buffers if the first were freed
    ws.send("report");
    const got: string[] = [];
    ws.on("message", (d: Buffer, isBinary: boolean) => {
      if (!isBinary) got.push(String(d));
    });
    while (got.length === 0) await new Promise((r) => setImmediate(r));
    assert.equal(got[0], "keep");
    for (const k of kept) k.release();
    ws.terminate();
  });

  it("batches many small sends of one tick into few writes", async () => {
    const { url } = await start({
      onMessage(conn) {
        for (let i = 0; i < 1000; i++) conn.send(`m${i}`);
      },
    });
    const ws = await open(url);
    let chunks = 0;
    (ws as unknown as { _socket: import("node:net").Socket })._socket.on("data", () => {
      chunks++;
    });
    let n = 0;
    const done = new Promise<void>((resolve) =>
      ws.on("message", () => {
        if (++n === 1000) resolve();
      }),
    );
    ws.send("go");
    await done;
    assert.ok(chunks < 50, `1000 messages arrived in ${chunks} reads`);
    ws.terminate();
  });

  it("sends writev parts as one message", async () => {
    const { url } = await start({
      onMessage(conn) {
        conn.writev([Buffer.from("ab"), Buffer.from("cd"), Buffer.from("ef")]);
      },
    });
    const ws = await open(url);
    ws.send("x");
    const [data, isBinary] = await once(ws, "message");
    assert.equal(String(data), "abcdef");
    assert.equal(isBinary, true);
    ws.terminate();
  });
});

describe("backpressure", () => {
  it("'drop' drops and counts messages for a reader that never reads; others are unaffected", async () => {
    let slow: Connection | undefined;
    const { server, port, url } = await start(
      {
        onOpen(conn) {
          slow ??= conn;
        },
        onMessage(conn, m) {
          conn.send(m.data);
        },
      },
      { maxBufferedAmount: 256 * 1024, backpressure: "drop" },
    );
    const { socket } = await rawConnect(port);
    socket.pause(); // never reads
    while (slow === undefined) await new Promise((r) => setImmediate(r));
    const chunk = Buffer.alloc(64 * 1024, 7);
    let refused = 0;
    for (let i = 0; i < 200; i++) if (!slow.send(chunk)) refused++;
    assert.ok(refused > 0);
    assert.ok(slow.bufferedAmount <= 256 * 1024 + 64 * 1024, `bounded: ${slow.bufferedAmount}`);
    assert.ok(server.stats().dropped > 0);
    const fast = await open(url);
    fast.send("hello");
    const [echoed] = await once(fast, "message");
    assert.equal(String(echoed), "hello");
    fast.terminate();
    socket.destroy();
  });

  it("gives a large frame the kernel did not take whole back to the pool on the socket's drain", async () => {
    let conn: Connection | undefined;
    const { server, port } = await start({
      onOpen(c) {
        conn = c;
      },
    });
    const { socket, rest } = await rawConnect(port);
    socket.pause();
    while (conn === undefined) await new Promise((r) => setImmediate(r));
    const c = conn;
    // One 48 KiB message per tick, until one stays with the socket: it was written without a
    // callback (nothing was on its way before it), so only the drain can release it.
    const chunk = Buffer.alloc(48 * 1024, 5);
    let sent = 0;
    while (c.bufferedAmount === 0) {
      assert.ok(sent < 2000, "the socket never filled");
      c.send(chunk);
      sent++;
      await new Promise((r) => setImmediate(r));
    }
    const held = server.pool.stats();
    assert.ok(held.gets > held.puts, "the frame on its way is held");
    const frameBytes = 4 + chunk.length;
    let received = rest.length;
    socket.on("data", (d: Buffer) => {
      received += d.length;
    });
    socket.resume();
    while (received < sent * frameBytes) await new Promise((r) => setImmediate(r));
    // Node emits drain once the kernel took the last byte; the frame goes back then.
    for (;;) {
      const s = server.pool.stats();
      if (s.gets === s.puts && c.bufferedAmount === 0) break;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(c.readyState, 1, "released while the connection is open, not by its close");
    socket.destroy();
  });

  it("'close' closes with 1008 and destroys the socket when the close frame cannot get out", async () => {
    let slow: Connection | undefined;
    let info: { code: number; error?: { code: string } } | undefined;
    const { port } = await start(
      {
        onOpen(conn) {
          slow = conn;
        },
        onClose(_c, i) {
          info = i as typeof info;
        },
      },
      { maxBufferedAmount: 256 * 1024, backpressure: "close", closeTimeout: 100 },
    );
    const { socket } = await rawConnect(port);
    socket.pause();
    while (slow === undefined) await new Promise((r) => setImmediate(r));
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 200 && slow.readyState === 1; i++) slow.send(chunk);
    assert.equal(slow.readyState, 2, "closing");
    while (info === undefined) await new Promise((r) => setTimeout(r, 5));
    assert.equal(info.error?.code, "ERR_WS_BUFFERED_AMOUNT");
    assert.equal(info.code, 1008, "the code it closed with, as no close frame came back");
    socket.destroy();
  });

  it("reports send() false at the high-water mark and onDrain when it drains", async () => {
    let drained = 0;
    let conn: Connection | undefined;
    const { port } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        onDrain() {
          drained++;
        },
      },
      { highWaterMark: 128 * 1024 },
    );
    const { socket } = await rawConnect(port);
    socket.pause();
    while (conn === undefined) await new Promise((r) => setImmediate(r));
    let ok = true;
    for (let i = 0; i < 100 && ok; i++) ok = conn.send(Buffer.alloc(32 * 1024));
    assert.equal(ok, false);
    socket.resume();
    while (drained === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(drained, 1);
    socket.destroy();
  });

  it("lets a pong through while data waits for a reader that does not read", async () => {
    let conn: Connection | undefined;
    const { port } = await start(
      {
        onOpen(c) {
          conn = c;
        },
      },
      { maxBufferedAmount: 0 },
    );
    const { socket } = await rawConnect(port);
    while (conn === undefined) await new Promise((r) => setImmediate(r));
    socket.pause();
    for (let i = 0; i < 64; i++) conn.send(Buffer.alloc(64 * 1024, 1));
    const queued = conn.bufferedAmount;
    socket.write(maskedFrame(9, "ping!"));
    socket.resume();
    // The pong must arrive before all queued data: scan the stream for 0x8a 0x05 "ping!".
    let seen = Buffer.alloc(0);
    let at = -1;
    while (at < 0) {
      const [chunk] = (await once(socket, "data")) as [Buffer];
      seen = Buffer.concat([seen, chunk]);
      at = seen.indexOf(Buffer.from([0x8a, 0x05, ...Buffer.from("ping!")]));
    }
    assert.ok(at < queued, `pong at byte ${at} of ${queued} queued`);
    socket.destroy();
  });
});

describe("heartbeat", () => {
  it("terminates a peer that stops answering within 2 x idleTimeout, and keeps a live one", async () => {
    const closes: { code: number; error?: { code: string } }[] = [];
    const { port, url } = await start(
      {
        onClose(_c, info) {
          closes.push(info as (typeof closes)[number]);
        },
      },
      { idleTimeout: 100 },
    );
    const live = await open(url); // ws answers pings automatically
    const { socket } = await rawConnect(port); // never answers
    socket.on("data", () => {});
    const lag = loopLag();
    const started = Date.now();
    await once(socket, "close");
    const elapsed = Date.now() - started;
    const late = lag.stop();
    while (closes.length === 0) await new Promise((r) => setImmediate(r));
    assert.ok(
      elapsed <= 2 * 100 + 100 + 2 * late,
      `found after ${elapsed} ms (loop lag ${late} ms)`,
    );
    assert.equal(closes[0]?.error?.code, "ERR_WS_HEARTBEAT_TIMEOUT");
    assert.equal(live.readyState, WebSocket.OPEN);
    live.terminate();
  });
});

describe("broadcast", () => {
  it("encodes once and reaches plain and compressed recipients alike", async () => {
    const { server, url } = await start(
      {},
      { perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 } },
    );
    const clients = await Promise.all([
      open(url, { perMessageDeflate: false }),
      open(url, { perMessageDeflate: true }),
      open(url, { perMessageDeflate: { serverNoContextTakeover: true } }),
    ]);
    while (server.connections.size < 3) await new Promise((r) => setImmediate(r));
    const text = "broadcast ".repeat(200);
    const before = server.pool.stats();
    const got = clients.map((ws) => once(ws, "message"));
    assert.equal(server.broadcast(text), 3);
    const msgs = await Promise.all(got);
    for (const [m] of msgs) assert.equal(String(m), text);
    // Then a normal send still decodes on the compressed connections (no window mix-up).
    const conns = [...server.connections];
    const next = clients.map((ws) => once(ws, "message"));
    for (const c of conns) c.send(`${text}!`);
    for (const [m] of await Promise.all(next)) assert.equal(String(m), `${text}!`);
    const after = server.pool.stats();
    assert.ok(after.gets > before.gets);
    const ratio = server.stats().deflateRatio;
    assert.ok(ratio > 0 && ratio < 0.5, `repetitive text compresses: ratio ${ratio}`);
    for (const ws of clients) ws.terminate();
  });

  it("returns shared frames to the pool after the last write", async () => {
    const { server, url } = await start({});
    const clients = await Promise.all([open(url), open(url), open(url)]);
    while (server.connections.size < 3) await new Promise((r) => setImmediate(r));
    const got = clients.map((ws) => once(ws, "message"));
    server.broadcast(Buffer.alloc(3000, 9));
    await Promise.all(got);
    while (true) {
      const s = server.pool.stats();
      if (s.gets === s.puts) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const ws of clients) ws.terminate();
  });
});

describe("shutdown and observability", () => {
  it("graceful shutdown delivers queued messages, then 1001 to every client", async () => {
    const { server, url } = await start({});
    const clients = await Promise.all(Array.from({ length: 5 }, () => open(url)));
    while (server.connections.size < 5) await new Promise((r) => setImmediate(r));
    const received = clients.map(() => 0);
    const closes = clients.map((ws, i) => {
      ws.on("message", () => received[i]!++);
      return once(ws, "close");
    });
    for (const c of server.connections) for (let i = 0; i < 100; i++) c.send(Buffer.alloc(10_000));
    servers.length = 0;
    await server.close(2000);
    const codes = (await Promise.all(closes)).map(([code]) => code);
    assert.deepEqual(codes, [1001, 1001, 1001, 1001, 1001]);
    assert.deepEqual(received, [100, 100, 100, 100, 100]);
  });

  it("counts messages, bytes and closes, and publishes on diagnostics_channel", async () => {
    const events: string[] = [];
    const onOpen = () => events.push("open");
    const onClose = () => events.push("close");
    diagnostics.subscribe("tidews:open", onOpen);
    diagnostics.subscribe("tidews:close", onClose);
    try {
      const { server, url } = await start(echo);
      const ws = await open(url);
      ws.send("hello");
      await once(ws, "message");
      ws.close(1000);
      await once(ws, "close");
      while (server.connections.size > 0) await new Promise((r) => setImmediate(r));
      const s = server.stats();
      assert.equal(s.messagesIn, 1);
      assert.equal(s.messagesOut, 1);
      assert.equal(s.bytesIn, 5);
      assert.equal(s.closes[1000], 1);
      assert.equal(s.opened, 1);
      assert.ok(s.pool.gets > 0);
      assert.deepEqual(events, ["open", "close"]);
    } finally {
      diagnostics.unsubscribe("tidews:open", onOpen);
      diagnostics.unsubscribe("tidews:close", onClose);
    }
  });
});
