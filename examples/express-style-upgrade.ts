// Mount tidews on an existing node:http server (what Express, Fastify, Koa and Hono's node
// server hand you): HTTP routes stay theirs, WebSocket upgrades on /ws go to tidews.
// Run: node --import tsx examples/express-style-upgrade.ts [port]
import { createServer as createHttpServer } from "node:http";
import { Upgrader } from "../src/index.js";

const upgrader = new Upgrader(
  {
    onOpen(conn) {
      conn.send(`welcome, you are ${conn.remoteAddress}`);
    },
    onMessage(conn, message) {
      conn.send(message.text().toUpperCase());
    },
  },
  { origins: (origin) => origin === undefined || origin.startsWith("http://127.0.0.1") },
);

const http = createHttpServer((req, res) => {
  res.end(`plain HTTP route: ${req.url}\n`);
});
http.on("upgrade", (req, socket, head) => {
  if (req.url?.startsWith("/ws")) upgrader.upgrade(req, socket, head);
  else socket.destroy();
});
http.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = http.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : address}`);
});
process.on("SIGTERM", () => upgrader.shutdown(1000).then(() => process.exit(0)));
