// The strict response-head reader of fromDuplex: bytes in, head and leftover out.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_RESPONSE_HEAD,
  parseResponseHead,
  ResponseHeadReader,
} from "../../src/client/response-head.js";

const HEAD =
  "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "connection:Upgrade\r\n" +
  "Sec-WebSocket-Accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n" +
  "X-List: a\r\n" +
  "x-list: b\r\n" +
  "Set-Cookie: one=1\r\n" +
  "Set-Cookie: two=2\r\n" +
  "X-Empty:\r\n" +
  "X-Latin: caf\xe9\r\n" +
  "\r\n";
const LEFTOVER = Buffer.from([0x81, 0x02, 0x68, 0x69, 0x0d, 0x0a, 0x0d, 0x0a]);

describe("parseResponseHead", () => {
  it("reads the status line and headers", () => {
    const head = parseResponseHead(HEAD.slice(0, HEAD.length - 4));
    assert.equal(head.status, 101);
    assert.equal(head.reason, "Switching Protocols");
    assert.equal(head.httpVersion, "1.1");
    assert.deepEqual(head.headers, {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "x-list": "a, b",
      "set-cookie": ["one=1", "two=2"],
      "x-empty": "",
      "x-latin": "caf\xe9",
    });
  });

  it("accepts an empty reason, with or without its space, and HTTP/1.0", () => {
    assert.equal(parseResponseHead("HTTP/1.1 101 ").reason, "");
    assert.equal(parseResponseHead("HTTP/1.1 101").status, 101);
    assert.equal(parseResponseHead("HTTP/1.0 403 Forbidden").httpVersion, "1.0");
  });

  const bad = [
    "",
    "HTTP/1.1",
    "HTTP/1.1  101 X",
    "HTTP/1.1 10 X",
    "HTTP/1.1 1010 X",
    "HTTP/1.1 099 X",
    "HTTP/1.1 600 X",
    "HTTP/2 101 X",
    "HTTP/1.2 101 X",
    "http/1.1 101 X",
    " HTTP/1.1 101 X",
    "HTTP/1.1 101 X\x01",
    "HTTP/1.1 101 X\r\nUpgrade websocket",
    "HTTP/1.1 101 X\r\nUpgrade : websocket",
    "HTTP/1.1 101 X\r\n: websocket",
    "HTTP/1.1 101 X\r\nUp(grade: websocket",
    "HTTP/1.1 101 X\r\nUpgrade: web\x7fsocket",
    "HTTP/1.1 101 X\r\nUpgrade: web\x00socket",
    "HTTP/1.1 101 X\r\nUpgrade: websocket\r\n\tfolded",
    "HTTP/1.1 101 X\r\nUpgrade: websocket\r\n folded",
    "HTTP/1.1 101 X\nUpgrade: websocket",
    "HTTP/1.1 101 X\r\nUpgrade: web\rsocket",
    "HTTP/1.1 101 X\r\n\r\nUpgrade: websocket",
  ];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseResponseHead(text), { code: "ERR_HANDSHAKE_MALFORMED", status: 0 });
    });
  }
});

describe("ResponseHeadReader", () => {
  const bytes = Buffer.concat([Buffer.from(HEAD, "latin1"), LEFTOVER]);

  it("finds the head and the leftover at every split into two chunks", () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new ResponseHeadReader();
      let head = reader.push(bytes.subarray(0, cut));
      if (head === undefined) head = reader.push(bytes.subarray(cut));
      else assert.equal(cut >= HEAD.length, true, `complete after ${cut} bytes`);
      assert.ok(head !== undefined, `cut at ${cut}`);
      assert.equal(head.status, 101);
      const rest =
        cut >= HEAD.length
          ? Buffer.concat([reader.leftover, bytes.subarray(cut)])
          : reader.leftover;
      assert.deepEqual([...rest], [...LEFTOVER], `leftover, cut at ${cut}`);
    }
  });

  it("one byte at a time", () => {
    const reader = new ResponseHeadReader();
    let head: ReturnType<ResponseHeadReader["push"]>;
    let i = 0;
    for (; head === undefined; i++) head = reader.push(bytes.subarray(i, i + 1));
    assert.equal(i, HEAD.length, "complete at the last byte of the empty line");
    assert.equal(head.headers.upgrade, "websocket");
    assert.equal(reader.leftover.length, 0);
  });

  it("accepts a head of exactly the limit, refuses one byte more", () => {
    const filler = (n: number) => `HTTP/1.1 101 X\r\nX: ${"a".repeat(n)}\r\n\r\n`;
    const base = filler(0).length;
    const exact = filler(MAX_RESPONSE_HEAD - base);
    assert.equal(exact.length, MAX_RESPONSE_HEAD);
    assert.equal(new ResponseHeadReader().push(Buffer.from(exact))?.status, 101);
    assert.throws(
      () => new ResponseHeadReader().push(Buffer.from(filler(MAX_RESPONSE_HEAD - base + 1))),
      {
        code: "ERR_HANDSHAKE_HEADERS_TOO_LARGE",
      },
    );
  });

  it("refuses as soon as the limit passes without an end", () => {
    const reader = new ResponseHeadReader(64);
    assert.equal(reader.push(Buffer.alloc(64, 0x61)), undefined);
    assert.throws(() => reader.push(Buffer.from("a")), { code: "ERR_HANDSHAKE_HEADERS_TOO_LARGE" });
  });

  it("a large leftover in the head's chunk is kept whole", () => {
    const frames = Buffer.alloc(200_000, 0x55);
    const reader = new ResponseHeadReader();
    reader.push(Buffer.from(HEAD.slice(0, 10), "latin1"));
    const head = reader.push(Buffer.concat([Buffer.from(HEAD.slice(10), "latin1"), frames]));
    assert.equal(head?.status, 101);
    assert.ok(reader.leftover.equals(frames));
  });
});
