// connect()'s `signal` option: an abort at each stage of the attempt (before it, during the TCP
// dial, TLS, the proxy's CONNECT, the handshake, a redirect) rejects with ERR_WS_ABORTED and
// closes every socket of the attempt; after the open it has no effect and leaves no listener.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect } from "../../src/client/index.js";
import { HandshakeError } from "../../src/errors.js";
import {
  closed,
  hasOpenssl,
  Inbox,
  listen,
  makeCertificate,
  rejectsWith,
  startProxy,
  startRawServer,
  startWsServer,
} from "./helpers.js";

/** Asserts the abort error of `signal`: typed, status 0, its cause the signal's reason. */
async function rejectsAborted(promise: Promise<unknown>, signal: AbortSignal) {
  const e = await rejectsWith(promise, { code: "ERR_WS_ABORTED", status: 0 });
  assert.ok(e instanceof HandshakeError);
  assert.equal((e as Error).cause, signal.reason);
  assert.equal(getEventListeners(signal, "abort").length, 0, "the abort listener is removed");
  return e;
}

/** A TCP server that calls `onData` with the first bytes of each connection (a ClientHello). */
async function startSilentTcp(onData: () => void) {
  const sockets: Socket[] = [];
  const closing: Promise<unknown>[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    closing.push(closed(socket));
    socket.once("data", onData);
  });
  const port = await listen(server);
  return {
    port,
    sockets,
    allClosed: () => Promise.all(closing),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("connect({ signal })", () => {
  let target: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    target = await startWsServer();
  });
  after(() => target.close());

  it("an already aborted signal rejects at once and dials nothing", async () => {
    const seen: string[] = [];
    const server = await startRawServer((req, socket) => {
      seen.push(req.requestLine);
      socket.destroy();
    });
    try {
      const reason = new Error("not wanted");
      const signal = AbortSignal.abort(reason);
      const e = await rejectsAborted(connect(`${server.url}/aborted`, {}, { signal }), signal);
      assert.equal((e as Error).cause, reason);
      // The server sees connections in order: had the first call dialled, its request would
      // come before this one.
      await rejectsWith(connect(`${server.url}/second`, {}), {});
      assert.deepEqual(seen, ["GET /second HTTP/1.1"]);
      assert.equal(server.sockets.size, 1);
    } finally {
      await server.close();
    }
  });

  it("an invalid signal is ERR_INVALID_ARGUMENT", async () => {
    await rejectsWith(
      connect(target.url, {}, { signal: { aborted: false } as unknown as AbortSignal }),
      { code: "ERR_INVALID_ARGUMENT" },
    );
  });

  it("during the TCP dial", async () => {
    const server = await startRawServer(() => assert.fail("no request is sent"));
    try {
      const controller = new AbortController();
      const pending = connect(server.url, {}, { signal: controller.signal });
      // connect() has created the socket synchronously; it is not connected yet.
      controller.abort();
      await rejectsAborted(pending, controller.signal);
      await server.allClosed();
    } finally {
      await server.close();
    }
  });

  it("while the server holds the handshake: the socket is closed", async () => {
    const controller = new AbortController();
    const server = await startRawServer(() => controller.abort(new Error("enough")));
    try {
      await rejectsAborted(
        connect(server.url, {}, { signal: controller.signal }),
        controller.signal,
      );
      assert.equal(server.sockets.size, 1);
      await server.allClosed();
    } finally {
      await server.close();
    }
  });

  it("during the TLS handshake", async () => {
    const controller = new AbortController();
    const server = await startSilentTcp(() => controller.abort());
    try {
      await rejectsAborted(
        connect(`wss://127.0.0.1:${server.port}/`, {}, { signal: controller.signal }),
        controller.signal,
      );
      assert.equal(server.sockets.length, 1);
      await server.allClosed();
    } finally {
      await server.close();
    }
  });

  it("while the proxy holds the CONNECT", async () => {
    const controller = new AbortController();
    const proxy = await startRawServer((req) => {
      assert.match(req.requestLine, /^CONNECT /);
      controller.abort();
    });
    try {
      await rejectsAborted(
        connect(
          target.url,
          {},
          { proxy: `http://127.0.0.1:${proxy.port}`, signal: controller.signal },
        ),
        controller.signal,
      );
      await proxy.allClosed();
    } finally {
      await proxy.close();
    }
  });

  it("during the TLS handshake with an https: proxy", async () => {
    const controller = new AbortController();
    const proxy = await startSilentTcp(() => controller.abort());
    try {
      await rejectsAborted(
        connect(
          target.url,
          {},
          { proxy: `https://127.0.0.1:${proxy.port}`, signal: controller.signal },
        ),
        controller.signal,
      );
      await proxy.allClosed();
    } finally {
      await proxy.close();
    }
  });

  it("inside an open tunnel, while the target holds the handshake: tunnel and socket closed", async () => {
    const controller = new AbortController();
    const silent = await startRawServer(() => controller.abort());
    const proxy = await startProxy();
    try {
      await rejectsAborted(
        connect(silent.url, {}, { proxy: proxy.url, signal: controller.signal }),
        controller.signal,
      );
      await proxy.allClosed();
      await silent.allClosed();
    } finally {
      await proxy.close();
      await silent.close();
    }
  });

  it("after a redirect: every hop's socket is closed", async () => {
    const controller = new AbortController();
    const silent = await startRawServer(() => controller.abort());
    const front = await startRawServer((_req, socket) => {
      socket.write(
        `HTTP/1.1 302 Found\r\nLocation: ${silent.url}/next\r\nContent-Length: 0\r\n\r\n`,
      );
    });
    try {
      await rejectsAborted(
        connect(front.url, {}, { followRedirects: true, signal: controller.signal }),
        controller.signal,
      );
      await front.allClosed();
      await silent.allClosed();
    } finally {
      await front.close();
      await silent.close();
    }
  });

  it("AbortSignal.timeout(): the cause is its TimeoutError", async () => {
    const silent = await startRawServer(() => {});
    try {
      const signal = AbortSignal.timeout(50);
      const e = await rejectsAborted(connect(silent.url, {}, { signal }), signal);
      assert.equal(((e as Error).cause as Error).name, "TimeoutError");
      await silent.allClosed();
    } finally {
      await silent.close();
    }
  });

  it("the handshake timeout firing first wins, and the listener is still removed", async () => {
    const silent = await startRawServer(() => {});
    try {
      const controller = new AbortController();
      await rejectsWith(
        connect(silent.url, {}, { signal: controller.signal, handshakeTimeout: 50 }),
        { code: "ERR_HANDSHAKE_TIMEOUT" },
      );
      assert.equal(getEventListeners(controller.signal, "abort").length, 0);
      controller.abort();
      await silent.allClosed();
    } finally {
      await silent.close();
    }
  });

  it("a refusal removes the listener too", async () => {
    const refusing = await startRawServer((_req, socket) =>
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
    );
    try {
      const controller = new AbortController();
      await rejectsWith(connect(refusing.url, {}, { signal: controller.signal }), {
        code: "ERR_HANDSHAKE_STATUS",
        status: 403,
      });
      assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    } finally {
      await refusing.close();
    }
  });

  it("after the open the signal has no effect and no listener is left", async () => {
    const controller = new AbortController();
    const inbox = new Inbox();
    const conn = await connect(target.url, inbox, { signal: controller.signal });
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    controller.abort();
    conn.send("still open");
    assert.equal((await inbox.next()).data.toString(), "still open");
    assert.equal(conn.readyState, 1);
    conn.close(1000);
    assert.equal((await inbox.closed).code, 1000);
  });

  describe("wss: through an https: proxy", { skip: hasOpenssl ? false : "no openssl" }, () => {
    it("while the target holds the handshake inside both TLS layers", async () => {
      const pem = makeCertificate();
      const controller = new AbortController();
      // A TLS target that completes TLS, reads the request and never answers.
      const https = createHttpsServer({ key: pem.key, cert: pem.cert });
      const held: Promise<unknown>[] = [];
      https.on("upgrade", (_req, socket: Socket) => {
        held.push(closed(socket));
        controller.abort();
      });
      const port = await listen(https);
      const proxy = await startProxy({ tls: pem });
      try {
        await rejectsAborted(
          connect(
            `wss://localhost:${port}/`,
            {},
            {
              proxy: proxy.url,
              proxyTls: { ca: pem.cert },
              tls: { ca: pem.cert },
              signal: controller.signal,
            },
          ),
          controller.signal,
        );
        await Promise.all(held);
        await proxy.allClosed();
      } finally {
        await proxy.close();
        https.closeAllConnections();
        await new Promise<void>((resolve) => https.close(() => resolve()));
      }
    });
  });
});
