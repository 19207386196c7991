/**
 * Memory while streaming one large message: a tidews server sends a file of `SIZE_MIB` (default
 * 256) with `conn.sendFile` to a `ws` client in another process that reads slowly (its socket is
 * paused half of the time). The server samples its RSS and `conn.bufferedAmount` every 10 ms and
 * prints the baseline and peak RSS, the peak bufferedAmount and the pool's counters; the client
 * checks the message's length and SHA-256. Not part of `npm run bench`.
 *
 * Usage: `node --expose-gc --import tsx bench/send-stream-memory.ts [SIZE_MIB]`
 *
 * @module
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { type Connection, createServer, DEFAULT_STREAM_FRAGMENT_SIZE } from "../src/index.js";

const MiB = 1024 * 1024;

async function client(url: string): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
  await once(ws, "open");
  const socket = (ws as unknown as { _socket: import("node:net").Socket })._socket;
  // A slow reader: paused 10 ms out of every 20 ms.
  let paused = false;
  const timer = setInterval(() => {
    paused = !paused;
    if (paused) socket.pause();
    else socket.resume();
  }, 10);
  const [data] = (await once(ws, "message")) as [Buffer];
  clearInterval(timer);
  socket.resume();
  const digest = createHash("sha256").update(data).digest("hex");
  process.stdout.write(`${JSON.stringify({ length: data.length, sha256: digest })}\n`);
  ws.close();
}

async function server(sizeMiB: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tidews-rss-"));
  const path = join(dir, "big.bin");
  const hash = createHash("sha256");
  {
    // Written in 8 MiB pieces so that writing it does not raise the baseline.
    const piece = Buffer.allocUnsafe(8 * MiB);
    const fd = openSync(path, "w");
    for (let i = 0; i < sizeMiB / 8; i++) {
      for (let j = 0; j < piece.length; j += 4)
        piece.writeUInt32LE((i * piece.length + j) >>> 0, j);
      hash.update(piece);
      writeSync(fd, piece);
    }
    closeSync(fd);
  }
  const expected = hash.digest("hex");
  let resolveOpen: (c: Connection) => void = () => {};
  const opened = new Promise<Connection>((resolve) => {
    resolveOpen = resolve;
  });
  const srv = createServer({ onOpen: (c) => resolveOpen(c) });
  const { port } = await srv.listen(0, "127.0.0.1");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL(import.meta.url).pathname, "client", `ws://127.0.0.1:${port}`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const conn = await opened;
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage().rss;
  let peakRss = baseline;
  let peakBuffered = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakBuffered = Math.max(peakBuffered, conn.bufferedAmount);
  }, 10);
  const before = srv.pool.stats();
  const t0 = performance.now();
  await conn.sendFile(path);
  await once(child, "exit");
  const ms = performance.now() - t0;
  clearInterval(sampler);
  const after = srv.pool.stats();
  const got = JSON.parse(out) as { length: number; sha256: string };
  const report = {
    sizeMiB,
    ok: got.length === sizeMiB * MiB && got.sha256 === expected,
    seconds: Number((ms / 1000).toFixed(2)),
    rssBaselineMiB: Number((baseline / MiB).toFixed(1)),
    rssPeakMiB: Number((peakRss / MiB).toFixed(1)),
    rssGrowthMiB: Number(((peakRss - baseline) / MiB).toFixed(1)),
    peakBufferedAmount: peakBuffered,
    bound: 64 * 1024 + DEFAULT_STREAM_FRAGMENT_SIZE + 14,
    poolGets: after.gets - before.gets,
    poolMisses: after.misses - before.misses,
    poolIdleBytesAfter: after.idleBytes,
  };
  console.log(JSON.stringify(report, null, 2));
  await srv.close(500);
  rmSync(dir, { recursive: true, force: true });
  if (!report.ok) process.exit(1);
}

if (process.argv[2] === "client") await client(process.argv[3] as string);
else await server(Number(process.argv[2] ?? 256));
