// Interop: the `ws` npm client against the tidews server (Upgrader over node:http), real sockets on
// 127.0.0.1. ws is the peer nobody here wrote; the server also checks what it received.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { UpgraderOptions } from "../../src/server/upgrader.js";
import {
  assertReceived,
  type DeflateCase,
  describeDeflateCases,
  EXPECT,
  haveOpenFiles,
  sendAndCheckEchoes,
  INTEROP_TIMEOUT as TIMEOUT,
  type Wire,
} from "../helpers/interop.js";
import {
  binaryPayload,
  type PayloadSpec,
  sha256,
  sizeMatrix,
  textPayload,
  UNICODE_SAMPLES,
} from "./payloads.js";
import { GREETING, type InteropServer, type ServerPeer, startInteropServer } from "./server.js";

interface WsMessage {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** A ws client whose messages queue up, so no message can be missed between awaits. */
class WsClient {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The first ping's payload (listened for before the handshake ends). */
  readonly firstPing: Promise<Buffer>;
  /** The Sec-WebSocket-Extensions header of the server's 101 (ws.extensions has names only). */
  extensionsHeader = "";
  private readonly queue: WsMessage[] = [];
  private readonly waiters: ((m: WsMessage) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const m = { data, isBinary };
      const waiter = this.waiters.shift();
      if (waiter === undefined) this.queue.push(m);
      else waiter(m);
    });
    this.firstPing = once(ws, "ping").then(([p]) => p as Buffer);
    this.firstPing.catch(() => {});
    this.closed = once(ws, "close").then(([code, reason]) => ({
      code: code as number,
      reason: String(reason),
    }));
  }

  static open(
    url: string,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions,
  ): Promise<WsClient> {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...options });
    const client = new WsClient(ws);
    ws.once("upgrade", (res: IncomingMessage) => {
      client.extensionsHeader = String(res.headers["sec-websocket-extensions"] ?? "");
    });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(client));
      ws.once("error", reject);
    });
  }

  next(): Promise<WsMessage> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(code?: number, reason?: string): Promise<{ code: number; reason: string }> {
    this.ws.close(code, reason);
    return this.closed;
  }
}

function sendSpec(ws: WebSocket, spec: PayloadSpec): void {
  if (spec.kind === "text") ws.send(textPayload(spec.size, spec.seed));
  else ws.send(binaryPayload(spec.size, spec.seed));
}

/** Sends every spec, checks each echo byte for byte and the server's digest of each message. */
async function checkEchoes(
  client: WsClient,
  peer: ServerPeer,
  specs: readonly PayloadSpec[],
): Promise<void> {
  const first = peer.received.length;
  await sendAndCheckEchoes(
    specs,
    (spec) => sendSpec(client.ws, spec),
    async () => {
      const m = await client.next();
      return { isText: !m.isBinary, data: m.data };
    },
  );
  assertReceived(specs, peer.received.slice(first), "the server");
}

/** Opens a client and returns it with the server's side of the connection. */
async function pair(
  server: InteropServer,
  path = "/",
  protocols?: string | string[],
  options?: WebSocket.ClientOptions,
): Promise<{ client: WsClient; peer: ServerPeer }> {
  const serverSide = server.connection();
  const client = await WsClient.open(server.url(path), protocols, options);
  return { client, peer: await serverSide };
}

/** The refusal ws reports: the HTTP response it got instead of 101. */
function refusal(url: string, options?: WebSocket.ClientOptions): Promise<IncomingMessage> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => reject(new Error("the handshake was accepted")));
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      res.resume();
      resolve(res);
      ws.terminate();
    });
    ws.once("error", (error) => reject(error));
  });
}

