// The client-driver's client, implemented with `ws` (as Autobahn's own test of ws does: echo
// every message with its type, permessage-deflate offered by default).
import WebSocket from "ws";
import type { DriverClient } from "../../src/conformance/client-driver.js";

export const wsDriverClient: DriverClient = {
  echo: (url) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      let opened = false;
      ws.on("open", () => {
        opened = true;
      });
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: isBinary });
      });
      // Errors after the open are the cases' business (the fuzzing server judges them).
      ws.on("error", (error) => {
        if (!opened) reject(error);
      });
      ws.on("close", () => resolve());
    }),
  firstText: (url) =>
    new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on("message", (data: Buffer) => resolve(data.toString("utf8")));
      ws.on("error", reject);
    }),
};
