// Two `tidews demo --redis` processes over a real redis-server (a private one on a free port):
// pages on either process share the rooms, the members and the messages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { RedisProcess, redisServerVersion } from "../helpers/redis-server.js";
import { gate } from "../interop/gate.js";
import { chatClient } from "./chat-client.js";
import { browserGate, Chromium, screenshot, textOf, untilText } from "./chromium.js";
import { DemoProcess } from "./demo-process.js";

const redisGate = gate(
  redisServerVersion() === undefined ? "redis-server not installed" : undefined,
);
const TIMEOUT = { timeout: 30_000 };

/** Two demo processes on one private Redis. */
async function startPair(): Promise<{ redis: RedisProcess; one: DemoProcess; two: DemoProcess }> {
  const redis = await RedisProcess.start();
  const [one, two] = await Promise.all([
    DemoProcess.start(["--port", "0", "--redis", redis.url]),
    DemoProcess.start(["--port", "0", "--redis", redis.url]),
  ]);
  return { redis, one, two };
}

async function stopPair(pair: { redis: RedisProcess; one: DemoProcess; two: DemoProcess }) {
  const exits = await Promise.all([pair.one.stop(), pair.two.stop()]);
  await pair.redis.stop();
  for (const exit of exits) assert.equal(exit.code, 0, exit.output);
}

describe("two demo processes over redis-server", { ...redisGate, timeout: 60_000 }, () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  before(async () => {
    pair = await startPair();
  });
  after(() => (pair === undefined ? undefined : stopPair(pair)));

  it("say where their rooms are shared", () => {
    for (const demo of [pair.one, pair.two]) {
      assert.match(demo.output, new RegExp(`redis      ${pair.redis.url}`));
    }
    assert.notEqual(pair.one.url, pair.two.url);
  });

  it("deliver a message to the room on both processes, once each", TIMEOUT, async () => {
    const a = await chatClient(pair.one.url);
    const b = await chatClient(pair.two.url);
    a.send({ type: "hello", name: "ann" });
    b.send({ type: "hello", name: "ben" });
    const ann = (await a.until((m) => m.type === "ready")).user as { id: string; node: string };
    const ben = (await b.until((m) => m.type === "ready")).user as { id: string; node: string };
    assert.notEqual(ann.node, ben.node);
    // `joined` comes once Redis confirmed the subscription: from then on nothing is missed.
    a.send({ type: "join", room: "shared" });
    await a.until((m) => m.type === "joined");
    b.send({ type: "join", room: "shared" });
    await b.until((m) => m.type === "joined");
    // ann hears of ben's join from the other process.
    await a.until((m) => m.type === "presence" && (m.user as { id: string }).id === ben.id);
    b.send({ type: "say", room: "shared", text: "from two" });
    a.send({ type: "say", room: "shared", text: "from one" });
    for (const c of [a, b]) {
      await c.until((m) => m.type === "message" && m.text === "from two");
      await c.until((m) => m.type === "message" && m.text === "from one");
    }
    // A marker after both: by the time it arrives, a duplicate would have arrived too.
    a.send({ type: "say", room: "shared", text: "end" });
    for (const c of [a, b]) {
      await c.until((m) => m.type === "message" && m.text === "end");
      const texts = c.got.filter((m) => m.type === "message").map((m) => m.text);
      assert.deepEqual(texts.filter((t) => t !== "end").sort(), ["from one", "from two"]);
    }
    a.ws.close();
    b.ws.close();
  });
});

describe("two demo processes over redis-server, in Chromium", {
  ...redisGate,
  ...browserGate(),
  timeout: 90_000,
}, () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let browser: Chromium;
  before(async () => {
    pair = await startPair();
    browser = await Chromium.launch();
  });
  after(async () => {
    await browser?.close();
    if (pair !== undefined) await stopPair(pair);
  });

  async function enter(page: Page, name: string, room: string): Promise<void> {
    await page.fill("#name", name);
    await page.click("#name-form button");
    await page.locator("#chat").waitFor({ state: "visible" });
    await page.fill("#room-input", room);
    await page.press("#room-input", "Enter");
    await untilText(page, "room-title", `#${room}`);
  }

  it("a page on each process: one room, both members, messages both ways", TIMEOUT, async () => {
    const alice = await browser.open(pair.one.url);
    const bob = await browser.open(pair.two.url);
    await enter(alice, "alice", "scaled");
    await enter(bob, "bob", "scaled");
    // bob learns of alice (on the other process) from her `here` answer to his join.
    for (const page of [alice, bob]) await untilText(page, "member-count", "2");
    const nodes = await bob.locator("#member-list .node").allTextContents();
    assert.equal(new Set(nodes).size, 2, `members on two processes: ${nodes.join(", ")}`);

    await alice.fill("#text", "hello from process one");
    await alice.press("#text", "Enter");
    await bob.locator("#messages .message", { hasText: "hello from process one" }).waitFor();
    await bob.fill("#text", "and back from process two");
    await bob.press("#text", "Enter");
    await alice.locator("#messages .message", { hasText: "back from process two" }).waitFor();

    const dashboard = await browser.open(`${pair.two.url}dashboard`);
    await untilText(dashboard, "adapter", "redis");
    await untilText(dashboard, "connections-chat", "1");
    assert.match(await textOf(dashboard, "rooms"), /^[12]$/);
    await screenshot(bob, "redis-chat-bob");
    await screenshot(dashboard, "redis-dashboard-two");
  });
});
