// Receiving a message as a stream: save uploads to temporary files with constant memory.
// Messages of 64 KiB or more, and fragmented ones, arrive through onStream as a Readable; they
// may be up to 1 GiB (maxStreamSize), while whole messages stay limited to 1 MiB. The server
// answers each upload with its size and SHA-256, then deletes the file (a real server would
// keep it). Smaller messages still go to onMessage.
// Run: node --import tsx examples/stream-upload.ts [port]
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createServer } from "../src/index.js";

const dir = await mkdtemp(join(tmpdir(), "tidews-uploads-"));
let uploads = 0;

const server = createServer(
  {
    async onStream(conn, upload) {
      const file = join(dir, `upload-${++uploads}.bin`);
      const hash = createHash("sha256");
      let size = 0;
      // Count and hash on the way to the file; backpressure from the disk reaches the socket.
      const tap = new PassThrough();
      tap.on("data", (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      try {
        await pipeline(upload, tap, createWriteStream(file));
        conn.send(JSON.stringify({ saved: true, size, sha256: hash.digest("hex") }));
      } catch (error) {
        // The connection failed mid-upload (too big, closed...): drop the partial file.
        console.error("upload failed:", (error as Error).message);
      } finally {
        await rm(file, { force: true });
      }
    },
    onMessage(conn, message) {
      conn.send(JSON.stringify({ small: true, size: message.length }));
    },
  },
  {
    streamMessages: 64 * 1024,
    maxStreamSize: 1024 * 1024 * 1024,
    maxMessageSize: 1024 * 1024,
    // Two uploads of one connection may be written at once.
    concurrency: 2,
  },
);
const { port } = await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () =>
  server
    .close()
    .then(() => rm(dir, { recursive: true, force: true }))
    .then(() => process.exit(0)),
);