describe("ws client -> tidews server", () => {
  let server: InteropServer;
  before(async () => {
    server = await startInteropServer();
  });
  after(() => server.close());

  it("echoes text and binary of 0 B to 16 MiB byte for byte", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    await checkEchoes(client, peer, sizeMatrix());
    await client.close();
  });

  it("receives what the server sends from onOpen, right behind the 101", TIMEOUT, async () => {
    const { client } = await pair(server, "/greet");
    const text = await client.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), GREETING[0]);
    const bin = await client.next();
    assert.equal(bin.isBinary, true);
    assert.ok(bin.data.equals(GREETING[1]));
    assert.equal(String(await client.firstPing), "greeting ping");
    await client.close();
  });

  it("carries unicode text (multi-byte, astral plane, combining) unchanged", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    for (const text of UNICODE_SAMPLES) {
      client.ws.send(text);
      const echo = await client.next();
      assert.equal(echo.isBinary, false);
      assert.equal(echo.data.toString("utf8"), text);
    }
    assert.deepEqual(
      peer.received.map((r) => r.sha256),
      UNICODE_SAMPLES.map((t) => sha256(Buffer.from(t))),
    );
    await client.close();
  });

  it("assembles fragmented messages from ws, with a ping between fragments", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    const text = Buffer.from("fragments: 😀 split inside a character, and 𝄞", "utf8");
    const cut = text.indexOf(Buffer.from("😀")) + 2; // the middle of the 4-byte character
    client.ws.send(text.subarray(0, cut), { binary: false, fin: false });
    client.ws.send(Buffer.alloc(0), { binary: false, fin: false });
    client.ws.ping(Buffer.from("between fragments"));
    client.ws.send(text.subarray(cut), { binary: false, fin: true });
    const bin = binaryPayload(300_000, 7);
    client.ws.send(bin.subarray(0, 1), { fin: false });
    client.ws.send(bin.subarray(1, 70_000), { fin: false });
    client.ws.send(bin.subarray(70_000), { fin: true });
    const t = await client.next();
    assert.equal(t.isBinary, false);
    assert.ok(t.data.equals(text));
    const b = await client.next();
    assert.equal(b.isBinary, true);
    assert.ok(b.data.equals(bin));
    assert.equal(peer.received.length, 2, "one message per fragmented message");
    assert.equal(peer.received[0]?.sha256, sha256(text));
    assert.equal(peer.received[1]?.sha256, sha256(bin));
    assert.deepEqual(peer.pings.map(String), ["between fragments"]);
    await client.close();
  });

  it("sends fragmented messages that ws assembles", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    peer.conn.send("frag", { fin: false });
    peer.conn.send("mented ✓", { fin: false });
    peer.conn.send("", { fin: true });
    const bin = binaryPayload(200_000, 3);
    peer.conn.send(bin.subarray(0, 100), { fin: false });
    peer.conn.ping("ping in the middle");
    peer.conn.send(bin.subarray(100), { fin: true });
    const t = await client.next();
    assert.equal(t.isBinary, false);
    assert.equal(t.data.toString(), "fragmented ✓");
    const b = await client.next();
    assert.equal(b.isBinary, true);
    assert.ok(b.data.equals(bin));
    await peer.until(() => peer.pongs.length === 1);
    assert.equal(String(peer.pongs[0]), "ping in the middle");
    await client.close();
  });

  it("answers pings with their payloads, in both directions", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    const payloads = [Buffer.alloc(0), Buffer.from([0]), randomBytes(125), Buffer.from("ping ✓")];
    for (const p of payloads) {
      client.ws.ping(p);
      const [pong] = (await once(client.ws, "pong")) as [Buffer];
      assert.ok(pong.equals(p), `pong payload for a ${p.length}-byte ping`);
    }
    assert.deepEqual(peer.pings, payloads, "the server's onPing saw each payload");
    for (const p of payloads) {
      const seen = once(client.ws, "ping");
      peer.conn.ping(p);
      const [ping] = (await seen) as [Buffer];
      assert.ok(ping.equals(p), `ws saw the ${p.length}-byte ping payload`);
    }
    await peer.until(() => peer.pongs.length === payloads.length);
    assert.deepEqual(peer.pongs, payloads, "ws answered each ping with its payload");
    const unsolicited = once(client.ws, "pong");
    peer.conn.pong("unsolicited");
    assert.equal(String(((await unsolicited) as [Buffer])[0]), "unsolicited");
    await client.close();
  });

  it(
    "close from ws: the server sees the code and reason, ws gets the code back",
    TIMEOUT,
    async () => {
      const { client, peer } = await pair(server);
      const reason = "client leaves — ünïcode";
      const seen = await client.close(4000, reason);
      const info = await peer.closed();
      assert.equal(info.code, 4000);
      assert.equal(info.reason, reason);
      assert.equal(info.wasClean, true);
      assert.equal(seen.code, 4000, "the echo server answers a close with the same code");
    },
  );

  it("close from ws without a code: the server sees 1005", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    const seen = await client.close();
    const info = await peer.closed();
    assert.equal(info.code, 1005);
    assert.equal(info.wasClean, true);
    assert.equal(seen.code, 1005);
  });

  it("close from the server: ws sees the code and reason", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    const reason = `server leaves ✓ ${"r".repeat(100)}`; // 119 bytes, near the 123-byte limit
    peer.conn.close(4001, reason);
    const seen = await client.closed;
    assert.equal(seen.code, 4001);
    assert.equal(seen.reason, reason);
    const info = await peer.closed();
    assert.equal(info.wasClean, true);
    assert.equal(info.code, 4001, "ws echoes the code");
  });

  it("a handshake the server refuses is a refusal for ws", TIMEOUT, async () => {
    const before = server.peers.length;
    const res = await refusal(server.url("/refuse"));
    assert.equal(res.statusCode, 403);
    assert.equal(server.refusals.count, 1);
    const old = await refusal(server.url("/"), { protocolVersion: 8 });
    assert.equal(old.statusCode, 426, "the Upgrader refuses version 8");
    assert.equal(old.headers["sec-websocket-version"], "13");
    assert.equal(server.peers.length, before, "no connection was opened");
  });

  it("keeps the order of 10,000 small messages, both ways", TIMEOUT, async () => {
    const { client, peer } = await pair(server);
    const n = 10_000;
    for (let i = 0; i < n; i++) client.ws.send(`burst ${i}`);
    for (let i = 0; i < n; i++) {
      const m = await client.next();
      assert.equal(m.data.toString(), `burst ${i}`);
    }
    assert.deepEqual(
      peer.texts(),
      Array.from({ length: n }, (_, i) => `burst ${i}`),
    );
    peer.echo = false;
    for (let i = 0; i < n; i++) peer.conn.send(`down ${i}`);
    for (let i = 0; i < n; i++) {
      const m = await client.next();
      assert.equal(m.data.toString(), `down ${i}`);
    }
    await client.close();
  });

  it("serves 1,000 concurrent ws connections", TIMEOUT, async (t) => {
    const n = 1000;
    // Each connection holds two descriptors here: the client's and the server's socket.
    if (!haveOpenFiles(t, 2 * n + 200)) return;
    const start = server.peers.length;
    const clients = await Promise.all(
      Array.from({ length: n }, () => WsClient.open(server.url("/many"))),
    );
    await server.connection(start + n - 1);
    assert.equal(server.upgrader.connections.size, n, "all open at once");
    const echoes = clients.map(async (c, i) => {
      c.ws.send(`client ${i}`);
      return (await c.next()).data.toString();
    });
    assert.deepEqual(
      await Promise.all(echoes),
      clients.map((_, i) => `client ${i}`),
    );
    const codes = await Promise.all(clients.map((c) => c.close(1000)));
    assert.ok(codes.every((c) => c.code === 1000));
    const peers = server.peers.slice(start);
    await Promise.all(peers.map((p) => p.closed()));
    assert.equal(server.upgrader.connections.size, 0);
  });
});

