// Connection.sendStream / sendFile on real sockets (127.0.0.1, port 0): a tidews server sending to
// a `ws` client, a tidews client sending to a `ws` server, and a raw node:net peer to look at the
// frames themselves (RFC 6455 section 5.4).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, afterEach, describe, it } from "node:test";
import fc from "fast-check";
import WebSocket, { WebSocketServer } from "ws";
import {
  type Connection,
  connect,
  createServer,
  DEFAULT_STREAM_FRAGMENT_SIZE,
  isTidewsError,
  type Server,
  type ServerOptions,
} from "../../src/index.js";
import { until } from "../hardening/lib/harness.js";
import { rawConnect } from "../helpers/raw-client.js";

const servers: Server<never>[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close(500)));
});

/** A tidews server whose connections the test drives; `next()` resolves with the next one. */
async function start(options: ServerOptions = {}) {
  const waiting: ((c: Connection) => void)[] = [];
  const ready: Connection[] = [];
  const server = createServer(
    {
      onOpen(conn) {
        const w = waiting.shift();
        if (w !== undefined) w(conn);
        else ready.push(conn);
      },
    },
    options,
  );
  const { port } = await server.listen(0, "127.0.0.1");
  servers.push(server as unknown as Server<never>);
  const next = (): Promise<Connection> => {
    const c = ready.shift();
    if (c !== undefined) return Promise.resolve(c);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return { server, port, url: `ws://127.0.0.1:${port}`, next };
}

interface Got {
  data: Buffer;
  isBinary: boolean;
}

/** A ws client; `messages` fills as they arrive, `nextMessage()` waits for the next one. */
async function wsClient(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0, ...options });
  clients.push(ws);
  const messages: Got[] = [];
  let waiter: (() => void) | undefined;
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    messages.push({ data, isBinary });
    waiter?.();
  });
  const closed = once(ws, "close") as Promise<[number, Buffer]>;
  await once(ws, "open");
  let read = 0;
  const nextMessage = async (): Promise<Got> => {
    while (messages.length <= read) {
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
    }
    return messages[read++] as Got;
  };
  return { ws, messages, closed, nextMessage };
}

/** Deterministic pseudo-random bytes (xorshift), so the receiver can check without a copy. */
function fill(buf: Buffer, seed: number): number {
  let x = seed | 1;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return x;
}

/** `total` bytes in chunks of varied sizes (1 byte to 200 KB), hashing what it yields. */
function generated(total: number, hash = createHash("sha256")) {
  const state = { produced: 0, pulls: 0, finished: false, hash };
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      let seed = 12345;
      let i = 0;
      while (state.produced < total) {
        const size = Math.min(
          total - state.produced,
          i % 7 === 0 ? 1 + (i % 3) : 1000 + ((i * 7919) % 200_000),
        );
        const chunk = Buffer.allocUnsafe(size);
        seed = fill(chunk, seed + i);
        hash.update(chunk);
        state.produced += size;
        state.pulls++;
        i++;
        yield chunk;
      }
    } finally {
      state.finished = true;
    }
  }
  return { state, source: gen() };
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function rejects(p: Promise<unknown>, code: string): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    assert.ok(isTidewsError(error), `a tidews error, got ${String(error)}`);
    assert.equal((error as { code: string }).code, code);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Parses unmasked server frames from a raw socket. */
function frameReader(socket: import("node:net").Socket, initial: Buffer) {
  let buf = initial;
  const frames: { fin: boolean; rsv1: boolean; opcode: number; payload: Buffer }[] = [];
  let waiter: (() => void) | undefined;
  const parse = (): void => {
    while (buf.length >= 2) {
      const b0 = buf[0] as number;
      let len = (buf[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      frames.push({
        fin: (b0 & 0x80) !== 0,
        rsv1: (b0 & 0x40) !== 0,
        opcode: b0 & 0x0f,
        payload: Buffer.from(buf.subarray(at, at + len)),
      });
      buf = buf.subarray(at + len);
    }
  };
  parse();
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    parse();
    waiter?.();
  });
  let read = 0;
  /** The frames of the next whole message (control frames skipped). */
  const nextMessage = async () => {
    const out: (typeof frames)[number][] = [];
    while (true) {
      while (frames.length <= read) {
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      }
      const f = frames[read++] as (typeof frames)[number];
      if (f.opcode >= 8) continue;
      out.push(f);
      if (f.fin) return out;
    }
  };
  return { frames, nextMessage };
}

