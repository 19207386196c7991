// Shared helpers of the client tests (not a test file itself): peers on 127.0.0.1 port 0 and a
// handler that queues what a client connection receives.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Socket,
} from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import type { Connection, ConnectionCloseInfo, Handler } from "../../src/runtime/connection.js";
import type { Message } from "../../src/runtime/message.js";
import { Upgrader, type UpgraderOptions } from "../../src/server/upgrader.js";

/** A received message, copied out of its pooled buffer. */
export interface Received {
  readonly isText: boolean;
  readonly data: Buffer;
}

/** A handler that queues messages and records the close; `next()` and `closed` await them. */
export class Inbox implements Handler {
  readonly messages: Received[] = [];
  opened = 0;
  closeInfo: ConnectionCloseInfo | undefined;
  readonly closed: Promise<ConnectionCloseInfo>;
  private waiter: ((m: Received) => void) | undefined;
  private resolveClosed!: (info: ConnectionCloseInfo) => void;

  constructor() {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  onOpen(): void {
    this.opened++;
  }

  onMessage(_conn: Connection, message: Message): void {
    const m = { isText: message.isText, data: Buffer.from(message.data) };
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.messages.push(m);
    } else {
      this.waiter = undefined;
      waiter(m);
    }
  }

  onClose(_conn: Connection, info: ConnectionCloseInfo): void {
    this.closeInfo = info;
    this.resolveClosed(info);
  }

  /** The next message (queued or future); fails if the connection closes first. */
  next(): Promise<Received> {
    const queued = this.messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.closed.then((info) => reject(new Error(`closed (${info.code}) before a message`)));
    });
  }
}

/** Listens on 127.0.0.1, port 0; resolves with the port. */
export async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Closes a server and every connection it still has. */
export async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A `ws` echo server; `connections` receives each server-side socket. */
export async function startWsServer(
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
) {
  const http = createHttpServer();
  const wss = new WebSocketServer({ ...options, server: http });
  const requests: IncomingMessage[] = [];
  wss.on("connection", (ws, req) => {
    requests.push(req);
    ws.on("message", (data, isBinary) => {
      if (ws.readyState === ws.OPEN) ws.send(data as Buffer, { binary: isBinary });
    });
  });
  const port = await listen(http);
  return {
    wss,
    http,
    port,
    url: `ws://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await shut(http);
    },
  };
}

/** Echoes every message with its type. */
const echo: Handler = {
  onMessage(conn, message) {
    if (conn.readyState === 1) conn.send(message.data, { binary: !message.isText });
  },
};

/** A tidews Upgrader server on node:http; echoes unless another handler is given. */
export async function startTidewsServer(options: UpgraderOptions = {}, handler: Handler = echo) {
  const upgrader = new Upgrader(handler, { maxMessageSize: 64 << 20, ...options });
  const http = createHttpServer();
  const requests: IncomingMessage[] = [];
  http.on("upgrade", (req, socket, head) => {
    requests.push(req);
    upgrader.upgrade(req, socket, head);
  });
  const port = await listen(http);
  return {
    upgrader,
    http,
    port,
    url: `ws://127.0.0.1:${port}`,
    requests,
    close: () => shut(http),
  };
}

/** The accept value for `key` (RFC 6455 section 4.2.2), computed independently of src/. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
}

/** The request head a raw server read, with its headers lower-cased. */
export interface RawRequest {
  readonly requestLine: string;
  readonly headers: Record<string, string>;
  readonly key: string;
}

/** Parses a request head (tests only: no validation). */
export function parseRequest(text: string): RawRequest {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { requestLine, headers, key: headers["sec-websocket-key"] ?? "" };
}

/**
 * A raw TCP server: reads each request head and calls `answer` with it and the socket, which
 * may write anything (a crafted 101, nothing at all...).
 */
