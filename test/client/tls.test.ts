// wss: against a ws server on node:https with a self-signed certificate made at test time by
// openssl (skipped, visibly, when openssl is missing): CA trust, server names, rejectUnauthorized,
// TLS through a CONNECT proxy, no downgrade on redirect, fromDuplex over a TLS stream.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { WebSocketServer } from "ws";
import { connect, fromDuplex } from "../../src/client/index.js";
import { hasOpenssl, Inbox, listen, makeCertificate, rejectsWith, shut } from "./helpers.js";

if (!hasOpenssl) console.log("# SKIP tls tests: openssl is not installed (`which openssl` failed)");

describe("wss:", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  let pem: { key: string; cert: string };
  let https: HttpsServer;
  let port: number;
  const servernames: (string | false | null)[] = [];

  before(async () => {
    pem = makeCertificate();
    https = createHttpsServer({ key: pem.key, cert: pem.cert });
    https.on("secureConnection", (s: TLSSocket) => servernames.push(s.servername));
    const wss = new WebSocketServer({ noServer: true });
    https.on("upgrade", (req, socket, head) => {
      if (req.url === "/to-ws") {
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${port}/\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      });
    });
    port = await listen(https);
  });
  after(async () => {
    if (https !== undefined) await shut(https);
  });

  async function echoOnce(conn: Awaited<ReturnType<typeof connect>>, inbox: Inbox) {
    conn.send("over TLS");
    assert.equal((await inbox.next()).data.toString(), "over TLS");
    const big = Buffer.alloc(1 << 20, 7);
    conn.send(big);
    assert.ok((await inbox.next()).data.equals(big));
    conn.close(1000, "bye");
    assert.equal((await inbox.closed).wasClean, true);
  }

  it("trusts the certificate given as ca; sends the host name as SNI", async () => {
    const inbox = new Inbox();
    const conn = await connect(`wss://localhost:${port}/`, inbox, { tls: { ca: pem.cert } });
    assert.equal(servernames.at(-1), "localhost");
    await echoOnce(conn, inbox);
  });

  it("an IP address: no SNI, the IP SAN is checked", async () => {
    const inbox = new Inbox();
    const conn = await connect(`wss://127.0.0.1:${port}/`, inbox, { tls: { ca: pem.cert } });
    assert.equal(servernames.at(-1), false);
    await echoOnce(conn, inbox);
  });

  it("the servername option overrides the URL's", async () => {
    const conn = await connect(
      `wss://127.0.0.1:${port}/`,
      {},
      {
        tls: { ca: pem.cert, servername: "localhost" },
      },
    );
    assert.equal(servernames.at(-1), "localhost");
    conn.close();
  });

  it("refuses an untrusted certificate with the TLS error", async () => {
    await rejectsWith(connect(`wss://localhost:${port}/`, {}), {
      code: /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/,
    });
  });

  it("refuses a certificate for another name", async () => {
    await rejectsWith(
      connect(
        `wss://127.0.0.1:${port}/`,
        {},
        {
          tls: { ca: pem.cert, servername: "other.example" },
        },
      ),
      { code: "ERR_TLS_CERT_ALTNAME_INVALID" },
    );
  });

  it("rejectUnauthorized: false accepts it", async () => {
    const inbox = new Inbox();
    const conn = await connect(`wss://localhost:${port}/`, inbox, {
      tls: { rejectUnauthorized: false },
    });
    await echoOnce(conn, inbox);
  });

  it("https: URLs mean wss:", async () => {
    const conn = await connect(`https://localhost:${port}/`, {}, { tls: { ca: pem.cert } });
    assert.equal(conn.readyState, 1);
    conn.close();
  });

  it("never follows a redirect from wss: to ws:", async () => {
    await rejectsWith(
      connect(
        `wss://localhost:${port}/to-ws`,
        {},
        {
          tls: { ca: pem.cert },
          followRedirects: true,
        },
      ),
      { code: "ERR_HANDSHAKE_REDIRECT", status: 302, message: /downgrade/ },
    );
  });

  it("follows a redirect from ws: to wss:", async () => {
    const http = createHttpServer();
    http.on("upgrade", (_req, socket) => {
      socket.end(`HTTP/1.1 301 Moved\r\nLocation: wss://localhost:${port}/up\r\n\r\n`);
    });
    const p = await listen(http);
    try {
      const conn = await connect(
        `ws://127.0.0.1:${p}/`,
        {},
        {
          tls: { ca: pem.cert },
          followRedirects: true,
        },
      );
      assert.equal(servernames.at(-1), "localhost");
      conn.close();
    } finally {
      await shut(http);
    }
  });

  it("tls.servername is not carried to another server by a redirect", async () => {
    const front = createHttpsServer({ key: pem.key, cert: pem.cert });
    const frontNames: (string | false | null)[] = [];
    front.on("secureConnection", (s: TLSSocket) => frontNames.push(s.servername));
    front.on("upgrade", (_req, socket) => {
      socket.end(`HTTP/1.1 307 Moved\r\nLocation: wss://127.0.0.1:${port}/\r\n\r\n`);
    });
    const frontPort = await listen(front);
    try {
      const conn = await connect(
        `wss://127.0.0.1:${frontPort}/`,
        {},
        {
          tls: { ca: pem.cert, servername: "localhost" },
          followRedirects: true,
        },
      );
      assert.deepEqual(frontNames, ["localhost"]);
      assert.equal(servernames.at(-1), false, "no SNI for the IP address redirected to");
      conn.close();
    } finally {
      await shut(front);
    }
  });

  it("through a CONNECT proxy, TLS end to end", async () => {
    const proxy = createHttpServer();
    const sockets = new Set<Socket>();
    let tunnelled = "";
    proxy.on("connect", (req, client: Socket) => {
      tunnelled = req.url ?? "";
      sockets.add(client);
      const upstream = netConnect({ host: "127.0.0.1", port });
      sockets.add(upstream);
      upstream.once("connect", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.pipe(client);
        client.pipe(upstream);
      });
    });
    const proxyPort = await listen(proxy);
    try {
      const inbox = new Inbox();
      const conn = await connect(`wss://localhost:${port}/`, inbox, {
        proxy: `http://127.0.0.1:${proxyPort}`,
        tls: { ca: pem.cert },
      });
      assert.equal(tunnelled, `localhost:${port}`);
      assert.equal(servernames.at(-1), "localhost");
      await echoOnce(conn, inbox);
    } finally {
      for (const s of sockets) s.destroy();
      await shut(proxy);
    }
  });

  it("fromDuplex over a TLS stream the application made", async () => {
    const stream = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca: pem.cert });
    await once(stream, "secureConnect");
    const inbox = new Inbox();
    const conn = await fromDuplex(stream, inbox, { url: `wss://localhost:${port}/duplex` });
    await echoOnce(conn, inbox);
  });
});
