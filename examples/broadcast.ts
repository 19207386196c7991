// Broadcast: one message to every client, framed (and compressed) once for all of them.
// Run: node --import tsx examples/broadcast.ts [port]
import { createServer } from "../src/index.js";

const server = createServer(
  {
    onMessage(_conn, message) {
      // Everyone, the sender included, gets the message; the frame is built once.
      server.broadcast(message.text());
    },
  },
  {
    // Compressed broadcast frames are shared only with connections without server context
    // takeover; the others get the plain frame.
    perMessageDeflate: { serverNoContextTakeover: true },
    idleTimeout: 30_000, // quietly pings idle peers, drops dead ones
  },
);
const { port } = await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
