// connect() against real peers on 127.0.0.1: the `ws` server and the tidews Upgrader, with and
// without permessage-deflate: echo of every length class up to 16 MiB, close from either side,
// subprotocols, headers and origin.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import type WebSocket from "ws";
import { connect } from "../../src/client/index.js";
import type { Connection, Handler } from "../../src/runtime/connection.js";
import { Inbox, noise, startTidewsServer, startWsServer } from "./helpers.js";

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

interface Peer {
  url: string;
  close(): Promise<void>;
}

const peers: { name: string; start(deflate: boolean): Promise<Peer> }[] = [
  {
    name: "ws",
    start: (deflate) => startWsServer({ perMessageDeflate: deflate, maxPayload: 64 << 20 }),
  },
  { name: "tidews", start: (deflate) => startTidewsServer({ perMessageDeflate: deflate }) },
];

for (const peer of peers) {
  for (const deflate of [false, true]) {
    describe(`connect() to the ${peer.name} server${deflate ? ", permessage-deflate" : ""}`, () => {
      let server: Peer;
      before(async () => {
        server = await peer.start(deflate);
      });
      after(() => server.close());

      it("echoes text and binary of 0 B to 16 MiB", async () => {
        const inbox = new Inbox();
        const conn = await connect(`${server.url}/echo?x=1`, inbox, {
          perMessageDeflate: deflate,
          // The core also caps a compressed frame at maxMessageSize, and 16 MiB of noise grows
          // a little when deflated: leave room for it.
          maxMessageSize: deflate ? 17 << 20 : 16 << 20,
        });
        assert.equal(conn.readyState, 1);
        assert.equal(conn.remoteAddress, "127.0.0.1");
        assert.equal(inbox.opened, 1, "onOpen ran before the promise resolved");
        if (deflate) assert.match(conn.extensions, /^permessage-deflate/);
        else assert.equal(conn.extensions, "");
        for (const n of SIZES) {
          const text = "é".repeat(n >> 1) + (n % 2 === 1 ? "a" : "");
          conn.send(text);
          const t = await inbox.next();
          assert.equal(t.isText, true);
          assert.equal(t.data.length, n);
          assert.ok(t.data.equals(Buffer.from(text)), `text of ${n} bytes`);
          const bin = noise(n, n + 1);
          conn.send(bin);
          const b = await inbox.next();
          assert.equal(b.isText, false);
          assert.ok(b.data.equals(bin), `binary of ${n} bytes`);
        }
        conn.close(1000, "done");
        const info = await inbox.closed;
        assert.equal(info.code, 1000);
        assert.equal(info.wasClean, true);
      });

      it("keeps the order of a burst of 1,000 messages", async () => {
        const inbox = new Inbox();
        const conn = await connect(server.url, inbox, { perMessageDeflate: deflate });
        for (let i = 0; i < 1000; i++) conn.send(`m${i} ${"x".repeat(i % 2000)}`);
        for (let i = 0; i < 1000; i++) {
          assert.equal((await inbox.next()).data.toString(), `m${i} ${"x".repeat(i % 2000)}`);
        }
        conn.close();
        await inbox.closed;
      });
    });
  }
}

describe("closing, against the ws server", () => {
  let server: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    server = await startWsServer();
  });
  after(() => server.close());

  async function pair(): Promise<{ conn: Connection; inbox: Inbox; remote: WebSocket }> {
    const inbox = new Inbox();
    const accepted = once(server.wss, "connection");
    const conn = await connect(server.url, inbox);
    const [remote] = (await accepted) as [WebSocket];
    return { conn, inbox, remote };
  }

  it("from the client: the server sees the code and reason", async () => {
    const { conn, inbox, remote } = await pair();
    const remoteClosed = once(remote, "close");
    conn.close(4000, "client leaves — ünï");
    assert.equal(conn.readyState, 2);
    const [code, reason] = (await remoteClosed) as [number, Buffer];
    assert.equal(code, 4000);
    assert.equal(reason.toString(), "client leaves — ünï");
    const info = await inbox.closed;
    assert.deepEqual([info.code, info.wasClean, conn.readyState], [4000, true, 3]);
  });

  it("from the server: the client sees the code and reason", async () => {
    const { conn, inbox, remote } = await pair();
    remote.close(4001, "server leaves");
    const info = await inbox.closed;
    assert.deepEqual([info.code, info.reason, info.wasClean], [4001, "server leaves", true]);
    assert.equal(conn.readyState, 3);
  });

  it("a server that drops the TCP connection: 1006, not clean", async () => {
    const { inbox, remote } = await pair();
    remote.terminate();
    const info = await inbox.closed;
    assert.deepEqual([info.code, info.wasClean], [1006, false]);
  });

  it("ping from the server is answered; the client's ping gets a pong", async () => {
    const pongs: Buffer[] = [];
    let gotPong: () => void = () => {};
    const pongArrived = new Promise<void>((resolve) => {
      gotPong = resolve;
    });
    const handler: Handler = {
      onPong(_c, payload) {
        pongs.push(Buffer.from(payload));
        gotPong();
      },
    };
    const accepted = once(server.wss, "connection");
    const conn = await connect(server.url, handler);
    const [remote] = (await accepted) as [WebSocket];
    const remotePong = once(remote, "pong");
    remote.ping("from ws");
    assert.equal(String((await remotePong)[0]), "from ws");
    conn.ping("from tidews");
    await pongArrived;
    assert.equal(pongs[0]?.toString(), "from tidews");
    conn.close();
  });
});

