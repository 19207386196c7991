// Messages received as streams (`streamMessages`, `onStream`), on real sockets (127.0.0.1,
// port 0) with `ws` as the peer.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import fc from "fast-check";
import type WebSocket from "ws";
import { type Connection, type MessageStream, Upgrader } from "../../src/index.js";
import { CountingPool } from "../hardening/lib/counting-pool.js";
import { openClient as open, startServer as start, until } from "../hardening/lib/harness.js";

function closeOf(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
}

/** Sends `data` as one message cut into frames at `cuts` (sorted offsets inside it). */
function sendFragmented(ws: WebSocket, data: Buffer, cuts: number[], binary = true): void {
  let at = 0;
  for (const cut of [...cuts, data.length]) {
    const end = Math.max(at, Math.min(cut, data.length));
    ws.send(data.subarray(at, end), { binary, fin: end === data.length, compress: false });
    at = end;
    if (end === data.length) return;
  }
}

/** A pool that remembers the most buffers and bytes it had out at once. */
class PeakPool extends CountingPool {
  peak = 0;
  override get(n: number) {
    const b = super.get(n);
    if (this.outstanding > this.peak) this.peak = this.outstanding;
    return b;
  }
}

/** Collects a stream's chunks; resolves with them, or with the error that destroyed it. */
async function drain(stream: MessageStream): Promise<{ data: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream) chunks.push(c as Buffer);
    return { data: Buffer.concat(chunks), error: undefined };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

/** Collects a stream's chunks in flowing mode (each as it is pushed), up to its end or error. */
function collectFlowing(stream: MessageStream): Promise<{ data: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    stream.once("end", () => resolve({ data: Buffer.concat(chunks), error: undefined }));
    stream.once("error", (error) => resolve({ data: Buffer.concat(chunks), error }));
  });
}

