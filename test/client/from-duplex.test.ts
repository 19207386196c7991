// fromDuplex(): the client handshake over a stream the application made. Over net sockets to the
// ws server and the tidews Upgrader, and over an in-memory pair whose other end is a server
// written by hand, to control every byte of the answer.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { Duplex } from "node:stream";
import { describe, it } from "node:test";
import { fromDuplex } from "../../src/client/index.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
import {
  acceptFor,
  Inbox,
  parseRequest,
  rejectsWith,
  serverFrame,
  startTidewsServer,
  startWsServer,
} from "./helpers.js";

/** Two connected in-memory Duplex streams: what one writes, the other reads. */
function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.readableEnded) other.push(null);
        callback(error);
      },
    });
  sides.push(
    make(() => sides[1] as Duplex),
    make(() => sides[0] as Duplex),
  );
  return [sides[0] as Duplex, sides[1] as Duplex];
}

/** Reads the request head from the server's end of a pair. */
async function readRequest(server: Duplex): Promise<ReturnType<typeof parseRequest>> {
  let text = "";
  for (;;) {
    const [chunk] = (await once(server, "data")) as [Buffer];
    text += chunk.toString("latin1");
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) return parseRequest(text.slice(0, end));
  }
}

function head101(key: string, extra = ""): string {
  return (
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n${extra}\r\n`
  );
}

describe("fromDuplex over a net socket", () => {
  for (const name of ["ws", "tidews"] as const) {
    it(`to the ${name} server: echo and close`, async () => {
      const server =
        name === "ws"
          ? await startWsServer({ perMessageDeflate: true })
          : await startTidewsServer({ perMessageDeflate: true });
      try {
        const socket = netConnect({ host: "127.0.0.1", port: server.port });
        await once(socket, "connect");
        const inbox = new Inbox();
        const conn = await fromDuplex(socket, inbox, {
          url: `ws://127.0.0.1:${server.port}/raw?a=1`,
          protocols: ["p1"],
        });
        assert.equal(server.requests.at(-1)?.url, "/raw?a=1");
        assert.equal(server.requests.at(-1)?.headers.host, `127.0.0.1:${server.port}`);
        assert.match(conn.extensions, /^permessage-deflate/);
        for (const n of [0, 10, 70_000, 3 << 20]) {
          const data = Buffer.alloc(n, n & 0xff);
          conn.send(data);
          assert.ok((await inbox.next()).data.equals(data), `${n} bytes`);
        }
        conn.close(4010, "duplex done");
        const info = await inbox.closed;
        assert.deepEqual([info.code, info.wasClean], [4010, true]);
        // ws echoes the reason in its reply; the tidews server replies with the code only.
        assert.equal(info.reason, name === "ws" ? "duplex done" : "");
      } finally {
        await server.close();
      }
    });
  }
});

