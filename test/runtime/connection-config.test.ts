import assert from "node:assert/strict";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { connect } from "../../src/client/connect.js";
import { isTidewsError } from "../../src/errors.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
import { ProtocolConfig } from "../../src/protocol/protocol-config.js";
import {
  Connection,
  ConnectionConfig,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BACKLOG_BYTES,
  DEFAULT_MAX_BACKLOG_MESSAGES,
  DEFAULT_MAX_BUFFERED_AMOUNT,
} from "../../src/runtime/connection.js";
import { createServer } from "../../src/server/server.js";
import { RecordingStream } from "./recording-stream.js";

/** The private fields this file checks, read through a cast (they have no public view). */
interface Internals {
  config: ConnectionConfig;
  queue: unknown;
  core: { config: ProtocolConfig; validator: unknown; parser: { queue: unknown[] } | undefined };
}
const internals = (conn: Connection): Internals => conn as unknown as Internals;

function masked(pool: BufferPool, opcode: number, text: string, fin = true): Buffer {
  const f = encodeFrame(pool, opcode, Buffer.from(text), {
    fin,
    mask: new FixedMaskSource([1, 2, 3, 4]),
  });
  const b = Buffer.from(f.bytes());
  pool.put(f);
  return b;
}

describe("ConnectionConfig", () => {
  const pool = new BufferPool(64, 4096);

  it("applies the defaults once", () => {
    const c = new ConnectionConfig({}, { role: "server", pool });
    assert.equal(c.closeTimeout, DEFAULT_CLOSE_TIMEOUT);
    assert.equal(c.highWaterMark, DEFAULT_HIGH_WATER_MARK);
    assert.equal(c.maxBufferedAmount, DEFAULT_MAX_BUFFERED_AMOUNT);
    assert.equal(c.maxBacklogBytes, DEFAULT_MAX_BACKLOG_BYTES);
    assert.equal(c.maxBacklogMessages, DEFAULT_MAX_BACKLOG_MESSAGES);
    assert.equal(c.concurrency, 1);
    assert.equal(c.recovery, "log");
    assert.equal(c.backpressure, "close");
    assert.equal(c.protocol.compression, false);
    assert.equal(c.protocol.streamThreshold, -1, "no onStream: never stream");
  });

  it("rejects options out of range with ERR_INVALID_ARGUMENT", () => {
    const bad = [
      { concurrency: 0 },
      { maxBacklogBytes: -1 },
      { maxBacklogMessages: 0.5 },
      { maxStreamSize: -1 },
    ];
    for (const o of bad) {
      assert.throws(
        () => new ConnectionConfig({}, { role: "server", pool, ...o }),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
        JSON.stringify(o),
      );
    }
    assert.throws(
      () => new ConnectionConfig({}, { role: "client", pool }),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
      "a client needs a mask source",
    );
  });

  it("rejects a handler that is not an object of functions, in the server and the client, before any I/O", async () => {
    const bad: unknown[] = [undefined, null, 5, "onMessage", { onMessage: "echo" }, { onClose: 1 }];
    for (const handler of bad) {
      assert.throws(
        () => createServer(handler as never),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
        String(handler),
      );
      // Port 9 (discard) on 127.0.0.1: a dial would fail with ECONNREFUSED, not this code.
      await assert.rejects(
        connect("ws://127.0.0.1:9/", handler as never),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
        String(handler),
      );
    }
    // Any object whose on* members are functions (or absent) is a handler, a class instance too.
    class Echo {
      onMessage(): void {}
    }
    for (const ok of [{}, new Echo(), { onOpen: undefined, other: 1 }]) {
      createServer(ok as never).close();
    }
  });

  it("streams only with a handler that has onStream", () => {
    const withStream = new ConnectionConfig(
      { onStream() {} },
      { role: "server", pool, streamMessages: 100 },
    );
    assert.equal(withStream.protocol.streamThreshold, 100);
  });
});

