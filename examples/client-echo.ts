// Connects to an echo server, sends each message, prints each echo, then closes.
// Run: npm run echo                      (prints "listening <port>")
//      node --import tsx examples/client-echo.ts ws://127.0.0.1:<port> [message ...]
import { connect, type Message } from "../src/index.js";

const url = process.argv[2] ?? "ws://127.0.0.1:8080";
const messages = process.argv.length > 3 ? process.argv.slice(3) : ["hello", "tidews"];

let pending = messages.length;
let done: () => void = () => {};
const allEchoed = new Promise<void>((resolve) => {
  done = resolve;
});

try {
  const conn = await connect(url, {
    onMessage(_conn, message: Message) {
      // message.text() copies the payload out: the string stays valid after the handler.
      console.log(`echo: ${message.text()}`);
      if (--pending === 0) done();
    },
    onClose(_conn, info) {
      console.log(`closed: ${info.code}${info.wasClean ? "" : " (not clean)"}`);
    },
  });
  console.log(`connected to ${url} (extensions: ${conn.extensions || "none"})`);
  for (const text of messages) conn.send(text);
  await allEchoed;
  conn.close(1000, "bye");
} catch (error) {
  // A refused handshake is a HandshakeError: its code, the HTTP status and headers are there.
  const e = error as { code?: string; status?: number; message: string };
  console.error(`failed: ${e.code ?? ""} ${e.status ?? ""} ${e.message}`);
  process.exitCode = 1;
}