describe("fromDuplex over an in-memory pair", () => {
  it("sends a valid request; frames in the same chunk as the head are delivered", async () => {
    const [client, server] = duplexPair();
    const inbox = new Inbox();
    const opening = fromDuplex(client, inbox, {
      url: "ws://example.test:8080/chat?room=1",
      origin: "https://example.test",
      perMessageDeflate: false,
      maskSource: new FixedMaskSource([1, 2, 3, 4]),
    });
    const req = await readRequest(server);
    assert.equal(req.requestLine, "GET /chat?room=1 HTTP/1.1");
    assert.equal(req.headers.host, "example.test:8080");
    assert.equal(req.headers.upgrade, "websocket");
    assert.equal(req.headers.connection, "Upgrade");
    assert.equal(req.headers["sec-websocket-version"], "13");
    assert.equal(req.headers.origin, "https://example.test");
    assert.equal(req.headers["sec-websocket-extensions"], undefined);
    assert.equal(Buffer.from(req.key, "base64").length, 16);
    server.write(
      Buffer.concat([
        Buffer.from(head101(req.key), "latin1"),
        serverFrame(1, "first"),
        serverFrame(2, Buffer.from([9, 8, 7])),
      ]),
    );
    const conn = await opening;
    assert.equal((await inbox.next()).data.toString(), "first");
    assert.deepEqual([...(await inbox.next()).data], [9, 8, 7]);
    // The client's frames are masked with the given source (RFC 6455 section 5.3).
    const sent = once(server, "data");
    conn.send("hi");
    const [frame] = (await sent) as [Buffer];
    assert.deepEqual(
      [...frame],
      [0x81, 0x82, 1, 2, 3, 4, "h".charCodeAt(0) ^ 1, "i".charCodeAt(0) ^ 2],
    );
    conn.terminate();
  });

  it("reads an answer that arrives one byte at a time", async () => {
    const [client, server] = duplexPair();
    const inbox = new Inbox();
    const opening = fromDuplex(client, inbox, { perMessageDeflate: false });
    const req = await readRequest(server);
    const bytes = Buffer.concat([
      Buffer.from(head101(req.key, "X-Filler: abc\r\n"), "latin1"),
      serverFrame(1, "byte by byte"),
    ]);
    for (const b of bytes) server.write(Buffer.from([b]));
    await opening;
    assert.equal((await inbox.next()).data.toString(), "byte by byte");
  });

  it("negotiates permessage-deflate from a hand-written answer", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {});
    const req = await readRequest(server);
    assert.match(String(req.headers["sec-websocket-extensions"]), /^permessage-deflate/);
    server.write(
      head101(
        req.key,
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
      ),
    );
    const conn = await opening;
    assert.equal(conn.extensions, "permessage-deflate; server_no_context_takeover");
    conn.terminate();
  });

  it("a refusal: status and headers, and the stream is destroyed", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {});
    await readRequest(server);
    server.write(
      "HTTP/1.1 403 Forbidden\r\nX-Why: banned\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
    );
    const e = await rejectsWith(opening, { code: "ERR_HANDSHAKE_STATUS", status: 403 });
    assert.deepEqual(e.headers, { "x-why": "banned", "set-cookie": ["a=1", "b=2"] });
    assert.equal(client.destroyed, true);
  });

  const broken: [string, string, string][] = [
    [
      "a wrong accept",
      "ERR_HANDSHAKE_ACCEPT",
      "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
    ],
    ["HTTP/2.0", "ERR_HANDSHAKE_MALFORMED", "HTTP/2.0 101 OK\r\n\r\n"],
    ["no status", "ERR_HANDSHAKE_MALFORMED", "HTTP/1.1\r\n\r\n"],
    ["a four-digit status", "ERR_HANDSHAKE_MALFORMED", "HTTP/1.1 1010 X\r\n\r\n"],
    [
      "obsolete folding",
      "ERR_HANDSHAKE_MALFORMED",
      "HTTP/1.1 101 OK\r\nUpgrade: web\r\n socket\r\n\r\n",
    ],
    [
      "a space before the colon",
      "ERR_HANDSHAKE_MALFORMED",
      "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n",
    ],
    [
      "a bare LF",
      "ERR_HANDSHAKE_MALFORMED",
      "HTTP/1.1 101 OK\r\nUpgrade: websocket\nConnection: Upgrade\r\n\r\n",
    ],
    [
      "a NUL in a value",
      "ERR_HANDSHAKE_MALFORMED",
      "HTTP/1.1 101 OK\r\nUpgrade: web\0socket\r\n\r\n",
    ],
    [
      "a line without a colon",
      "ERR_HANDSHAKE_MALFORMED",
      "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n",
    ],
  ];
  for (const [name, code, answer] of broken) {
    it(`${name}: ${code}`, async () => {
      const [client, server] = duplexPair();
      const opening = fromDuplex(client, {});
      await readRequest(server);
      server.write(answer, "latin1");
      await rejectsWith(opening, { code });
      assert.equal(client.destroyed, true);
    });
  }

  it("a head over 16 KiB, before its end is seen", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {});
    await readRequest(server);
    server.write(`HTTP/1.1 101 OK\r\nX-Big: ${"a".repeat(16 * 1024)}`);
    await rejectsWith(opening, { code: "ERR_HANDSHAKE_HEADERS_TOO_LARGE", status: 0 });
  });

  it("the stream ends before the answer", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {});
    await readRequest(server);
    server.end("HTTP/1.1 101 Swi");
    await rejectsWith(opening, { code: "ERR_HANDSHAKE_MALFORMED", status: 0, message: /ended/ });
  });

  it("the stream fails before the answer: its error", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {});
    await readRequest(server);
    client.destroy(new Error("boom"));
    await rejectsWith(opening, { message: "boom" });
  });

  it("times out and destroys the stream", async () => {
    const [client, server] = duplexPair();
    const opening = fromDuplex(client, {}, { handshakeTimeout: 80 });
    await readRequest(server);
    await rejectsWith(opening, { code: "ERR_HANDSHAKE_TIMEOUT", status: 0 });
    assert.equal(client.destroyed, true);
  });

  it("a close frame right after the answer: the client replies, then the server ends", async () => {
    const [client, server] = duplexPair();
    const inbox = new Inbox();
    const opening = fromDuplex(client, inbox, { perMessageDeflate: false });
    const req = await readRequest(server);
    const close = Buffer.concat([Buffer.from([0x88, 5, 0x0f, 0xa0]), Buffer.from("bye")]);
    const reply = once(server, "data");
    server.write(Buffer.concat([Buffer.from(head101(req.key), "latin1"), close]));
    await opening;
    const [frame] = (await reply) as [Buffer];
    assert.equal(frame[0], 0x88, "a close frame");
    assert.equal((frame[1] ?? 0) & 0x80, 0x80, "masked");
    server.end();
    const info = await inbox.closed;
    assert.deepEqual([info.code, info.reason, info.wasClean], [4000, "bye", true]);
  });
});
