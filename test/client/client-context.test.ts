// ClientContext: the resources client connections share, passed in rather than global.
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { ClientContext, connect } from "../../src/client/index.js";
import { resolveDeflateOptions } from "../../src/deflate/negotiation.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
import type { Connection } from "../../src/runtime/connection.js";
import { READ_BUFFER_SIZE } from "../../src/transport/read-buffer.js";
import { prng, randomBytes, randomUtf8 } from "../protocol/transient-feed.js";
import { Inbox, rejectsWith, startRawServer, startWsServer, switching } from "./helpers.js";

describe("ClientContext", () => {
  let server: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    server = await startWsServer({ perMessageDeflate: { threshold: 0 } });
  });
  after(() => server.close());

  it("connections of one context share its pool and zlib contexts", async () => {
    const context = new ClientContext();
    const inboxes = [new Inbox(), new Inbox()];
    const conns = await Promise.all(
      inboxes.map((inbox) =>
        connect(server.url, inbox, {
          context,
          perMessageDeflate: {
            threshold: 0,
            clientNoContextTakeover: true,
            serverNoContextTakeover: true,
          },
        }),
      ),
    );
    const gets = context.pool.stats().gets;
    for (const [i, conn] of conns.entries()) {
      conn.send(`hello ${i} `.repeat(100));
      assert.equal((await inboxes[i]!.next()).data.toString(), `hello ${i} `.repeat(100));
    }
    assert.ok(context.pool.stats().gets > gets, "frames and messages came from the context's pool");
    // Without context takeover, both connections borrowed the same shared contexts.
    const codecs = context.codecPool.stats();
    assert.ok(codecs.created >= 1 && codecs.created <= 2, `created ${codecs.created}`);
    for (const conn of conns) conn.close();
    await Promise.all(inboxes.map((i) => i.closed));
  });

  it("one codec factory per level and memLevel", () => {
    const context = new ClientContext();
    const a = context.codecFactory(resolveDeflateOptions({}));
    assert.equal(context.codecFactory(resolveDeflateOptions({ threshold: 5 })), a);
    assert.notEqual(context.codecFactory(resolveDeflateOptions({ level: 6 })), a);
    assert.notEqual(context.codecFactory(resolveDeflateOptions({ memLevel: 9 })), a);
  });

  it("takes the resources it is given", () => {
    const pool = new BufferPool(64, 1024);
    const maskSource = new FixedMaskSource([0, 0, 0, 0]);
    const context = new ClientContext({ pool, maskSource });
    assert.equal(context.pool, pool);
    assert.equal(context.maskSource, maskSource);
  });

  it("the pool option builds the per-call context when none is given", async () => {
    const pool = new BufferPool(64, 1 << 20);
    const inbox = new Inbox();
    const conn = await connect(server.url, inbox, { pool });
    conn.send("x".repeat(5000));
    await inbox.next();
    assert.ok(pool.stats().gets > 0);
    conn.close();
    await inbox.closed;
  });

  it("a pool that is not the context's is an error", async () => {
    await rejectsWith(
      connect(server.url, {}, { context: new ClientContext(), pool: new BufferPool(64, 1024) }),
      { code: "ERR_INVALID_ARGUMENT" },
    );
  });

  it("the maskSource option overrides the context's", async () => {
    let frame: Buffer | undefined;
    let gotFrame: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      gotFrame = resolve;
    });
    const raw = await startRawServer((req, socket) => {
      socket.write(switching(req));
      socket.once("data", (chunk: Buffer) => {
        frame = chunk;
        gotFrame();
      });
    });
    try {
      const context = new ClientContext({ maskSource: new FixedMaskSource([1, 1, 1, 1]) });
      const conn = await connect(
        raw.url,
        {},
        {
          context,
          perMessageDeflate: false,
          maskSource: new FixedMaskSource([0xaa, 0xbb, 0xcc, 0xdd]),
        },
      );
      conn.send("a");
      await arrived;
      assert.deepEqual([...(frame ?? [])], [0x81, 0x81, 0xaa, 0xbb, 0xcc, 0xdd, 0x61 ^ 0xaa]);
      conn.terminate();
    } finally {
      await raw.close();
    }
  });
});

