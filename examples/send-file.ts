// Sending a large file as ONE WebSocket message, in fragments, with constant memory.
// The server sends a file to every client that connects: first a text message with its name,
// size and SHA-256, then the file itself with conn.sendFile (read only as fast as the client
// reads), then it closes with 1000. The client mode receives both and verifies the hash.
// Run:   node --import tsx examples/send-file.ts [port] [file]      (server; a generated 8 MiB
//        file when none is given)
//        node --import tsx examples/send-file.ts client ws://127.0.0.1:PORT
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { connect, createServer, type Message } from "../src/index.js";

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function serve(port: number, file: string | undefined): Promise<void> {
  let path = file;
  if (path === undefined) {
    path = join(mkdtempSync(join(tmpdir(), "tidews-example-")), "sample.bin");
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
    writeFileSync(path, data);
  }
  const { size } = await import("node:fs/promises").then((fs) => fs.stat(path));
  const header = JSON.stringify({ name: basename(path), size, sha256: await sha256(path) });
  const server = createServer({
    async onOpen(conn) {
      conn.send(header);
      try {
        // One message, in 64 KiB frames; reading waits whenever the client is slow.
        await conn.sendFile(path);
        conn.close(1000, "sent");
      } catch (error) {
        // The client went away, or the file failed (then the connection closed with 1011).
        console.error("send failed:", (error as Error).message);
      }
    },
  });
  const { port: actual } = await server.listen(port, "127.0.0.1");
  console.log(`listening ${actual}`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

async function receive(url: string): Promise<void> {
  let expected: { name: string; size: number; sha256: string } | undefined;
  let verified = false;
  const conn = await connect(
    url,
    {
      onMessage(_conn, message: Message) {
        if (message.isText) {
          expected = JSON.parse(message.text());
          return;
        }
        const digest = createHash("sha256").update(message.data).digest("hex");
        if (expected === undefined || digest !== expected.sha256) {
          console.error("hash mismatch");
          process.exit(1);
        }
        verified = true;
        console.log(`verified ${expected.name}: ${message.data.length} bytes`);
      },
      onClose(_conn, info) {
        process.exit(verified && info.code === 1000 ? 0 : 1);
      },
    },
    // The file arrives as one message: allow it.
    { maxMessageSize: 1024 * 1024 * 1024 },
  );
  void conn;
}

if (process.argv[2] === "client") await receive(process.argv[3] ?? "ws://127.0.0.1:8080");
else await serve(Number(process.argv[2] ?? 0), process.argv[3]);
