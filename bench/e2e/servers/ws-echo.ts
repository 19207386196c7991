/**
 * The `ws` echo server, configured the way `ws` users run it: `new WebSocketServer({ port })`
 * with the defaults (client tracking on, UTF-8 validation on, `maxPayload` 100 MiB), `bufferutil`
 * installed (ws picks it up by itself for masking), and `perMessageDeflate: true` (ws's default
 * parameters: threshold 1024, concurrency limit 10) when started with `--deflate`.
 *
 * - `--mode echo`: each message goes back to its sender with its type;
 * - `--mode broadcast`: each message goes to every open client, with the loop of ws's README.
 *
 * @module
 */

import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { serveControl, serverArgs } from "./control.js";

const require = createRequire(import.meta.url);
const { mode, deflate } = serverArgs();

function hasBufferutil(): boolean {
  try {
    require.resolve("bufferutil");
    return process.env.WS_NO_BUFFER_UTIL === undefined;
  } catch {
    return false;
  }
}

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: deflate });

wss.on("connection", (socket) => {
  if (mode === "echo") {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  } else {
    socket.on("message", (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  }
  socket.on("error", () => {});
});

wss.on("listening", () => {
  const version = (require("ws/package.json") as { version: string }).version;
  serveControl({
    port: (wss.address() as AddressInfo).port,
    label: `ws ${version}${hasBufferutil() ? " + bufferutil" : ""}`,
    connections: () => wss.clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  });
});
