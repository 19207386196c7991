// The shared read buffer end to end (createServer on 127.0.0.1 port 0, `ws` clients): every
// plain socket of the server reads into one 64 KiB buffer, so whatever a connection keeps of a
// read past the call (the rest of a read while it is paused by a slow stream consumer, a full
// backlog or an inflate; the chunks that arrive meanwhile) must be a copy: the next read of any
// connection overwrites that memory. One connection is slowed down while another floods traffic
// through the same buffer, and every byte of both is checked.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type net from "node:net";
import { describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import WebSocket from "ws";
import type { Connection, Handler, Message, ServerOptions } from "../../src/index.js";
import { READ_BUFFER_SIZE } from "../../src/transport/read-buffer.js";
import { hasOpenssl, makeCertificate } from "../client/helpers.js";
import { dial, echo, openClient, startServer, until } from "../hardening/lib/harness.js";
import { maskedFrame, upgradeRequest } from "../helpers/raw-client.js";
import { prng, randomBytes, randomUtf8 } from "../protocol/transient-feed.js";

interface Outgoing {
  readonly data: Buffer;
  readonly binary: boolean;
}

/**
 * `count` messages from `seed`, sizes log-uniform in 1..`max` (so most are small and some span
 * several reads), every fourth one text; `fixed` sizes come first.
 */
function messages(
  count: number,
  seed: number,
  max: number,
  fixed: readonly number[] = [],
  compressible = false,
): Outgoing[] {
  const next = prng(seed);
  const out: Outgoing[] = [];
  for (let i = 0; i < count; i++) {
    const size = fixed[i] ?? Math.max(1, Math.floor(Math.exp((next() / 2 ** 32) * Math.log(max))));
    const text = i % 4 === 3;
    let data = text ? randomUtf8(size, next()) : randomBytes(size, next());
    if (compressible && i % 2 === 0) {
      // Repetitive bytes deflate well: compressed frames much shorter than the message.
      data = Buffer.alloc(size);
      const words = Buffer.from(`word${i} other${i % 7} `);
      for (let at = 0; at < size; at += words.length) words.copy(data, at);
    }
    out.push({ data, binary: !text });
  }
  return out;
}

function digest(m: { data: Buffer; binary: boolean }): string {
  return `${m.binary ? "b" : "t"}:${m.data.length}:${createHash("sha1").update(m.data).digest("hex")}`;
}

/** Sends `m` as one frame, or cut into frames of 1 .. `fragment` bytes. */
function send(ws: WebSocket, m: Outgoing, fragment: number): void {
  if (fragment === 0 || m.data.length <= fragment) {
    ws.send(m.data, { binary: m.binary });
    return;
  }
  const next = prng(m.data.length);
  for (let at = 0; at < m.data.length; ) {
    const end = Math.min(m.data.length, at + 1 + (next() % fragment));
    ws.send(m.data.subarray(at, end), { binary: m.binary, fin: end === m.data.length });
    at = end;
  }
}

/**
 * Sends `msgs` at once on `ws` (fragmented with `fragment`, see {@link send}) and resolves once
 * as many messages came back; each must equal what was sent, byte for byte and type for type (in
 * order unless `unordered`: handlers that run concurrently may finish out of order).
 */
async function exchange(ws: WebSocket, msgs: readonly Outgoing[], unordered = false, fragment = 0) {
  const got: Outgoing[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const onClose = (code: number) => reject(new Error(`closed with ${code}`));
    const onMessage = (data: Buffer, isBinary: boolean) => {
      got.push({ data, binary: isBinary });
      if (got.length === msgs.length) {
        ws.off("message", onMessage);
        ws.off("close", onClose);
        resolve();
      }
    };
    ws.on("message", onMessage);
    ws.once("close", onClose);
  });
  for (const m of msgs) send(ws, m, fragment);
  await done;
  if (unordered) {
    // Pair each echo with a sent message by digest, then compare the bytes themselves.
    const byDigest = new Map<string, Outgoing[]>();
    for (const m of msgs) byDigest.set(digest(m), [...(byDigest.get(digest(m)) ?? []), m]);
    for (const [i, g] of got.entries()) {
      const m = byDigest.get(digest(g))?.pop();
      assert.ok(m !== undefined, `echo ${i} (${g.data.length} bytes) matches a message sent`);
      assert.ok(g.data.equals(m.data) && g.binary === m.binary, `echo ${i}: every byte`);
    }
    return;
  }
  for (const [i, m] of msgs.entries()) {
    const g = got[i] as Outgoing;
    assert.equal(g.binary, m.binary, `message ${i}: type`);
    assert.ok(g.data.equals(m.data), `message ${i} (${m.data.length} bytes): every byte`);
  }
}

