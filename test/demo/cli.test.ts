// `tidews demo` (what `npm start` runs): flags and environment, the start banner with the bound
// URL, the pages and endpoints over real sockets, and Ctrl-C closing every client with 1001.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { parseDemoArgs } from "../../src/demo/cli.js";
import { chatClient } from "./chat-client.js";
import { DemoProcess } from "./demo-process.js";

function open(url: string, options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function refusal(url: string, headers?: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url, { headers });
  ws.on("error", () => {}); // terminate() after the refusal reports one
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("open", () => reject(new Error(`${url} opened`)));
  });
}

describe("parseDemoArgs", () => {
  it("defaults to 127.0.0.1:8080 without Redis", () => {
    assert.deepEqual(parseDemoArgs([], {}), { port: 8080, host: "127.0.0.1", redis: undefined });
  });

  it("reads PORT and HOST, and the flags win over them", () => {
    assert.deepEqual(parseDemoArgs([], { PORT: "9000", HOST: "0.0.0.0" }), {
      port: 9000,
      host: "0.0.0.0",
      redis: undefined,
    });
    assert.deepEqual(
      parseDemoArgs(["--port", "0", "--host=::1", "--redis", "redis://h:1"], { PORT: "9000" }),
      { port: 0, host: "::1", redis: "redis://h:1" },
    );
    assert.equal(parseDemoArgs(["--port=1234"], { PORT: "" }).port, 1234);
  });

  it("refuses bad values with a one-line message", () => {
    assert.throws(() => parseDemoArgs(["--port", "http"], {}), /--port: expected a port number/);
    assert.throws(() => parseDemoArgs([], { PORT: "70000" }), /PORT: expected a port number/);
    assert.throws(() => parseDemoArgs(["--port"], {}), /--port needs a value/);
    assert.throws(() => parseDemoArgs(["--redis", "localhost"], {}), /redis:\/\/ URL/);
    assert.throws(() => parseDemoArgs(["--verbose"], {}), /unknown option '--verbose'/);
  });
});

