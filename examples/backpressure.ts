// Backpressure: stream data to a client as fast as it reads, never faster.
// send() returns false above the high-water mark; onDrain says when to go on. A client that
// stops reading for good hits maxBufferedAmount and the "close" policy (1008).
// Run: node --import tsx examples/backpressure.ts [port]
import { type Connection, createServer } from "../src/index.js";

const chunk = Buffer.alloc(16 * 1024, 0x61);
const total = 64; // chunks per client

function pump(conn: Connection<{ sent: number }>): void {
  while (conn.session.sent < total && conn.readyState === 1) {
    conn.session.sent++;
    if (!conn.send(chunk)) return; // wait for onDrain
  }
  if (conn.session.sent === total) conn.close(1000, "done");
}

const server = createServer<{ sent: number }>(
  {
    onOpen(conn) {
      conn.session.sent = 0;
      pump(conn);
    },
    onDrain: pump,
  },
  { highWaterMark: 64 * 1024, maxBufferedAmount: 4 * 1024 * 1024, backpressure: "close" },
);
const { port } = await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