describe("ClientContext: the shared read buffer", () => {
  let plain: Awaited<ReturnType<typeof startWsServer>>;
  let deflate: Awaited<ReturnType<typeof startWsServer>>;
  before(async () => {
    plain = await startWsServer({ perMessageDeflate: false });
    deflate = await startWsServer({ perMessageDeflate: { threshold: 0 } });
  });
  after(async () => {
    await plain.close();
    await deflate.close();
  });

  /** The socket under a client connection (a private field, read for tests). */
  function socketOf(conn: Connection): Duplex {
    return (conn as unknown as { stream: Duplex }).stream;
  }

  /** The buffer a socket reads into through `onread` (net.Socket's `kBuffer`), or null. */
  function readBufferOf(socket: object): unknown {
    const field = Object.getOwnPropertySymbols(socket).find((s) => s.description === "kBuffer");
    assert.ok(field !== undefined, "this Node's net.Socket has its kBuffer field");
    return (socket as Record<symbol, unknown>)[field];
  }

  /** Sends `count` messages of 1 B .. 1 MiB at once and checks each echo, byte for byte. */
  async function echoes(conn: Connection, inbox: Inbox, count: number, seed: number) {
    const next = prng(seed);
    const sent: { data: Buffer; text: boolean }[] = [];
    const fixed = [1, 65_536, 65_537, 1 << 20];
    for (let i = 0; i < count; i++) {
      const size =
        fixed[i] ?? Math.max(1, Math.floor(Math.exp((next() / 2 ** 32) * Math.log(1 << 20))));
      const text = i % 5 === 4;
      const data = text ? randomUtf8(size, next()) : randomBytes(size, next());
      sent.push({ data, text });
      conn.send(text ? data.toString() : data);
    }
    for (const [i, m] of sent.entries()) {
      const got = await inbox.next();
      assert.equal(got.isText, m.text, `message ${i}: type`);
      assert.ok(got.data.equals(m.data), `message ${i} (${m.data.length} bytes): every byte`);
    }
  }

  for (const mode of ["plain", "permessage-deflate"] as const) {
    it(`new ClientContext(): two connections read into its one buffer; 1 B .. 1 MiB echoes (${mode})`, async () => {
      const url = mode === "plain" ? plain.url : deflate.url;
      const context = new ClientContext();
      assert.equal(context.readBuffer?.active, false, "allocated on first use");
      const inboxes = [new Inbox(), new Inbox()];
      const conns = await Promise.all(
        inboxes.map((inbox) =>
          connect(url, inbox, { context, perMessageDeflate: mode === "plain" ? false : {} }),
        ),
      );
      if (mode !== "plain") assert.match(conns[0]!.extensions, /permessage-deflate/);
      assert.equal(context.readBuffer?.active, true);
      const buffers = conns.map((c) => readBufferOf(socketOf(c)));
      assert.ok(Buffer.isBuffer(buffers[0]), "the client socket was adopted");
      assert.equal((buffers[0] as Buffer).length, READ_BUFFER_SIZE);
      assert.equal(buffers[1], buffers[0], "one buffer for the context's sockets");
      let dataEvents = 0;
      for (const c of conns) socketOf(c).on("data", () => dataEvents++);
      await Promise.all(conns.map((c, i) => echoes(c, inboxes[i]!, 24, 10 + i)));
      assert.equal(dataEvents, 0, "every read went through the buffer");
      for (const c of conns) c.close();
      await Promise.all(inboxes.map((i) => i.closed));
    });
  }

  it("connect() without a context, and a context with sharedReadBuffer: false, leave the socket alone", async () => {
    const off = new ClientContext({ sharedReadBuffer: false });
    assert.equal(off.readBuffer, undefined);
    for (const context of [undefined, off]) {
      const inbox = new Inbox();
      const conn = await connect(plain.url, inbox, { context, perMessageDeflate: false });
      assert.equal(readBufferOf(socketOf(conn)), null, context === undefined ? "implicit" : "off");
      let dataBytes = 0;
      socketOf(conn).on("data", (c: Buffer) => {
        dataBytes += c.length;
      });
      await echoes(conn, inbox, 6, 20);
      assert.ok(dataBytes > 0, "reads come as data events");
      conn.close();
      await inbox.closed;
    }
  });
});
