// Invalid UTF-8, invalid close codes and frames from the wrong side, over real sockets: against
// a running server (a raw client), and against the client (a raw server that completes the
// handshake and then misbehaves). The right close code, every time: 1007 for bad UTF-8 (in a
// message, split across fragments, in a close reason), 1002 for close codes that may not be
// sent and for a masked frame from a server; valid codes are echoed.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Connection, type ConnectionCloseInfo, connect } from "../../src/index.js";
import { acceptKey } from "../../src/protocol/handshake.js";
import { maskedFrame } from "../helpers/raw-client.js";
import { echo, exchangeFrames, startServer, until } from "./lib/harness.js";
import { closeCodeOf, messagesOf, parseFrames, type WireFrame } from "./lib/server-frames.js";

/** Byte sequences that are not UTF-8 (RFC 3629): overlongs, surrogates, past U+10FFFF, strays. */
const INVALID = [
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xf0, 0x80, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0x80],
  [0xbf],
  [0xfe],
  [0xff],
  [0xc2],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
].map((b) => Buffer.from(b));

const closeOf = (frames: readonly WireFrame[]): WireFrame | undefined =>
  frames.find((f) => f.opcode === 0x8);

describe("invalid data at the server", () => {
  it("invalid UTF-8 anywhere in a text message, whole or fragmented, closes with 1007", async () => {
    const { port } = await startServer(echo);
    const cases = fc.sample(
      fc.record({
        bad: fc.constantFrom(...INVALID),
        before: fc.string({ unit: "grapheme", maxLength: 20 }),
        after: fc.string({ unit: "grapheme", maxLength: 20 }),
        cut: fc.nat(),
      }),
      { seed: 0xbad, numRuns: 60 },
    );
    for (const { bad, before, after, cut } of cases) {
      const payload = Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]);
      const at = cut % (payload.length + 1);
      const whole = maskedFrame(1, payload);
      const split = Buffer.concat([
        maskedFrame(1, payload.subarray(0, at), false),
        maskedFrame(0, payload.subarray(at)),
      ]);
      for (const bytes of [whole, split]) {
        const { frames } = await exchangeFrames(port, bytes);
        assert.equal(messagesOf(frames).messages.length, 0, "nothing echoed");
        assert.equal(closeCodeOf(closeOf(frames) as WireFrame), 1007, payload.toString("hex"));
      }
    }
  });

  it("valid text split inside a code point, at every byte, is echoed", async () => {
    const { port } = await startServer(echo);
    const text = Buffer.from("a€😀é");
    for (let at = 0; at <= text.length; at++) {
      const bytes = Buffer.concat([
        maskedFrame(1, text.subarray(0, at), false),
        maskedFrame(0, text.subarray(at)),
      ]);
      const { frames } = await exchangeFrames(port, bytes);
      assert.equal(messagesOf(frames).messages[0]?.data.toString(), "a€😀é");
    }
  });

  it("close codes: the valid ones are echoed, every other one is 1002; a bad reason is 1007", async () => {
    const { port } = await startServer(echo);
    const valid = (c: number) =>
      (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    const codes = [
      ...[
        0, 1, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016, 2000,
        2999,
      ],
      ...[3000, 3999, 4000, 4999, 5000, 65535],
      ...fc.sample(fc.integer({ min: 0, max: 65535 }), { seed: 0xc105e, numRuns: 40 }),
    ];
    for (const code of codes) {
      const payload = Buffer.from([code >> 8, code & 0xff, ...Buffer.from("bye")]);
      const { frames } = await exchangeFrames(port, maskedFrame(8, payload));
      assert.equal(
        closeCodeOf(closeOf(frames) as WireFrame),
        valid(code) ? code : 1002,
        `code ${code}`,
      );
    }
    const oneByte = await exchangeFrames(port, maskedFrame(8, Buffer.from([0x03])));
    assert.equal(closeCodeOf(closeOf(oneByte.frames) as WireFrame), 1002);
    for (const bad of INVALID) {
      const { frames } = await exchangeFrames(
        port,
        maskedFrame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), bad])),
      );
      assert.equal(closeCodeOf(closeOf(frames) as WireFrame), 1007);
    }
    const empty = await exchangeFrames(port, maskedFrame(8, Buffer.alloc(0)));
    assert.equal(closeOf(empty.frames)?.payload.length, 0, "an empty close is answered empty");
  });

  it("an unmasked frame from a client is 1002", async () => {
    const { port } = await startServer(echo);
    const { frames } = await exchangeFrames(port, Buffer.from([0x81, 0x02, 0x68, 0x69]));
    assert.equal(closeCodeOf(closeOf(frames) as WireFrame), 1002);
  });
});