describe("tidews demo --port 0", { timeout: 60_000 }, () => {
  let demo: DemoProcess;
  before(async () => {
    demo = await DemoProcess.start(["--port", "0"]);
  });
  after(() => demo?.stop());

  it("prints the bound URL and where to open the pages", () => {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.doesNotMatch(demo.url, /:0\//);
    assert.ok(demo.output.includes(`chat       ${demo.url}`), demo.output);
    assert.ok(demo.output.includes(`dashboard  ${demo.url}dashboard`), demo.output);
    assert.ok(demo.output.includes(`echo       ${demo.wsUrl}echo`), demo.output);
    assert.match(demo.output, /Ctrl-C to stop/);
  });

  it("serves the chat page, the dashboard and their files", async () => {
    for (const [path, type, marker] of [
      ["", "text/html", "tidews chat"],
      ["dashboard", "text/html", "tidews dashboard"],
      ["chat.js", "text/javascript", "new WebSocket"],
      ["dashboard.js", "text/javascript", "getContext"],
      ["style.css", "text/css", ".messages"],
      ["favicon.svg", "image/svg+xml", "<svg"],
    ] as const) {
      const res = await fetch(`${demo.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.ok((res.headers.get("content-type") ?? "").startsWith(type), path);
      assert.ok((await res.text()).includes(marker), path);
    }
    const stats = await fetch(`${demo.url}stats.json`);
    assert.equal(stats.status, 200);
    assert.equal(typeof ((await stats.json()) as { connections: unknown }).connections, "object");
  });

  it("answers 404 elsewhere, 426 for a WebSocket endpoint without upgrade, 405 for POST", async () => {
    assert.equal((await fetch(`${demo.url}nope`)).status, 404);
    assert.equal((await fetch(`${demo.url}..%2Fpackage.json`)).status, 404);
    assert.equal((await fetch(`${demo.url}echo`)).status, 426);
    assert.equal((await fetch(`${demo.url}`, { method: "POST", body: "x" })).status, 405);
    assert.equal(await refusal(`${demo.wsUrl}nope`), 404);
  });

  it("refuses WebSocket connections from pages of other origins", async () => {
    assert.equal(await refusal(`${demo.wsUrl}chat`, { Origin: "https://evil.example" }), 403);
    const own = await open(`${demo.wsUrl}chat`, { origin: demo.url.slice(0, -1) });
    own.close();
  });

  it("echoes on /echo, with permessage-deflate", async () => {
    const ws = await open(`${demo.wsUrl}echo`, { perMessageDeflate: true });
    assert.match(ws.extensions, /permessage-deflate/);
    const text = "x".repeat(5000);
    ws.send(text);
    const [data, isBinary] = (await once(ws, "message")) as [Buffer, boolean];
    assert.equal(isBinary, false);
    assert.equal(data.toString(), text);
    ws.send(Buffer.from([0, 1, 2]));
    const [bin, binary] = (await once(ws, "message")) as [Buffer, boolean];
    assert.equal(binary, true);
    assert.deepEqual([...bin], [0, 1, 2]);
    ws.close();
  });

  it("speaks the chat protocol on /chat", async () => {
    const ia = await chatClient(demo.url);
    const ib = await chatClient(demo.url);
    const a = ia.ws;
    const b = ib.ws;
    const welcome = await ia.next("welcome");
    assert.deepEqual(welcome.rooms, ["lobby", "random", "tidews"]);
    a.send(JSON.stringify({ type: "join", room: "x" }));
    assert.match(String((await ia.next("error")).message), /hello/);
    a.send(JSON.stringify({ type: "hello", name: "ann" }));
    b.send(JSON.stringify({ type: "hello", name: "ben" }));
    const ann = (await ia.next("ready")).user as { id: string; node: string };
    await ib.next("ready");
    assert.match(ann.id, new RegExp(`^${ann.node}-\\d+$`));
    a.send(JSON.stringify({ type: "join", room: "#Cli" }));
    assert.deepEqual((await ia.next("joined")).room, "cli");
    b.send(JSON.stringify({ type: "join", room: "cli" }));
    const joined = await ib.next("joined");
    assert.deepEqual(
      (joined.members as { name: string }[]).map((m) => m.name),
      ["ann", "ben"],
    );
    // ann's own join comes back to ann first (a publish reaches every subscriber), then ben's.
    const own = await ia.next("presence");
    assert.deepEqual([own.event, (own.user as { name: string }).name], ["join", "ann"]);
    const presence = await ia.next("presence");
    assert.deepEqual([presence.event, (presence.user as { name: string }).name], ["join", "ben"]);
    b.send(JSON.stringify({ type: "say", room: "cli", text: "hi ann" }));
    const msg = await ia.next("message");
    assert.equal(msg.text, "hi ann");
    assert.equal((msg.from as { name: string }).name, "ben");
    a.close();
    b.close();
  });

  it("Ctrl-C closes every client with 1001 and exits 0", async () => {
    const chat = await open(`${demo.wsUrl}chat`);
    const echo = await open(`${demo.wsUrl}echo`);
    const closes = [chat, echo].map((ws) => once(ws, "close"));
    const exit = await demo.stop("SIGINT");
    for (const close of closes) {
      const [code] = (await close) as [number, Buffer];
      assert.equal(code, 1001);
    }
    assert.equal(exit.code, 0, exit.output);
    assert.match(exit.output, /SIGINT: closing \d+ connections? with 1001 Going Away/);
    assert.match(exit.output, /stopped/);
  });
});

describe("tidews demo with PORT and HOST", { timeout: 60_000 }, () => {
  it("listens where the environment says, and stops on SIGTERM", async () => {
    const demo = await DemoProcess.start([], { PORT: "0", HOST: "127.0.0.1" });
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal((await fetch(demo.url)).status, 200);
    const exit = await demo.stop("SIGTERM");
    assert.equal(exit.code, 0, exit.output);
  });

  it("a port in use is one clear line and exit code 1", async () => {
    const first = await DemoProcess.start(["--port", "0"]);
    try {
      const port = new URL(first.url).port;
      const second = await DemoProcess.run(["--port", port]);
      assert.equal(second.code, 1);
      assert.match(second.output, new RegExp(`127\\.0\\.0\\.1:${port} is in use; try --port 0`));
    } finally {
      await first.stop();
    }
  });

  it("--help prints the options", async () => {
    const help = await DemoProcess.run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.output, /--redis URL/);
  });
});
