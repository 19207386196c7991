// ClientContext: the resources client connections share, passed in rather than global.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { ClientContext, connect } from "../../src/client/index.js";
import { resolveDeflateOptions } from "../../src/deflate/negotiation.js";
import { FixedMaskSource } from "../../src/protocol/mask.js";
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