describe("sendStream: tidews server to a ws client", () => {
  it("sends 64 MiB from an async iterable as one byte-identical message", async () => {
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    const { state, source } = generated(64 * 1024 * 1024);
    const done = conn.sendStream(source);
    const got = await client.nextMessage();
    await done;
    assert.equal(got.isBinary, true);
    assert.equal(got.data.length, 64 * 1024 * 1024);
    assert.equal(sha(got.data), state.hash.digest("hex"));
    assert.equal(state.finished, true);
    assert.equal(client.messages.length, 1);
  });

  it("sends a Readable; frames follow RFC 6455 section 5.4 (opcode first, continuations, FIN last)", async () => {
    const { port, next } = await start();
    const { socket, rest } = await rawConnect(port);
    const reader = frameReader(socket, rest);
    const conn = await next();
    const parts = [Buffer.from("abc"), Buffer.from("defgh"), Buffer.from("ij")];
    await conn.sendStream(Readable.from(parts), { fragmentSize: 4 });
    const frames = await reader.nextMessage();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.rsv1, f.payload.toString()]),
      [
        [2, false, false, "abcd"],
        [0, false, false, "efgh"],
        [0, true, false, "ij"],
      ],
    );
    // An empty source is one empty frame with FIN; an exact multiple ends without an empty frame.
    await conn.sendStream(Readable.from([]));
    assert.deepEqual(
      (await reader.nextMessage()).map((f) => [f.opcode, f.fin, f.payload.length]),
      [[2, true, 0]],
    );
    await conn.sendStream(Readable.from([Buffer.from("abcdefgh")]), { fragmentSize: 4 });
    assert.deepEqual(
      (await reader.nextMessage()).map((f) => [f.opcode, f.fin, f.payload.toString()]),
      [
        [2, false, "abcd"],
        [0, true, "efgh"],
      ],
    );
    socket.destroy();
  });

  it("keeps bufferedAmount under the high-water mark plus one frame with a paused reader", async () => {
    const hwm = 64 * 1024;
    const { url, next, server } = await start({ highWaterMark: hwm });
    const client = await wsClient(url);
    const conn = await next();
    // Sample bufferedAmount each time a batch of frames is flushed (once per tick of writes).
    let peak = 0;
    const flush = conn.flush.bind(conn);
    conn.flush = () => {
      peak = Math.max(peak, conn.bufferedAmount);
      flush();
    };
    const socket = (client.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.pause();
    const total = 64 * 1024 * 1024;
    const { state, source } = generated(total);
    const missesBefore = server.pool.stats().misses;
    let settled = false;
    const done = conn.sendStream(source).finally(() => {
      settled = true;
    });
    // Backpressure engages: the stream waits for the stream to drain and stops reading.
    await until(() => conn.bufferedAmount >= hwm && state.produced > 0);
    const producedWhilePaused = state.produced;
    assert.ok(
      producedWhilePaused < total / 2,
      `read ${producedWhilePaused} of ${total} while paused`,
    );
    assert.equal(settled, false);
    socket.resume();
    const got = await client.nextMessage();
    await done;
    assert.equal(sha(got.data), state.hash.digest("hex"));
    const bound = hwm + DEFAULT_STREAM_FRAGMENT_SIZE + 14;
    assert.ok(peak <= bound, `peak bufferedAmount ${peak} > ${bound}`);
    // Constant memory: fragment buffers come back to the pool and are reused.
    const misses = server.pool.stats().misses - missesBefore;
    assert.ok(misses < 64, `${misses} pool allocations for a 64 MiB stream`);
  });

  it("sends text with multi-byte UTF-8 split across chunks", async () => {
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    const text = "héllo wörld € 𝄞 日本語 ".repeat(2000);
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = 1 + ((i * 31) % 17);
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    await conn.sendStream(Readable.from(chunks), { binary: false, fragmentSize: 1000 });
    // Strings are chunks too, and a string may follow bytes that end inside a code point.
    await conn.sendStream(Readable.from([Buffer.from([0xe2, 0x82]), Buffer.from([0xac]), "ü"]), {
      binary: false,
    });
    const got = await client.nextMessage();
    assert.equal(got.isBinary, false);
    assert.equal(got.data.toString(), text);
    const second = await client.nextMessage();
    assert.equal(second.data.toString(), "€ü");
  });

  it("rejects invalid text without sending it; after a first frame it closes with 1011", async () => {
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    // Invalid in the first chunk: nothing was sent, the connection goes on.
    await rejects(
      conn.sendStream(Readable.from([Buffer.from([0x61, 0xff])]), { binary: false }),
      "ERR_WS_STREAM_INVALID_UTF8",
    );
    // Truncated at the end, within the first fragment: nothing was sent either.
    await rejects(
      conn.sendStream(Readable.from([Buffer.from([0xe2, 0x82])]), { binary: false }),
      "ERR_WS_STREAM_INVALID_UTF8",
    );
    conn.send("still open");
    assert.equal((await client.nextMessage()).data.toString(), "still open");
    // Invalid after frames went out: the message cannot be finished, the connection closes.
    const p = conn.sendStream(
      Readable.from([Buffer.from("valid text"), Buffer.from([0xc0, 0x80])]),
      { binary: false, fragmentSize: 4 },
    );
    await rejects(p, "ERR_WS_STREAM_INVALID_UTF8");
    const [code] = await client.closed;
    assert.equal(code, 1011);
    assert.equal(client.messages.length, 1, "the half message was never delivered");
  });

  it("rejects with the source's error; after a first frame it closes with 1011", async () => {
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    const boom = new Error("disk on fire");
    const early = new Readable({
      read() {
        this.destroy(boom);
      },
    });
    const e1 = await rejects(conn.sendStream(early), "ERR_WS_STREAM_SOURCE");
    assert.equal((e1 as { cause?: unknown }).cause, boom);
    assert.equal(conn.readyState, 1, "nothing was sent: still open");
    const gone = new Readable({ read() {} });
    gone.destroy();
    await once(gone, "close");
    await rejects(conn.sendStream(gone), "ERR_WS_STREAM_SOURCE");
    let n = 0;
    const late = new Readable({
      read() {
        if (n++ < 3) this.push(Buffer.alloc(100, 1));
        else this.destroy(boom);
      },
    });
    await rejects(conn.sendStream(late, { fragmentSize: 64 }), "ERR_WS_STREAM_SOURCE");
    const [code] = await client.closed;
    assert.equal(code, 1011);
    assert.equal(client.messages.length, 0);
  });

  it("abort: before the first frame the connection goes on; after it, it closes with 1011", async () => {
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    const already = new AbortController();
    already.abort();
    await rejects(
      conn.sendStream(Readable.from([Buffer.from("x")]), { signal: already.signal }),
      "ERR_WS_STREAM_ABORTED",
    );
    const ac = new AbortController();
    const { state, source } = generated(1024 * 1024 * 1024);
    const p = conn.sendStream(source, { signal: ac.signal, fragmentSize: 1024 });
    await until(() => state.pulls >= 3);
    ac.abort();
    await rejects(p, "ERR_WS_STREAM_ABORTED");
    const [code] = await client.closed;
    assert.equal(code, 1011);
    assert.equal(state.finished, true, "the generator was returned");
    assert.equal(client.messages.length, 0);
  });

  it("close() during a stream rejects it, destroys the source, closes cleanly, releases buffers", async () => {
    const { url, next, server } = await start();
    const outstanding = () => server.pool.stats().gets - server.pool.stats().puts;
    const baseline = outstanding();
    const client = await wsClient(url);
    const conn = await next();
    let pulled = 0;
    const source = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(16 * 1024, 7));
      },
    });
    const p = conn.sendStream(source);
    conn.send("held back, then dropped by the close");
    await until(() => pulled >= 4);
    conn.close(1000, "bye");
    await rejects(p, "ERR_WS_STREAM_CLOSED");
    assert.equal(source.destroyed, true);
    const [code, reason] = await client.closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), "bye");
    assert.equal(client.messages.length, 0);
    await until(() => server.connections.size === 0);
    assert.equal(outstanding(), baseline, "every pooled buffer went back");
  });

  it("the peer going away during a stream rejects it, destroys the source, releases buffers", async () => {
    const { url, next, server } = await start();
    const outstanding = () => server.pool.stats().gets - server.pool.stats().puts;
    const baseline = outstanding();
    const client = await wsClient(url);
    const conn = await next();
    let pulled = 0;
    const source = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(16 * 1024, 7));
      },
    });
    const p = conn.sendStream(source);
    const queued = conn.sendStream(Readable.from([Buffer.from("never")]));
    await until(() => pulled >= 4);
    client.ws.terminate();
    await rejects(p, "ERR_WS_STREAM_CLOSED");
    await rejects(queued, "ERR_WS_STREAM_CLOSED");
    assert.equal(source.destroyed, true);
    await rejects(conn.sendStream(Readable.from([])), "ERR_WS_NOT_OPEN");
    await until(() => server.connections.size === 0);
    assert.equal(outstanding(), baseline, "every pooled buffer went back");
  });

  it("held messages count towards maxBufferedAmount: the close policy ends the stream", async () => {
    const { url, next } = await start({ maxBufferedAmount: 512 * 1024 });
    const client = await wsClient(url);
    const conn = await next();
    const socket = (client.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.pause();
    const { state, source } = generated(256 * 1024 * 1024);
    const p = conn.sendStream(source);
    await until(() => state.pulls >= 2);
    conn.send(Buffer.alloc(256 * 1024));
    assert.equal(conn.send(Buffer.alloc(300 * 1024)), false, "refused past maxBufferedAmount");
    await rejects(p, "ERR_WS_STREAM_CLOSED");
    socket.resume();
    const [code] = await client.closed;
    assert.equal(code, 1008);
    assert.equal(client.messages.length, 0);
  });

  it("holds sends, writev, broadcasts and a second stream back until the stream ends, in order", async () => {
    const { url, next, server } = await start();
    const client = await wsClient(url);
    const conn = await next();
    conn.subscribe("news");
    const first = generated(4 * 1024 * 1024);
    const p1 = conn.sendStream(first.source);
    await until(() => first.state.pulls >= 2);
    conn.send("a"); // false: over the high-water mark while the stream runs, but queued
    const before = conn.bufferedAmount;
    conn.send(Buffer.from("b"));
    assert.ok(conn.bufferedAmount >= before + 1, "held messages count in bufferedAmount");
    conn.writev([Buffer.from("c1"), Buffer.from("c2")]);
    assert.equal(server.broadcast("d"), 1);
    assert.equal(server.publish("news", "e"), 1);
    const second = generated(100_000);
    const p2 = conn.sendStream(second.source, { fragmentSize: 1000 });
    conn.send("f");
    await Promise.all([p1, p2]);
    const got: string[] = [];
    const m1 = await client.nextMessage();
    assert.equal(sha(m1.data), first.state.hash.digest("hex"));
    for (let i = 0; i < 5; i++) got.push((await client.nextMessage()).data.toString());
    assert.deepEqual(got, ["a", "b", "c1c2", "d", "e"]);
    const m2 = await client.nextMessage();
    assert.equal(sha(m2.data), second.state.hash.digest("hex"));
    assert.equal((await client.nextMessage()).data.toString(), "f");
    // Everything went out: nothing is left counted.
    await until(() => conn.bufferedAmount === 0);
  });

  it("works with a high-water mark of 0, and refuses to start inside a fin: false message", async () => {
    const { url, next } = await start({ highWaterMark: 0 });
    const client = await wsClient(url);
    const conn = await next();
    const { state, source } = generated(2 * 1024 * 1024);
    await conn.sendStream(source, { fragmentSize: 10_000 });
    assert.equal(sha((await client.nextMessage()).data), state.hash.digest("hex"));
    conn.send("part one, ", { fin: false });
    await rejects(conn.sendStream(Readable.from([Buffer.from("x")])), "ERR_WS_INVALID_STATE");
    conn.send("part two");
    assert.equal((await client.nextMessage()).data.toString(), "part one, part two");
    await rejects(conn.sendStream(42 as never), "ERR_INVALID_ARGUMENT");
    await rejects(conn.sendStream(Readable.from([]), { fragmentSize: 0 }), "ERR_INVALID_ARGUMENT");
    assert.equal(conn.readyState, 1);
  });

  it("with permessage-deflate: the stream goes uncompressed between compressed messages", async () => {
    const { url, next } = await start({ perMessageDeflate: true });
    const client = await wsClient(url, { perMessageDeflate: true });
    const conn = await next();
    assert.equal(conn.compressed, true);
    const big = "compress me ".repeat(10_000);
    conn.send(big, { compress: true });
    const { state, source } = generated(8 * 1024 * 1024);
    const p = conn.sendStream(source);
    conn.send(big, { compress: true });
    await p;
    assert.equal((await client.nextMessage()).data.toString(), big);
    assert.equal(sha((await client.nextMessage()).data), state.hash.digest("hex"));
    assert.equal((await client.nextMessage()).data.toString(), big);
  });

  it("sendFile sends a file as one message; a missing file rejects before sending", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidews-send-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "data.bin");
    const data = Buffer.allocUnsafe(8 * 1024 * 1024 + 123);
    fill(data, 99);
    writeFileSync(path, data);
    const { url, next } = await start();
    const client = await wsClient(url);
    const conn = await next();
    await conn.sendFile(path);
    assert.ok((await client.nextMessage()).data.equals(data));
    await rejects(conn.sendFile(join(dir, "missing")), "ERR_WS_STREAM_SOURCE");
    await rejects(conn.sendFile(path, { fragmentSize: 0 }), "ERR_INVALID_ARGUMENT");
    conn.send("open");
    assert.equal((await client.nextMessage()).data.toString(), "open");
  });

  it("property: any chunking and fragment size gives the same bytes, in ceil(n / size) frames", async () => {
    const { port, next } = await start();
    const { socket, rest } = await rawConnect(port);
    const reader = frameReader(socket, rest);
    const conn = await next();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.boolean(),
        async (chunks, fragmentSize, asReadable) => {
          const expected = Buffer.concat(chunks);
          const source = asReadable
            ? Readable.from(chunks.map((c) => Buffer.from(c)))
            : (async function* () {
                yield* chunks;
              })();
          await conn.sendStream(source, { fragmentSize });
          const frames = await reader.nextMessage();
          assert.ok(Buffer.concat(frames.map((f) => f.payload)).equals(expected));
          assert.equal(frames.length, Math.max(1, Math.ceil(expected.length / fragmentSize)));
          frames.forEach((f, i) => {
            assert.equal(f.opcode, i === 0 ? 2 : 0);
            assert.equal(f.fin, i === frames.length - 1);
            assert.ok(f.payload.length <= fragmentSize);
          });
        },
      ),
      { numRuns: 60 },
    );
    socket.destroy();
  });
});

