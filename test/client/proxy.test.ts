// connect() through a CONNECT proxy (RFC 9110 section 9.3.6): the proxy of helpers.ts on
// node:http and, for https: proxies, on node:https with a self-signed certificate (TLS to the
// proxy, and for wss: a second TLS session inside the tunnel); credentials, refusals, TLS errors.
import assert from "node:assert/strict";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import { connect } from "../../src/client/index.js";
import { parseProxy } from "../../src/client/proxy-tunnel.js";
import { HandshakeError } from "../../src/errors.js";
import {
  hasOpenssl,
  Inbox,
  listen,
  makeCertificate,
  rejectsWith,
  shut,
  startProxy,
  startRawServer,
  startWsServer,
} from "./helpers.js";

describe("CONNECT proxy", () => {
  let target: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    target = await startWsServer();
  });
  after(() => target.close());

  it("tunnels the handshake and the messages", async () => {
    const proxy = await startProxy();
    try {
      const inbox = new Inbox();
      const conn = await connect(`${target.url}/through`, inbox, { proxy: proxy.url });
      assert.equal(proxy.requests.length, 1);
      const req = proxy.requests[0];
      assert.equal(req?.method, "CONNECT");
      assert.equal(req?.url, `127.0.0.1:${target.port}`);
      assert.equal(req?.headers.host, `127.0.0.1:${target.port}`);
      assert.equal(req?.headers["proxy-authorization"], undefined);
      assert.equal(target.requests.at(-1)?.url, "/through");
      for (const text of ["hello", "x".repeat(200_000)]) {
        conn.send(text);
        assert.equal((await inbox.next()).data.toString(), text);
      }
      conn.close(1000);
      assert.equal((await inbox.closed).wasClean, true);
    } finally {
      await proxy.close();
    }
  });

  it("sends Proxy-Authorization from the proxy URL's credentials", async () => {
    const credentials = `Basic ${Buffer.from("alice:s3cr:t").toString("base64")}`;
    const proxy = await startProxy({ credentials });
    try {
      const conn = await connect(
        target.url,
        {},
        {
          proxy: `http://alice:s3cr%3At@127.0.0.1:${proxy.port}`,
        },
      );
      assert.equal(proxy.requests[0]?.headers["proxy-authorization"], credentials);
      conn.close();
    } finally {
      await proxy.close();
    }
  });

  it("a 407 is ERR_CONNECT_PROXY with the proxy's status and headers", async () => {
    const proxy = await startProxy({ credentials: "Basic nope" });
    try {
      const e = await rejectsWith(connect(target.url, {}, { proxy: proxy.url }), {
        code: "ERR_CONNECT_PROXY",
        status: 407,
      });
      assert.ok(e instanceof HandshakeError);
      assert.equal((e.headers as Record<string, string>)["proxy-authenticate"], 'Basic realm="p"');
    } finally {
      await proxy.close();
    }
  });

  for (const status of [403, 502]) {
    it(`a ${status} from the proxy`, async () => {
      const proxy = await startProxy({ refuse: status });
      try {
        const e = await rejectsWith(connect(target.url, {}, { proxy: proxy.url }), {
          code: "ERR_CONNECT_PROXY",
          status,
        });
        assert.equal((e.headers as Record<string, string>)["x-proxy"], "no");
      } finally {
        await proxy.close();
      }
    });
  }

  it("a proxy that is not listening: the network error", async () => {
    const closed = await startProxy();
    const url = closed.url;
    await closed.close();
    await rejectsWith(connect(target.url, {}, { proxy: url }), { code: "ECONNREFUSED" });
  });

  it("the handshake timeout covers a proxy that never answers", async () => {
    const silent = await startRawServer(() => {});
    try {
      await rejectsWith(
        connect(
          target.url,
          {},
          { proxy: `http://127.0.0.1:${silent.port}`, handshakeTimeout: 100 },
        ),
        { code: "ERR_HANDSHAKE_TIMEOUT" },
      );
      await silent.allClosed();
    } finally {
      await silent.close();
    }
  });

  it("a refusal by the target behind the proxy keeps its own status", async () => {
    const proxy = await startProxy();
    const refusing = await startRawServer((_req, socket) =>
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
    );
    try {
      await rejectsWith(connect(refusing.url, {}, { proxy: proxy.url }), {
        code: "ERR_HANDSHAKE_STATUS",
        status: 403,
      });
    } finally {
      await refusing.close();
      await proxy.close();
    }
  });
});

