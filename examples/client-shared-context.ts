// Many client connections sharing one ClientContext: one buffer pool, one set of idle zlib
// contexts and one bound on zlib's thread pool for all of them, instead of one per connection.
// Run: npm run echo -- --deflate        (prints "listening <port>")
//      node --import tsx examples/client-shared-context.ts ws://127.0.0.1:<port> [count]
import { ClientContext, type Connection, connect } from "../src/index.js";

const url = process.argv[2] ?? "ws://127.0.0.1:8080";
const count = Number(process.argv[3] ?? 20);
const context = new ClientContext();

let echoes = 0;
let allEchoed: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  allEchoed = resolve;
});

const conns: Connection[] = await Promise.all(
  Array.from({ length: count }, () =>
    connect(
      url,
      {
        onMessage() {
          if (++echoes === count) allEchoed();
        },
      },
      {
        context,
        // Without context takeover, connections borrow the context's shared zlib streams.
        perMessageDeflate: { clientNoContextTakeover: true, serverNoContextTakeover: true },
      },
    ),
  ),
);
for (const [i, conn] of conns.entries()) conn.send(`message from client ${i} `.repeat(100));
await finished;
const zlib = context.codecPool.stats();
console.log(`${count} connections, ${echoes} echoes, zlib contexts created: ${zlib.created}`);
for (const conn of conns) conn.close();
