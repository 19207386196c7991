import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createHandshakeError, HandshakeError, isTidewsError } from "../../src/errors.js";
import {
  acceptKey,
  buildRefusal,
  buildRefusalFor,
  buildRequestHeaders,
  buildResponse,
  generateKey,
  type HandshakeRequest,
  isValidKey,
  parseProtocols,
  selectProtocol,
  validateRequest,
  validateResponse,
  WEBSOCKET_GUID,
} from "../../src/protocol/handshake.js";

/** The sample nonce of RFC 6455 sections 1.3 and 4.2.2 (base64 of "the sample nonce"). */
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** Its accept value as printed in the RFC (and as node:crypto computes it). */
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function request(headers: HandshakeRequest["headers"] = {}, over: Partial<HandshakeRequest> = {}) {
  return {
    method: "GET",
    httpVersion: "1.1",
    headers: {
      host: "server.example.com",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": RFC_KEY,
      "sec-websocket-version": "13",
      ...headers,
    },
    ...over,
  };
}

function refusedWith(
  req: HandshakeRequest,
  code: string,
  status: number,
  headers?: Record<string, string>,
): void {
  assert.throws(
    () => validateRequest(req),
    (e: unknown) => {
      assert.ok(e instanceof HandshakeError, String(e));
      assert.equal(e.code, code);
      assert.equal(e.status, status);
      if (headers !== undefined) assert.deepEqual(e.headers, headers);
      return true;
    },
  );
}

function usage(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"));
}

describe("acceptKey", () => {
  it("computes the RFC 6455 section 4.2.2 example", () => {
    assert.equal(acceptKey(RFC_KEY), RFC_ACCEPT);
    assert.equal(
      createHash("sha1").update(`${RFC_KEY}${WEBSOCKET_GUID}`).digest("base64"),
      RFC_ACCEPT,
    );
  });

  it("is base64(sha1(key + GUID)) for random keys", () => {
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(16).toString("base64");
      const expected = createHash("sha1")
        .update(key + WEBSOCKET_GUID)
        .digest("base64");
      assert.equal(acceptKey(key), expected);
    }
  });
});

