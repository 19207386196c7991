// Slowloris against a running server: request heads sent one byte at a time, heads never
// finished, connections that send nothing. The handshake timeout (here 1 s; 10 s by default)
// ends each of them, and clients that behave are served meanwhile as if nothing happened.
import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { upgradeRequest } from "../helpers/raw-client.js";
import { dial, echo, loopLag, startServer } from "./lib/harness.js";

const TIMEOUT = 1000;
/** Node checks the header timeout every min(1 s, handshakeTimeout): the end comes within two. */
const DEADLINE = 2 * TIMEOUT + 400;
/**
 * Well-behaved clients are served in well under this; a server held up by the slow sockets
 * would not serve them at all until the timeout. Loose for a loaded two-core CI machine.
 */
const SERVED = 1000;

/** Opens a ws client, echoes one message, closes; resolves with the round-trip time in ms. */
async function behave(url: string): Promise<number> {
  const started = performance.now();
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send("hi");
  const [reply] = await once(ws, "message");
  assert.equal(String(reply), "hi");
  const elapsed = performance.now() - started;
  ws.close();
  await once(ws, "close");
  return elapsed;
}

/** Resolves when the server closes `socket`, with the elapsed ms and what it answered. */
function ended(socket: net.Socket): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  let text = "";
  socket.on("data", (c: Buffer) => {
    text += c.toString("latin1");
  });
  return once(socket, "close").then(() => ({ ms: performance.now() - started, text }));
}

describe("slowloris", () => {
  it("a head sent one byte at a time is cut off by the handshake timeout; others are served", async () => {
    const { url, port, server } = await startServer(echo, { handshakeTimeout: TIMEOUT });
    const lag = loopLag();
    const socket = await dial(port);
    const result = ended(socket);
    const head = Buffer.from(upgradeRequest("/"));
    let sent = 0;
    // Slow enough that the whole head would take twice the deadline.
    const drip = setInterval(
      () => {
        if (sent < head.length && !socket.destroyed) socket.write(head.subarray(sent, ++sent));
      },
      Math.ceil((2 * DEADLINE) / head.length),
    );
    // Meanwhile, well-behaved clients one after the other until the drip is cut.
    const latencies: number[] = [];
    let done = false;
    void result.then(() => {
      done = true;
    });
    // (A head that got through would end the loop too, and fail below: never spin forever.)
    while (!done && sent < head.length) latencies.push(await behave(url));
    clearInterval(drip);
    const { ms, text } = await result;
    assert.ok(sent < head.length, `cut off after ${sent} of ${head.length} bytes`);
    const late = lag.stop();
    assert.ok(
      ms <= DEADLINE + 2 * late,
      `ended after ${ms.toFixed(0)} ms (loop ${late.toFixed(0)} ms late)`,
    );
    assert.doesNotMatch(text, /101/);
    assert.ok(latencies.length >= 3, `${latencies.length} clients served meanwhile`);
    assert.ok(Math.max(...latencies) < SERVED, `slowest ${Math.max(...latencies).toFixed(1)} ms`);
    assert.equal(server.connections.size, 0);
  });

  it("100 heads never finished and 100 silent sockets all end in time; others are served", async () => {
    const { url, port, server } = await startServer(echo, { handshakeTimeout: TIMEOUT });
    const lag = loopLag();
    const started = performance.now();
    const sockets = await Promise.all(Array.from({ length: 200 }, () => dial(port)));
    const results = sockets.map((s, i) => {
      const r = ended(s);
      if (i % 2 === 0) s.write(upgradeRequest("/").slice(0, 40 + (i % 50)));
      return r;
    });
    const served = await Promise.all(Array.from({ length: 20 }, () => behave(url)));
    const all = await Promise.all(results);
    const total = performance.now() - started;
    const late = lag.stop();
    assert.ok(
      total <= DEADLINE + 300 + 2 * late,
      `all 200 ended after ${total.toFixed(0)} ms (loop ${late.toFixed(0)} ms late)`,
    );
    for (const r of all) assert.doesNotMatch(r.text, /^HTTP\/1\.1 101/);
    assert.ok(Math.max(...served) < SERVED, `slowest served ${Math.max(...served).toFixed(1)} ms`);
    assert.equal(server.connections.size, 0);
  });

  it("the default handshake timeout also bounds a silent socket (10 s, Node's header timeout)", () => {
    // Documented, not waited for: the server sets headersTimeout and requestTimeout from it.
    return startServer(echo).then(({ server }) => {
      assert.equal(server.http.headersTimeout, 10_000);
      assert.equal(server.http.requestTimeout, 10_000);
    });
  });
});
