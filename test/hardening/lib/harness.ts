// What the hardening tests share: servers on 127.0.0.1 port 0 that are closed after each test,
// raw exchanges that return the server's frames, and memory probes (a real collection through
// V8's flag, RSS, active handles).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { afterEach } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import WebSocket from "ws";
import { createServer, type Handler, type Server, type ServerOptions } from "../../../src/index.js";
import { upgradeRequest } from "../../helpers/raw-client.js";
import { parseFrames, type WireFrame } from "./server-frames.js";

const servers: Server<never>[] = [];

// Registered when a test file imports this module, at its top level: after every test.
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)));
});

/** Starts a server on 127.0.0.1, port 0; it is closed after the current test. */
export async function startServer<S = Record<string, unknown>>(
  handler: Handler<S>,
  options: ServerOptions<S> = {},
): Promise<{ server: Server<S>; port: number; url: string }> {
  const server = createServer(handler, options);
  const { port } = await server.listen(0, "127.0.0.1");
  servers.push(server as unknown as Server<never>);
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** Opens a `ws` client and waits for the open. */
export async function openClient(
  url: string,
  options?: WebSocket.ClientOptions,
): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await once(ws, "open");
  return ws;
}

/** Forgets `server` (a test that closes it itself). */
export function forget(server: Server<never> | Server): void {
  const i = servers.indexOf(server as unknown as Server<never>);
  if (i >= 0) servers.splice(i, 1);
}

/** Echoes every message with its type. */
export const echo: Handler = {
  onMessage(conn, m) {
    conn.send(m.data, { binary: m.isBinary });
  },
};

/** Everything a socket receives until it closes. */
export function collect(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  return once(socket, "close").then(() => Buffer.concat(chunks));
}

/** Opens a raw socket and waits for the connection. */
export async function dial(port: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/**
 * Upgrades, sends `bytes` after the handshake, half-closes, and returns the server's frames once
 * it closed the connection (and the HTTP head it answered with).
 */
export async function exchangeFrames(
  port: number,
  bytes: Buffer,
  headers: Record<string, string> = {},
): Promise<{ head: string; frames: WireFrame[]; rest: Buffer }> {
  const socket = await dial(port);
  const all = collect(socket);
  socket.write(upgradeRequest("/", headers));
  socket.end(bytes);
  const received = await all;
  const end = received.indexOf("\r\n\r\n");
  const head = received.subarray(0, end).toString();
  return { head, ...parseFrames(received.subarray(end + 4)) };
}

/** Resolves when `condition` holds, checking once per turn of the event loop. */
export async function until(
  condition: () => boolean,
  what = "a condition",
  limitMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

let gcFn: (() => void) | undefined;

/** A full garbage collection (through --expose-gc set at run time). */
export function gc(): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === "function") gcFn = g;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

/** Collects, then reports heap used, RSS and external memory (Buffers included) in bytes. */
export function memory(): { heap: number; rss: number; external: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, external: m.external };
}

/** Active handles and requests by type (TCPSocketWrap, Timeout, ...). */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Samples RSS every `everyMs` until stopped; returns the peak. */
export function rssPeak(everyMs = 5): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

export const MiB = 1024 * 1024;

/**
 * Runs `source` (plain JavaScript, CommonJS) in another Node process, with `args` in
 * `process.argv.slice(1)`, so a hostile peer does not share the server's event loop. Resolves
 * once the child printed its first line (its ready signal); the child is killed after the test
 * unless it ended.
 */
export async function spawnPeer(source: string, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", source, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  peers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`peer exited with ${code}`)));
    child.stdout?.once("data", () => resolve());
  });
  child.removeAllListeners("exit");
  return child;
}

const peers: ChildProcess[] = [];

afterEach(() => {
  for (const p of peers.splice(0)) if (p.exitCode === null) p.kill();
});

/** Opens a ws client and measures `count` echo round trips; returns them sorted, in ms. */
export async function roundTrips(url: string, count: number): Promise<number[]> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    ws.send(`m${i}`);
    await once(ws, "message");
    rtts.push(performance.now() - t);
  }
  ws.terminate();
  return rtts.sort((a, b) => a - b);
}

/** The `q` quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;
}

export { loopLag } from "../../helpers/loop-lag.js";
