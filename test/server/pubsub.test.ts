// Topics on real sockets (127.0.0.1, port 0) with `ws` clients: subscribe through messages,
// publish from the server and from connections, order under compression, cleanup on close, and
// several servers joined by a MemoryHub.
import assert from "node:assert/strict";
import { once } from "node:events";
import { afterEach, describe, it } from "node:test";
import WebSocket from "ws";
import {
  type Adapter,
  type AdapterSink,
  createServer,
  type Handler,
  MemoryAdapter,
  MemoryHub,
  type Server,
  type ServerOptions,
} from "../../src/index.js";

const servers: Server[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close(500)));
});

/**
 * The test protocol: "sub T" and "unsub T" answer "ok T"; "pub T payload" publishes from the
 * connection (not to itself); "all T payload" publishes including itself.
 */
const topicHandler: Handler = {
  onMessage(conn, m) {
    const text = m.text();
    const [verb, topic = "", ...rest] = text.split(" ");
    if (verb === "sub") {
      conn.subscribe(topic);
      conn.send(`ok ${topic}`);
    } else if (verb === "unsub") {
      conn.unsubscribe(topic);
      conn.send(`ok ${topic}`);
    } else if (verb === "pub") {
      conn.publish(topic, rest.join(" "));
    } else if (verb === "all") {
      conn.publish(topic, rest.join(" "), { includeSelf: true });
    }
  },
};

async function start(
  options: ServerOptions = {},
  handler: Handler = topicHandler,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler, options);
  const { port } = await server.listen(0, "127.0.0.1");
  servers.push(server);
  return { server, url: `ws://127.0.0.1:${port}` };
}

/** A ws client that records every message; `next(n)` waits for the nth message in total. */
class Client {
  readonly messages: string[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.messages.push(isBinary ? `bin:${data.toString("hex")}` : data.toString());
      this.waiters = this.waiters.filter((w) => {
        if (this.messages.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<Client> {
    const ws = new WebSocket(url, options);
    clients.push(ws);
    await once(ws, "open");
    return new Client(ws);
  }

  /** Resolves once `count` messages arrived in total. */
  received(count: number): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Sends a command and waits for its "ok". */
  async command(text: string): Promise<void> {
    const expect = this.messages.length + 1;
    this.ws.send(text);
    await this.received(expect);
    const last = this.messages[this.messages.length - 1];
    assert.equal(last, `ok ${text.split(" ")[1]}`);
  }

  /** The messages after the "ok" answers. */
  get payloads(): string[] {
    return this.messages.filter((m) => !m.startsWith("ok "));
  }
}

describe("pub/sub on a server", () => {
  it("delivers a server publish to the subscribers of the topic only", async () => {
    const { server, url } = await start();
    const a = await Client.open(url);
    const b = await Client.open(url);
    const c = await Client.open(url);
    await a.command("sub news");
    await b.command("sub news");
    await c.command("sub sport");
    assert.equal(server.numSubscribers("news"), 2);
    assert.equal(server.publish("news", "headline"), 2);
    assert.equal(server.publish("sport", Buffer.from([1, 2])), 1);
    await Promise.all([a.received(2), b.received(2), c.received(2)]);
    assert.deepEqual(a.payloads, ["headline"]);
    assert.deepEqual(b.payloads, ["headline"]);
    assert.deepEqual(c.payloads, ["bin:0102"]);
  });

  it("skips the publishing connection unless includeSelf", async () => {
    const { url } = await start();
    const a = await Client.open(url);
    const b = await Client.open(url);
    await a.command("sub room");
    await b.command("sub room");
    a.ws.send("pub room from-a");
    a.ws.send("all room to-everyone");
    await Promise.all([a.received(2), b.received(3)]);
    assert.deepEqual(a.payloads, ["to-everyone"]);
    assert.deepEqual(b.payloads, ["from-a", "to-everyone"]);
  });

  it("forgets a connection's subscriptions when it closes", async () => {
    let onClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      onClosed = resolve;
    });
    const { server, url } = await start({}, { ...topicHandler, onClose: () => onClosed() });
    const a = await Client.open(url);
    const b = await Client.open(url);
    await a.command("sub t1");
    await a.command("sub t2");
    await b.command("sub t2");
    assert.deepEqual(server.upgrader.topics.stats().subscriptions, 3);
    a.ws.close();
    await closed;
    assert.equal(server.numSubscribers("t1"), 0);
    assert.equal(server.numSubscribers("t2"), 1);
    assert.equal(server.upgrader.topics.stats().topics, 1);
    await b.command("unsub t2");
    assert.equal(server.upgrader.topics.stats().topics, 0);
    assert.equal(server.publish("t2", "nobody"), 0);
  });

  it("keeps publish order per subscriber with compression, direct sends between", async () => {
    const { server, url } = await start({
      perMessageDeflate: { serverNoContextTakeover: true, threshold: 16 },
    });
    const subs = await Promise.all(
      Array.from({ length: 8 }, () => Client.open(url, { perMessageDeflate: true })),
    );
    const plain = await Client.open(url, { perMessageDeflate: false });
    for (const s of [...subs, plain]) await s.command("sub seq");
    const expected: string[] = [];
    const conns = [...server.connections];
    for (let i = 0; i < 400; i++) {
      // Long, compressible messages alternate with short ones, so some frames wait for zlib.
      const msg = i % 3 === 0 ? `${i}:${"abc".repeat(300)}` : `${i}`;
      server.publish("seq", msg);
      expected.push(msg);
      if (i % 50 === 0) {
        for (const conn of conns) conn.send(`direct ${i} ${"x".repeat(200)}`);
        expected.push(`direct ${i} ${"x".repeat(200)}`);
      }
    }
    const total = expected.length + 1;
    await Promise.all([...subs, plain].map((s) => s.received(total)));
    for (const s of [...subs, plain]) assert.deepEqual(s.payloads, expected);
  });

  it("joins two servers of one process through a MemoryHub", async () => {
    const hub = new MemoryHub();
    const one = await start({ adapter: new MemoryAdapter({ hub }) });
    const two = await start({ adapter: new MemoryAdapter({ hub }) });
    const a = await Client.open(one.url);
    const b = await Client.open(two.url);
    await a.command("sub chat");
    await b.command("sub chat");
    one.server.publish("chat", "from one");
    two.server.publish("chat", "from two");
    a.ws.send("pub chat from a");
    await Promise.all([a.received(3), b.received(4)]);
    assert.deepEqual(a.payloads, ["from one", "from two"]);
    assert.deepEqual(b.payloads, ["from one", "from two", "from a"]);
    assert.equal(one.server.numSubscribers("chat"), 1, "local subscribers only");
  });

  it("closes the adapter when the server closes", async () => {
    const calls: string[] = [];
    const adapter: Adapter = {
      attach(_sink: AdapterSink) {
        calls.push("attach");
      },
      publish(topic) {
        calls.push(`publish ${topic}`);
      },
      subscribe(topic) {
        calls.push(`subscribe ${topic}`);
      },
      unsubscribe(topic) {
        calls.push(`unsubscribe ${topic}`);
      },
      close() {
        calls.push("close");
        return Promise.resolve();
      },
    };
    const { server, url } = await start({ adapter });
    const a = await Client.open(url);
    await a.command("sub x");
    server.publish("x", "m");
    await a.received(2);
    servers.splice(servers.indexOf(server), 1);
    await server.close(500);
    assert.deepEqual(calls, ["attach", "subscribe x", "publish x", "unsubscribe x", "close"]);
  });
});
