// authorize() decides who may connect and attaches typed session data.
// Run: node --import tsx examples/auth-and-session.ts [port]
// Connect with ws://127.0.0.1:PORT/?token=secret-alice
import { createServer } from "../src/index.js";

type Session = { user: string };
const tokens = new Map([["secret-alice", "alice"]]);

const server = createServer<Session>(
  {
    onOpen(conn) {
      conn.send(`hello ${conn.session.user}`);
    },
    onMessage(conn, message) {
      conn.send(`${conn.session.user}: ${message.text()}`);
    },
  },
  {
    authorize(req) {
      const token = new URL(req.url ?? "/", "http://localhost").searchParams.get("token") ?? "";
      const user = tokens.get(token);
      if (user === undefined) return false; // 401
      return { session: { user } };
    },
  },
);
const { port } = await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
