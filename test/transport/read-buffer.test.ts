// ReadBuffer on real sockets (127.0.0.1, port 0): which streams it takes over, that their reads
// then come to the callback in the one shared buffer (not as `data`), that pause and resume still
// hold reads back, and that sockets sharing the buffer each get their own bytes.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import tls from "node:tls";
import { READ_BUFFER_SIZE, ReadBuffer } from "../../src/transport/read-buffer.js";
import { hasOpenssl, makeCertificate } from "../client/helpers.js";
import { randomBytes } from "../protocol/transient-feed.js";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A net server on 127.0.0.1 whose accepted sockets go to `onSocket`; closed after the test. */
async function listen(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onSocket);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** Resolves when `condition` holds, checking once per turn of the event loop; fails after 10 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function dial(port: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  closers.push(() => socket.destroy());
  await once(socket, "connect");
  return socket;
}

/** What a socket adopted by a ReadBuffer received: copies of its reads, and its `data` events. */
class Reads {
  readonly chunks: Buffer[] = [];
  /** The buffers the callback was handed (by identity). */
  readonly buffers = new Set<Buffer>();
  dataEvents = 0;
  readonly callback: (this: Duplex, n: number, buffer: Buffer) => boolean;

  constructor(
    readonly socket: Duplex,
    readonly order?: string[],
    readonly name = "",
  ) {
    const self = this;
    this.callback = function (this: Duplex, n: number, buffer: Buffer): boolean {
      assert.equal(this, self.socket, "called with the socket as this");
      self.buffers.add(buffer);
      // The chunk is valid during the call only: copy it.
      self.chunks.push(Buffer.from(buffer.subarray(0, n)));
      self.order?.push(self.name);
      return true;
    };
    socket.on("data", () => this.dataEvents++);
  }