describe("ws client -> tidews server: heartbeat", () => {
  it("ws answers the idle pings, and the connection stays open", TIMEOUT, async () => {
    const server = await startInteropServer({ idleTimeout: 50 });
    try {
      const { client, peer } = await pair(server);
      await peer.until(() => peer.pongs.length >= 3 || peer.closeInfo !== undefined);
      assert.equal(peer.closeInfo, undefined, "closed while ws was answering the pings");
      assert.equal(peer.pings.length, 0);
      await client.close();
    } finally {
      await server.close();
    }
  });
});

describe("ws client -> tidews server: subprotocols", () => {
  let server: InteropServer;
  let picky: InteropServer;
  before(async () => {
    server = await startInteropServer({ protocols: ["chat.v2", "chat.v1"] });
    picky = await startInteropServer({
      protocols: (offered) => offered.find((p) => p.startsWith("beta.")),
    });
  });
  after(async () => {
    await server.close();
    await picky.close();
  });

  const cases: [string, string[], string][] = [
    ["the first offered that the server speaks", ["x.unknown", "chat.v1", "chat.v2"], "chat.v1"],
    ["a single match", ["chat.v2"], "chat.v2"],
    ["none when none is offered", [], ""],
  ];
  for (const [name, offered, expected] of cases) {
    it(`selects ${name}`, TIMEOUT, async () => {
      const { client, peer } = await pair(server, "/", offered);
      assert.equal(client.ws.protocol, expected);
      assert.equal(peer.conn.protocol, expected);
      client.ws.send("hi");
      assert.equal((await client.next()).data.toString(), "hi");
      await client.close();
    });
  }

  it(
    "answers no subprotocol when none matches (ws then refuses the connection)",
    TIMEOUT,
    async () => {
      const ws = new WebSocket(server.url(), ["nope"]);
      const serverSide = server.connection();
      const [error] = (await once(ws, "error")) as [Error];
      assert.match(error.message, /no subprotocol/i);
      const peer = await serverSide;
      assert.equal(peer.conn.protocol, "");
      await peer.closed();
    },
  );

  it("lets a policy function pick", TIMEOUT, async () => {
    const { client, peer } = await pair(picky, "/", ["alpha.1", "beta.2", "beta.3"]);
    assert.equal(client.ws.protocol, "beta.2");
    assert.equal(peer.conn.protocol, "beta.2");
    await client.close();
  });
});

