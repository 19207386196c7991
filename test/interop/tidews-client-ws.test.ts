// Interop: the tidews client against the `ws` npm server (WebSocketServer over node:http), real
// sockets on 127.0.0.1. Enabled once src/client/index.ts exports `connect`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type PerMessageDeflateOptions, WebSocket, WebSocketServer } from "ws";
import type { Connection } from "../../src/runtime/connection.js";
import {
  assertReceived,
  describeDeflateCases,
  EventRecorder,
  haveOpenFiles,
  sendAndCheckEchoes,
  INTEROP_TIMEOUT as TIMEOUT,
  tidewsClientDeflateCases,
} from "../helpers/interop.js";
import { type ClientConnectOptions, ClientPeer, loadClient } from "./client-peer.js";
import {
  binaryPayload,
  type PayloadSpec,
  sha256,
  sizeMatrix,
  textPayload,
  UNICODE_SAMPLES,
} from "./payloads.js";

const GREETING: readonly [string, Buffer] = ["hello from ws ✓", Buffer.alloc(3000, 0xcd)];
const client = await loadClient();
const options = client.missing === undefined ? {} : { skip: client.missing };

/** The ws server's side of one connection. */
class WsServerPeer extends EventRecorder {
  readonly received: { isText: boolean; sha256: string; small?: string }[] = [];
  readonly pings: Buffer[] = [];
  readonly pongs: Buffer[] = [];
  close: { code: number; reason: string } | undefined;
  echo = true;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly request: IncomingMessage,
  ) {
    super();
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.received.push({
        isText: !isBinary,
        sha256: sha256(data),
        small: data.length <= 4096 ? data.toString("utf8") : undefined,
      });
      if (this.echo && ws.readyState === WebSocket.OPEN) ws.send(data, { binary: isBinary });
      this.emit("event");
    });
    ws.on("ping", (p: Buffer) => {
      this.pings.push(p);
      this.emit("event");
    });
    ws.on("pong", (p: Buffer) => {
      this.pongs.push(p);
      this.emit("event");
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.close = { code, reason: reason.toString() };
      this.emit("event");
    });
  }

  async closed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.close !== undefined);
    return this.close as { code: number; reason: string };
  }
}

interface WsServer {
  readonly wss: WebSocketServer;
  readonly peers: WsServerPeer[];
  url(path?: string): string;
  connection(index?: number): Promise<WsServerPeer>;
  close(): Promise<void>;
}