  get length(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves once at least `n` bytes came through the callback. */
  atLeast(n: number): Promise<void> {
    return until(() => this.length >= n, `${n} bytes`);
  }
}

describe("ReadBuffer.adopt", { timeout: 30_000 }, () => {
  it("takes over an accepted socket: its reads come to the callback, in the shared buffer", async () => {
    const rb = new ReadBuffer();
    assert.equal(rb.size, READ_BUFFER_SIZE);
    assert.equal(rb.active, false, "nothing allocated before a socket is adopted");
    const accepted: { reads: Reads; adopted: boolean; ended: Promise<unknown> }[] = [];
    const port = await listen((socket) => {
      const reads = new Reads(socket);
      accepted.push({
        reads,
        adopted: rb.adopt(socket, reads.callback),
        ended: once(socket, "end"),
      });
    });
    const client = await dial(port);
    const payload = randomBytes(300_000, 1);
    // Several writes, of sizes that do not line up with the reads.
    for (let at = 0; at < payload.length; at += 77_777) {
      client.write(payload.subarray(at, at + 77_777));
    }
    client.end();
    await until(() => accepted.length > 0, "the server socket");
    const { reads, adopted, ended } = accepted[0]!;
    await ended;
    assert.equal(adopted, true);
    assert.equal(rb.active, true);
    assert.ok(reads.bytes.equals(payload), "every byte, in order");
    assert.equal(reads.dataEvents, 0, "no data event: the reads went to the callback");
    assert.equal(reads.buffers.size, 1, "every read into the same buffer");
    const [buffer] = reads.buffers;
    assert.equal(buffer?.length, READ_BUFFER_SIZE);
    assert.ok(reads.chunks.length > 1 && reads.chunks.every((c) => c.length <= rb.size));
  });

  it("two sockets adopted by one ReadBuffer each get their own bytes, interleaved", async () => {
    const rb = new ReadBuffer(4096);
    const order: string[] = [];
    const all: Reads[] = [];
    const port = await listen((socket) => {
      const reads = new Reads(socket, order, all.length === 0 ? "a" : "b");
      all.push(reads);
      assert.equal(rb.adopt(socket, reads.callback), true);
    });
    const a = await dial(port);
    await until(() => all.length === 1, "the first server socket");
    const b = await dial(port);
    await until(() => all.length === 2, "both server sockets");
    const sent = [randomBytes(400_000, 2), randomBytes(400_000, 3)];
    // Alternate writes of varying sizes on both connections, all at once.
    let at = 0;
    for (let i = 0; at < sent[0]!.length; i++) {
      const n = 1 + ((i * 7919) % 20_000);
      a.write(sent[0]!.subarray(at, at + n));
      b.write(sent[1]!.subarray(at, at + n));
      at += n;
    }
    await Promise.all([all[0]!.atLeast(sent[0]!.length), all[1]!.atLeast(sent[1]!.length)]);
    assert.ok(all[0]!.bytes.equals(sent[0]!), "a's bytes");
    assert.ok(all[1]!.bytes.equals(sent[1]!), "b's bytes");
    const [ba] = all[0]!.buffers;
    const [bb] = all[1]!.buffers;
    assert.equal(ba, bb, "one buffer for both sockets");
    assert.equal(ba?.length, 4096);
    let switches = 0;
    for (let i = 1; i < order.length; i++) if (order[i] !== order[i - 1]) switches++;
    assert.ok(switches >= 2, `reads of the two sockets interleave (${switches} switches)`);
    assert.equal(all[0]!.dataEvents + all[1]!.dataEvents, 0);
  });

  it("pause() holds an adopted socket's reads back; resume() delivers them", async () => {
    // Backpressure relies on it: the transport pauses the stream when the connection is full.
    const rb = new ReadBuffer();
    const all: Reads[] = [];
    const port = await listen((socket) => {
      const reads = new Reads(socket);
      all.push(reads);
      assert.equal(rb.adopt(socket, reads.callback), true);
    });
    const a = await dial(port);
    const b = await dial(port);
    await until(() => all.length === 2, "both server sockets");
    const [ra, rbReads] = all as [Reads, Reads];
    ra.socket.on("data", () => {});
    ra.socket.pause();
    a.write("held back");
    // A clock without sleeping: b's bytes, written after a's, are read once a's have arrived at
    // the server too; an unpaused a would be read in the same turn of the loop.
    b.write("tick");
    await rbReads.atLeast(4);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ra.length, 0, "nothing read while paused");
    ra.socket.resume();
    await ra.atLeast(9);
    assert.equal(ra.bytes.toString(), "held back");
  });

  it("what a socket read before adoption still comes first, as data", async () => {
    const rb = new ReadBuffer();
    const log: string[] = [];
    let server: net.Socket | undefined;
    const port = await listen((socket) => {
      server = socket;
      // Paused (no onread yet): reads go on into the socket's own readable buffer.
      socket.pause();
    });
    const client = await dial(port);
    client.write("first");
    await until(() => (server?.readableLength ?? 0) >= 5, "the first bytes, buffered");
    const socket = server as net.Socket;
    assert.equal(
      rb.adopt(socket, (n, buffer) => {
        log.push(`read ${buffer.toString("latin1", 0, n)}`);
        return true;
      }),
      true,
    );
    // As attachStream does: a data listener, and the stream flows.
    socket.on("data", (c: Buffer) => log.push(`data ${c.toString()}`));
    socket.resume();
    client.write("second");
    await until(() => log.length >= 2, "both chunks");
    assert.deepEqual(log, ["data first", "read second"]);
  });

  it("leaves a socket made with onread alone; its own buffer keeps its reads", async () => {
    const rb = new ReadBuffer();
    let server: net.Socket | undefined;
    const port = await listen((socket) => {
      server = socket;
    });
    const own = Buffer.alloc(256);
    const got: string[] = [];
    const client = net.connect({
      port,
      host: "127.0.0.1",
      onread: {
        buffer: own,
        callback: (n: number, buffer: Uint8Array) => {
          got.push(Buffer.from(buffer.subarray(0, n)).toString());
          return true;
        },
      },
    });
    closers.push(() => client.destroy());
    await once(client, "connect");
    const ours = new Reads(client);
    assert.equal(rb.adopt(client, ours.callback), false);
    assert.equal(rb.active, false);
    await until(() => server !== undefined, "the server socket");
    (server as net.Socket | undefined)?.write("to its own buffer");
    await until(() => got.length > 0, "the client's read");
    assert.deepEqual(got, ["to its own buffer"]);
    assert.equal(ours.length, 0);
  });

  it("leaves streams that are not sockets alone", () => {
    const rb = new ReadBuffer();
    const never = () => {
      throw new Error("not called");
    };
    assert.equal(rb.adopt(new PassThrough(), never), false);
    assert.equal(rb.adopt(Duplex.from({ readable: new PassThrough() }), never), false);
    // A socket without a handle: not connected yet, or destroyed.
    assert.equal(rb.adopt(new net.Socket(), never), false);
    assert.equal(rb.active, false);
  });

  it("leaves TLS sockets alone, on both ends; their data still comes as data", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async () => {
    const pem = makeCertificate();
    const rb = new ReadBuffer();
    const server = tls.createServer({ key: pem.key, cert: pem.cert });
    const accepted: tls.TLSSocket[] = [];
    server.on("secureConnection", (s: tls.TLSSocket) => {
      s.on("error", () => {});
      accepted.push(s);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(() => {
      for (const s of accepted) s.destroy();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const client = tls.connect({ port, host: "127.0.0.1", ca: pem.cert, servername: "localhost" });
    client.on("error", () => {});
    closers.push(() => client.destroy());
    await once(client, "secureConnect");
    await until(() => accepted.length > 0, "the TLS server socket");
    const s = accepted[0] as tls.TLSSocket;
    const reads = new Reads(s);
    assert.equal(rb.adopt(s, reads.callback), false, "the accepted TLS socket");
    assert.equal(rb.adopt(client, new Reads(client).callback), false, "the TLS client socket");
    assert.equal(rb.active, false);
    const data: Buffer[] = [];
    s.on("data", (c: Buffer) => data.push(c));
    client.write("over TLS");
    await until(() => Buffer.concat(data).length >= 8, "the TLS data");
    assert.equal(Buffer.concat(data).toString(), "over TLS");
    assert.equal(reads.length, 0);
  });
});
