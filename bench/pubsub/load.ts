/**
 * The subscribers of bench/pubsub.ts: many bare WebSocket clients on node:net in one process,
 * each reading unmasked server frames with a minimal parser (no library on this side, so both
 * servers are measured by the same client). Every message starts with its publish time; the
 * latency of each delivery is taken when its chunk arrives.
 *
 * Usage (by the runner): `node --import tsx bench/pubsub/load.ts`, then IPC commands.
 *
 * @module
 */
import net from "node:net";
import type { LoadCommand, LoadReply } from "./ipc.js";

function reply(message: LoadReply): void {
  process.send?.(message);
}

const REQUEST = (port: number) =>
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** Latency samples in microseconds; beyond the capacity, the oldest are overwritten. */
const CAPACITY = 4_000_000;
const samples = new Float64Array(CAPACITY);

const state = {
  count: 0,
  deliveries: 0,
  first: 0n,
  last: 0n,
  target: Number.POSITIVE_INFINITY,
};

function record(now: bigint, sent: bigint): void {
  samples[state.count % CAPACITY] = Number(now - sent) / 1000;
  state.count++;
  state.deliveries++;
  if (state.deliveries === 1) state.first = now;
  state.last = now;
}

function checkTarget(): void {
  if (state.deliveries >= state.target) {
    state.target = Number.POSITIVE_INFINITY;
    reply({
      type: "reached",
      deliveries: state.deliveries,
      first: String(state.first),
      last: String(state.last),
    });
  }
}

/** One client: handshake, then frames; a frame cut by a chunk boundary waits in `rest`. */
class Subscriber {
  private rest: Buffer | undefined;
  private upgraded = false;
  constructor(
    readonly socket: net.Socket,
    private readonly onOpen: () => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.data(chunk));
    socket.on("error", () => {});
  }

  private data(chunk: Buffer): void {
    let buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    if (!this.upgraded) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        this.rest = buf;
        return;
      }
      if (!buf.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
        throw new Error(`handshake refused: ${buf.subarray(0, end).toString()}`);
      }
      this.upgraded = true;
      buf = buf.subarray(end + 4);
      this.onOpen();
    }
    const now = process.hrtime.bigint();
    let at = 0;
    while (buf.length - at >= 2) {
      let len = (buf[at + 1] as number) & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (buf.length - at < head + len) break;
      const opcode = (buf[at] as number) & 0x0f;
      if ((opcode === 1 || opcode === 2) && len >= 8) record(now, buf.readBigUInt64LE(at + head));
      at += head + len;
    }
    if (at < buf.length) this.rest = buf.subarray(at);
    checkTarget();
  }
}

const clients: Subscriber[] = [];

async function connect(port: number, count: number): Promise<void> {
  let open = 0;
  let started = 0;
  // A few hundred handshakes in flight at a time: the server's accept backlog is finite.
  const inFlight = 256;
  await new Promise<void>((resolve) => {
    const startOne = () => {
      if (started >= count) return;
      started++;
      const socket = net.connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      socket.once("connect", () => socket.write(REQUEST(port)));
      clients.push(
        new Subscriber(socket, () => {
          open++;
          if (open === count) resolve();
          else startOne();
        }),
      );
    };
    for (let i = 0; i < Math.min(inFlight, count); i++) startOne();
  });
}

process.on("message", (command: LoadCommand) => {
  switch (command.type) {
    case "connect":
      connect(command.port, command.clients).then(() =>
        reply({ type: "connected", clients: clients.length }),
      );
      break;
    case "await":
      state.target = command.deliveries;
      checkTarget();
      break;
    case "reset":
      state.count = 0;
      state.deliveries = 0;
      state.first = 0n;
      state.last = 0n;
      break;
    case "latency": {
      const n = Math.min(state.count, CAPACITY);
      const sorted = samples.slice(0, n).sort();
      const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] ?? Number.NaN;
      reply({ type: "latency", samples: n, p50: at(0.5), p99: at(0.99), max: at(1) });
      break;
    }
    case "close":
      for (const c of clients.splice(0)) c.socket.destroy();
      reply({ type: "closed" });
      break;
  }
});

reply({ type: "ready" });
