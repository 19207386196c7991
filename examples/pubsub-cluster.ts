// Several processes behind one port: node:cluster forks the workers, each runs a tidews server
// with a RedisAdapter, and a publish on any worker reaches the subscribers of every worker.
// Run: REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/pubsub-cluster.ts [port] [workers]
//
// A client says "sub ROOM" (answered "ok ROOM" once Redis confirmed the subscription) and
// "pub ROOM text" (everyone else in the room, on any worker, gets "text"). Every client is greeted
// with "worker N" so you can see where it landed.
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { createServer } from "../src/index.js";
import { RedisAdapter } from "../src/redis/index.js";

const port = Number(process.argv[2] ?? 0);
const workers = Number(process.argv[3] ?? availableParallelism());
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

if (cluster.isPrimary) {
  // The primary accepts the connections and hands them to the workers in turn.
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("message", (m: { port?: number }) => {
      // Every worker listening on port 0 shares the same port: print it once all are up.
      if (m.port !== undefined && ++listening === workers) console.log(`listening ${m.port}`);
    });
  }
  process.on("SIGTERM", () => {
    let left = workers;
    for (const worker of Object.values(cluster.workers ?? {})) {
      worker?.once("exit", () => {
        if (--left === 0) process.exit(0);
      });
      worker?.process.kill("SIGTERM");
    }
  });
} else {
  const id = cluster.worker?.id ?? 0;
  const adapter = new RedisAdapter({ url: redisUrl });
  const server = createServer(
    {
      onOpen(conn) {
        conn.send(`worker ${id}`);
      },
      async onMessage(conn, message) {
        const [verb, room = "", ...words] = message.text().split(" ");
        if (verb === "sub") {
          conn.subscribe(room);
          // From here on, publishes of the other workers to this room reach this worker.
          await adapter.ready();
          conn.send(`ok ${room}`);
        } else if (verb === "pub") {
          conn.publish(room, words.join(" "));
        }
      },
    },
    { adapter },
  );
  const address = await server.listen(port, "127.0.0.1");
  process.send?.({ port: address.port });
  // close() closes the connections, then the adapter's Redis connections.
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}