async function startWsServer(
  perMessageDeflate: boolean | PerMessageDeflateOptions = false,
): Promise<WsServer> {
  const events = new EventEmitter();
  const peers: WsServerPeer[] = [];
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate,
    maxPayload: 64 * 1024 * 1024,
    // The server's order of preference wins.
    handleProtocols: (offered) => ["chat.v2", "chat.v1"].find((p) => offered.has(p)) ?? false,
  });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if ((req.url ?? "").startsWith("/refuse")) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      peers.push(new WsServerPeer(ws, socket, req));
      if ((req.url ?? "").startsWith("/greet")) {
        // Frames right behind the 101, likely in the same TCP segment.
        ws.send(GREETING[0]);
        ws.send(GREETING[1]);
        ws.ping("greeting ping");
      }
      events.emit("open");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    wss,
    peers,
    url: (path = "/") => `ws://127.0.0.1:${port}${path}`,
    async connection(index = peers.length) {
      while (peers.length <= index) await once(events, "open");
      return peers[index] as WsServerPeer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Connects the tidews client and returns it with the ws server's side. */
async function pair(
  server: WsServer,
  opts: ClientConnectOptions = {},
  path = "/",
): Promise<{ conn: Connection; peer: ClientPeer; remote: WsServerPeer }> {
  const api = client.api;
  assert.ok(api);
  const remoteSide = server.connection();
  const peer = new ClientPeer();
  const conn = await api.connect(server.url(path), peer, { perMessageDeflate: false, ...opts });
  return { conn, peer, remote: await remoteSide };
}

async function checkEchoes(
  conn: Connection,
  peer: ClientPeer,
  remote: WsServerPeer,
  specs: readonly PayloadSpec[],
): Promise<void> {
  const first = remote.received.length;
  await sendAndCheckEchoes(
    specs,
    (spec) => {
      if (spec.kind === "text") conn.send(textPayload(spec.size, spec.seed));
      else conn.send(binaryPayload(spec.size, spec.seed));
    },
    () => peer.next(),
  );
  assertReceived(specs, remote.received.slice(first), "ws");
}

async function closeClient(conn: Connection, peer: ClientPeer): Promise<void> {
  conn.close(1000, "");
  const info = await peer.closed();
  assert.equal(info.wasClean, true);
}

describe("tidews client -> ws server", options, () => {
  let server: WsServer;
  before(async () => {
    server = await startWsServer();
  });
  after(() => server?.close());

  it("echoes text and binary of 0 B to 16 MiB byte for byte", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server, { maxMessageSize: 64 * 1024 * 1024 });
    await checkEchoes(conn, peer, remote, sizeMatrix());
    await closeClient(conn, peer);
  });

  it("receives the frames ws sends right behind the 101", TIMEOUT, async () => {
    const { conn, peer } = await pair(server, {}, "/greet");
    const text = await peer.next();
    assert.ok(text.isText && text.data.toString() === GREETING[0]);
    const bin = await peer.next();
    assert.ok(!bin.isText && bin.data.equals(GREETING[1]));
    await peer.until(() => peer.pings.length === 1);
    assert.equal(String(peer.pings[0]), "greeting ping");
    await closeClient(conn, peer);
  });

  it("carries unicode text unchanged", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    for (const text of UNICODE_SAMPLES) {
      conn.send(text);
      const echo = await peer.next();
      assert.equal(echo.isText, true);
      assert.equal(echo.data.toString("utf8"), text);
    }
    assert.deepEqual(
      remote.received.map((r) => r.sha256),
      UNICODE_SAMPLES.map((t) => sha256(Buffer.from(t))),
    );
    await closeClient(conn, peer);
  });

  it("sends fragmented messages that ws assembles", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    const text = Buffer.from("client fragments 😀 in the middle", "utf8");
    const cut = text.indexOf(Buffer.from("😀")) + 2;
    conn.send(text.subarray(0, cut), { binary: false, fin: false });
    conn.ping("between");
    conn.send(text.subarray(cut), { binary: false, fin: true });
    const bin = binaryPayload(150_000, 8);
    conn.send(bin.subarray(0, 70_000), { fin: false });
    conn.send(bin.subarray(70_000, 70_000), { fin: false });
    conn.send(bin.subarray(70_000), { fin: true });
    const t = await peer.next();
    assert.ok(t.isText && t.data.equals(text));
    const b = await peer.next();
    assert.ok(!b.isText && b.data.equals(bin));
    assert.equal(remote.received.length, 2);
    assert.deepEqual(remote.pings.map(String), ["between"]);
    await closeClient(conn, peer);
  });

  it("assembles fragmented messages from ws", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    const text = Buffer.from("ws fragments 𝄞 split", "utf8");
    const cut = text.indexOf(Buffer.from("𝄞")) + 1;
    remote.ws.send(text.subarray(0, cut), { binary: false, fin: false });
    remote.ws.ping("between");
    remote.ws.send(text.subarray(cut), { binary: false, fin: true });
    const bin = binaryPayload(200_000, 9);
    remote.ws.send(bin.subarray(0, 1), { fin: false });
    remote.ws.send(bin.subarray(1), { fin: true });
    const t = await peer.next();
    assert.ok(t.isText && t.data.equals(text));
    const b = await peer.next();
    assert.ok(!b.isText && b.data.equals(bin));
    await peer.until(() => peer.pings.length === 1);
    assert.equal(String(peer.pings[0]), "between");
    await closeClient(conn, peer);
  });

  it("answers pings with their payloads, in both directions", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    const payloads = [Buffer.alloc(0), Buffer.from([0]), randomBytes(125), Buffer.from("✓")];
    for (const p of payloads) conn.ping(p);
    await peer.until(() => peer.pongs.length === payloads.length);
    assert.deepEqual(peer.pongs, payloads);
    assert.deepEqual(remote.pings, payloads);
    for (const p of payloads) remote.ws.ping(p);
    await remote.until(() => remote.pongs.length === payloads.length);
    assert.deepEqual(remote.pongs, payloads);
    assert.deepEqual(peer.pings, payloads);
    await closeClient(conn, peer);
  });

  it("close from the client: ws sees the code and reason", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    const reason = "client leaves — ünï";
    conn.close(4000, reason);
    assert.deepEqual(await remote.closed(), { code: 4000, reason });
    const info = await peer.closed();
    assert.equal(info.code, 4000, "ws echoes the code");
    assert.equal(info.wasClean, true);
  });

  it("close from ws: the client sees the code and reason", TIMEOUT, async () => {
    const { peer, remote } = await pair(server);
    const reason = `ws leaves ✓ ${"r".repeat(100)}`;
    remote.ws.close(4001, reason);
    const info = await peer.closed();
    assert.equal(info.code, 4001);
    assert.equal(info.reason, reason);
    assert.equal(info.wasClean, true);
    assert.equal((await remote.closed()).code, 4001, "the client echoes the code");
  });

  it("a refused handshake rejects connect with the status", TIMEOUT, async () => {
    const api = client.api;
    assert.ok(api);
    await assert.rejects(api.connect(server.url("/refuse"), new ClientPeer()), (error) => {
      assert.equal((error as { status?: number }).status, 403);
      return true;
    });
  });

  it("takes the subprotocol ws selects", TIMEOUT, async () => {
    const a = await pair(server, { protocols: ["chat.v1", "chat.v2"] });
    assert.equal(a.conn.protocol, "chat.v2", "ws prefers chat.v2");
    assert.equal(a.remote.ws.protocol, "chat.v2");
    await closeClient(a.conn, a.peer);
    const b = await pair(server, { protocols: ["chat.v1"] });
    assert.equal(b.conn.protocol, "chat.v1");
    await closeClient(b.conn, b.peer);
    const c = await pair(server, { protocols: ["other"] });
    assert.equal(c.conn.protocol, "", "no Sec-WebSocket-Protocol in the answer");
    await closeClient(c.conn, c.peer);
  });

  it("keeps the order of 10,000 small messages, both ways", TIMEOUT, async () => {
    const { conn, peer, remote } = await pair(server);
    const n = 10_000;
    for (let i = 0; i < n; i++) conn.send(`burst ${i}`);
    for (let i = 0; i < n; i++) assert.equal((await peer.next()).data.toString(), `burst ${i}`);
    assert.equal(remote.received.at(-1)?.small, `burst ${n - 1}`);
    remote.echo = false;
    for (let i = 0; i < n; i++) remote.ws.send(`down ${i}`);
    for (let i = 0; i < n; i++) assert.equal((await peer.next()).data.toString(), `down ${i}`);
    await closeClient(conn, peer);
  });

  it("opens 1,000 concurrent client connections", TIMEOUT, async (t) => {
    const n = 1000;
    if (!haveOpenFiles(t, 2 * n + 200)) return;
    const api = client.api;
    assert.ok(api);
    const start = server.peers.length;
    const peers = Array.from({ length: n }, () => new ClientPeer());
    const conns = await Promise.all(
      peers.map((p) => api.connect(server.url("/many"), p, { perMessageDeflate: false })),
    );
    await server.connection(start + n - 1);
    assert.equal(server.wss.clients.size, n, "all open at once");
    conns.forEach((c, i) => {
      c.send(`client ${i}`);
    });
    const echoes = await Promise.all(peers.map(async (p) => (await p.next()).data.toString()));
    assert.deepEqual(
      echoes,
      conns.map((_, i) => `client ${i}`),
    );
    for (const c of conns) c.close(1000, "");
    const infos = await Promise.all(peers.map((p) => p.closed()));
    assert.ok(infos.every((i) => i.wasClean && i.code === 1000));
  });
});

