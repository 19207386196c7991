/**
 * One pub/sub node of bench/pubsub.ts, driven over IPC. Every WebSocket connection subscribes to
 * the topic when it opens; `publish` sends messages to the topic.
 *
 * - `--impl tidews`: `createServer` with `conn.subscribe` and `server.publish` (one Broadcaster per
 *   publish); with `--redis URL` the server has a `RedisAdapter`.
 * - `--impl ws`: the baseline, `ws`'s `WebSocketServer` and a hand-written topic: a `Set` of
 *   sockets and a loop calling `ws.send` for each; with `--redis URL`, hand-written Redis
 *   forwarding too (one ioredis subscriber whose `messageBuffer` runs the loop, one publisher).
 *
 * Usage (by the runner): `node --import tsx bench/pubsub/node.ts --impl tidews|ws [--redis URL]`.
 *
 * @module
 */
import { createRequire } from "node:module";
import { getHeapSpaceStatistics } from "node:v8";
import { Redis } from "ioredis";
import { type WebSocket, WebSocketServer } from "ws";
import { createServer, type Server } from "../../src/index.js";
import { RedisAdapter } from "../../src/redis/index.js";
import { flagValue } from "../lib/report.js";
import { type NodeCommand, type NodeReply, STAMP_BYTES, TOPIC } from "./ipc.js";

const impl = flagValue("impl") ?? "tidews";
const redisUrl = flagValue("redis");
const require = createRequire(import.meta.url);
const wsVersion = (require("ws/package.json") as { version: string }).version;

function reply(message: NodeReply): void {
  process.send?.(message);
}

/** A fresh payload of `size` bytes, stamped with the time. */
function payload(template: Buffer): Buffer {
  const p = Buffer.allocUnsafe(template.length);
  template.copy(p);
  p.writeBigUInt64LE(process.hrtime.bigint(), 0);
  return p;
}

function templateOf(size: number): Buffer {
  const t = Buffer.alloc(Math.max(size, STAMP_BYTES));
  for (let i = STAMP_BYTES; i < t.length; i++) t[i] = 97 + (i % 26);
  return t;
}

/** Resolves once `check()` is true, looking after each turn of the event loop. */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const look = () => (check() ? resolve() : setImmediate(look));
    look();
  });
}

interface Impl {
  port: number;
  label: string;
  subscribers(): number;
  publish(data: Buffer): void;
  sync(): Promise<void>;
  stop(): Promise<void>;
}

async function tidews(): Promise<Impl> {
  const adapter = redisUrl === undefined ? undefined : new RedisAdapter({ url: redisUrl });
  const server: Server = createServer(
    {
      onOpen(conn) {
        conn.subscribe(TOPIC);
      },
    },
    { adapter },
  );
  const { port } = await server.listen(0, "127.0.0.1");
  if (adapter !== undefined) await adapter.ready();
  return {
    port,
    label: adapter === undefined ? "tidews" : "tidews + RedisAdapter",
    subscribers: () => server.numSubscribers(TOPIC),
    publish: (data) => {
      server.publish(TOPIC, data);
    },
    sync: async () => {
      await adapter?.ready();
    },
    stop: () => server.close(1000),
  };
}

async function ws(): Promise<Impl> {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: false,
    clientTracking: false,
  });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  // The hand-written topic: the set of subscribers and a loop.
  const topic = new Set<WebSocket>();
  wss.on("connection", (socket: WebSocket) => {
    topic.add(socket);
    socket.on("close", () => topic.delete(socket));
  });
  const fanOut = (data: Buffer) => {
    for (const socket of topic) socket.send(data, { binary: true });
  };
  let pub: Redis | undefined;
  let sub: Redis | undefined;
  if (redisUrl !== undefined) {
    pub = new Redis(redisUrl);
    sub = new Redis(redisUrl);
    await sub.subscribe(TOPIC);
    sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => fanOut(message));
    await until(() => pub?.status === "ready");
  }
  const { port } = wss.address() as { port: number };
  return {
    port,
    label: `ws ${wsVersion} + loop${redisUrl === undefined ? "" : " + ioredis"}`,
    subscribers: () => topic.size,
    publish:
      pub === undefined
        ? fanOut
        : (data) => {
            fanOut(data);
            pub?.publish(TOPIC, data);
          },
    sync: () => Promise.resolve(),
    stop: async () => {
      for (const socket of topic) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await Promise.all([pub?.quit(), sub?.quit()]);
    },
  };
}

const node = impl === "ws" ? await ws() : await tidews();
reply({ type: "ready", port: node.port, label: node.label });

process.on("message", (command: NodeCommand) => {
  switch (command.type) {
    case "publish": {
      const template = templateOf(command.size);
      for (let i = 0; i < command.count; i++) node.publish(payload(template));
      reply({ type: "published", count: command.count });
      break;
    }
    case "sync":
      until(() => node.subscribers() >= command.subscribers)
        .then(() => node.sync())
        .then(() => reply({ type: "synced", subscribers: node.subscribers() }));
      break;
    case "stats": {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
      // After the live figures: what the node still holds once garbage is collected.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      reply({
        type: "stats",
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        young: young?.physical_space_size ?? 0,
        heapAfterGc: gc === undefined ? Number.NaN : process.memoryUsage().heapUsed,
        cpuUser: cpu.user,
        cpuSystem: cpu.system,
      });
      break;
    }
    case "stop":
      node.stop().then(() => process.exit(0));
      break;
  }
});
