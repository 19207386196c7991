// connect() through an HTTP CONNECT proxy (RFC 9110 section 9.3.6): a small proxy written with
// node:http's 'connect' event, with and without credentials, and its refusals.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect } from "../../src/client/index.js";
import { HandshakeError } from "../../src/errors.js";
import { Inbox, rejectsWith, startProxy, startRawServer, startWsServer } from "./helpers.js";

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
