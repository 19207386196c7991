import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Adapter } from "../runtime/adapter.js";
import type { Connection, Handler } from "../runtime/connection.js";
import { createServer, type Server } from "../server/server.js";
import { Chat, type DemoSession } from "./chat.js";
import { type ConnectionCounts, type RawCounters, Sampler } from "./metrics.js";
import { publicDir } from "./public-dir.js";
import { StaticFiles } from "./static-files.js";

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The folder of the pages. Default: the demo's own `public/`. */
  readonly publicDir?: string;
  /** Milliseconds between two dashboard samples. Default 250. */
  readonly sampleInterval?: number;
  /** A `redis://` URL: share the rooms with every demo process on the same Redis. */
  readonly redis?: string;
  /** This process's name in user ids and on the dashboard. Default: 4 random hex digits. */
  readonly node?: string;
}

/** A running demo. */
export interface DemoServer {
  /** `http://host:port/`, with the bound port. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly node: string;
  readonly server: Server<DemoSession>;
  readonly chat: Chat;
  /** The sampler behind the dashboard. */
  readonly sampler: Sampler;
  /** Open connections by endpoint. */
  connectionCounts(): ConnectionCounts;
  /** Graceful shutdown: every client gets 1001, then the HTTP server closes. */
  close(timeout?: number): Promise<void>;
}

const ENDPOINTS: Readonly<Record<string, DemoSession["kind"]>> = {
  "/chat": "chat",
  "/dashboard": "dashboard",
  "/echo": "echo",
};

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

/** Browsers send Origin: accept only pages of this server, so other sites cannot join the chat. */
function sameOrigin(origin: string | undefined, req: IncomingMessage): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Starts the demo: the chat page at `/` (WebSocket `/chat`), the live dashboard at `/dashboard`
 * (its WebSocket on the same path), and an echo endpoint at `/echo`. permessage-deflate is on,
 * without server context takeover, so one compressed frame serves every subscriber of a publish.
 */
export async function startDemo(options: DemoOptions = {}): Promise<DemoServer> {
  const node = options.node ?? randomBytes(2).toString("hex");
  const redis = options.redis === undefined ? undefined : await connectRedis(options.redis);
  const files = new StaticFiles(options.publicDir ?? publicDir(), {
    "/": "index.html",
    "/dashboard": "dashboard.html",
  });
  // Publishes go through the server (created below); joins wait for Redis to confirm.
  const chat = new Chat(node, { publish: (topic, data) => server.publish(topic, data) }, () =>
    redis === undefined ? Promise.resolve() : redis.subscribed(),
  );
  const dashboards = new Set<Connection<DemoSession>>();
  const byKind = { chat: 0, dashboard: 0, echo: 0 };

  const handler: Handler<DemoSession> = {
    onOpen(conn) {
      byKind[conn.session.kind]++;
      if (conn.session.kind === "chat") chat.open(conn);
      else if (conn.session.kind === "dashboard") {
        dashboards.add(conn);
        conn.send(
          JSON.stringify({
            type: "hello",
            node,
            interval,
            adapter: redis === undefined ? "memory" : "redis",
            history: sampler.history(),
          }),
        );
      }
    },
    onMessage(conn, message) {
      if (conn.session.kind === "chat") return chat.receive(conn, message);
      if (conn.session.kind === "echo") conn.send(message.data, { binary: message.isBinary });
    },
    onClose(conn) {
      byKind[conn.session.kind]--;
      if (conn.session.kind === "chat") chat.close(conn);
      else dashboards.delete(conn);
    },
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
      res.end("405 Method Not Allowed\n");
    } else if (files.serve(req, res, path)) {
      // served
    } else if (path === "/stats.json") {
      const body = JSON.stringify(sampler.history().at(-1) ?? sampler.sample());
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" });
      res.end(body);
    } else if (path in ENDPOINTS) {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end(`426 Upgrade Required: ${path} is a WebSocket endpoint\n`);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("404 Not Found\n");
    }
  };

  const server = createServer<DemoSession>(handler, {
    onRequest,
    perMessageDeflate: { serverNoContextTakeover: true, threshold: 256 },
    origins: sameOrigin,
    adapter: redis?.adapter,
    maxMessageSize: 1024 * 1024,
    idleTimeout: 30_000,
    authorize(req) {
      const kind = ENDPOINTS[pathOf(req)];
      if (kind === undefined) throw { status: 404 };
      return { session: { kind, rooms: new Set<string>() } };
    },
  });

  const connectionCounts = (): ConnectionCounts => ({
    total: server.connections.size,
    ...byKind,
  });
  const read = (): RawCounters => ({
    stats: server.stats(),
    connections: connectionCounts(),
    topics: server.upgrader.topics.stats(),
    memory: process.memoryUsage(),
  });
  const sampler = new Sampler(read);
  const interval = options.sampleInterval ?? 250;
  const timer = setInterval(() => {
    const sample = sampler.sample();
    if (dashboards.size > 0) {
      // Compressed once for every dashboard (they negotiated server_no_context_takeover).
      server.broadcast(JSON.stringify({ type: "sample", sample }), dashboards, { threshold: 256 });
    }
  }, interval);
  timer.unref();

  const host = options.host ?? "127.0.0.1";
  let address: { port: number };
  try {
    address = await server.listen(options.port ?? 8080, host);
  } catch (error) {
    clearInterval(timer);
    await redis?.adapter.close();
    throw error;
  }
  const port = address.port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    node,
    server,
    chat,
    sampler,
    connectionCounts,
    async close(timeout = 2000) {
      clearInterval(timer);
      await server.close(timeout);
    },
  };
}

/** The Redis adapter of a demo started with `redis`. */
interface RedisLink {
  readonly adapter: Adapter;
  /** Resolves once Redis confirmed the subscriptions made so far (at most 2 s of waiting). */
  subscribed(): Promise<void>;
}

/** How long a join waits for Redis to confirm the room's subscription before answering anyway. */
const SUBSCRIBE_WAIT = 2000;

/**
 * Opens the Redis adapter (`tidews/redis`, loaded only when asked for, so the demo runs without
 * ioredis) and waits until Redis answers.
 *
 * @throws Error when Redis does not answer within 5 s
 */
async function connectRedis(url: string): Promise<RedisLink> {
  const { RedisAdapter } = await import("../redis/index.js");
  const adapter = new RedisAdapter({ url, redisOptions: { connectTimeout: 5000 } });
  const answered = await within(adapter.ready(), 5000);
  if (!answered) {
    await adapter.close();
    throw new Error(`--redis: no answer from ${url} within 5 s`);
  }
  return {
    adapter,
    subscribed: async () => {
      await within(adapter.ready(), SUBSCRIBE_WAIT);
    },
  };
}

/** Waits for `p` at most `ms` milliseconds; true when it settled in time. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
