/**
 * How long one broadcast holds the event loop. A tidews server broadcasts 1 KiB to N connections
 * while a `setImmediate` ticker records the gaps between two turns of the event loop; the
 * longest gap is what the reads and timers of every other connection wait for. The flush time
 * runs from the broadcast call until the last server-side socket was written.
 *
 * Since session 10 the server writes 256 connections per turn (`FLUSH_SLICE`); a flush in one
 * synchronous pass would show a longest gap equal to the flush time.
 *
 * The clients are `ws` clients in this process whose sockets are paused once open, so that
 * they do no work during the flush (the kernel keeps what they do not read).
 *
 * Usage: `npm run -s bench:flush -- [--connections N] [--rounds N] [--json]` (defaults 5,000
 * and 15). `--json` prints every round (flushMs, longestGapMs, turns) instead of the table.
 *
 * @module
 */
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { FLUSH_SLICE } from "../src/runtime/tick-flusher.js";
import { createServer } from "../src/server/server.js";
import { flagValue, hasFlag, printTable, progress, progressDone } from "./lib/report.js";
import { median } from "./lib/stats.js";

const CONNECTIONS = Number(flagValue("connections") ?? 5000);
const ROUNDS = Number(flagValue("rounds") ?? 15);
const JSON_OUT = hasFlag("json");
const PAYLOAD = Buffer.alloc(1024, 0x61);

const server = createServer({});
let written = 0;
server.http.on("connection", (socket: Socket) => {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args) => {
    written++;
    return write(...args);
  };
});
const { port } = await server.listen(0, "127.0.0.1");

const clients: WebSocket[] = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  (ws as unknown as { _socket: Socket })._socket.pause();
  clients.push(ws);
  if (i % 500 === 499) progress(`connected ${i + 1}/${CONNECTIONS}`);
}
await new Promise<void>((resolve) => {
  const poll = () => (server.connections.size === CONNECTIONS ? resolve() : setImmediate(poll));
  poll();
});

interface Round {
  flushMs: number;
  longestGapMs: number;
  turns: number;
}

/** One broadcast; resolves once every server-side socket wrote it. */
function round(): Promise<Round> {
  return new Promise((resolve) => {
    const start = performance.now();
    const target = written + CONNECTIONS;
    let last = start;
    let longest = 0;
    let turns = 0;
    const tick = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      turns++;
      if (written < target) setImmediate(tick);
      else resolve({ flushMs: now - start, longestGapMs: longest, turns });
    };
    setImmediate(tick);
    server.broadcast(PAYLOAD);
  });
}

const rounds: Round[] = [];
await round(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  progress(`round ${r + 1}/${ROUNDS}`);
  rounds.push(await round());
}
progressDone();

if (JSON_OUT) {
  process.stdout.write(
    `${JSON.stringify({ connections: CONNECTIONS, slice: FLUSH_SLICE, node: process.version, rounds })}\n`,
  );
} else {
  report();
}
for (const ws of clients) ws.terminate();
await server.close(1000);

function report(): void {
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const flush = rounds.map((r) => r.flushMs);
  const gaps = rounds.map((r) => r.longestGapMs);
  printTable(
    `one 1 KiB broadcast to ${CONNECTIONS} connections, ${ROUNDS} rounds (node ${process.version}, slice ${FLUSH_SLICE})`,
    ["measure", "median", "min", "max"],
    [
      [
        "flush (broadcast call to last write)",
        ms(median(flush)),
        ms(Math.min(...flush)),
        ms(Math.max(...flush)),
      ],
      ["longest event-loop gap", ms(median(gaps)), ms(Math.min(...gaps)), ms(Math.max(...gaps))],
      [
        "turns of the event loop per flush",
        median(rounds.map((r) => r.turns)),
        Math.min(...rounds.map((r) => r.turns)),
        Math.max(...rounds.map((r) => r.turns)),
      ],
    ],
  );
}
