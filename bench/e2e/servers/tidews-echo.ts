/**
 * The tidews server under test.
 *
 * - `--mode echo`: the library's own echo server, `startEchoServer` from `src/cli/echo.ts`, as
 *   `tidews echo` runs it (permessage-deflate accepted as offered with `--deflate`);
 * - `--mode broadcast`: `createServer` with a handler that hands each message to
 *   `server.broadcast` (the encode-once Broadcaster: one frame, shared by every connection).
 *
 * Reports the server's buffer pool counters with its stats, for the pool hit rate.
 *
 * @module
 */

import { startEchoServer } from "../../../src/cli/echo.js";
import { createServer, type Server } from "../../../src/server/server.js";
import { type ControlledServer, serveControl, serverArgs } from "./control.js";

const { mode, deflate } = serverArgs();

async function echoServer(): Promise<ControlledServer> {
  const echo = await startEchoServer({ port: 0, host: "127.0.0.1", deflate });
  return {
    port: echo.port,
    label: "tidews (startEchoServer)",
    connections: () => echo.server.connections.size,
    pool: () => echo.server.pool.stats(),
    close: () => echo.close(),
  };
}

async function broadcastServer(): Promise<ControlledServer> {
  let server: Server | undefined;
  server = createServer(
    {
      onMessage(_conn, message) {
        server?.broadcast(message.data, undefined, { binary: message.isBinary });
      },
    },
    { perMessageDeflate: deflate },
  );
  const s = server;
  const { port } = await s.listen(0, "127.0.0.1");
  return {
    port,
    label: "tidews (createServer + server.broadcast)",
    connections: () => s.connections.size,
    pool: () => s.pool.stats(),
    close: () => s.close(1000),
  };
}

serveControl(mode === "echo" ? await echoServer() : await broadcastServer());