const deflateCases = tidewsClientDeflateCases<PerMessageDeflateOptions>("ws", {
  none: {},
  noContextTakeover: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  windowBits9: { serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
});

describeDeflateCases({
  title: "tidews client -> ws server: permessage-deflate",
  options,
  cases: deflateCases,
  who: { up: "tidews", down: "ws" },
  async open(c) {
    const server = await startWsServer({ threshold: 0, ...c.server });
    const { conn, peer, remote } = await pair(server, {
      perMessageDeflate: c.client,
      maxMessageSize: 64 * 1024 * 1024,
    }).catch(async (error: unknown) => {
      await server.close();
      throw error;
    });
    return {
      conn,
      peer,
      remote,
      negotiated() {
        assert.equal(Object.keys(remote.ws.extensions).length > 0, true);
        return [conn.extensions];
      },
      echoes: (specs) => checkEchoes(conn, peer, remote, specs),
      async measure(text) {
        const message = Buffer.from(text);
        const read = remote.socket.bytesRead;
        const written = remote.socket.bytesWritten;
        conn.send(message);
        assert.ok((await peer.next()).data.equals(message));
        return { up: remote.socket.bytesRead - read, down: remote.socket.bytesWritten - written };
      },
      async close() {
        conn.close(1000, "");
        await peer.closed();
        await server.close();
      },
    };
  },
  more(c, session) {
    it("inflates fragmented compressed messages from ws", TIMEOUT, async () => {
      const { remote, peer } = session();
      const text = Buffer.from(textPayload(50_000, 77));
      remote.ws.send(text.subarray(0, 20_000), { binary: false, fin: false, compress: true });
      remote.ws.send(text.subarray(20_000), { binary: false, fin: true, compress: true });
      const m = await peer.next();
      assert.ok(m.isText && m.data.equals(text));
    });

    if (c.burst) {
      it("keeps the order of 10,000 messages of mixed sizes", TIMEOUT, async () => {
        const { conn, peer } = session();
        const body = (i: number): string => `${i} ${"y".repeat((i * 37) % 2500)}`;
        for (let i = 0; i < 10_000; i++) conn.send(body(i));
        for (let i = 0; i < 10_000; i++) {
          assert.equal((await peer.next()).data.toString(), body(i), `message ${i}`);
        }
      });
    }
  },
});

describe("tidews client -> ws server: messages sent just before close()", options, () => {
  for (const deflate of [false, true]) {
    const how = deflate ? "with permessage-deflate" : "without compression";
    it(`${how}, they reach ws before the close frame`, TIMEOUT, async () => {
      const server = await startWsServer(deflate);
      try {
        const { conn, remote } = await pair(server, { perMessageDeflate: deflate });
        remote.echo = false;
        const big = textPayload(1024 * 1024, 6);
        conn.send(big);
        conn.send("small, after the big one");
        conn.close(4000, "bye");
        assert.deepEqual(await remote.closed(), { code: 4000, reason: "bye" });
        assert.deepEqual(
          remote.received.map((r) => r.sha256),
          [sha256(Buffer.from(big)), sha256(Buffer.from("small, after the big one"))],
          "the messages sent before close()",
        );
      } finally {
        await server.close();
      }
    });
  }
});

describe(
  "tidews client -> ws server: a fragmented message behind one still being compressed",
  options,
  () => {
    it("reaches ws whole and unchanged", TIMEOUT, async () => {
      const server = await startWsServer(true);
      try {
        const { conn, peer, remote } = await pair(server, { perMessageDeflate: true });
        remote.echo = false;
        const text = textPayload(200_000, 4);
        const bin = binaryPayload(100_000, 5);
        conn.send(text);
        conn.send(bin.subarray(0, 50_000), { fin: false });
        conn.send(bin.subarray(50_000), { fin: true });
        conn.send("after");
        await remote.until(() => remote.received.length === 3 || remote.close !== undefined);
        assert.deepEqual(
          remote.received.map((r) => r.sha256),
          [sha256(Buffer.from(text)), sha256(bin), sha256(Buffer.from("after"))],
          "what ws received",
        );
        await closeClient(conn, peer);
      } finally {
        await server.close();
      }
    });
  },
);