describe("streamed messages", () => {
  it("pipes a 64 MiB fragmented binary message through with a small footprint", async () => {
    const pool = new PeakPool();
    const size = 64 * 1024 * 1024;
    let maxBuffered = 0;
    let result: Promise<{ digest: string; length: number; opcode: number }> | undefined;
    const { url } = await start(
      {
        onStream(conn, stream) {
          const hash = createHash("sha256");
          let length = 0;
          const sink = new Writable({
            highWaterMark: 16 * 1024,
            write(chunk: Buffer, _enc, cb) {
              maxBuffered = Math.max(maxBuffered, stream.readableLength);
              hash.update(chunk);
              length += chunk.length;
              // A slow consumer: backpressure must reach the socket.
              setImmediate(cb);
            },
          });
          result = pipeline(stream, sink).then(() => {
            const r = { digest: hash.digest("hex"), length, opcode: stream.opcode };
            conn.send(JSON.stringify(r));
            return r;
          });
        },
      },
      { pool, streamMessages: true, maxStreamSize: size },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const expected = createHash("sha256");
    const piece = 1024 * 1024;
    // Frames of 1 MiB, sent as the socket drains, so the client's memory stays small too.
    for (let at = 0; at < size; at += piece) {
      const chunk = Buffer.alloc(piece, (at / piece) & 0xff);
      chunk.writeUInt32BE(at, 0);
      expected.update(chunk);
      ws.send(chunk, { binary: true, fin: at + piece === size });
      while (ws.bufferedAmount > 4 * piece) await new Promise((r) => setImmediate(r));
    }
    const [reply] = (await once(ws, "message")) as [Buffer];
    const got = JSON.parse(reply.toString()) as { digest: string; length: number; opcode: number };
    assert.equal(got.length, size);
    assert.equal(got.digest, expected.digest("hex"));
    assert.equal(got.opcode, 2);
    assert.ok(result !== undefined);
    // The payload never went through the pool (chunks are copies of the socket's reads), and
    // the stream's buffer stayed near its high-water mark.
    assert.ok(pool.peak <= 4, `pool peak ${pool.peak} buffers`);
    assert.ok(maxBuffered <= 256 * 1024, `stream buffered up to ${maxBuffered} bytes`);
    ws.terminate();
  });

  it("delivers small single-frame messages to onMessage below the threshold", async () => {
    const seen: string[] = [];
    const { url } = await start(
      {
        onMessage(conn, m) {
          seen.push(`message:${m.length}`);
          if (seen.length === 3) conn.send("done");
        },
        async onStream(conn, s) {
          const { data } = await drain(s);
          seen.push(`stream:${data.length}:${s.isText ? "text" : "binary"}`);
          if (seen.length === 3) conn.send("done");
        },
      },
      { streamMessages: 1000 },
    );
    const ws = await open(url, { perMessageDeflate: false });
    ws.send(Buffer.alloc(999));
    ws.send("x".repeat(1000));
    sendFragmented(ws, Buffer.from("ab"), [1], false); // fragmented: streamed whatever its size
    await once(ws, "message");
    assert.deepEqual(seen, ["message:999", "stream:1000:text", "stream:2:text"]);
    ws.terminate();
  });

  it("streams compressed messages whole, as one inflated chunk", async () => {
    let chunks = -1;
    let data = Buffer.alloc(0);
    const { url } = await start(
      {
        async onStream(conn, s) {
          const parts: Buffer[] = [];
          for await (const c of s) parts.push(c as Buffer);
          chunks = parts.length;
          data = Buffer.concat(parts);
          conn.send("done");
        },
      },
      { streamMessages: 1000, perMessageDeflate: true },
    );
    const ws = await open(url, { perMessageDeflate: true });
    const sent = Buffer.from("compress me ".repeat(20_000));
    ws.send(sent, { compress: true });
    await once(ws, "message");
    assert.equal(chunks, 1);
    assert.ok(data.equals(sent));
    ws.terminate();
  });

  it("fails the connection with 1007 on invalid streamed text, erroring the stream", async () => {
    let outcome: Promise<{ data: Buffer; error: unknown }> | undefined;
    const { url } = await start(
      {
        onStream(_c, s) {
          outcome = collectFlowing(s);
        },
      },
      {
        streamMessages: true,
      },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const closed = closeOf(ws);
    ws.send("valid start ", { fin: false });
    ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false, fin: true });
    assert.equal(await closed, 1007);
    assert.ok(outcome !== undefined);
    const { data, error } = await outcome;
    assert.equal((error as { code?: string }).code, "ERR_WS_INVALID_UTF8");
    // Nothing of the invalid frame reached the consumer.
    assert.equal(data.toString(), "valid start ");
  });

  it("fails with 1007 on text cut inside a code point at the end", async () => {
    let outcome: Promise<{ data: Buffer; error: unknown }> | undefined;
    const { url } = await start(
      {
        onStream(_c, s) {
          outcome = drain(s);
        },
      },
      {
        streamMessages: true,
      },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const closed = closeOf(ws);
    ws.send(Buffer.from([0xe2, 0x82]), { binary: false, fin: false });
    ws.send(Buffer.alloc(0), { binary: false, fin: true });
    assert.equal(await closed, 1007);
    const { error } = await (outcome as Promise<{ error: unknown }>);
    assert.equal((error as { code?: string }).code, "ERR_WS_INVALID_UTF8");
  });

  it("fails with 1009 past maxStreamSize, erroring the stream", async () => {
    let outcome: Promise<{ data: Buffer; error: unknown }> | undefined;
    const { url } = await start(
      {
        onStream(_c, s) {
          outcome = collectFlowing(s);
        },
      },
      {
        streamMessages: true,
        maxStreamSize: 10_000,
      },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const closed = closeOf(ws);
    ws.send(Buffer.alloc(6000), { fin: false });
    ws.send(Buffer.alloc(6000), { fin: true });
    assert.equal(await closed, 1009);
    const { data, error } = await (outcome as Promise<{ data: Buffer; error: unknown }>);
    assert.equal((error as { code?: string }).code, "ERR_WS_MESSAGE_TOO_BIG");
    assert.equal(data.length, 6000);
  });

  for (const how of ["close frame", "EOF"] as const) {
    it(`destroys the stream with a typed error when the peer ends mid-message (${how})`, async () => {
      const pool = new PeakPool();
      let outcome: Promise<{ data: Buffer; error: unknown }> | undefined;
      let firstChunk: (() => void) | undefined;
      const chunkSeen = new Promise<void>((r) => {
        firstChunk = r;
      });
      const { server, url } = await start(
        {
          onStream(_c, s) {
            s.once("data", () => firstChunk?.());
            s.pause();
            outcome = drain(s);
          },
        },
        { streamMessages: true, pool },
      );
      const ws = await open(url, { perMessageDeflate: false });
      ws.send(Buffer.alloc(1000, 7), { fin: false });
      await chunkSeen;
      if (how === "close frame") ws.close(1000);
      else ws.terminate();
      const { error } = await (outcome as Promise<{ error: unknown }>);
      const code = (error as { code?: string }).code;
      assert.equal(code, how === "EOF" ? "ERR_WS_UNEXPECTED_EOF" : "ERR_WS_MESSAGE_INCOMPLETE");
      assert.equal((error as { name?: string }).name, "ProtocolError");
      await server.close(500);
      assert.equal(pool.outstanding, 0);
    });
  }

  it("discards the rest of a message whose stream the consumer destroyed, and goes on", async () => {
    const pool = new PeakPool();
    const events: string[] = [];
    let destroyedStream: MessageStream | undefined;
    const { server, url } = await start(
      {
        onStream(_c, s) {
          destroyedStream = s;
          s.once("data", (c: Buffer) => {
            events.push(`chunk:${c.length > 0}`);
            s.destroy();
          });
          s.on("error", (e) => events.push(`error:${e.message}`));
          s.on("close", () => events.push("close"));
        },
        onMessage(conn, m) {
          events.push(`message:${m.text()}`);
          conn.send("done");
        },
      },
      { streamMessages: 100_000, pool },
    );
    const ws = await open(url, { perMessageDeflate: false });
    // Large enough to fill the stream's buffer, so reading was paused when it is destroyed.
    sendFragmented(
      ws,
      Buffer.alloc(8 * 1024 * 1024, 1),
      Array.from({ length: 127 }, (_, i) => (i + 1) * 65536),
    );
    ws.send("after");
    await once(ws, "message");
    assert.deepEqual(events, ["chunk:true", "close", "message:after"]);
    assert.equal(destroyedStream?.isComplete, false);
    assert.ok(destroyedStream !== undefined && destroyedStream.bytesReceived < 1024 * 1024);
    ws.terminate();
    await server.close(500);
    assert.equal(pool.outstanding, 0);
  });

  it("counts a stream as one in-flight handler until it ends", async () => {
    const events: string[] = [];
    let resume: (() => void) | undefined;
    let stream: MessageStream | undefined;
    const { url } = await start(
      {
        async onStream(_c, s) {
          stream = s;
          events.push("stream start");
          s.pause();
          await new Promise<void>((r) => {
            resume = r;
          });
          events.push("stream reading");
          await drain(s);
        },
        onMessage(conn, m) {
          events.push(`message:${m.text()} after the stream's end: ${stream?.readableEnded}`);
          conn.send("done");
        },
      },
      { streamMessages: 1 },
    );
    const ws = await open(url, { perMessageDeflate: false });
    ws.send("a stream");
    ws.send(""); // below the threshold: a message, held back behind the stream
    // The message cannot overtake the stream: wait until both reached the server.
    while (resume === undefined) await new Promise((r) => setImmediate(r));
    resume();
    await once(ws, "message");
    assert.deepEqual(events, [
      "stream start",
      "stream reading",
      "message: after the stream's end: true",
    ]);
    ws.terminate();
  });

  it("a stream waiting behind a busy handler fills, pauses reading, and loses nothing", async () => {
    const events: string[] = [];
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let conn: Connection | undefined;
    let digest: Promise<string> | undefined;
    const { url } = await start(
      {
        onOpen(c) {
          conn = c;
        },
        async onMessage(c, m) {
          events.push(`message:${m.text()}`);
          if (m.text() === "hold") await held;
          if (m.text() === "last") c.send("done");
        },
        onStream(_c, s) {
          events.push("stream");
          digest = (async () => {
            const h = createHash("sha256");
            for await (const chunk of s) h.update(chunk as Buffer);
            return h.digest("hex");
          })();
        },
      },
      { streamMessages: 100_000 },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
    ws.send("hold");
    sendFragmented(
      ws,
      big,
      Array.from({ length: 63 }, (_, i) => (i + 1) * 65536),
    );
    ws.send("after");
    ws.send("last");
    const internals = () => conn as unknown as { backlog: MessageStream[]; inputPaused: boolean };
    // The stream waits in the backlog; its buffer fills and reading pauses.
    await until(() => internals().inputPaused && internals().backlog.length === 1);
    const waiting = internals().backlog[0];
    assert.ok(waiting !== undefined && waiting.readableLength <= 256 * 1024);
    assert.equal(waiting.isComplete, false);
    release?.();
    await once(ws, "message");
    assert.deepEqual(events, ["message:hold", "stream", "message:after", "message:last"]);
    assert.equal(await digest, createHash("sha256").update(big).digest("hex"));
    ws.terminate();
  });

  it("reports a rejected onStream and destroys its stream", async () => {
    const errors: unknown[] = [];
    let stream: MessageStream | undefined;
    const { url } = await start(
      {
        async onStream(conn, s) {
          stream = s;
          s.on("error", () => {});
          await Promise.resolve();
          conn.send("thrown");
          throw new Error("boom");
        },
        onError(conn, e) {
          errors.push(e);
          conn.send("reported");
        },
      },
      { streamMessages: true },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const got: string[] = [];
    const two = new Promise<void>((r) =>
      ws.on("message", (d: Buffer) => {
        got.push(d.toString());
        if (got.length === 2) r();
      }),
    );
    ws.send("x", { fin: false });
    await two;
    assert.deepEqual(got, ["thrown", "reported"]);
    assert.equal((errors[0] as Error).message, "boom");
    assert.equal(stream?.destroyed, true);
    ws.terminate();
  });

  it("property: random fragmentations of random messages arrive byte-identical", async () => {
    let next: ((d: Buffer) => void) | undefined;
    const { url } = await start(
      {
        async onStream(_c, s) {
          const { data } = await drain(s);
          next?.(data);
        },
      },
      { streamMessages: true },
    );
    const ws = await open(url, { perMessageDeflate: false });
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200_000 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (bytes, rawCuts) => {
          const data = Buffer.from(bytes);
          const cuts = rawCuts
            .map((c) => (data.length === 0 ? 0 : c % data.length))
            .sort((a, b) => a - b);
          const got = new Promise<Buffer>((r) => {
            next = r;
          });
          sendFragmented(ws, data, cuts);
          assert.ok((await got).equals(data));
        },
      ),
      { numRuns: 60 },
    );
    ws.terminate();
  });

  it("needs onStream: streamMessages without it is an invalid argument", () => {
    assert.throws(
      () => new Upgrader({ onMessage() {} }, { streamMessages: true }),
      (e: { code?: string }) => e.code === "ERR_INVALID_ARGUMENT",
    );
    assert.throws(() => new Upgrader({ onStream() {} }, { streamMessages: -1 }), /streamMessages/);
    assert.throws(() => new Upgrader({ onStream() {} }, { maxStreamSize: 1.5 }), /maxStreamSize/);
    assert.doesNotThrow(() => new Upgrader({ onStream() {} }, { streamMessages: 4096 }));
  });

  it("keeps the connection usable for messages both ways during a stream", async () => {
    let conn: Connection | undefined;
    const { url } = await start(
      {
        async onStream(c, s) {
          conn = c;
          c.send("started");
          const { data } = await drain(s);
          c.send(`got ${data.length}`);
        },
      },
      { streamMessages: true },
    );
    const ws = await open(url, { perMessageDeflate: false });
    const got: string[] = [];
    const two = new Promise<void>((r) =>
      ws.on("message", (d: Buffer) => {
        got.push(d.toString());
        if (got.length === 2) r();
      }),
    );
    ws.send("abc", { fin: false });
    ws.ping();
    ws.send("def", { fin: true });
    await two;
    assert.deepEqual(got, ["started", "got 6"]);
    assert.ok(conn !== undefined);
    ws.terminate();
  });
});