/**
 * A raw server: completes the handshake, writes `bytes`, and resolves with the client's frames
 * (unmasked for reading) once the client closed the TCP connection.
 */
async function hostileServer(
  bytes: Buffer,
): Promise<{ url: string; frames: Promise<WireFrame[]>; close(): void }> {
  const server = net.createServer();
  let resolveFrames!: (f: WireFrame[]) => void;
  const frames = new Promise<WireFrame[]>((r) => {
    resolveFrames = r;
  });
  server.on("connection", (socket) => {
    socket.on("error", () => {});
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      if (upgraded) {
        received.push(c);
        return;
      }
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      upgraded = true;
      const key = /sec-websocket-key: *([^\r]+)/i.exec(buf.toString("latin1"))?.[1] ?? "";
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
      );
      socket.write(bytes);
    });
    socket.on("close", () => resolveFrames(parseFrames(Buffer.concat(received)).frames));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, frames, close: () => server.close() };
}

/** Connects the tidews client to a hostile server; resolves with how it closed and what it sent. */
async function clientAgainst(
  bytes: Buffer,
): Promise<{ info: ConnectionCloseInfo; sent: WireFrame[]; messages: string[] }> {
  const hostile = await hostileServer(bytes);
  let info: ConnectionCloseInfo | undefined;
  const messages: string[] = [];
  const conn: Connection = await connect(
    hostile.url,
    {
      onMessage(_c, m) {
        messages.push(m.text());
      },
      onClose(_c, i) {
        info = i;
      },
    },
    { perMessageDeflate: false, closeTimeout: 200 },
  );
  await until(() => info !== undefined, "the client to close");
  const sent = await hostile.frames;
  hostile.close();
  assert.equal(conn.readyState, 3);
  return { info: info as ConnectionCloseInfo, sent, messages };
}

describe("invalid data at the client", () => {
  it("a masked frame from the server: the client fails with 1002", async () => {
    const { info, sent, messages } = await clientAgainst(maskedFrame(1, "hello"));
    assert.deepEqual(messages, []);
    assert.equal(info.error?.closeCode, 1002);
    const close = closeOf(sent);
    assert.ok(close?.masked, "the client's close frame is masked");
    assert.equal(closeCodeOf(close as WireFrame), 1002);
  });

  it("invalid UTF-8 from the server: 1007; an invalid close code: 1002; RSV2: 1002", async () => {
    const text = await clientAgainst(Buffer.from([0x81, 0x03, 0x61, 0xed, 0xa0]));
    assert.equal(text.info.error?.closeCode, 1007);
    assert.equal(closeCodeOf(closeOf(text.sent) as WireFrame), 1007);
    const code = await clientAgainst(Buffer.from([0x88, 0x02, 0x03, 0xed]));
    assert.equal(code.info.error?.closeCode, 1002);
    assert.equal(closeCodeOf(closeOf(code.sent) as WireFrame), 1002);
    const rsv = await clientAgainst(Buffer.from([0xa1, 0x01, 0x61]));
    assert.equal(closeCodeOf(closeOf(rsv.sent) as WireFrame), 1002);
  });

  it("valid frames from the same raw server are received (the harness can pass)", async () => {
    const ok = await clientAgainst(Buffer.from([0x81, 0x02, 0x68, 0x69, 0x88, 0x02, 0x03, 0xe8]));
    assert.deepEqual(ok.messages, ["hi"]);
    assert.equal(ok.info.code, 1000);
    assert.equal(closeCodeOf(closeOf(ok.sent) as WireFrame), 1000);
  });
});