/** The buffer a socket reads into through `onread` (net.Socket's `kBuffer`), or null. */
function readBufferOf(socket: object): unknown {
  const field = Object.getOwnPropertySymbols(socket).find((s) => s.description === "kBuffer");
  assert.ok(field !== undefined, "this Node's net.Socket has its kBuffer field");
  return (socket as Record<symbol, unknown>)[field];
}

/**
 * Calls `onRead` before each read of an adopted socket, by wrapping the callback its reads go
 * to (net.Socket's `kBufferCb`, looked up on every read).
 */
function onEveryRead(socket: net.Socket, onRead: () => void): void {
  const field = Object.getOwnPropertySymbols(socket).find((s) => s.description === "kBufferCb");
  assert.ok(field !== undefined);
  const own = socket as unknown as Record<symbol, (n: number, b: Buffer) => boolean>;
  const inner = own[field] as (n: number, b: Buffer) => boolean;
  own[field] = function (this: unknown, n: number, b: Buffer): boolean {
    onRead();
    return inner.call(this, n, b);
  };
}

/** Counts the bytes `socket` emits as `data` from now on. */
function dataBytes(socket: net.Socket): () => number {
  let n = 0;
  socket.on("data", (c: Buffer) => {
    n += c.length;
  });
  return () => n;
}

/** A server whose accepted sockets are collected, in order, and whose opened connections too. */
async function start(handler: Handler, options: ServerOptions = {}) {
  const { server, url, port } = await startServer(handler, options);
  const sockets: net.Socket[] = [];
  server.http.on("connection", (s: net.Socket) => sockets.push(s));
  return { server, url, port, sockets };
}

/** Asserts that the sockets read into one shared buffer of the default size. */
function assertShared(sockets: readonly net.Socket[]): void {
  const first = readBufferOf(sockets[0] as net.Socket);
  assert.ok(Buffer.isBuffer(first), "the server socket was adopted");
  assert.equal(first.length, READ_BUFFER_SIZE);
  for (const s of sockets) assert.equal(readBufferOf(s), first, "one buffer for every socket");
}

/**
 * Two clients of `url` whose server sockets (`sockets`) must share one read buffer. `end()`
 * checks that no read of theirs came as a `data` event, then closes both clients.
 */
async function twoClients(
  url: string,
  sockets: readonly net.Socket[],
  options?: Parameters<typeof openClient>[1],
) {
  const a = await openClient(url, options);
  const b = await openClient(url, options);
  assert.equal(sockets.length, 2);
  assertShared(sockets);
  const data = sockets.map(dataBytes);
  return {
    a,
    b,
    end(): void {
      assert.deepEqual(
        data.map((n) => n()),
        [0, 0],
        "no data event: every read went through the buffer",
      );
      a.close();
      b.close();
    },
  };
}

/** Bytes a connection's core holds that it has not parsed yet (a private field, read for tests). */
function keptBytes(conn: Connection): number {
  return (conn as unknown as { core: { bufferedInput: number } }).core.bufferedInput;
}

/**
 * The slow side's pace: `slowDown()` waits a millisecond, then, while the slow connection's core
 * holds bytes of an earlier read (the rest of a read it paused in, reads queued behind it),
 * until the flood socket has read three more times into the shared buffer, overwriting that
 * memory. No sleeping as synchronisation: the wait is for the flood's reads (or for the bytes
 * to be parsed, when another handler of the slow connection reads on meanwhile).
 */
function holdWhileKept(slow: () => Connection | undefined, flood: net.Socket) {
  const stats = { holds: 0, overwrites: 0, floodReads: 0 };
  const kept = () => {
    const conn = slow();
    return conn !== undefined && keptBytes(conn) > 0;
  };
  onEveryRead(flood, () => {
    stats.floodReads++;
    if (kept()) stats.overwrites++;
  });
  const slowDown = async (): Promise<void> => {
    // Meanwhile reads arrive until the slow connection pauses, often in the middle of one.
    await new Promise((r) => setTimeout(r, 1));
    if (!kept()) return;
    stats.holds++;
    const target = stats.floodReads + 3;
    await until(() => stats.floodReads >= target || !kept(), "the flood's reads");
  };
  return { slowDown, stats };
}

/**
 * Runs `slow` to its end on one connection while the other floods batches (each checked) until
 * it is done: the flood's reads overwrite the shared buffer all the while the slow one is paused.
 */
