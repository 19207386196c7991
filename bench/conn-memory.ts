/**
 * Where the bytes of an idle connection go (issue 7, memory targets).
 *
 * ```sh
 * node --expose-gc --import tsx bench/conn-memory.ts [--server tidews|raw|ws] [--n 10000]
 *      [--deflate] [--nct] [--snapshot] [--owners]
 * ```
 *
 * This process is the server (tidews' `createServer` echo, a bare `node:net` socket that only
 * answers the handshake, or `ws`); a forked child opens `n` connections on raw `node:net` sockets
 * (no WebSocket library), each doing the handshake and, with `--deflate`, one compressed 4 KiB
 * text message (offer `permessage-deflate; client_max_window_bits`, plus
 * `server_no_context_takeover; client_no_context_takeover` with `--nct`) whose echo it waits for.
 * After full collections the server prints RSS, heap and external growth per connection; with
 * `--snapshot`, a heap snapshot before and after, diffed by node type and constructor name: the
 * retained objects per connection, biggest first. `--owners` (with `--snapshot`) adds, for the
 * plain objects, arrays, property stores and closures of the second snapshot, who holds them
 * (the holder's constructor and the field name): where an unexpected small object comes from.
 *
 * @module
 */

import { fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import { deflateRawSync } from "node:zlib";
import { createServer } from "../src/server/server.js";
import { flagValue, hasFlag } from "./lib/report.js";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const accept = (key: string): string =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");

const N = Number(flagValue("n") ?? 10_000);
const DEFLATE = hasFlag("deflate");
const NCT = hasFlag("nct");

// --- client (child process) -------------------------------------------------------------------

function maskedFrame(payload: Buffer, opcode: number, rsv1: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + 4 + len);
  out[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const key = randomBytes(4);
  key.copy(out, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = (payload[i] as number) ^ (key[i & 3] as number);
  return out;
}

async function runClient(port: number): Promise<void> {
  const sockets: net.Socket[] = [];
  const text = Buffer.from(
    JSON.stringify(
      Array.from({ length: 60 }, (_, i) => ({ id: i, name: `user-${i}`, ok: i % 3 === 0 })),
    ).slice(0, 4096),
  );
  const compressed = deflateRawSync(text);
  const message = maskedFrame(compressed.subarray(0, compressed.length - 4), 1, true);
  const offer = NCT
    ? "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    : "permessage-deflate; client_max_window_bits";
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const key = randomBytes(16).toString("base64");
      const s = net.connect(port, "127.0.0.1");
      sockets.push(s);
      let phase = 0;
      s.on("error", reject);
      s.on("connect", () => {
        s.write(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            (DEFLATE ? `Sec-WebSocket-Extensions: ${offer}\r\n` : "") +
            "\r\n",
        );
      });
      s.on("data", (chunk: Buffer) => {
        if (phase === 0) {
          const text = chunk.toString("latin1");
          if (!text.startsWith("HTTP/1.1 101") || !text.includes(accept(key))) {
            reject(new Error(`bad answer: ${text.slice(0, 200)}`));
            return;
          }
          phase = 1;
          if (!DEFLATE) return resolve();
          s.write(message);
          return;
        }
        if (phase === 1) {
          phase = 2;
          resolve();
        }
      });
    });
  const inFlight = 100;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) {
        next++;
        await one();
      }
    }),
  );
  process.send?.({ ready: sockets.length });
  process.on("message", () => {
    for (const s of sockets) s.resetAndDestroy();
    process.exit(0);
  });
}

// --- servers ----------------------------------------------------------------------------------

interface Running {
  port: number;
  close(): void;
}

async function tidewsServer(): Promise<Running> {
  const server = createServer(
    { onMessage: (conn, m) => void conn.send(m.data, { binary: m.isBinary }) },
    { perMessageDeflate: DEFLATE },
  );
  const { port } = await server.listen(0, "127.0.0.1");
  return { port, close: () => void server.close(100) };
}