describe("proxy URLs", () => {
  it("http: defaults to port 80, https: to 443; credentials are decoded", () => {
    assert.deepEqual(parseProxy("http://proxy.local"), {
      secure: false,
      host: "proxy.local",
      port: 80,
      authorization: undefined,
      servername: "proxy.local",
    });
    const https = parseProxy(new URL("https://a%40b:p%3Aw@[::1]"));
    assert.equal(https.secure, true);
    assert.equal(https.port, 443);
    assert.equal(https.host, "::1");
    assert.equal(https.servername, undefined, "no SNI for an IP address");
    assert.equal(https.authorization, `Basic ${Buffer.from("a@b:p:w").toString("base64")}`);
  });

  for (const url of ["socks5://127.0.0.1:1080", "ws://127.0.0.1", "not a url"]) {
    it(`refuses ${url}`, async () => {
      await rejectsWith(connect("ws://127.0.0.1:1/", {}, { proxy: url }), {
        code: "ERR_INVALID_ARGUMENT",
      });
    });
  }

  it("an answer to CONNECT that is not HTTP is ERR_HANDSHAKE_MALFORMED, status 0", async () => {
    const garbage = await startRawServer((_req, socket) => socket.end("SSH-2.0-OpenSSH\r\n\r\n"));
    try {
      await rejectsWith(
        connect("ws://127.0.0.1:1/", {}, { proxy: `http://127.0.0.1:${garbage.port}` }),
        { code: "ERR_HANDSHAKE_MALFORMED", status: 0 },
      );
    } finally {
      await garbage.close();
    }
  });
});

