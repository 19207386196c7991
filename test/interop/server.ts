// A tidews server for the interop tests: an http server on 127.0.0.1 port 0 whose 'upgrade' event
// goes to an Upgrader with the options under test. Every connection echoes each message with its
// type and records what it saw (message digests, pings, pongs, the close), so a test can check the
// server's view of the peer. Paths starting with /refuse are answered 403 before any upgrade; on
// paths starting with /greet the server sends GREETING and a ping from onOpen. GET requests serve
// the browser peer's files.
import { EventEmitter, once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { buildRefusal } from "../../src/protocol/handshake.js";
import type { Connection, ConnectionCloseInfo, Handler } from "../../src/runtime/connection.js";
import type { Message } from "../../src/runtime/message.js";
import { Upgrader, type UpgraderOptions } from "../../src/server/upgrader.js";
import { EventRecorder } from "../helpers/interop.js";
import { sha256 } from "./payloads.js";

/** What the server received in one message. */
export interface Received {
  readonly isText: boolean;
  readonly length: number;
  readonly sha256: string;
  /** The payload, kept for messages up to 4 KiB. */
  readonly small: Buffer | undefined;
}

/** The server side of one connection, as the test sees it. */
export class ServerPeer extends EventRecorder {
  readonly received: Received[] = [];
  readonly pings: Buffer[] = [];
  readonly pongs: Buffer[] = [];
  closeInfo: ConnectionCloseInfo | undefined;
  /** Echo every message back (default). */
  echo = true;
  readonly conn: Connection<Session>;
  readonly socket: Socket;
  readonly path: string;

  constructor(conn: Connection<Session>, socket: Socket, path: string) {
    super();
    this.conn = conn;
    this.socket = socket;
    this.path = path;
  }

  /** Resolves with the close as the server saw it. */
  closed(): Promise<ConnectionCloseInfo> {
    return this.until(() => this.closeInfo !== undefined).then(
      () => this.closeInfo as ConnectionCloseInfo,
    );
  }

  /** The received text messages (kept ones), decoded. */
  texts(): string[] {
    return this.received.map((r) => r.small?.toString("utf8") ?? `<${r.length} bytes>`);
  }
}

interface Session {
  peer?: ServerPeer;
}

/** A running interop server. */
export interface InteropServer {
  readonly port: number;
  readonly upgrader: Upgrader<Session>;
  /** `ws://127.0.0.1:port` + path. */
  url(path?: string): string;
  /** `http://127.0.0.1:port` + path. */
  httpUrl(path?: string): string;
  /** Every connection opened so far, in order. */
  readonly peers: ServerPeer[];
  /** Upgrade requests answered 403 by the /refuse path. */
  readonly refusals: { count: number };
  /** Resolves with the `index`-th connection (0-based) once it is open. */
  connection(index?: number): Promise<ServerPeer>;
  close(): Promise<void>;
}

/** What the server sends in onOpen on a path starting with /greet: a text, a binary. */
export const GREETING: readonly [string, Uint8Array] = [
  "hello from onOpen ✓",
  Buffer.alloc(3000, 0xab),
];

const STATIC: Record<string, { file: string; type: string }> = {
  "/peer.html": { file: "peers/browser/peer.html", type: "text/html; charset=utf-8" },
  "/peer.js": { file: "peers/browser/peer.js", type: "text/javascript; charset=utf-8" },
};

export async function startInteropServer(options: UpgraderOptions = {}): Promise<InteropServer> {
  const events = new EventEmitter();
  const peers: ServerPeer[] = [];
  const refusals = { count: 0 };
  let upgrading: { socket: Socket; path: string } | undefined;

  const handler: Handler<Session> = {
    onOpen(conn) {
      const u = upgrading as { socket: Socket; path: string };
      const peer = new ServerPeer(conn, u.socket, u.path);
      conn.session.peer = peer;
      peers.push(peer);
      if (u.path.startsWith("/greet")) {
        // Frames written right behind the 101 response, likely in the same TCP segment.
        conn.send(GREETING[0] as string);
        conn.send(GREETING[1] as Uint8Array);
        conn.ping("greeting ping");
      }
      events.emit("open");
    },
    onMessage(conn, message: Message) {
      const peer = conn.session.peer as ServerPeer;
      const data = message.data;
      peer.received.push({
        isText: message.isText,
        length: data.length,
        sha256: sha256(data),
        small: data.length <= 4096 ? Buffer.from(data) : undefined,
      });
      if (peer.echo && conn.readyState === 1) conn.send(data, { binary: !message.isText });
      peer.emit("event");
    },
    onPing(conn, payload) {
      const peer = conn.session.peer as ServerPeer;
      peer.pings.push(Buffer.from(payload));
      peer.emit("event");
    },
    onPong(conn, payload) {
      const peer = conn.session.peer as ServerPeer;
      peer.pongs.push(Buffer.from(payload));
      peer.emit("event");
    },
    onClose(conn, info) {
      const peer = conn.session.peer as ServerPeer;
      peer.closeInfo = info;
      peer.emit("event");
    },
    onError(_conn, error) {
      console.error("interop server handler error:", error);
    },
  };
  const upgrader = new Upgrader<Session>(handler, { maxMessageSize: 64 * 1024 * 1024, ...options });

  const here = new URL(".", import.meta.url);
  const server: Server = createServer((req, res) => {
    const entry = STATIC[new URL(req.url ?? "/", "http://x").pathname];
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    readFile(new URL(entry.file, here)).then(
      (body) => res.writeHead(200, { "content-type": entry.type }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  server.on("upgrade", (req, socket: Socket, head: Buffer) => {
    const path = req.url ?? "/";
    if (path.startsWith("/refuse")) {
      refusals.count++;
      events.emit("refused");
      socket.end(buildRefusal(403, {}, "refused by the interop server"));
      return;
    }
    upgrading = { socket, path };
    try {
      upgrader.upgrade(req, socket, head);
    } finally {
      upgrading = undefined;
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    upgrader,
    peers,
    refusals,
    url: (path = "/") => `ws://127.0.0.1:${port}${path}`,
    httpUrl: (path = "/") => `http://127.0.0.1:${port}${path}`,
    async connection(index = peers.length) {
      while (peers.length <= index) await once(events, "open");
      return peers[index] as ServerPeer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const conn of upgrader.connections) conn.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
