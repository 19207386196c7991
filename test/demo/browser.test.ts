// The demo in a real browser: Debian's Chromium (playwright-core, system binary) opens two chat
// tabs on one demo server, both join a room, one sends, the other sees it; the dashboard counts
// the connections; screenshots of each page are saved to reports/demo/ and checked non-blank.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { type DemoServer, startDemo } from "../../src/demo/demo-server.js";
import { browserGate, Chromium, screenshot, textOf, untilText } from "./chromium.js";

const TIMEOUT = { timeout: 30_000 };

/** Picks a name on the chat page and joins `room`. */
async function enter(page: Page, name: string, room: string): Promise<void> {
  await page.fill("#name", name);
  await page.click("#name-form button");
  await page.locator("#chat").waitFor({ state: "visible" });
  await page.fill("#room-input", room);
  await page.press("#room-input", "Enter");
  await untilText(page, "room-title", `#${room}`);
}

describe("the demo in Chromium", { ...browserGate(), timeout: 120_000 }, () => {
  let demo: DemoServer;
  let browser: Chromium;
  let alice: Page;
  let bob: Page;

  before(async () => {
    demo = await startDemo({ port: 0, sampleInterval: 100 });
    browser = await Chromium.launch();
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it("two tabs join the same room; a message from one appears in the other", TIMEOUT, async () => {
    alice = await browser.open(demo.url);
    bob = await browser.open(demo.url);
    await enter(alice, "alice", "demo-room");
    await enter(bob, "bob", "demo-room");
    // Each tab lists both members.
    for (const page of [alice, bob]) await untilText(page, "member-count", "2");
    const names = await bob.locator("#member-list .member-name").allTextContents();
    assert.deepEqual(names.sort(), ["alice", "bob (you)"]);

    await alice.fill("#text", "hello from alice 👋");
    await alice.press("#text", "Enter");
    const seen = bob.locator("#messages .message", { hasText: "hello from alice 👋" });
    await seen.waitFor();
    assert.equal(await seen.locator(".from").textContent(), "alice");
    // The sender sees its own message too, on its side of the conversation.
    await alice.locator("#messages .message.mine", { hasText: "hello from alice" }).waitFor();

    await bob.fill("#text", "hi alice, bob here");
    await bob.press("#text", "Enter");
    await alice.locator("#messages .message", { hasText: "bob here" }).waitFor();
  });

  it("uses the browser's own permessage-deflate", async () => {
    for (const page of [alice, bob]) {
      assert.match(await textOf(page, "status"), /permessage-deflate/);
    }
    const chats = [...demo.server.connections].filter((c) => c.session.kind === "chat");
    assert.equal(chats.length, 2);
    for (const conn of chats) assert.match(conn.extensions, /^permessage-deflate/);
  });

  it("the /echo endpoint echoes text and binary", async () => {
    const url = demo.url.replace(/^http/, "ws");
    // A string, not a function: the page runs it as written (no transpiler helpers inside).
    const result = (await alice.evaluate(`(async () => {
      const ws = new WebSocket(${JSON.stringify(`${url}echo`)});
      ws.binaryType = "arraybuffer";
      const next = () => new Promise((r) => ws.addEventListener("message", r, { once: true }));
      await new Promise((r) => ws.addEventListener("open", r, { once: true }));
      ws.send("echo ✓");
      const text = (await next()).data;
      ws.send(new Uint8Array([1, 2, 3, 250]));
      const bin = Array.from(new Uint8Array((await next()).data));
      ws.close();
      return { text, bin, extensions: ws.extensions };
    })()`)) as { text: string; bin: number[]; extensions: string };
    assert.deepEqual(result, {
      text: "echo ✓",
      bin: [1, 2, 3, 250],
      extensions: result.extensions,
    });
    assert.match(result.extensions, /permessage-deflate/);
  });

  it("the dashboard shows the connection count, live", TIMEOUT, async () => {
    // Some traffic for the charts.
    for (let i = 1; i <= 12; i++) {
      await alice.fill("#text", `message ${i} of a small burst for the dashboard's charts`);
      await alice.press("#text", "Enter");
    }
    await bob.locator("#messages .message", { hasText: "message 12 of" }).waitFor();
    const dashboard = await browser.open(`${demo.url}dashboard`);
    await untilText(dashboard, "connections-total", "3");
    await untilText(dashboard, "connections-chat", "2");
    await untilText(dashboard, "connections-dashboard", "1");
    assert.deepEqual(demo.connectionCounts(), { total: 3, chat: 2, dashboard: 1, echo: 0 });
    assert.match(await textOf(dashboard, "status"), /^live/);
    // Live: a third tab shows up on the dashboard, and goes away again.
    const carol = await browser.open(demo.url);
    await untilText(dashboard, "connections-chat", "3");
    assert.equal(demo.connectionCounts().chat, 3);
    await carol.close();
    await untilText(dashboard, "connections-chat", "2");
    await untilText(dashboard, "connections-total", "3");
    assert.match(await textOf(dashboard, "heap"), /\d (B|KiB|MiB|GiB)$/);
    assert.match(await textOf(dashboard, "pool-hit-rate"), /^\d+(\.\d)?%$/);
    assert.match(await textOf(dashboard, "wire-ratio"), /^\d+(\.\d)?%$/);

    await screenshot(alice, "chat-alice");
    await screenshot(bob, "chat-bob");
    await screenshot(dashboard, "dashboard");
  });

  it("stopping the demo closes every page with 1001 Going Away", TIMEOUT, async () => {
    await demo.close();
    for (const page of [alice, bob]) {
      await untilText(page, "status", /^server went away/);
    }
  });
});