async function rawServer(): Promise<Running> {
  const upgraded = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    let request = "";
    socket.on("data", (chunk: Buffer) => {
      if (upgraded.has(socket)) return;
      request += chunk.toString("latin1");
      const end = request.indexOf("\r\n\r\n");
      if (end < 0) return;
      const key = /sec-websocket-key: *([^\r]+)/i.exec(request)?.[1] ?? "";
      request = "";
      upgraded.add(socket);
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
      );
    });
    socket.on("close", () => upgraded.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of upgraded) s.destroy();
      server.close();
    },
  };
}

async function wsServer(): Promise<Running> {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: DEFLATE });
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => wss.on("listening", r));
  return {
    port: (wss.address() as net.AddressInfo).port,
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}

// --- heap snapshot diff -----------------------------------------------------------------------

type Census = Map<string, { count: number; size: number }>;

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

async function takeSnapshot(): Promise<Snapshot> {
  const parts: string[] = [];
  for await (const chunk of v8.getHeapSnapshot()) parts.push(String(chunk));
  return JSON.parse(parts.join("")) as Snapshot;
}

/** Small objects by holder: "kind <- Holder.field" with distinct counts, for `--owners`. */
function owners(snap: Snapshot): Map<string, number> {
  const nf = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  const types = snap.snapshot.meta.node_types[0];
  const etypes = snap.snapshot.meta.edge_types[0];
  const w = nf.length;
  const ew = ef.length;
  const iType = nf.indexOf("type");
  const iName = nf.indexOf("name");
  const iEdges = nf.indexOf("edge_count");
  const eType = ef.indexOf("type");
  const eName = ef.indexOf("name_or_index");
  const eTo = ef.indexOf("to_node");
  const nameOf = (n: number): string => {
    const t = types[snap.nodes[n + iType] as number] ?? "?";
    const name = snap.strings[snap.nodes[n + iName] as number] ?? "";
    return t === "hidden" || t === "object" || t === "closure" || t === "array"
      ? `${t}:${name.slice(0, 40)}`
      : t;
  };
  const wanted = (n: number): boolean => {
    const t = types[snap.nodes[n + iType] as number];
    const name = snap.strings[snap.nodes[n + iName] as number] ?? "";
    return (
      (t === "object" && (name === "Object" || name === "Array")) ||
      (t === "hidden" && name.includes("PropertyArray")) ||
      t === "closure"
    );
  };
  const out = new Map<string, Set<number>>();
  let e = 0;
  for (let n = 0; n < snap.nodes.length; n += w) {
    const count = snap.nodes[n + iEdges] as number;
    const holder = nameOf(n);
    for (let k = 0; k < count; k++, e += ew) {
      const et = etypes[snap.edges[e + eType] as number];
      if (et === "weak" || et === "shortcut") continue;
      const to = snap.edges[e + eTo] as number;
      if (!wanted(to)) continue;
      const en = snap.edges[e + eName] as number;
      const field = et === "element" || et === "hidden" ? `[${et}]` : (snap.strings[en] ?? "?");
      const key = `${nameOf(to)} <- ${holder}.${field}`;
      const held = out.get(key) ?? new Set<number>();
      held.add(to);
      out.set(key, held);
    }
  }
  // Distinct objects per holder field: a function shared by every connection counts once.
  return new Map([...out].map(([k, v]) => [k, v.size]));
}

async function census(snap?: Snapshot): Promise<Census> {
  snap ??= await takeSnapshot();
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const out: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] as number] ?? "?";
    let name =
      type === "string" || type === "number"
        ? ""
        : (snap.strings[snap.nodes[i + iName] as number] ?? "");
    if (type === "closure" || type === "code") name = name.slice(0, 60);
    if (type === "array" || type === "hidden" || type === "native") name = name.slice(0, 60);
    const k = `${type}:${name}`;
    const e = out.get(k) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + iSize] as number;
    out.set(k, e);
  }
  return out;
}