describe("sendStream: tidews client to a ws server", () => {
  it("sends 64 MiB masked, byte-identical, with bounded bufferedAmount", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", maxPayload: 0 });
    await once(wss, "listening");
    after(() => wss.close());
    const received = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => {
      wss.on("connection", (ws) => {
        ws.on("message", (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
      });
    });
    const { port } = wss.address() as AddressInfo;
    const conn = await connect(`ws://127.0.0.1:${port}`, {});
    let peak = 0;
    const flush = conn.flush.bind(conn);
    conn.flush = () => {
      peak = Math.max(peak, conn.bufferedAmount);
      flush();
    };
    const { state, source } = generated(64 * 1024 * 1024);
    await conn.sendStream(source);
    const got = await received;
    assert.equal(got.isBinary, true);
    assert.equal(sha(got.data), state.hash.digest("hex"));
    const bound = 64 * 1024 + DEFAULT_STREAM_FRAGMENT_SIZE + 14;
    assert.ok(peak <= bound, `peak bufferedAmount ${peak} > ${bound}`);
    conn.close();
  });

  it("sends text from a client and holds a send behind the stream", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(wss, "listening");
    after(() => wss.close());
    const got: { text: string; isBinary: boolean }[] = [];
    const two = new Promise<void>((resolve) => {
      wss.on("connection", (ws) => {
        ws.on("message", (data: Buffer, isBinary: boolean) => {
          got.push({ text: data.toString(), isBinary });
          if (got.length === 2) resolve();
        });
      });
    });
    const { port } = wss.address() as AddressInfo;
    const conn = await connect(`ws://127.0.0.1:${port}`, {});
    const text = "ünïcödé 🚀 ".repeat(5000);
    const bytes = Buffer.from(text);
    const chunks = [];
    for (let at = 0; at < bytes.length; at += 777) chunks.push(bytes.subarray(at, at + 777));
    const p = conn.sendStream(Readable.from(chunks), { binary: false, fragmentSize: 4096 });
    conn.send("after");
    await p;
    await two;
    assert.deepEqual(got, [
      { text, isBinary: false },
      { text: "after", isBinary: false },
    ]);
    conn.close();
  });
});
