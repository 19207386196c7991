// The echo server on real sockets (127.0.0.1, port 0), driven by `ws` as the peer.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { type EchoServer, startEchoServer } from "../../src/cli/echo.js";

function open(url: string, options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => {
    ws.once("message", (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
  });
}

for (const deflate of [false, true]) {
  describe(`echo server${deflate ? " with permessage-deflate" : ""}`, () => {
    let server: EchoServer;
    let url: string;

    before(async () => {
      server = await startEchoServer({ deflate });
      url = `ws://127.0.0.1:${server.port}/any/path?x=1`;
    });
    after(() => server.close());

    it("echoes text as text and binary as binary, of every length class", async () => {
      const ws = await open(url, { perMessageDeflate: deflate });
      if (deflate) assert.match(ws.extensions, /permessage-deflate/);
      else assert.equal(ws.extensions, "");
      for (const n of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]) {
        const text = "é".repeat(Math.floor(n / 2)) + (n % 2 ? "a" : "");
        ws.send(text);
        const t = await nextMessage(ws);
        assert.equal(t.isBinary, false);
        assert.equal(t.data.toString(), text, `text of ${n} bytes`);
        const bin = Buffer.alloc(n, n & 0xff);
        ws.send(bin);
        const b = await nextMessage(ws);
        assert.equal(b.isBinary, true);
        assert.ok(b.data.equals(bin), `binary of ${n} bytes`);
      }
      ws.close(1000, "bye");
      const [code, reason] = await once(ws, "close");
      assert.equal(code, 1000);
      assert.equal(String(reason), "");
    });

    it("keeps order across a burst of messages", async () => {
      const ws = await open(url, { perMessageDeflate: deflate });
      const n = 2000;
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        ws.on("message", (d: Buffer) => {
          got.push(d.toString());
          if (got.length === n) resolve();
        });
      });
      for (let i = 0; i < n; i++) ws.send(`message ${i} ${"x".repeat(i % 300)}`);
      await done;
      for (let i = 0; i < n; i++) assert.equal(got[i], `message ${i} ${"x".repeat(i % 300)}`);
      ws.close();
      await once(ws, "close");
    });

    it("closes with 1007 on invalid UTF-8", async () => {
      const ws = await open(url, { perMessageDeflate: false });
      // ws validates outgoing text only for its own API; send raw bytes as a text frame.
      ws.send(Buffer.from([0xff, 0xfe]), { binary: false });
      const [code] = await once(ws, "close");
      assert.equal(code, 1007);
    });

    it("echoes ping payloads in pongs", async () => {
      const ws = await open(url, { perMessageDeflate: deflate });
      ws.ping(Buffer.from("are you there"));
      const [payload] = await once(ws, "pong");
      assert.equal(String(payload), "are you there");
      ws.terminate();
    });
  });
}

describe("tidews echo (command line)", () => {
  it("prints 'listening <port>', echoes, and exits cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, ["bin/tidews.mjs", "echo", "--port", "0"], {
      cwd: new URL("../../", import.meta.url),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(child.stdout, "data")) as [Buffer];
    const match = /^listening (\d+)\n$/.exec(line.toString());
    assert.ok(match, `printed '${line}'`);
    const ws = await open(`ws://127.0.0.1:${match[1]}`);
    ws.send("hi");
    assert.equal((await nextMessage(ws)).data.toString(), "hi");
    const closed = once(ws, "close");
    child.kill("SIGTERM");
    const [code] = await closed;
    assert.equal(code, 1001, "clients get 1001 on shutdown");
    const [exitCode] = await once(child, "exit");
    assert.equal(exitCode, 0);
  });
});