async function slowAndFlood(
  a: WebSocket,
  slow: readonly Outgoing[],
  b: WebSocket,
  unordered = false,
  fragment = 0,
): Promise<number> {
  let done = false;
  let batches = 0;
  const flood = (async () => {
    while (!done) await exchange(b, messages(40, 1000 + batches++, 32 * 1024));
  })();
  await exchange(a, slow, unordered, fragment);
  done = true;
  await flood;
  return batches;
}

describe("shared read buffer, end to end", { timeout: 60_000 }, () => {
  it("echoes 1 B .. 200 KiB messages of two connections byte for byte through one buffer", async () => {
    const { url, sockets } = await start(echo);
    const { a, b, end } = await twoClients(url, sockets);
    const edges = [1, 125, 126, 65_535, 65_536, READ_BUFFER_SIZE + 1, 200 * 1024];
    await Promise.all([
      exchange(a, messages(80, 1, 200 * 1024, edges)),
      exchange(b, messages(80, 2, 200 * 1024, [200 * 1024, 3, 70_000])),
    ]);
    end();
  });

  it("streamed messages read slowly, while another connection floods: every byte", async () => {
    const opened: Connection[] = [];
    const { url, sockets } = await start(
      {
        onOpen(conn) {
          opened.push(conn);
        },
        async onStream(conn, stream) {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) {
            chunks.push(chunk as Buffer);
            // A slow consumer: the stream fills, the connection stops reading mid-read.
            if (conn === opened[0]) await slowDown();
          }
          conn.send(Buffer.concat(chunks), { binary: stream.isBinary });
        },
      },
      { streamMessages: true },
    );
    const { a, b, end } = await twoClients(url, sockets);
    const { slowDown, stats } = holdWhileKept(() => opened[0], sockets[1] as net.Socket);
    const big = [200 * 1024, 150 * 1024, 1, 130 * 1024, 64 * 1024 + 7];
    // Unordered: a stream frees its handler slot when it ends, so the next message's handler
    // may echo before this one's code after its loop runs.
    // Fragmented (frames of up to 16 KiB): a read holds several frames, so the connection
    // pauses in the middle of one and keeps the rest.
    await slowAndFlood(a, messages(30, 3, 200 * 1024, big), b, true, 16 * 1024);
    assert.ok(stats.holds > 0, "the slow connection kept bytes of a read, paused by its stream");
    assert.ok(stats.overwrites >= 3, "the flood read into the buffer meanwhile");
    end();
  });

  it("async onMessage with concurrency: a full backlog pauses reading, the flood goes on: every byte", async () => {
    const opened: Connection[] = [];
    const { url, sockets } = await start(
      {
        onOpen(conn) {
          opened.push(conn);
        },
        async onMessage(conn, message) {
          // The handler awaits: messages wait in the backlog, which fills, which pauses.
          if (conn === opened[0]) await slowDown();
          conn.send(message.data, { binary: message.isBinary });
        },
      },
      { concurrency: 2, maxBacklogMessages: 2, maxBacklogBytes: 32 * 1024 },
    );
    const { a, b, end } = await twoClients(url, sockets);
    const { slowDown, stats } = holdWhileKept(() => opened[0], sockets[1] as net.Socket);
    await slowAndFlood(a, messages(60, 4, 200 * 1024, [200 * 1024, 1, 100 * 1024]), b, true);
    assert.ok(stats.holds > 0, "the slow connection kept bytes of a read, paused by its backlog");
    assert.ok(stats.overwrites >= 3, "the flood read into the buffer meanwhile");
    end();
  });

  it("messages left in the read buffer: async handlers use or forward them after the flood overwrote it", async () => {
    const opened: Connection[] = [];
    let floodReads = 0;
    let copiedLate = 0;
    let forwardedLate = 0;
    let index = 0;
    const { url, sockets } = await start(
      {
        onOpen(conn) {
          opened.push(conn);
        },
        async onMessage(conn, message) {
          const i = index++;
          if (conn === opened[0]) {
            // Until the other connection has read into the shared buffer again: this message's
            // bytes there (if it was left there) are gone by then.
            const target = floodReads + 1;
            await until(() => floodReads >= target, "a flood read");
            if (i % 3 === 0) {
              forwardedLate++;
              conn.send(message);
              return;
            }
            if (i % 3 === 1 && message.isText) {
              copiedLate++;
              conn.send(message.text());
              return;
            }
            copiedLate++;
          }
          conn.send(message.data, { binary: message.isBinary });
        },
      },
      { concurrency: 4 },
    );
    const { a, b, end } = await twoClients(url, sockets);
    onEveryRead(sockets[1] as net.Socket, () => {
      floodReads++;
    });
    // Small messages, most of them whole in one read: the ones a server leaves in the input.
    await slowAndFlood(a, messages(80, 11, 2048, [1, 125, 126, 16 * 1024 - 1]), b, true);
    assert.ok(forwardedLate > 10 && copiedLate > 10, `${forwardedLate} / ${copiedLate}`);
    end();
  });

  it("retained messages outlive the reads that brought them: every byte", async () => {
    const kept = new Map<Connection, Message[]>();
    const { url, sockets } = await start({
      onMessage(conn, message) {
        const held = kept.get(conn) ?? [];
        kept.set(conn, held);
        held.push(message.retain());
        if (held.length < 50) return;
        // Released long after their reads: later reads of this socket and of the other one
        // went into the same buffer meanwhile.
        for (const m of held.splice(0)) {
          conn.send(m.data, { binary: m.isBinary });
          m.release();
        }
      },
    });
    const { a, b, end } = await twoClients(url, sockets);
    await Promise.all([
      exchange(a, messages(200, 12, 4096, [1, 126])),
      exchange(b, messages(100, 13, 4096)),
    ]);
    assert.deepEqual(
      [...kept.values()].map((h) => h.length),
      [0, 0],
    );
    end();
  });

  it("permessage-deflate: messages wait for their inflate, two connections at once: every byte", async () => {
    const { url, sockets } = await start(echo, { perMessageDeflate: true });
    const options = { perMessageDeflate: { threshold: 0 } };
    const { a, b, end } = await twoClients(url, sockets, options);
    assert.match(a.extensions, /permessage-deflate/);
    await Promise.all([
      exchange(a, messages(60, 5, 200 * 1024, [200 * 1024, 1], true)),
      exchange(b, messages(60, 6, 200 * 1024, [130 * 1024], true)),
    ]);
    end();
  });

  it("bytes read before the socket was adopted (during an async authorize) come first", async () => {
    let allow: ((ok: boolean) => void) | undefined;
    const got: Buffer[] = [];
    const { port, sockets } = await start(
      {
        onMessage(_conn, message) {
          got.push(Buffer.from(message.data));
        },
      },
      { authorize: () => new Promise<boolean>((resolve) => (allow = resolve)) },
    );
    const raw = await dial(port);
    const answer: Buffer[] = [];
    raw.on("data", (c: Buffer) => answer.push(c));
    raw.write(upgradeRequest());
    await until(() => allow !== undefined, "authorize");
    // Half a frame while the upgrade waits: the socket reads it into its own readable buffer.
    const payload = randomBytes(100_000, 9);
    const first = maskedFrame(2, payload);
    raw.write(first.subarray(0, 30_000));
    const server = sockets[0] as net.Socket;
    await until(() => server.readableLength > 0, "bytes buffered before the adoption");
    allow?.(true);
    await until(() => Buffer.concat(answer).includes("\r\n\r\n"), "the 101");
    assert.ok(Buffer.isBuffer(readBufferOf(server)), "adopted after the handshake");
    // The rest arrives through the shared buffer, after what was buffered.
    raw.write(Buffer.concat([first.subarray(30_000), maskedFrame(1, "second")]));
    await until(() => got.length === 2, "both messages");
    assert.ok(got[0]?.equals(payload), "the first message, whole and in order");
    assert.equal(got[1]?.toString(), "second");
    raw.destroy();
  });

  it("sharedReadBuffer: false leaves the sockets alone (their reads come as data)", async () => {
    const { url, sockets } = await start(echo, { sharedReadBuffer: false });
    const a = await openClient(url);
    assert.equal(readBufferOf(sockets[0] as net.Socket), null);
    const data = dataBytes(sockets[0] as net.Socket);
    await exchange(a, messages(20, 7, 100 * 1024));
    assert.ok(data() > 0, "reads come as data events");
    a.close();
  });

  it("a wss server leaves its TLS sockets alone", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async () => {
    const pem = makeCertificate();
    const { server, port } = await startServer(echo, { tls: pem });
    const secured: TLSSocket[] = [];
    server.http.on("secureConnection", (s: TLSSocket) => secured.push(s));
    const a = new WebSocket(`wss://localhost:${port}`, { ca: pem.cert });
    await once(a, "open");
    assert.equal(secured.length, 1);
    assert.equal(readBufferOf(secured[0] as TLSSocket), null);
    await exchange(a, messages(10, 8, 100 * 1024));
    a.close();
  });
});
