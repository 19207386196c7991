// The smallest tidews server: echoes every message with its type.
// Run: node --import tsx examples/echo-server.ts [port]
import { createServer } from "../src/index.js";

const server = createServer({
  onMessage(conn, message) {
    // Sending the message itself forwards it with its type and, when large, without a copy.
    conn.send(message);
  },
});

const { port } = await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
process.on("SIGINT", () => server.close().then(() => process.exit(0)));
