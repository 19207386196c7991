// parseTarget: the client URL taken apart (RFC 6455 section 3).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTarget } from "../../src/client/target.js";

describe("parseTarget", () => {
  it("ws: with the default port", () => {
    const t = parseTarget("ws://Example.COM");
    assert.deepEqual(
      [t.secure, t.host, t.port, t.path, t.hostHeader, t.servername, t.authorization],
      [false, "example.com", 80, "/", "example.com", "example.com", undefined],
    );
  });

  it("wss: and https:, default and explicit ports", () => {
    assert.deepEqual(
      [parseTarget("wss://a.test/").port, parseTarget("wss://a.test/").secure],
      [443, true],
    );
    const h = parseTarget("https://a.test:8443/p");
    assert.deepEqual(
      [h.url.href, h.port, h.hostHeader],
      ["wss://a.test:8443/p", 8443, "a.test:8443"],
    );
    assert.equal(parseTarget("http://a.test:443/").hostHeader, "a.test:443");
    assert.equal(parseTarget("ws://a.test:80/").hostHeader, "a.test");
  });

  it("IPv6: brackets in Host only; no server name for an IP", () => {
    const t = parseTarget("ws://[::1]:9000/x");
    assert.deepEqual(
      [t.host, t.port, t.hostHeader, t.servername],
      ["::1", 9000, "[::1]:9000", undefined],
    );
    assert.equal(parseTarget("wss://127.0.0.1/").servername, undefined);
  });

  it("path and query, percent-encoded as the URL parser leaves them", () => {
    assert.equal(parseTarget("ws://a.test/a b/c?x=1 2&y").path, "/a%20b/c?x=1%202&y");
    assert.equal(parseTarget("ws://a.test?q").path, "/?q");
  });

  it("credentials become Basic authorization and leave the URL", () => {
    const t = parseTarget("ws://us%3Aer:p%C3%A4ss@a.test/");
    assert.equal(t.authorization, `Basic ${Buffer.from("us:er:päss").toString("base64")}`);
    assert.equal(t.url.href, "ws://a.test/");
  });

  it("refuses fragments, other schemes and garbage", () => {
    for (const url of ["ws://a.test/#x", "ws://a.test/#", "ftp://a.test/", "a.test", "ws://"]) {
      assert.throws(() => parseTarget(url), { code: "ERR_INVALID_ARGUMENT" }, url);
    }
  });

  it("takes URL objects", () => {
    assert.equal(parseTarget(new URL("ws://a.test/z")).path, "/z");
  });
});
