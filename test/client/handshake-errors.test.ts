// Every way a client handshake fails, against real sockets: refusals from the ws server and from
// hand-written HTTP answers, crafted 101s that break RFC 6455 section 4.1, a server that never
// answers, an oversized head, a closed port, and invalid arguments.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { connect } from "../../src/client/index.js";
import { HandshakeError, UsageError } from "../../src/errors.js";
import { listen, rejectsWith, shut, startRawServer, switching } from "./helpers.js";

describe("refused handshakes carry the status and headers", () => {
  let port: number;
  let http: ReturnType<typeof createHttpServer>;
  before(async () => {
    http = createHttpServer();
    const wss = new WebSocketServer({
      noServer: true,
    });
    http.on("upgrade", (req, socket, head) => {
      const path = req.url ?? "";
      if (path === "/ok") {
        wss.handleUpgrade(req, socket, head, (ws) => ws.close());
        return;
      }
      const status = Number(path.slice(1));
      const extra =
        status === 401 ? 'WWW-Authenticate: Basic realm="tidews"\r\n' : "X-Reason: refused\r\n";
      socket.end(
        `HTTP/1.1 ${status} Refused\r\n${extra}Content-Type: text/plain\r\n` +
          `Content-Length: 7\r\nConnection: close\r\n\r\nrefused`,
      );
    });
    port = await listen(http);
  });
  after(() => shut(http));

  for (const status of [401, 403, 500]) {
    it(`${status}`, async () => {
      const e = await rejectsWith(connect(`ws://127.0.0.1:${port}/${status}`, {}), {
        code: "ERR_HANDSHAKE_STATUS",
        status,
      });
      assert.ok(e instanceof HandshakeError);
      const headers = e.headers as Record<string, string>;
      if (status === 401) assert.equal(headers["www-authenticate"], 'Basic realm="tidews"');
      else assert.equal(headers["x-reason"], "refused");
      assert.equal(headers["content-length"], "7");
    });
  }

  it("a 401 from the ws server's verifyClient", async () => {
    const server = createHttpServer();
    const wss = new WebSocketServer({
      server,
      verifyClient: (_info, cb) => cb(false, 401, "Unauthorized", { "WWW-Authenticate": "Bearer" }),
    });
    const p = await listen(server);
    try {
      const e = await rejectsWith(connect(`ws://127.0.0.1:${p}`, {}), {
        code: "ERR_HANDSHAKE_STATUS",
        status: 401,
      });
      assert.equal((e.headers as Record<string, string>)["www-authenticate"], "Bearer");
    } finally {
      wss.close();
      await shut(server);
    }
  });

  it("a redirect is a refusal unless followRedirects is on", async () => {
    const server = createHttpServer();
    server.on("upgrade", (_req, socket) => {
      socket.end("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    });
    const p = await listen(server);
    try {
      const e = await rejectsWith(connect(`ws://127.0.0.1:${p}`, {}), {
        code: "ERR_HANDSHAKE_STATUS",
        status: 302,
      });
      assert.equal((e.headers as Record<string, string>).location, "/elsewhere");
    } finally {
      await shut(server);
    }
  });
});

describe("a 101 that breaks the handshake rules", () => {
  let raw: Awaited<ReturnType<typeof startRawServer>>;
  /** What the raw server answers, by request path. */
  const answers: Record<string, (key: string) => string> = {};
  before(async () => {
    raw = await startRawServer((req, socket) => {
      const path = req.requestLine.split(" ")[1] ?? "";
      const answer = answers[path];
      socket.write(answer === undefined ? "HTTP/1.1 404 Not Found\r\n\r\n" : answer(req.key));
    });
  });
  after(() => raw.close());

  function answerWith(path: string, lines: (key: string) => string[]): void {
    answers[path] = (key) => switching({ key, requestLine: "", headers: {} }, lines(key));
  }
  // switching() adds a valid accept; the bad-accept cases build their head by hand.
  answers["/bad-accept"] = () =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  answers["/no-accept"] = () =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  answers["/no-upgrade"] = () => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n";
  answerWith("/unoffered-extension", () => ["Sec-WebSocket-Extensions: x-webkit-deflate-frame"]);
  answerWith("/unoffered-protocol", () => ["Sec-WebSocket-Protocol: chat.v9"]);
  answerWith("/two-protocols", () => ["Sec-WebSocket-Protocol: chat.v1, chat.v2"]);
  answerWith("/deflate-twice", () => [
    "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate",
  ]);
  answerWith("/deflate-client-bits-no-value", () => [
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
  ]);
  answerWith("/deflate-unknown-param", () => [
    "Sec-WebSocket-Extensions: permessage-deflate; mystery=1",
  ]);
  answerWith("/deflate-server-bits-too-large", () => [
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12",
  ]);
  answerWith("/deflate-missing-server-no-context", () => [
    "Sec-WebSocket-Extensions: permessage-deflate",
  ]);

  const cases: [string, string, Record<string, unknown>?][] = [
    ["/bad-accept", "ERR_HANDSHAKE_ACCEPT"],
    ["/no-accept", "ERR_HANDSHAKE_ACCEPT"],
    ["/no-upgrade", "ERR_HANDSHAKE_UPGRADE"],
    ["/unoffered-extension", "ERR_HANDSHAKE_EXTENSIONS"],
    ["/unoffered-protocol", "ERR_HANDSHAKE_PROTOCOL", { protocols: ["chat.v1"] }],
    ["/unoffered-protocol", "ERR_HANDSHAKE_PROTOCOL"],
    ["/two-protocols", "ERR_HANDSHAKE_PROTOCOL", { protocols: ["chat.v1", "chat.v2"] }],
    ["/deflate-twice", "ERR_HANDSHAKE_EXTENSIONS"],
    ["/deflate-client-bits-no-value", "ERR_HANDSHAKE_EXTENSIONS"],
    ["/deflate-unknown-param", "ERR_HANDSHAKE_EXTENSIONS"],
    [
      "/deflate-server-bits-too-large",
      "ERR_HANDSHAKE_EXTENSIONS",
      { perMessageDeflate: { serverMaxWindowBits: 10 } },
    ],
    [
      "/deflate-missing-server-no-context",
      "ERR_HANDSHAKE_EXTENSIONS",
      { perMessageDeflate: { serverNoContextTakeover: true } },
    ],
  ];
  for (const [path, code, options] of cases) {
    it(`${path.slice(1)}${options ? ` (${JSON.stringify(options)})` : ""}: ${code}`, async () => {
      const e = await rejectsWith(connect(`${raw.url}${path}`, {}, options ?? {}), {
        code,
        status: 101,
      });
      assert.ok(e instanceof HandshakeError);
      assert.equal((e.headers as Record<string, string>).connection, "Upgrade");
      await raw.allClosed();
    });
  }

  it("the same permessage-deflate answer is fine when it keeps the offer", async () => {
    // A control for the deflate cases above: the server's side of the socket stays usable.
    answerWith("/deflate-ok", () => [
      "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10",
    ]);
    const conn = await connect(
      `${raw.url}/deflate-ok`,
      {},
      {
        perMessageDeflate: { serverMaxWindowBits: 12 },
      },
    );
    assert.equal(conn.extensions, "permessage-deflate; server_max_window_bits=10");
    conn.terminate();
  });
});

describe("no usable answer", () => {
  it("times out against a server that never answers, and closes the socket", async () => {
    const raw = await startRawServer(() => {});
    try {
      const started = Date.now();
      await rejectsWith(connect(raw.url, {}, { handshakeTimeout: 150 }), {
        code: "ERR_HANDSHAKE_TIMEOUT",
        status: 0,
      });
      assert.ok(Date.now() - started >= 140, "not before the timeout");
      await raw.allClosed();
      assert.equal(raw.sockets.size, 1);
    } finally {
      await raw.close();
    }
  });

  it("times out against a server that sends half a head", async () => {
    const raw = await startRawServer((_req, socket) => socket.write("HTTP/1.1 101 Switching"));
    try {
      await rejectsWith(connect(raw.url, {}, { handshakeTimeout: 100 }), {
        code: "ERR_HANDSHAKE_TIMEOUT",
      });
    } finally {
      await raw.close();
    }
  });

  it("refuses a response head over 16 KiB", async () => {
    const raw = await startRawServer((req, socket) =>
      socket.write(switching(req, [`X-Big: ${"a".repeat(17 * 1024)}`])),
    );
    try {
      await rejectsWith(connect(raw.url, {}), {
        code: "ERR_HANDSHAKE_HEADERS_TOO_LARGE",
        status: 0,
      });
    } finally {
      await raw.close();
    }
  });

  it("reports an unparsable answer as ERR_HANDSHAKE_MALFORMED", async () => {
    const raw = await startRawServer((_req, socket) => socket.end("SPDY/3 200 OK\r\n\r\n"));
    try {
      await rejectsWith(connect(raw.url, {}), { code: "ERR_HANDSHAKE_MALFORMED", status: 0 });
    } finally {
      await raw.close();
    }
  });

  it("passes a network error through with its system code", async () => {
    const server = createHttpServer();
    const port = await listen(server);
    await shut(server);
    await rejectsWith(connect(`ws://127.0.0.1:${port}`, {}), { code: "ECONNREFUSED" });
  });

  it("a server that closes without answering", async () => {
    const raw = await startRawServer((_req, socket) => socket.destroy());
    try {
      const e = await rejectsWith(connect(raw.url, {}), {});
      assert.match(String(e.code), /ECONNRESET|ERR_HANDSHAKE_MALFORMED/);
    } finally {
      await raw.close();
    }
  });
});

describe("invalid arguments reject with UsageError", () => {
  const cases: [string, string | URL, Record<string, unknown>][] = [
    ["not a URL", "nope", {}],
    ["another scheme", "ftp://127.0.0.1/", {}],
    ["a fragment", "ws://127.0.0.1/#top", {}],
    ["an empty fragment", "ws://127.0.0.1/#", {}],
    ["a reserved header", "ws://127.0.0.1/", { headers: { "Sec-WebSocket-Key": "x" } }],
    ["a header value with CRLF", "ws://127.0.0.1/", { headers: { "X-A": "a\r\nX-B: b" } }],
    ["a repeated subprotocol", "ws://127.0.0.1/", { protocols: ["a", "a"] }],
    ["a subprotocol that is not a token", "ws://127.0.0.1/", { protocols: ["a b"] }],
    [
      "a window outside 8..15",
      "ws://127.0.0.1/",
      { perMessageDeflate: { serverMaxWindowBits: 7 } },
    ],
    ["a negative timeout", "ws://127.0.0.1/", { handshakeTimeout: -1 }],
    ["a fractional maxRedirects", "ws://127.0.0.1/", { maxRedirects: 1.5 }],
    ["a proxy that is not http:", "ws://127.0.0.1/", { proxy: "socks5://127.0.0.1:1080" }],
  ];
  for (const [name, url, options] of cases) {
    it(name, async () => {
      const e = await rejectsWith(connect(url, {}, options), { code: "ERR_INVALID_ARGUMENT" });
      assert.ok(e instanceof UsageError);
    });
  }

  it("nothing is dialled for an invalid argument", async () => {
    const server = createHttpServer();
    let connections = 0;
    server.on("connection", () => connections++);
    const port = await listen(server);
    try {
      await rejectsWith(connect(`ws://127.0.0.1:${port}/`, {}, { headers: { Upgrade: "h2c" } }), {
        code: "ERR_INVALID_ARGUMENT",
      });
      // A valid connect afterwards proves the listener counts connections.
      const ok = connect(`ws://127.0.0.1:${port}/`, {}, { handshakeTimeout: 50 });
      await Promise.all([once(server, "connection"), ok.catch(() => {})]);
      assert.equal(connections, 1);
    } finally {
      await shut(server);
    }
  });
});