/** Bytes on the server's socket for one echo round trip: up (client to server) and down. */
async function wire(client: WsClient, peer: ServerPeer, data: Buffer): Promise<Wire> {
  const read = peer.socket.bytesRead;
  const written = peer.socket.bytesWritten;
  client.ws.send(data);
  const echo = await client.next();
  assert.ok(echo.data.equals(data), "echo of a measured message");
  return { up: peer.socket.bytesRead - read, down: peer.socket.bytesWritten - written };
}

const deflateCases: DeflateCase<
  UpgraderOptions["perMessageDeflate"],
  WebSocket.PerMessageDeflateOptions
>[] = [
  { name: "defaults", server: true, client: {}, ...EXPECT.serverDefaults, burst: true },
  {
    name: "server context takeover kept (serverNoContextTakeover: false)",
    server: { serverNoContextTakeover: false },
    client: {},
    ...EXPECT.serverContextKept,
  },
  {
    name: "no context takeover asked by ws",
    server: { threshold: 0 },
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ...EXPECT.noContextTakeover,
  },
  {
    name: "no context takeover imposed by the server",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
    client: {},
    ...EXPECT.noContextTakeover,
    burst: true,
  },
  {
    name: "window bits 10 asked by ws",
    server: true,
    client: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    ...EXPECT.windows(
      "client_max_window_bits=10",
      "server_max_window_bits=10",
      "server_no_context_takeover",
    ),
    serverWindow: 10,
  },
  {
    name: "window bits 9 imposed by the server",
    server: { serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    client: {},
    ...EXPECT.windows("client_max_window_bits=9", "server_no_context_takeover"),
    serverWindow: 9,
  },
  {
    name: "window bits 8 asked by ws",
    server: true,
    client: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    ...EXPECT.windows(
      "client_max_window_bits=8",
      "server_max_window_bits=8",
      "server_no_context_takeover",
    ),
    serverWindow: 8,
  },
];

describeDeflateCases({
  title: "ws client -> tidews server: permessage-deflate",
  options: {},
  cases: deflateCases,
  who: { up: "ws", down: "tidews" },
  async open(c) {
    const server = await startInteropServer({ perMessageDeflate: c.server });
    const { client, peer } = await pair(server, "/", undefined, {
      perMessageDeflate: { threshold: 0, ...c.client },
    }).catch(async (error: unknown) => {
      await server.close();
      throw error;
    });
    return {
      client,
      peer,
      negotiated() {
        assert.equal(client.ws.extensions, "permessage-deflate");
        return [client.extensionsHeader, peer.conn.extensions];
      },
      echoes: (specs) => checkEchoes(client, peer, specs),
      measure: (text) => wire(client, peer, Buffer.from(text)),
      async close() {
        await client.close();
        await server.close();
      },
    };
  },
  more(c, session) {
    if (c.serverWindow !== undefined) {
      const window = c.serverWindow;
      it(`compresses within a ${window}-bit window`, TIMEOUT, async () => {
        const { client, peer } = session();
        // A 300-byte block repeated: a match 300 bytes back fits a 10-bit window (zlib reaches
        // 1024 - 262 = 762 bytes back) but not a 9-bit one (250 bytes back).
        const block = randomBytes(300);
        const message = Buffer.concat(Array.from({ length: 16 }, () => block));
        const { down } = await wire(client, peer, message);
        const reaches = down < message.length / 3;
        assert.equal(reaches, window >= 10, `${down} bytes down for ${message.length}`);
      });
    }

    it("inflates fragmented compressed messages from ws and keeps order", TIMEOUT, async () => {
      const { client } = session();
      const text = Buffer.from(textPayload(50_000, 99));
      client.ws.send(text.subarray(0, 20_000), { binary: false, fin: false, compress: true });
      client.ws.send(text.subarray(20_000), { binary: false, fin: true, compress: true });
      const small = ["a", "", "bb", "x".repeat(2000), "c"];
      for (const s of small) client.ws.send(s);
      const t = await client.next();
      assert.ok(t.data.equals(text));
      for (const s of small) assert.equal((await client.next()).data.toString(), s);
    });

    if (c.burst) {
      it("keeps the order of 10,000 messages of mixed sizes", TIMEOUT, async () => {
        const { client } = session();
        const n = 10_000;
        const body = (i: number): string => `${i} ${"y".repeat((i * 37) % 2500)}`;
        for (let i = 0; i < n; i++) client.ws.send(body(i));
        for (let i = 0; i < n; i++) {
          const m = await client.next();
          assert.equal(m.data.toString(), body(i), `message ${i}`);
        }
      });
    }
  },
});

describe("ws client -> tidews server: messages sent just before close()", () => {
  for (const deflate of [false, true]) {
    const how = deflate ? "with permessage-deflate" : "without compression";
    it(`${how}, they reach ws before the close frame`, TIMEOUT, async () => {
      const server = await startInteropServer({ perMessageDeflate: deflate });
      try {
        const { client, peer } = await pair(server, "/", undefined, { perMessageDeflate: deflate });
        const big = textPayload(1024 * 1024, 5); // compressed off the main thread
        peer.conn.send(big);
        peer.conn.send("small, after the big one");
        peer.conn.close(4001, "bye");
        const first = await Promise.race([client.next(), client.closed]);
        assert.ok(
          "data" in first,
          `ws got the close (${JSON.stringify(first)}) before any message`,
        );
        assert.equal(first.data.toString(), big);
        assert.equal((await client.next()).data.toString(), "small, after the big one");
        assert.equal((await client.closed).code, 4001);
      } finally {
        await server.close();
      }
    });
  }
});

describe("ws client -> tidews server: a fragmented message behind one still being compressed", () => {
  it("reaches ws whole and unchanged", TIMEOUT, async () => {
    const server = await startInteropServer({ perMessageDeflate: true });
    try {
      const { client, peer } = await pair(server, "/", undefined, { perMessageDeflate: true });
      const text = textPayload(200_000, 4); // compressed off the main thread
      const bin = binaryPayload(100_000, 5);
      peer.conn.send(text);
      peer.conn.send(bin.subarray(0, 50_000), { fin: false });
      peer.conn.send(bin.subarray(50_000), { fin: true });
      peer.conn.send("after");
      assert.equal((await client.next()).data.toString(), text);
      const m = await client.next();
      assert.equal(m.isBinary, true);
      assert.equal(m.data.length, bin.length, "length of the fragmented message");
      assert.ok(m.data.equals(bin), "bytes of the fragmented message");
      assert.equal((await client.next()).data.toString(), "after");
      await client.close();
    } finally {
      await server.close();
    }
  });
});
