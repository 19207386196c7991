// Request-head limits and connection floods against a running server: more than 16 KiB of
// headers or more than 100 header lines get 431; a flood of upgrades past maxConnections gets 503
// with Retry-After for exactly the excess, while the admitted connections keep working.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import WebSocket from "ws";
import type { Connection } from "../../src/index.js";
import { rawConnect, upgradeRequest } from "../helpers/raw-client.js";
import { collect, dial, echo, MiB, memory, startServer, until } from "./lib/harness.js";

/** Sends `request`, half-closes, returns the answer's status (0: none) and text. */
async function answer(port: number, request: string): Promise<{ status: number; text: string }> {
  const socket = await dial(port);
  const all = collect(socket);
  socket.end(request);
  const text = (await all).toString("latin1");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

function headers(count: number, valueLength: number): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < count; i++) h[`x-h${i}`] = "v".repeat(valueLength);
  return h;
}

describe("request-head limits", () => {
  it("431 past 16 KiB of headers, in one line or in many; 101 just under", async () => {
    const { port } = await startServer(echo);
    assert.equal(
      (await answer(port, upgradeRequest("/", { "x-big": "a".repeat(17_000) }))).status,
      431,
    );
    // 90 lines of 190 bytes: 17 KiB in all, every line small.
    assert.equal((await answer(port, upgradeRequest("/", headers(90, 190)))).status, 431);
    // 14 KiB of headers in 80 lines: accepted.
    assert.equal((await answer(port, upgradeRequest("/", headers(80, 180)))).status, 101);
  });

  it("431 past 100 header lines, however short (Node's parser has no line limit)", async () => {
    const { port, server } = await startServer(echo);
    // The handshake's own 5 lines plus 95 extra: exactly 100, accepted.
    assert.equal((await answer(port, upgradeRequest("/", headers(95, 1)))).status, 101);
    const over = await answer(port, upgradeRequest("/", headers(96, 1)));
    assert.equal(over.status, 431, over.text.slice(0, 80));
    // 2,000 one-byte headers: 15 KiB of names and values, under Node's byte limit.
    assert.equal((await answer(port, upgradeRequest("/", headers(2000, 1)))).status, 431);
    assert.equal(server.stats().refused[431], 2);
  });

  it("maxHeaderLines is an option", async () => {
    const { port } = await startServer(echo, { maxHeaderLines: 10 });
    assert.equal((await answer(port, upgradeRequest("/", headers(5, 1)))).status, 101);
    assert.equal((await answer(port, upgradeRequest("/", headers(6, 1)))).status, 431);
  });
});

describe("declared lengths", () => {
  it("a frame header alone reserves at most 256 KiB, not the 16 MiB it declares (200 of them)", async () => {
    const opened: Connection[] = [];
    const { port, server } = await startServer({
      onOpen(c) {
        opened.push(c);
      },
    });
    const base = memory();
    const sockets = [];
    for (let i = 0; i < 200; i++) {
      const { socket } = await rawConnect(port);
      // A binary frame of 16 MiB (the default limit), of which 100 bytes are sent.
      const head = Buffer.alloc(14);
      head[0] = 0x82;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(16 * MiB), 2);
      socket.write(Buffer.concat([head, Buffer.alloc(100)]));
      sockets.push(socket);
    }
    await until(() => opened.length === 200, "every connection to open");
    await until(() => server.stats().wireBytesIn >= 200 * 114, "the server to read every header");
    const grew = memory().external - base.external;
    // At most 256 KiB reserved per header (the core's bound), not the 16 MiB declared.
    assert.ok(
      grew < 200 * 256 * 1024 + 8 * MiB,
      `3.2 GiB declared: external memory +${(grew / MiB).toFixed(0)} MiB`,
    );
    console.log(
      `200 headers declaring 16 MiB each: external memory +${(grew / MiB).toFixed(1)} MiB`,
    );
    for (const s of sockets) s.destroy();
  });
});

describe("connection flood", () => {
  it("300 upgrades at once past maxConnections 50: exactly 250 get 503, the 50 keep echoing", async () => {
    const { server, port, url } = await startServer(echo, { maxConnections: 50 });
    const results = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const socket = await dial(port);
        socket.write(upgradeRequest("/"));
        let text = "";
        socket.on("data", (c: Buffer) => {
          text += c.toString("latin1");
        });
        await until(() => text.includes("\r\n\r\n"), "an answer");
        return { socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
      }),
    );
    const refused = results.filter((r) => r.status === 503);
    const opened = results.filter((r) => r.status === 101);
    assert.equal(opened.length, 50);
    assert.equal(refused.length, 250);
    for (const r of refused) assert.match(r.text, /\r\nRetry-After: \d+\r\n/i);
    assert.equal(server.connections.size, 50);
    assert.equal(server.stats().refused[503], 250);
    // The refused sockets are closed by the server.
    await until(
      () => refused.every((r) => r.socket.destroyed || r.socket.readableEnded),
      "refused sockets closed",
    );
    // A slot frees up when one closes; the admitted ones were never disturbed.
    opened[0]?.socket.destroy();
    await until(() => server.connections.size === 49, "a slot to free up");
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.send("after the flood");
    const reply = await new Promise<string>((resolve) =>
      ws.once("message", (d) => resolve(String(d))),
    );
    assert.equal(reply, "after the flood");
    ws.terminate();
    for (const r of opened) r.socket.destroy();
  });
});