describe("ProtocolConfig", () => {
  const pool = new BufferPool(64, 4096);

  it("makes the compressed variant once and comes back to itself", () => {
    const plain = new ProtocolConfig({ role: "server", pool, maxMessageSize: 1000 });
    const deflate = plain.withCompression(true);
    assert.notEqual(deflate, plain);
    assert.equal(deflate.compression, true);
    assert.equal(deflate.maxMessageSize, 1000);
    assert.equal(deflate.compressedLimit, plain.compressedLimit);
    assert.equal(plain.withCompression(true), deflate, "kept, not made again");
    assert.equal(deflate.withCompression(false), plain);
    assert.equal(plain.withCompression(false), plain);
  });

  it("of() keeps a config and resolves plain options", () => {
    const c = new ProtocolConfig({ role: "server", pool });
    assert.equal(ProtocolConfig.of(c), c);
    const made = ProtocolConfig.of({ role: "server", pool, autoPong: false });
    assert.ok(made instanceof ProtocolConfig);
    assert.equal(made.autoPong, false);
  });
});

/** An open server connection whose handler forwards every message, over a RecordingStream. */
function openEcho() {
  const pool = new BufferPool(64, 4096);
  const stream = new RecordingStream();
  const config = new ConnectionConfig(
    {
      onMessage(c, m) {
        c.send(m);
      },
    },
    { role: "server", pool },
  );
  const conn = new Connection(stream, config);
  conn.open();
  return { pool, stream, conn };
}

describe("what an idle connection holds", () => {
  it("no write queue, no UTF-8 validator and no input queue until it needs them", () => {
    const { pool, stream, conn } = openEcho();
    const inside = internals(conn);
    assert.equal(inside.queue, undefined, "no write queue before the first send");
    assert.equal(inside.core.validator, undefined, "no validator before the first text");
    assert.equal(inside.core.parser, undefined, "no frame parser before the first byte");
    conn.handleData(masked(pool, 2, "bin"));
    const idleQueue = internals(conn).core.parser?.queue;
    assert.ok(Object.isFrozen(idleQueue), "the parser's input queue is the shared empty one");
    assert.notEqual(inside.queue, undefined, "made by the echo");
    assert.equal(inside.core.validator, undefined, "binary needs no validator");
    conn.handleData(masked(pool, 1, "text"));
    assert.equal(inside.core.validator, undefined, "a whole text message is checked in one pass");
    conn.handleData(masked(pool, 1, "te", false));
    assert.notEqual(inside.core.validator, undefined, "made for text in pieces");
    conn.handleData(masked(pool, 0, "xt"));
    assert.equal(stream.writes.length, 3);
    assert.deepEqual(stream.writes[1], Buffer.from([0x81, 4, ...Buffer.from("text")]));
    assert.deepEqual(stream.writes[2], Buffer.from([0x81, 4, ...Buffer.from("text")]));
  });

  it("keeps its booleans as bits: no boolean field of its own after a whole life", () => {
    const { pool, conn } = openEcho();
    conn.handleData(masked(pool, 1, "text"));
    conn.send("x");
    conn.flush();
    conn.close(1000);
    const booleans = (o: object) =>
      Object.getOwnPropertyNames(o).filter(
        (k) => typeof (o as Record<string, unknown>)[k] === "boolean",
      );
    assert.deepEqual(booleans(conn), [], "Connection");
    assert.deepEqual(booleans(internals(conn).core), [], "ProtocolConnection");
    assert.equal(conn.readyState, 2, "closing: the flags still work");
  });

  it("a server's connections share one config, and its compressed ones one variant", async () => {
    const server = createServer({}, { perMessageDeflate: true });
    const { port } = await server.listen(0, "127.0.0.1");
    // The config is made again once native unmasking loads: open every client after that.
    await server.upgrader.ready;
    try {
      const open = (deflate: boolean) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: deflate });
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        });
      const clients = [await open(false), await open(false), await open(true), await open(true)];
      const conns = [...server.connections].map((c) => internals(c as Connection));
      assert.equal(conns.length, 4);
      const [a, b, c, d] = conns as [Internals, Internals, Internals, Internals];
      assert.equal(a.config, b.config);
      assert.equal(b.config, c.config);
      assert.equal(c.config, d.config);
      assert.equal(a.core.config, b.core.config);
      assert.equal(c.core.config, d.core.config);
      assert.notEqual(a.core.config, c.core.config);
      assert.equal(c.core.config.compression, true);
      assert.equal(a.core.config.compression, false);
      for (const ws of clients) ws.close();
    } finally {
      await server.close(100);
    }
  });
});