describe("close against the tidews server", () => {
  it("both ends see the code and reason, in both directions", async () => {
    const serverSide: { code: number; reason: string }[] = [];
    let serverConn: Connection | undefined;
    let sawOpen: () => void = () => {};
    const opened = new Promise<void>((resolve) => {
      sawOpen = resolve;
    });
    let sawClose: () => void = () => {};
    const serverClosed = new Promise<void>((resolve) => {
      sawClose = resolve;
    });
    const server = await startTidewsServer(
      {},
      {
        onOpen(conn) {
          serverConn = conn;
          sawOpen();
        },
        onClose(_conn, info) {
          serverSide.push({ code: info.code, reason: info.reason });
          sawClose();
        },
      },
    );
    try {
      const a = new Inbox();
      const ca = await connect(server.url, a);
      await opened;
      ca.close(4002, "from client");
      await serverClosed;
      assert.deepEqual(serverSide[0], { code: 4002, reason: "from client" });
      assert.equal((await a.closed).wasClean, true);

      const b = new Inbox();
      const opened2 = new Promise<void>((resolve) => {
        sawOpen = resolve;
      });
      await connect(server.url, b);
      await opened2;
      serverConn?.close(4003, "from server");
      const info = await b.closed;
      assert.deepEqual([info.code, info.reason, info.wasClean], [4003, "from server", true]);
    } finally {
      await server.close();
    }
  });
});

describe("request options", () => {
  let server: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    server = await startWsServer({
      handleProtocols: (offered: Set<string>) => (offered.has("chat.v2") ? "chat.v2" : false),
    });
  });
  after(() => server.close());

  it("offers subprotocols; the server's choice is conn.protocol", async () => {
    const conn = await connect(server.url, {}, { protocols: ["chat.v1", "chat.v2"] });
    const req = server.requests.at(-1);
    assert.equal(req?.headers["sec-websocket-protocol"], "chat.v1, chat.v2");
    assert.equal(conn.protocol, "chat.v2");
    conn.close();
  });

  it("accepts a server that selects none of the offered subprotocols", async () => {
    const conn = await connect(server.url, {}, { protocols: ["other"] });
    assert.equal(conn.protocol, "");
    conn.close();
  });

  it("sends extra headers, origin, Host and the URL's credentials", async () => {
    const port = new URL(server.url).port;
    const conn = await connect(
      `ws://user:p%40ss@127.0.0.1:${port}/path/here?q=a%20b`,
      {},
      { headers: { "X-Token": "abc", "X-Multi": ["1", "2"] }, origin: "https://app.example" },
    );
    const req = server.requests.at(-1);
    assert.equal(req?.url, "/path/here?q=a%20b");
    assert.equal(req?.headers["x-token"], "abc");
    assert.equal(req?.headers["x-multi"], "1, 2");
    assert.equal(req?.headers.origin, "https://app.example");
    assert.equal(req?.headers.host, `127.0.0.1:${port}`);
    assert.equal(
      req?.headers.authorization,
      `Basic ${Buffer.from("user:p@ss").toString("base64")}`,
    );
    assert.equal(req?.headers["sec-websocket-version"], "13");
    assert.match(String(req?.headers["sec-websocket-extensions"]), /^permessage-deflate/);
    conn.close();
  });

  it("accepts http: URLs as ws:", async () => {
    const conn = await connect(server.url.replace("ws:", "http:"), {});
    assert.equal(conn.readyState, 1);
    conn.close();
  });

  it("offers nothing with perMessageDeflate: false", async () => {
    const conn = await connect(server.url, {}, { perMessageDeflate: false });
    assert.equal(server.requests.at(-1)?.headers["sec-websocket-extensions"], undefined);
    assert.equal(conn.extensions, "");
    conn.close();
  });

  it("a Host header replaces the one from the URL", async () => {
    const conn = await connect(server.url, {}, { headers: { Host: "example.test" } });
    assert.equal(server.requests.at(-1)?.headers.host, "example.test");
    conn.close();
  });
});
