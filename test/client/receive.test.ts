// The client's receive options (`concurrency`, `streamMessages`, `maxStreamSize`, the backlog
// bounds) against a real `ws` server on 127.0.0.1.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import type WebSocket from "ws";
import { connect, fromDuplex } from "../../src/client/index.js";
import type { Connection } from "../../src/runtime/connection.js";
import type { MessageStream } from "../../src/runtime/message-stream.js";
import { startWsServer } from "./helpers.js";

/** A ws server whose connections the test drives: `next()` is the next server-side socket. */
async function wsPeer() {
  const server = await startWsServer({ perMessageDeflate: false });
  const waiting: WebSocket[] = [];
  let wake: (() => void) | undefined;
  const counter = { connections: 0 };
  server.wss.on("connection", (ws) => {
    counter.connections++;
    ws.removeAllListeners("message");
    waiting.push(ws);
    wake?.();
  });
  return {
    ...server,
    counter,
    async next(): Promise<WebSocket> {
      while (waiting.length === 0) await new Promise<void>((r) => (wake = r));
      return waiting.shift() as WebSocket;
    },
  };
}

describe("client receive options, against the ws server", () => {
  let peer: Awaited<ReturnType<typeof wsPeer>>;
  before(async () => {
    peer = await wsPeer();
  });
  after(() => peer.close());

  it("runs up to `concurrency` async handlers at once, in order", async () => {
    const started: number[] = [];
    let active = 0;
    let maxActive = 0;
    let gate: (() => void)[] = [];
    let finished: (() => void) | undefined;
    const done = new Promise<void>((r) => {
      finished = r;
    });
    const conn = await connect(
      peer.url,
      {
        async onMessage(_c, m) {
          started.push(Number(m.text()));
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise<void>((resolve) => {
            gate.push(resolve);
            if (gate.length === 3 || started.length === 12) {
              const g = gate;
              gate = [];
              for (const r of g) r();
            }
          });
          active--;
          if (started.length === 12 && active === 0) finished?.();
        },
      },
      { concurrency: 3, perMessageDeflate: false },
    );
    const ws = await peer.next();
    for (let i = 0; i < 12; i++) ws.send(String(i));
    await done;
    assert.deepEqual(
      started,
      Array.from({ length: 12 }, (_, i) => i),
    );
    assert.equal(maxActive, 3);
    conn.terminate();
  });

  it("receives a fragmented server message as a stream", async () => {
    let result: Promise<{ text: string; isText: boolean }> | undefined;
    const conn = await connect(
      peer.url,
      {
        onStream(_c, s: MessageStream) {
          result = (async () => {
            s.setEncoding("utf8");
            let text = "";
            for await (const piece of s) text += piece as string;
            return { text, isText: s.isText };
          })();
        },
      },
      { streamMessages: true, maxStreamSize: 1 << 20, perMessageDeflate: false },
    );
    const ws = await peer.next();
    // "é" (c3 a9) split across frames: the decoder keeps it whole.
    ws.send(Buffer.from([0x61, 0xc3]), { binary: false, fin: false });
    ws.send(Buffer.from([0xa9, 0x62]), { binary: false, fin: true });
    while (result === undefined) await new Promise((r) => setImmediate(r));
    assert.deepEqual(await result, { text: "aéb", isText: true });
    conn.terminate();
  });

  it("fails a streamed message past maxStreamSize with 1009", async () => {
    let closed: ((code: number) => void) | undefined;
    const code = new Promise<number>((r) => {
      closed = r;
    });
    const conn: Connection = await connect(
      peer.url,
      {
        onStream(_c, s) {
          s.on("error", () => {});
          s.resume();
        },
      },
      { streamMessages: true, maxStreamSize: 100, perMessageDeflate: false },
    );
    const ws = await peer.next();
    ws.once("close", (c: number) => closed?.(c));
    ws.send(Buffer.alloc(60), { fin: false });
    ws.send(Buffer.alloc(60), { fin: true });
    assert.equal(await code, 1009);
    assert.equal(conn.readyState, 3);
  });

  it("validates the options before dialling", async () => {
    const before = peer.counter.connections;
    await assert.rejects(
      connect(peer.url, {}, { concurrency: 0 }),
      (e: { code?: string }) => e.code === "ERR_INVALID_ARGUMENT",
    );
    await assert.rejects(
      connect(peer.url, { onMessage() {} }, { streamMessages: true }),
      /onStream/,
    );
    const stream = new PassThrough();
    await assert.rejects(fromDuplex(stream, {}, { maxBacklogMessages: 0 }), /maxBacklogMessages/);
    assert.equal(stream.writableLength, 0, "no request written");
    stream.destroy();
    assert.equal(peer.counter.connections, before, "nothing dialled");
  });
});