describe("validateRequest", () => {
  it("accepts the RFC example and returns its parts", () => {
    const r = validateRequest(
      request({
        origin: "http://example.com",
        "sec-websocket-protocol": "chat, superchat",
        "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
      }),
    );
    assert.deepEqual(r, {
      key: RFC_KEY,
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate; client_max_window_bits",
      origin: "http://example.com",
    });
  });

  it("accepts token lists in Upgrade and Connection, in any case", () => {
    for (const [upgrade, connection] of [
      ["WebSocket", "keep-alive, Upgrade"],
      ["h2c, websocket", "upgrade"],
      ["WEBSOCKET", "Keep-Alive,UPGRADE"],
      ["websocket", "close ,\tupgrade"],
    ]) {
      validateRequest(request({ upgrade, connection }));
    }
    validateRequest(request({ connection: ["keep-alive", "Upgrade"] }));
  });

  it("accepts HTTP versions above 1.1", () => {
    validateRequest(request({}, { httpVersion: "1.2" }));
    validateRequest(request({}, { httpVersion: "2.0" }));
  });

  it("answers another method with 405 and Allow: GET", () => {
    for (const method of ["POST", "HEAD", "get", "CONNECT"]) {
      refusedWith(request({}, { method }), "ERR_HANDSHAKE_METHOD", 405, { Allow: "GET" });
    }
  });

  it("refuses HTTP/1.0 and malformed versions with 400", () => {
    for (const httpVersion of ["1.0", "0.9", "", "1", "1.", ".1", "a.b", "1.1.1", "-1.1"]) {
      refusedWith(request({}, { httpVersion }), "ERR_HANDSHAKE_HTTP_VERSION", 400);
    }
  });

  it("refuses a request without Host", () => {
    refusedWith(request({ host: undefined }), "ERR_HANDSHAKE_MALFORMED", 400);
  });

  it("needs the websocket token in Upgrade", () => {
    for (const upgrade of [undefined, "", "websockets", "web socket", "h2c", "websocket/13x"]) {
      refusedWith(request({ upgrade }), "ERR_HANDSHAKE_UPGRADE", 400);
    }
  });

  it("needs the upgrade token in Connection", () => {
    for (const connection of [undefined, "", "keep-alive", "upgraded", "Upgrade-Insecure"]) {
      refusedWith(request({ connection }), "ERR_HANDSHAKE_CONNECTION", 400);
    }
  });

  it("needs one Sec-WebSocket-Key of exactly 16 base64 bytes", () => {
    const bad = [
      undefined,
      "",
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZQ=", // one pad
      "dGhlIHNhbXBsZSBub25jZQ===",
      "dGhlIHNhbXBsZSBub25jZ===", // 15 bytes
      "dGhlIHNhbXBsZSBub25jZQAB", // 18 bytes
      "dGhlIHNhbXBsZSBub25j*Q==", // bad alphabet
      "dGhlIHNhbXBsZSBub25j-Q==", // base64url is not base64
      " dGhlIHNhbXBsZSBub25jZQ==",
      `${RFC_KEY}, ${RFC_KEY}`, // node joins a repeated header
    ];
    for (const key of bad) {
      refusedWith(request({ "sec-websocket-key": key }), "ERR_HANDSHAKE_KEY", 400);
    }
    refusedWith(request({ "sec-websocket-key": [RFC_KEY, RFC_KEY] }), "ERR_HANDSHAKE_KEY", 400);
  });

  it("answers another version with 426 and Sec-WebSocket-Version: 13", () => {
    for (const v of ["8", "12", "14", "0", "25"]) {
      refusedWith(request({ "sec-websocket-version": v }), "ERR_HANDSHAKE_VERSION", 426, {
        "Sec-WebSocket-Version": "13",
      });
    }
  });

  it("refuses a missing, repeated or malformed version with 400", () => {
    for (const v of [undefined, "13, 13", "13,8", "abc", "", "13.0", "-13", "1300"]) {
      refusedWith(request({ "sec-websocket-version": v }), "ERR_HANDSHAKE_VERSION", 400);
    }
    refusedWith(request({ "sec-websocket-version": ["13", "13"] }), "ERR_HANDSHAKE_VERSION", 400);
  });

  it("checks in the documented order: the method first, then the version", () => {
    refusedWith(
      request({ upgrade: undefined, "sec-websocket-key": undefined }, { method: "POST" }),
      "ERR_HANDSHAKE_METHOD",
      405,
    );
    refusedWith(
      request({ "sec-websocket-key": "x", "sec-websocket-version": "8" }),
      "ERR_HANDSHAKE_KEY",
      400,
    );
  });

  it("refuses invalid subprotocol lists with 400", () => {
    for (const p of ["", " , ", "chat, chat", "a b", "chat; v=1", 'x"y', "ch@t"]) {
      refusedWith(request({ "sec-websocket-protocol": p }), "ERR_HANDSHAKE_PROTOCOL", 400);
    }
  });

  it("joins repeated extension and protocol headers", () => {
    const r = validateRequest(
      request({
        "sec-websocket-protocol": ["a", "b, c"],
        "sec-websocket-extensions": ["x", "y"],
      }),
    );
    assert.deepEqual(r.protocols, ["a", "b", "c"]);
    assert.equal(r.extensions, "x, y");
  });

  it("maps random header values to a HandshakeError, never another throw", () => {
    const value = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 30 }));
    fc.assert(
      fc.property(value, value, value, value, value, (upgrade, connection, key, version, proto) => {
        try {
          validateRequest(
            request({
              upgrade,
              connection,
              "sec-websocket-key": key,
              "sec-websocket-version": version,
              "sec-websocket-protocol": proto,
            }),
          );
        } catch (e) {
          assert.ok(e instanceof HandshakeError);
          assert.ok([400, 405, 426].includes(e.status));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseProtocols", () => {
  it("returns the tokens in order, ignoring empty elements", () => {
    assert.deepEqual(parseProtocols(undefined), []);
    assert.deepEqual(parseProtocols("a,b , c,,"), ["a", "b", "c"]);
    assert.deepEqual(parseProtocols(["v1.chat", "v2.chat"]), ["v1.chat", "v2.chat"]);
  });
});

describe("selectProtocol", () => {
  it("takes the client's first protocol that the server supports", () => {
    assert.equal(selectProtocol(["b", "a"], ["a", "b"]), "b");
    assert.equal(selectProtocol(["x", "a"], ["a", "b"]), "a");
    assert.equal(selectProtocol(["x"], ["a"]), undefined);
    assert.equal(selectProtocol([], ["a"]), undefined);
  });

  it("uses a function's choice, which must be offered", () => {
    assert.equal(
      selectProtocol(["a", "b"], (o) => o[1]),
      "b",
    );
    assert.equal(
      selectProtocol(["a"], () => undefined),
      undefined,
    );
    usage(() => selectProtocol(["a"], () => "z"));
    let called = false;
    selectProtocol([], () => {
      called = true;
      return "a";
    });
    assert.equal(called, false);
  });
});

describe("buildResponse", () => {
  it("writes the RFC 6455 section 1.3 response", () => {
    assert.equal(
      buildResponse(RFC_KEY, { protocol: "chat" }),
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        "Sec-WebSocket-Protocol: chat\r\n" +
        "\r\n",
    );
  });

  it("adds extensions and extra headers, one line per value", () => {
    const head = buildResponse(RFC_KEY, {
      extensions: "permessage-deflate; server_no_context_takeover",
      headers: { "Set-Cookie": ["a=1", "b=2"], "X-Count": 3 },
    });
    assert.ok(head.endsWith("\r\n\r\n"));
    const lines = head.split("\r\n");
    assert.ok(
      lines.includes("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"),
    );
    assert.ok(lines.includes("Set-Cookie: a=1"));
    assert.ok(lines.includes("Set-Cookie: b=2"));
    assert.ok(lines.includes("X-Count: 3"));
    assert.ok(!head.includes("Sec-WebSocket-Protocol"));
  });

  it("refuses header injection and reserved or malformed headers", () => {
    usage(() => buildResponse(RFC_KEY, { headers: { "X-A": "1\r\nX-Evil: 1" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "X-A": "1\nX" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "X-A": ["ok", "bad\r"] } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "X-A": "nul\u0000" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "X-A": "caf\u00e9" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "Bad Name": "1" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "X\r\nY": "1" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { connection: "close" } }));
    usage(() => buildResponse(RFC_KEY, { headers: { "Sec-WebSocket-Accept": "x" } }));
    usage(() => buildResponse(RFC_KEY, { protocol: "a b" }));
    usage(() => buildResponse(RFC_KEY, { protocol: "a\r\nX: y" }));
    usage(() => buildResponse(RFC_KEY, { extensions: "x\r\nX-Evil: 1" }));
  });
});

describe("buildRefusal", () => {
  it("writes a complete response with a byte-exact Content-Length", () => {
    const body = "nöpe";
    const text = buildRefusal(400, {}, body);
    const [head, rest] = text.split("\r\n\r\n") as [string, string];
    assert.equal(rest, body);
    const lines = head.split("\r\n");
    assert.equal(lines[0], "HTTP/1.1 400 Bad Request");
    assert.ok(lines.includes("Connection: close"));
    assert.ok(lines.includes("Content-Type: text/plain; charset=utf-8"));
    assert.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body)}`));
    assert.equal(Buffer.byteLength(body), 5);
  });

  it("has the reason phrases of the usual refusals", () => {
    for (const [status, reason] of [
      [401, "Unauthorized"],
      [403, "Forbidden"],
      [426, "Upgrade Required"],
      [503, "Service Unavailable"],
      [418, "Client Error"],
      [599, "Server Error"],
    ] as const) {
      assert.ok(buildRefusal(status).startsWith(`HTTP/1.1 ${status} ${reason}\r\n`));
    }
  });

  it("passes extra headers and lets the caller set the content type", () => {
    const text = buildRefusal(426, { "Sec-WebSocket-Version": "13", "content-type": "text/html" });
    assert.ok(text.includes("\r\nSec-WebSocket-Version: 13\r\n"));
    assert.ok(text.includes("\r\ncontent-type: text/html\r\n"));
    assert.ok(!text.includes("text/plain"));
    assert.ok(text.endsWith("\r\n\r\n"));
  });

  it("refuses bad statuses and headers", () => {
    for (const s of [101, 200, 299, 600, 400.5, Number.NaN]) usage(() => buildRefusal(s));
    usage(() => buildRefusal(400, { "Content-Length": "1" }));
    usage(() => buildRefusal(400, { Connection: "keep-alive" }));
    usage(() => buildRefusal(400, { "X-A": "a\r\n\r\nHTTP/1.1 200 OK" }));
  });

  it("builds the refusal for a HandshakeError without leaking its message", () => {
    const error = createHandshakeError("ERR_HANDSHAKE_VERSION", 426, "8", {
      "Sec-WebSocket-Version": "13",
    });
    const text = buildRefusalFor(error);
    assert.ok(text.startsWith("HTTP/1.1 426 Upgrade Required\r\n"));
    assert.ok(text.includes("\r\nSec-WebSocket-Version: 13\r\n"));
    assert.ok(text.endsWith("\r\n\r\nUpgrade Required"));
    assert.ok(buildRefusalFor(error, "custom").endsWith("\r\n\r\ncustom"));
  });
});

describe("client side", () => {
  it("generates keys that the server accepts", () => {
    const random = new Uint8Array(16).fill(7);
    const key = generateKey(random);
    assert.equal(key, Buffer.from(random).toString("base64"));
    assert.ok(isValidKey(key));
    const backing = randomBytes(40);
    assert.equal(generateKey(backing.subarray(3, 19)), backing.subarray(3, 19).toString("base64"));
    usage(() => generateKey(new Uint8Array(15)));
    usage(() => generateKey(new Uint8Array(17)));
  });

  it("builds the request headers of RFC 6455 section 4.1", () => {
    const headers = buildRequestHeaders({
      key: RFC_KEY,
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate; client_max_window_bits",
      origin: "http://example.com",
      headers: { Authorization: "Bearer x", "X-Multi": ["a", "b"] },
    });
    assert.deepEqual(headers, {
      Authorization: "Bearer x",
      "X-Multi": "a, b",
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Key": RFC_KEY,
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Protocol": "chat, superchat",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
      Origin: "http://example.com",
    });
    assert.deepEqual(Object.keys(buildRequestHeaders({ key: RFC_KEY })).sort(), [
      "Connection",
      "Sec-WebSocket-Key",
      "Sec-WebSocket-Version",
      "Upgrade",
    ]);
  });

  it("refuses bad request header options", () => {
    usage(() => buildRequestHeaders({ key: "short" }));
    usage(() => buildRequestHeaders({ key: RFC_KEY, protocols: ["a", "a"] }));
    usage(() => buildRequestHeaders({ key: RFC_KEY, protocols: ["a b"] }));
    usage(() => buildRequestHeaders({ key: RFC_KEY, origin: "x\r\ny" }));
    usage(() => buildRequestHeaders({ key: RFC_KEY, headers: { "sec-websocket-key": "x" } }));
    usage(() => buildRequestHeaders({ key: RFC_KEY, headers: { "X-A": "1\r\n" } }));
  });

  const ok = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": RFC_ACCEPT,
  };

  function failsWith(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    code: string,
    protocols: string[] = [],
    extensions: string[] = [],
  ): HandshakeError {
    let error: HandshakeError | undefined;
    assert.throws(
      () => validateResponse(status, headers, RFC_KEY, protocols, extensions),
      (e: unknown) => {
        assert.ok(e instanceof HandshakeError, String(e));
        assert.equal(e.code, code);
        assert.equal(e.status, status);
        error = e;
        return true;
      },
    );
    return error!;
  }

  it("accepts a valid 101 and returns the protocol and extensions", () => {
    const r = validateResponse(
      101,
      { ...ok, "sec-websocket-protocol": "chat", "sec-websocket-extensions": "permessage-deflate" },
      RFC_KEY,
      ["superchat", "chat"],
      ["permessage-deflate"],
    );
    assert.equal(r.protocol, "chat");
    assert.deepEqual(
      r.extensions.map((e) => e.name),
      ["permessage-deflate"],
    );
    const plainResponse = validateResponse(101, ok, RFC_KEY, ["chat"], ["permessage-deflate"]);
    assert.equal(plainResponse.protocol, undefined);
    assert.deepEqual(plainResponse.extensions, []);
    validateResponse(
      101,
      { ...ok, upgrade: "WebSocket", connection: "keep-alive, upgrade" },
      RFC_KEY,
      [],
      [],
    );
  });

  it("fails another status with the status and headers received", () => {
    const e = failsWith(401, { "www-authenticate": "Basic", x: undefined }, "ERR_HANDSHAKE_STATUS");
    assert.deepEqual(e.headers, { "www-authenticate": "Basic" });
    failsWith(200, ok, "ERR_HANDSHAKE_STATUS");
    failsWith(302, { location: "/" }, "ERR_HANDSHAKE_STATUS");
  });

  it("checks Upgrade and Connection", () => {
    failsWith(101, { ...ok, upgrade: undefined }, "ERR_HANDSHAKE_UPGRADE");
    failsWith(101, { ...ok, upgrade: "h2c" }, "ERR_HANDSHAKE_UPGRADE");
    failsWith(101, { ...ok, connection: "close" }, "ERR_HANDSHAKE_CONNECTION");
  });

  it("checks the accept value exactly", () => {
    failsWith(101, { ...ok, "sec-websocket-accept": undefined }, "ERR_HANDSHAKE_ACCEPT");
    failsWith(
      101,
      { ...ok, "sec-websocket-accept": RFC_ACCEPT.toLowerCase() },
      "ERR_HANDSHAKE_ACCEPT",
    );
    failsWith(101, { ...ok, "sec-websocket-accept": ` ${RFC_ACCEPT}` }, "ERR_HANDSHAKE_ACCEPT");
    failsWith(
      101,
      { ...ok, "sec-websocket-accept": [RFC_ACCEPT, RFC_ACCEPT] },
      "ERR_HANDSHAKE_ACCEPT",
    );
    failsWith(
      101,
      { ...ok, "sec-websocket-accept": acceptKey(generateKey(new Uint8Array(16))) },
      "ERR_HANDSHAKE_ACCEPT",
    );
  });

  it("fails a subprotocol never offered, or any when none was", () => {
    failsWith(101, { ...ok, "sec-websocket-protocol": "chat" }, "ERR_HANDSHAKE_PROTOCOL");
    failsWith(101, { ...ok, "sec-websocket-protocol": "other" }, "ERR_HANDSHAKE_PROTOCOL", [
      "chat",
    ]);
    failsWith(
      101,
      { ...ok, "sec-websocket-protocol": "chat, superchat" },
      "ERR_HANDSHAKE_PROTOCOL",
      ["chat", "superchat"],
    );
    failsWith(
      101,
      { ...ok, "sec-websocket-protocol": ["chat", "chat"] },
      "ERR_HANDSHAKE_PROTOCOL",
      ["chat"],
    );
    failsWith(101, { ...ok, "sec-websocket-protocol": "" }, "ERR_HANDSHAKE_PROTOCOL", ["chat"]);
  });

  it("fails an extension never offered, or a malformed header", () => {
    failsWith(
      101,
      { ...ok, "sec-websocket-extensions": "permessage-deflate" },
      "ERR_HANDSHAKE_EXTENSIONS",
    );
    failsWith(
      101,
      { ...ok, "sec-websocket-extensions": "x-foo" },
      "ERR_HANDSHAKE_EXTENSIONS",
      [],
      ["permessage-deflate"],
    );
    const e = failsWith(
      101,
      { ...ok, "sec-websocket-extensions": "permessage-deflate;" },
      "ERR_HANDSHAKE_EXTENSIONS",
      [],
      ["permessage-deflate"],
    );
    assert.match(e.message, /^invalid Sec-WebSocket-Extensions header: expected a parameter name/);
  });

  it("completes a handshake against its own server side", () => {
    const key = generateKey(randomBytes(16));
    const sent = buildRequestHeaders({ key, protocols: ["chat"] });
    const lower = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k.toLowerCase(), v]));
    const req = validateRequest({
      method: "GET",
      httpVersion: "1.1",
      headers: { host: "h", ...lower },
    });
    const protocol = selectProtocol(req.protocols, ["chat"]);
    const head = buildResponse(req.key, { protocol });
    const [statusLine, ...lines] = head.slice(0, -4).split("\r\n");
    assert.equal(statusLine, "HTTP/1.1 101 Switching Protocols");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(": ");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 2);
    }
    assert.equal(validateResponse(101, headers, key, ["chat"], []).protocol, "chat");
  });
});
