// The chat protocol of the demo, in one process, with `ws` clients: names, rooms, presence,
// messages, and what a page may not do.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_TEXT, roomName, userName } from "../../src/demo/chat.js";
import { type DemoServer, startDemo } from "../../src/demo/demo-server.js";
import { type ChatClient, chatClient } from "./chat-client.js";

describe("room and user names", () => {
  it("normalises room names and refuses the others", () => {
    assert.equal(roomName(" #Lobby "), "lobby");
    assert.equal(roomName("a_b-9"), "a_b-9");
    assert.equal(roomName("x".repeat(32)), "x".repeat(32));
    for (const bad of ["", "-x", "a b", "x".repeat(33), "é", 7, null]) {
      assert.equal(roomName(bad), undefined, String(bad));
    }
  });

  it("trims user names; 1 to 24 characters without control characters", () => {
    assert.equal(userName("  ann  "), "ann");
    assert.equal(userName("Zoë 🌊"), "Zoë 🌊");
    for (const bad of ["", "   ", "x".repeat(25), "a\nb", "\u0000", 1, undefined]) {
      assert.equal(userName(bad), undefined, String(bad));
    }
  });
});

describe("the chat protocol", { timeout: 30_000 }, () => {
  let demo: DemoServer;
  const clients: ChatClient[] = [];
  async function named(name: string): Promise<ChatClient & { id: string }> {
    const c = await chatClient(demo.url);
    clients.push(c);
    c.send({ type: "hello", name });
    const user = (await c.next("ready")).user as { id: string };
    return Object.assign(c, { id: user.id });
  }
  async function join(c: ChatClient, room: string): Promise<string[]> {
    c.send({ type: "join", room });
    const joined = await c.until((m) => m.type === "joined" && m.room === room);
    return (joined.members as { name: string }[]).map((u) => u.name);
  }

  before(async () => {
    demo = await startDemo({ port: 0, node: "t1" });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await demo?.close();
  });

  it("welcomes a page with the node and the suggested rooms", async () => {
    const c = await chatClient(demo.url);
    clients.push(c);
    assert.deepEqual(await c.next("welcome"), {
      type: "welcome",
      node: "t1",
      rooms: ["lobby", "random", "tidews"],
    });
  });

  it("names a user once, with an id of this node", async () => {
    const ann = await named("ann");
    assert.match(ann.id, /^t1-\d+$/);
    ann.send({ type: "hello", name: "again" });
    assert.equal((await ann.next("error")).message, "already named");
  });

  it("refuses what a page may not send", async () => {
    const c = await chatClient(demo.url);
    clients.push(c);
    const errors: string[] = [];
    const expect = async (raw: string | object) => {
      c.ws.send(typeof raw === "string" ? raw : JSON.stringify(raw));
      errors.push(String((await c.next("error")).message));
    };
    await expect("not json");
    await expect("42");
    await expect({ type: "join", room: "x" });
    await expect({ type: "hello", name: "" });
    c.send({ type: "hello", name: "eve" });
    await c.next("ready");
    await expect({ type: "join", room: "no spaces" });
    await expect({ type: "say", room: "lobby", text: "not joined" });
    await join(c, "strict");
    await expect({ type: "say", room: "strict", text: "   " });
    await expect({ type: "say", room: "strict", text: "x".repeat(MAX_TEXT + 1) });
    await expect({ type: "shout" });
    assert.deepEqual(errors, [
      "expected a JSON message",
      "expected a JSON object",
      "say hello with a name first",
      "a name is 1 to 24 characters",
      "invalid room name",
      "join the room first",
      `a message is 1 to ${MAX_TEXT} characters`,
      `a message is 1 to ${MAX_TEXT} characters`,
      "unknown message type",
    ]);
    for (let i = 1; i < 16; i++) await join(c, `many-${i}`);
    c.send({ type: "join", room: "one-too-many" });
    assert.equal((await c.next("error")).message, "16 rooms at most");
  });

  it("lists the members on join and announces joins, leaves and closes", async () => {
    const ann = await named("ann");
    const ben = await named("ben");
    assert.deepEqual(await join(ann, "presence"), ["ann"]);
    assert.deepEqual(await join(ben, "presence"), ["ann", "ben"]);
    const isPresence = (event: string, id: string) => (m: Record<string, unknown>) =>
      m.type === "presence" && m.event === event && (m.user as { id: string }).id === id;
    await ann.until(isPresence("join", ben.id));
    assert.equal(demo.server.numSubscribers("chat/presence"), 2);

    ben.send({ type: "leave", room: "presence" });
    await ben.until((m) => m.type === "left" && m.room === "presence");
    await ann.until(isPresence("leave", ben.id));
    assert.equal(demo.server.numSubscribers("chat/presence"), 1);

    const cy = await named("cy");
    await join(cy, "presence");
    await ann.until(isPresence("join", cy.id));
    await cy.close();
    await ann.until(isPresence("leave", cy.id));
    assert.equal(demo.server.numSubscribers("chat/presence"), 1);
  });

  it("publishes a message to every member of the room, the sender included, in order", async () => {
    const ann = await named("ann");
    const ben = await named("ben");
    await join(ann, "order");
    await join(ben, "order");
    for (let i = 0; i < 50; i++) ann.send({ type: "say", room: "order", text: `m${i}` });
    for (const c of [ann, ben]) {
      await c.until((m) => m.type === "message" && m.text === "m49");
      const texts = c.got.filter((m) => m.type === "message" && m.room === "order");
      assert.deepEqual(
        texts.map((m) => m.text),
        Array.from({ length: 50 }, (_, i) => `m${i}`),
      );
      assert.equal((texts[0]?.from as { name: string } | undefined)?.name, "ann");
    }
  });

  it("answers a `here` only for a joined room", async () => {
    const ann = await named("ann");
    const ben = await named("ben");
    await join(ann, "here");
    await join(ben, "here");
    ben.send({ type: "here", room: "elsewhere" });
    ben.send({ type: "here", room: "here" });
    const here = await ann.until((m) => m.type === "presence" && m.event === "here");
    assert.equal(here.room, "here");
    assert.equal((here.user as { id: string }).id, ben.id);
  });
});