describe("HTTPS proxy", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  let pem: { key: string; cert: string };
  let target: Awaited<ReturnType<typeof startWsServer>>;
  let secure: HttpsServer;
  let securePort: number;
  const targetNames: (string | false | null)[] = [];

  before(async () => {
    pem = makeCertificate();
    target = await startWsServer();
    // A wss: echo server with the same certificate.
    secure = createHttpsServer({ key: pem.key, cert: pem.cert });
    secure.on("secureConnection", (s: TLSSocket) => targetNames.push(s.servername));
    const wss = new WebSocketServer({ noServer: true });
    secure.on("upgrade", (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      });
    });
    securePort = await listen(secure);
  });
  after(async () => {
    await target?.close();
    if (secure !== undefined) await shut(secure);
  });

  async function echo(conn: Awaited<ReturnType<typeof connect>>, inbox: Inbox) {
    for (const data of [Buffer.from("through the proxy"), Buffer.alloc(1 << 20, 9)]) {
      conn.send(data);
      assert.ok((await inbox.next()).data.equals(data));
    }
    conn.close(1000);
    assert.equal((await inbox.closed).wasClean, true);
  }

  it("ws: through TLS to the proxy, trusted by proxyTls.ca; SNI is the proxy's name", async () => {
    const proxy = await startProxy({ tls: pem });
    try {
      const inbox = new Inbox();
      const conn = await connect(`${target.url}/plain`, inbox, {
        proxy: `https://localhost:${proxy.port}`,
        proxyTls: { ca: pem.cert },
      });
      assert.deepEqual(proxy.servernames, ["localhost"]);
      assert.equal(proxy.requests[0]?.url, `127.0.0.1:${target.port}`);
      assert.equal(target.requests.at(-1)?.url, "/plain");
      await echo(conn, inbox);
    } finally {
      await proxy.close();
    }
  });

  it("wss: TLS to the target inside TLS to the proxy, each with its own settings", async () => {
    const proxy = await startProxy({ tls: pem });
    try {
      const inbox = new Inbox();
      const conn = await connect(`wss://localhost:${securePort}/`, inbox, {
        proxy: proxy.url,
        proxyTls: { ca: pem.cert },
        tls: { ca: pem.cert },
      });
      assert.deepEqual(proxy.servernames, [false], "no SNI for the proxy's IP address");
      assert.equal(proxy.requests[0]?.url, `localhost:${securePort}`);
      assert.equal(targetNames.at(-1), "localhost", "the target's TLS is end to end");
      await echo(conn, inbox);
    } finally {
      await proxy.close();
    }
  });

  it("the proxy's certificate is checked: tls.ca does not make the proxy trusted", async () => {
    const proxy = await startProxy({ tls: pem });
    try {
      await rejectsWith(connect(target.url, {}, { proxy: proxy.url, tls: { ca: pem.cert } }), {
        code: /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/,
      });
      assert.equal(proxy.requests.length, 0, "no CONNECT went out");
    } finally {
      await proxy.close();
    }
  });

  it("proxyTls.servername must match the proxy's certificate", async () => {
    const proxy = await startProxy({ tls: pem });
    try {
      await rejectsWith(
        connect(
          target.url,
          {},
          { proxy: proxy.url, proxyTls: { ca: pem.cert, servername: "other.example" } },
        ),
        { code: "ERR_TLS_CERT_ALTNAME_INVALID" },
      );
      assert.equal(proxy.requests.length, 0);
    } finally {
      await proxy.close();
    }
  });

  it("proxyTls.rejectUnauthorized: false accepts it", async () => {
    const proxy = await startProxy({ tls: pem });
    try {
      const inbox = new Inbox();
      const conn = await connect(target.url, inbox, {
        proxy: proxy.url,
        proxyTls: { rejectUnauthorized: false },
      });
      await echo(conn, inbox);
    } finally {
      await proxy.close();
    }
  });

  it("sends Proxy-Authorization inside the TLS session, never to the target", async () => {
    const credentials = `Basic ${Buffer.from("bob:pa ss").toString("base64")}`;
    const proxy = await startProxy({ tls: pem, credentials });
    try {
      const conn = await connect(
        `wss://localhost:${securePort}/`,
        {},
        {
          proxy: `https://bob:pa%20ss@127.0.0.1:${proxy.port}`,
          proxyTls: { ca: pem.cert },
          tls: { ca: pem.cert },
        },
      );
      assert.equal(proxy.requests[0]?.headers["proxy-authorization"], credentials);
      conn.close();
    } finally {
      await proxy.close();
    }
  });

  it("a 407 is ERR_CONNECT_PROXY with the proxy's status and headers", async () => {
    const proxy = await startProxy({ tls: pem, credentials: "Basic nope" });
    try {
      const e = await rejectsWith(
        connect(target.url, {}, { proxy: proxy.url, proxyTls: { ca: pem.cert } }),
        { code: "ERR_CONNECT_PROXY", status: 407 },
      );
      assert.ok(e instanceof HandshakeError);
      assert.equal((e.headers as Record<string, string>)["proxy-authenticate"], 'Basic realm="p"');
      await proxy.allClosed();
    } finally {
      await proxy.close();
    }
  });

  it("a refusal (502) with its headers", async () => {
    const proxy = await startProxy({ tls: pem, refuse: 502 });
    try {
      const e = await rejectsWith(
        connect(target.url, {}, { proxy: proxy.url, proxyTls: { ca: pem.cert } }),
        { code: "ERR_CONNECT_PROXY", status: 502 },
      );
      assert.equal((e.headers as Record<string, string>)["x-proxy"], "no");
    } finally {
      await proxy.close();
    }
  });

  it("a target refusing behind the https: proxy keeps its own status", async () => {
    const proxy = await startProxy({ tls: pem });
    const refusing = await startRawServer((_req, socket) =>
      socket.end(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
      ),
    );
    try {
      const e = await rejectsWith(
        connect(refusing.url, {}, { proxy: proxy.url, proxyTls: { ca: pem.cert } }),
        { code: "ERR_HANDSHAKE_STATUS", status: 401 },
      );
      assert.equal((e.headers as Record<string, string>)["www-authenticate"], "Basic");
    } finally {
      await refusing.close();
      await proxy.close();
    }
  });
});