export async function startRawServer(answer: (req: RawRequest, socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const closedSockets: Promise<unknown>[] = [];
  const server = createNetServer((socket) => {
    sockets.add(socket);
    closedSockets.push(once(socket, "close"));
    socket.on("error", () => {});
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      answer(parseRequest(text.slice(0, end)), socket);
    };
    socket.on("data", onData);
  });
  const port = await listen(server);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    sockets,
    /** Resolves once every socket accepted so far has closed. */
    allClosed: () => Promise.all(closedSockets),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A valid 101 head for `req`, with extra header lines. */
export function switching(req: RawRequest, extra: readonly string[] = []): string {
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptFor(req.key)}`,
    ...extra,
    "",
    "",
  ].join("\r\n");
}

/** An unmasked server frame (payload under 126 bytes). */
export function serverFrame(opcode: number, payload: Buffer | string): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  assert.ok(data.length < 126);
  return Buffer.concat([Buffer.from([0x80 | opcode, data.length]), data]);
}

/** Asserts that `promise` rejects with an error carrying these properties; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown>,
  expected: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a rejection with ${JSON.stringify(expected)}`);
  const e = caught as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) {
    if (v instanceof RegExp) assert.match(String(e[k]), v, `${k} of ${String(caught)}`);
    else assert.deepEqual(e[k], v, `${k} of ${String(caught)}`);
  }
  return e;
}

/** Deterministic, poorly compressible bytes. */
export function noise(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Resolves when `socket` closes, whether or not it failed first (its errors are ignored). */
export function closed(socket: Socket): Promise<void> {
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** True when `openssl` is on the PATH: the TLS tests make their certificate with it. */
export const hasOpenssl = spawnSync("which", ["openssl"]).status === 0;

/** A self-signed certificate for localhost and 127.0.0.1, valid for a day, made by openssl. */
export function makeCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "tidews-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Settings of {@link startProxy}. */
export interface ProxyOptions {
  /** The only `Proxy-Authorization` value accepted; without it, anything goes. */
  readonly credentials?: string;
  /** Answer every CONNECT with this status instead of tunnelling. */
  readonly refuse?: number;
  /** Serve the proxy over TLS (an `https:` proxy) with this key and certificate. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

/**
 * A CONNECT proxy (RFC 9110 section 9.3.6) on node:http, or node:https with `tls`: it tunnels
 * to the requested `host:port` over TCP, after checking `credentials`. `servernames` has the SNI
 * of each TLS connection to it, `tunnels` every socket it holds, `closed` resolves once each
 * socket accepted so far has closed.
 */
export async function startProxy(options: ProxyOptions = {}) {
  const http =
    options.tls === undefined
      ? createHttpServer()
      : createHttpsServer({ key: options.tls.key, cert: options.tls.cert });
  const requests: IncomingMessage[] = [];
  const servernames: (string | false | null)[] = [];
  const tunnels = new Set<Socket>();
  const closing: Promise<unknown>[] = [];
  http.on("secureConnection", (s: TLSSocket) => servernames.push(s.servername));
  http.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    requests.push(req);
    tunnels.add(client);
    closing.push(closed(client));
    if (options.refuse !== undefined) {
      client.end(`HTTP/1.1 ${options.refuse} Refused\r\nX-Proxy: no\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    if (
      options.credentials !== undefined &&
      req.headers["proxy-authorization"] !== options.credentials
    ) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\n' +
          "Content-Length: 0\r\n\r\n",
      );
      return;
    }
    const [host = "", port = "0"] = (req.url ?? "").split(/:(?=\d+$)/);
    const upstream = netConnect({ host: host.replace(/^\[|\]$/g, ""), port: Number(port) });
    tunnels.add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  });
  const port = await listen(http);
  return {
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    port,
    requests,
    servernames,
    tunnels,
    /** Resolves once every tunnel accepted so far has closed on the proxy's side. */
    allClosed: () => Promise.all(closing),
    async close() {
      for (const t of tunnels) t.destroy();
      await shut(http);
    },
  };
}
