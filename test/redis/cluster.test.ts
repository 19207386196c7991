// The recipe of docs/pubsub.md as a user runs it: examples/pubsub-cluster.ts forks two workers
// behind one port, each with a RedisAdapter on a private redis-server; clients land on both
// workers, and a publish on either reaches the subscribers of both.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { RedisProcess, redisServerVersion } from "../helpers/redis-server.js";
import { gate } from "../interop/gate.js";

const root = new URL("../../", import.meta.url);
const missing =
  redisServerVersion() === undefined
    ? "redis-server is not installed (apt-get install redis-server)"
    : undefined;

/** A client with its worker (from the greeting) and its messages after the greeting. */
interface Peer {
  ws: WebSocket;
  worker: string;
  messages: string[];
  next(count: number): Promise<void>;
}

async function connect(port: number): Promise<Peer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const messages: string[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  let greeted: (worker: string) => void = () => {};
  const greeting = new Promise<string>((resolve) => {
    greeted = resolve;
  });
  ws.on("message", (data: Buffer) => {
    const text = data.toString();
    if (text.startsWith("worker ")) {
      greeted(text);
      return;
    }
    messages.push(text);
    waiters = waiters.filter((w) => {
      if (messages.length < w.count) return true;
      w.resolve();
      return false;
    });
  });
  return {
    ws,
    worker: await greeting,
    messages,
    next: (count) =>
      messages.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
  };
}

describe("examples/pubsub-cluster.ts: two worker processes over Redis", gate(missing), () => {
  let redis: RedisProcess;
  let child: ChildProcess;
  let port = 0;

  before(async () => {
    redis = await RedisProcess.start();
    child = spawn(process.execPath, ["--import", "tsx", "examples/pubsub-cluster.ts", "0", "2"], {
      cwd: root,
      env: { ...process.env, REDIS_URL: redis.url },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    while (!/listening (\d+)\n/.test(out)) {
      const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
      out += chunk.toString();
    }
    port = Number(/listening (\d+)/.exec(out)?.[1]);
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
    await redis.stop();
  });

  it("delivers a publish on one worker to the subscribers of both", async () => {
    const peers: Peer[] = [];
    // The primary hands connections to the workers in turn; a few suffice to reach both.
    for (let i = 0; i < 12 && new Set(peers.map((p) => p.worker)).size < 2; i++) {
      peers.push(await connect(port));
    }
    while (peers.length < 4) peers.push(await connect(port));
    const workers = [...new Set(peers.map((p) => p.worker))];
    assert.equal(workers.length, 2, `clients on two workers: ${workers.join(", ")}`);
    for (const p of peers) {
      p.ws.send("sub room");
      await p.next(1);
      assert.equal(p.messages[0], "ok room");
    }
    const onFirst = peers.find((p) => p.worker === workers[0]) as Peer;
    const onSecond = peers.find((p) => p.worker === workers[1]) as Peer;
    onFirst.ws.send(`pub room hello from ${workers[0]}`);
    await Promise.all(peers.filter((p) => p !== onFirst).map((p) => p.next(2)));
    onSecond.ws.send(`pub room hello from ${workers[1]}`);
    await Promise.all(peers.map((p) => p.next(p === onFirst || p === onSecond ? 2 : 3)));
    const fromFirst = `hello from ${workers[0]}`;
    const fromSecond = `hello from ${workers[1]}`;
    for (const p of peers) {
      const expected =
        p === onFirst ? [fromSecond] : p === onSecond ? [fromFirst] : [fromFirst, fromSecond];
      assert.deepEqual(p.messages.slice(1), expected, `client on ${p.worker}`);
    }
    for (const p of peers) p.ws.terminate();
  });

  it("shuts down cleanly on SIGTERM", async () => {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  });
});
