// Redirects during the client handshake: off by default, followed on request up to maxRedirects,
// loops, relative and http: Locations, credentials kept only for the same server; and the pure
// redirectTarget rules.
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import { connect } from "../../src/client/index.js";
import { redirectTarget } from "../../src/client/redirect.js";
import { parseTarget } from "../../src/client/target.js";
import { listen, rejectsWith, shut, startWsServer } from "./helpers.js";

/** An http server whose upgrade answers are chosen by path; it records every request. */
async function startRedirector(route: (path: string, port: number) => string | undefined) {
  const http = createHttpServer();
  const requests: IncomingMessage[] = [];
  let port = 0;
  http.on("upgrade", (req, socket) => {
    requests.push(req);
    const location = route(req.url ?? "/", port);
    if (location === undefined) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const status = /^\/(30[12378])/.exec(req.url ?? "")?.[1] ?? "302";
    socket.end(
      `HTTP/1.1 ${status} Moved\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
  });
  port = await listen(http);
  return { port, requests, url: `ws://127.0.0.1:${port}`, close: () => shut(http) };
}

describe("redirects", () => {
  let target: Awaited<ReturnType<typeof startWsServer>>;
  let redirector: Awaited<ReturnType<typeof startRedirector>>;
  before(async () => {
    target = await startWsServer();
    redirector = await startRedirector((path, port) => {
      if (/^\/30[12378]$/.test(path)) return `${target.url}/landed${path}`;
      if (path === "/relative") return "/302";
      if (path === "/http-scheme") return `http://127.0.0.1:${new URL(target.url).port}/via-http`;
      if (path === "/loop") return `ws://127.0.0.1:${port}/loop`;
      if (path === "/ftp") return "ftp://127.0.0.1/";
      if (path === "/fragment") return `${target.url}/frag#part`;
      const chain = /^\/chain\/(\d+)$/.exec(path);
      if (chain !== null) {
        const n = Number(chain[1]);
        return n === 0 ? `${target.url}/end-of-chain` : `/chain/${n - 1}`;
      }
      return undefined;
    });
  });
  after(async () => {
    await redirector.close();
    await target.close();
  });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`follows ${status} to another server`, async () => {
      const conn = await connect(`${redirector.url}/${status}`, {}, { followRedirects: true });
      assert.equal(target.requests.at(-1)?.url, `/landed/${status}`);
      conn.close();
    });
  }

  it("is off by default: the 302 is the error", async () => {
    const before = target.requests.length;
    const e = await rejectsWith(connect(`${redirector.url}/302`, {}), {
      code: "ERR_HANDSHAKE_STATUS",
      status: 302,
    });
    assert.equal((e.headers as Record<string, string>).location, `${target.url}/landed/302`);
    assert.equal(target.requests.length, before, "the target was never contacted");
  });

  it("resolves a relative Location against the current URL", async () => {
    const conn = await connect(`${redirector.url}/relative`, {}, { followRedirects: true });
    assert.equal(target.requests.at(-1)?.url, "/landed/302");
    conn.close();
  });

  it("maps an http: Location to ws:", async () => {
    const conn = await connect(`${redirector.url}/http-scheme`, {}, { followRedirects: true });
    assert.equal(target.requests.at(-1)?.url, "/via-http");
    conn.close();
  });

  it("drops the fragment of a Location", async () => {
    const conn = await connect(`${redirector.url}/fragment`, {}, { followRedirects: true });
    assert.equal(target.requests.at(-1)?.url, "/frag");
    conn.close();
  });

  it("follows a chain of exactly maxRedirects", async () => {
    const conn = await connect(
      `${redirector.url}/chain/2`,
      {},
      {
        followRedirects: true,
        maxRedirects: 3,
      },
    );
    assert.equal(target.requests.at(-1)?.url, "/end-of-chain");
    conn.close();
  });

  it("stops after maxRedirects", async () => {
    const before = redirector.requests.length;
    await rejectsWith(
      connect(`${redirector.url}/chain/5`, {}, { followRedirects: true, maxRedirects: 2 }),
      { code: "ERR_HANDSHAKE_REDIRECT", status: 302 },
    );
    assert.equal(redirector.requests.length - before, 3, "the first request and 2 redirects");
  });

  it("ends a redirect loop at the default maximum of 10", async () => {
    const before = redirector.requests.length;
    const e = await rejectsWith(connect(`${redirector.url}/loop`, {}, { followRedirects: true }), {
      code: "ERR_HANDSHAKE_REDIRECT",
    });
    assert.match(String(e.message), /more than 10 redirects/);
    assert.equal(redirector.requests.length - before, 11);
  });

  it("maxRedirects: 0 refuses the first redirect", async () => {
    await rejectsWith(
      connect(`${redirector.url}/302`, {}, { followRedirects: true, maxRedirects: 0 }),
      { code: "ERR_HANDSHAKE_REDIRECT", status: 302 },
    );
  });

  it("refuses a Location with another scheme", async () => {
    await rejectsWith(connect(`${redirector.url}/ftp`, {}, { followRedirects: true }), {
      code: "ERR_HANDSHAKE_REDIRECT",
      status: 302,
    });
  });

  it("keeps credentials for the same server, drops them for another", async () => {
    const same = await startRedirector((path, port) =>
      path === "/start" ? `ws://127.0.0.1:${port}/again` : undefined,
    );
    try {
      await rejectsWith(
        connect(
          `${same.url}/start`,
          {},
          {
            followRedirects: true,
            headers: { Authorization: "Bearer t0k3n", Cookie: "s=1", "X-Other": "kept" },
          },
        ),
        { status: 404 },
      );
      assert.equal(same.requests[1]?.headers.authorization, "Bearer t0k3n");
      assert.equal(same.requests[1]?.headers.cookie, "s=1");
    } finally {
      await same.close();
    }
    const conn = await connect(
      `${redirector.url}/307`,
      {},
      {
        followRedirects: true,
        headers: { Authorization: "Bearer t0k3n", Cookie: "s=1", "X-Other": "kept" },
      },
    );
    const landed = target.requests.at(-1);
    assert.equal(landed?.headers.authorization, undefined);
    assert.equal(landed?.headers.cookie, undefined);
    assert.equal(landed?.headers["x-other"], "kept");
    conn.close();
  });
});

describe("redirectTarget", () => {
  const here = parseTarget("wss://a.example/x/y?q");
  const moved = (location: string) => redirectTarget(here, 301, { location });

  it("resolves relative, scheme-relative and absolute Locations", () => {
    assert.equal(moved("z").url.href, "wss://a.example/x/z");
    assert.equal(moved("/root").url.href, "wss://a.example/root");
    assert.equal(moved("//b.example:8443/p").url.href, "wss://b.example:8443/p");
    assert.equal(moved("https://c.example/").url.href, "wss://c.example/");
    assert.equal(moved("wss://d.example/").port, 443);
  });

  it("never downgrades wss: to ws: (nor to http:)", () => {
    for (const location of ["ws://a.example/", "http://a.example/"]) {
      assert.throws(() => moved(location), { code: "ERR_HANDSHAKE_REDIRECT", status: 301 });
    }
  });

  it("allows ws: to wss:", () => {
    const t = redirectTarget(parseTarget("ws://a.example/"), 302, {
      location: "https://a.example/",
    });
    assert.equal(t.secure, true);
  });

  it("refuses a missing or repeated Location", () => {
    assert.throws(() => redirectTarget(here, 302, {}), { code: "ERR_HANDSHAKE_REDIRECT" });
    assert.throws(() => redirectTarget(here, 302, { location: ["/a", "/b"] }), {
      code: "ERR_HANDSHAKE_REDIRECT",
    });
  });

  it("keeps the URL's credentials for the same server only", () => {
    const withAuth = parseTarget("ws://u:p@a.example/");
    assert.equal(withAuth.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
    assert.equal(
      redirectTarget(withAuth, 302, { location: "/b" }).authorization,
      withAuth.authorization,
    );
    const other = redirectTarget(withAuth, 302, { location: "ws://b.example/" });
    assert.equal(other.authorization, undefined);
    const otherPort = redirectTarget(withAuth, 302, { location: "ws://a.example:81/" });
    assert.equal(otherPort.authorization, undefined);
    const t2 = redirectTarget(withAuth, 302, { location: "ws://v:q@a.example/" });
    assert.equal(t2.authorization, `Basic ${Buffer.from("v:q").toString("base64")}`);
  });
});