function gcAll(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 4; i++) gc();
}

async function runServer(): Promise<void> {
  const kind = flagValue("server") ?? "tidews";
  const snapshot = hasFlag("snapshot");
  const running =
    kind === "raw" ? await rawServer() : kind === "ws" ? await wsServer() : await tidewsServer();
  gcAll();
  const before = process.memoryUsage();
  // The first census waits in a file: kept in memory, its thousands of keys would be counted as
  // growth by the second snapshot (hundreds of bytes per connection at 2,000).
  const c0file = snapshot ? join(tmpdir(), `conn-memory-${process.pid}.json`) : undefined;
  if (c0file !== undefined) writeFileSync(c0file, JSON.stringify([...(await census())]));
  gcAll();
  const child = fork(
    new URL(import.meta.url),
    ["--client", String(running.port), ...process.argv.slice(2)],
    {
      execArgv: ["--import", "tsx"],
    },
  );
  const ready = await new Promise<number>((resolve, reject) => {
    child.on("message", (m: { ready: number }) => resolve(m.ready));
    child.on("exit", (code) => reject(new Error(`client exited ${code}`)));
  });
  await new Promise((r) => setTimeout(r, 500));
  gcAll();
  const after = process.memoryUsage();
  const kib = (a: number, b: number) => `${((a - b) / ready / 1024).toFixed(2)} KiB`;
  process.stdout.write(
    `${kind}${DEFLATE ? (NCT ? " deflate (no context takeover offer)" : " deflate (takeover offer)") : ""}: ${ready} connections\n` +
      `  RSS/conn ${kib(after.rss, before.rss)}  heapUsed/conn ${kib(after.heapUsed, before.heapUsed)}` +
      `  heapTotal/conn ${kib(after.heapTotal, before.heapTotal)}` +
      `  external/conn ${kib(after.external, before.external)}  arrayBuffers/conn ${kib(after.arrayBuffers, before.arrayBuffers)}\n` +
      `  RSS ${(after.rss / 2 ** 20).toFixed(1)} MiB\n`,
  );
  if (c0file !== undefined) {
    const snap1 = await takeSnapshot();
    const c1 = await census(snap1);
    if (hasFlag("owners")) {
      const rows = [...owners(snap1)].filter(([, n]) => n >= ready * 0.9);
      rows.sort((a, b) => b[1] - a[1]);
      process.stdout.write("  held small objects (at least 0.9 per connection):\n");
      for (const [k, n] of rows) {
        process.stdout.write(`  ${(n / ready).toFixed(2).padStart(6)}x  ${k}\n`);
      }
    }
    const c0: Census = new Map(
      JSON.parse(readFileSync(c0file, "utf8")) as [string, { count: number; size: number }][],
    );
    unlinkSync(c0file);
    const rows: [string, number, number][] = [];
    for (const [k, v] of c1) {
      const b = c0.get(k) ?? { count: 0, size: 0 };
      const dSize = v.size - b.size;
      if (Math.abs(dSize) / ready >= 4) rows.push([k, (v.count - b.count) / ready, dSize / ready]);
    }
    rows.sort((a, b) => b[2] - a[2]);
    let total = 0;
    for (const r of rows) total += r[2];
    process.stdout.write(`  heap snapshot diff per connection (total ${total.toFixed(0)} B):\n`);
    for (const [k, count, size] of rows.slice(0, 40)) {
      process.stdout.write(
        `  ${size.toFixed(0).padStart(7)} B  ${count.toFixed(2).padStart(6)}x  ${k}\n`,
      );
    }
  }
  child.send("exit");
  running.close();
  setTimeout(() => process.exit(0), 300).unref();
}

if (hasFlag("client")) await runClient(Number(flagValue("client")));
else await runServer();
