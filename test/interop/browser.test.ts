// Interop: headless Chromium (Debian's `chromium`, driven by playwright-core with the system
// binary, no browser download) against the tidews server. The server serves
// test/interop/peers/browser/peer.html; the page's own WebSocket is the peer. The browser always
// offers permessage-deflate, so this is also the most common real compression peer.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import type { UpgraderOptions } from "../../src/server/upgrader.js";
import {
  assertEchoVerdicts,
  assertReceived,
  type DeflateCase,
  describeDeflateCases,
  type EchoVerdict,
  EXPECT,
  INTEROP_TIMEOUT as TIMEOUT,
} from "../helpers/interop.js";
import { findChromium, gate, hasPlaywright } from "./gate.js";
import { binaryPayload, type PayloadSpec, sha256, sizeMatrix } from "./payloads.js";
import { GREETING, type InteropServer, type ServerPeer, startInteropServer } from "./server.js";

const chromiumPath = findChromium();
const missing =
  chromiumPath === undefined
    ? `chromium not installed (${process.env.TIDEWS_CHROMIUM ?? "/usr/bin/chromium"})`
    : hasPlaywright()
      ? undefined
      : "playwright-core not installed (npm install)";
const options = gate(missing);

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A headless Chromium with a fresh profile, and one page. */
class Browser {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly profile: string,
    /** What the page printed to its console (handshake failures land here). */
    readonly console: string[],
  ) {}

  static async launch(): Promise<Browser> {
    const { chromium } = await import("playwright-core");
    const profile = mkdtempSync(join(tmpdir(), "tidews-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath as string,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const lines: string[] = [];
    page.on("console", (m) => {
      lines.push(m.text());
    });
    return new Browser(context, page, profile, lines);
  }

  /** Loads the peer page from `server` (so the page's origin is the server's). */
  async load(server: InteropServer): Promise<void> {
    await this.page.goto(server.httpUrl("/peer.html"));
    await this.page.waitForFunction(() => "peer" in globalThis);
  }

  /** Calls `peer[name](...args)` in the page. */
  call<T>(name: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(
      ([n, a]) => {
        const peer = (
          globalThis as unknown as { peer: Record<string, (...x: unknown[]) => unknown> }
        ).peer;
        return (peer[n as string] as (...x: unknown[]) => unknown).apply(peer, a as unknown[]);
      },
      [name, args] as const,
    ) as Promise<T>;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

interface Opened {
  id: number;
  protocol?: string;
  extensions?: string;
  failed?: { code: number; reason: string; wasClean: boolean; errored: boolean };
}

interface Summary {
  kind: string;
  length: number;
  sha256: string;
}

interface CloseSeen {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** Opens a socket in the page and returns it with the server's side. */
async function open(
  browser: Browser,
  server: InteropServer,
  protocols?: string[],
  path = "/",
): Promise<{ id: number; opened: Opened; peer: ServerPeer }> {
  const serverSide = server.connection();
  const opened = await browser.call<Opened>("open", server.url(path), protocols);
  assert.equal(opened.failed, undefined, "the browser failed to connect");
  return { id: opened.id, opened, peer: await serverSide };
}

async function checkEchoes(
  browser: Browser,
  id: number,
  peer: ServerPeer,
  specs: readonly PayloadSpec[],
): Promise<void> {
  const first = peer.received.length;
  assertEchoVerdicts(specs, await browser.call<EchoVerdict[]>("echo", id, specs));
  assertReceived(specs, peer.received.slice(first), "the server");
}

describe("Chromium -> tidews server", options, () => {
  let browser: Browser;
  let server: InteropServer;
  before(async () => {
    server = await startInteropServer({ protocols: ["chat.v2", "chat.v1"] });
    browser = await Browser.launch();
    await browser.load(server);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("echoes text and binary of 0 B to 16 MiB byte for byte", TIMEOUT, async () => {
    const { id, opened, peer } = await open(browser, server);
    assert.equal(opened.extensions, "", "no deflate unless the server enables it");
    await checkEchoes(browser, id, peer, sizeMatrix());
    await browser.call("close", id, 1000, "");
  });

  it("receives what the server sends from onOpen, right behind the 101", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server, undefined, "/greet");
    const text = Buffer.from(GREETING[0]);
    assert.deepEqual(await browser.call<Summary>("next", id), {
      kind: "text",
      length: text.length,
      sha256: sha256(text),
    });
    assert.deepEqual(await browser.call<Summary>("next", id), {
      kind: "binary",
      length: GREETING[1].length,
      sha256: sha256(GREETING[1]),
    });
    await peer.until(() => peer.pongs.length === 1);
    assert.equal(String(peer.pongs[0]), "greeting ping");
    await browser.call("close", id, 1000, "");
  });

  it("carries unicode text unchanged", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const samples = [
      "héllo",
      "日本語",
      "𝄞😀👩‍👩‍👧‍👦",
      "\u0000\u07ff\u0800\uffff\u{10000}\u{10ffff}",
    ];
    for (const text of samples) assert.equal(await browser.call("echoText", id, text), text);
    assert.deepEqual(
      peer.received.map((r) => r.sha256),
      samples.map((t) => sha256(Buffer.from(t))),
    );
    await browser.call("close", id, 1000, "");
  });

  it("assembles fragmented messages from tidews", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const text = Buffer.from("tidews 😀 fragments for the browser", "utf8");
    const cut = text.indexOf(Buffer.from("😀")) + 1;
    peer.conn.send(text.subarray(0, cut), { binary: false, fin: false });
    peer.conn.send(text.subarray(cut, cut), { binary: false, fin: false });
    peer.conn.send(text.subarray(cut), { binary: false, fin: true });
    const bin = binaryPayload(300_000, 21);
    peer.conn.send(bin.subarray(0, 125), { fin: false });
    peer.conn.ping("between fragments");
    peer.conn.send(bin.subarray(125), { fin: true });
    assert.deepEqual(await browser.call<Summary>("next", id), {
      kind: "text",
      length: text.length,
      sha256: sha256(text),
    });
    assert.deepEqual(await browser.call<Summary>("next", id), {
      kind: "binary",
      length: bin.length,
      sha256: sha256(bin),
    });
    await peer.until(() => peer.pongs.length === 1);
    assert.equal(String(peer.pongs[0]), "between fragments");
    await browser.call("close", id, 1000, "");
  });

  it("answers the server's pings with their payloads", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const payloads = [Buffer.alloc(0), Buffer.from([1]), randomBytes(125), Buffer.from("ping ✓")];
    for (const p of payloads) peer.conn.ping(p);
    await peer.until(() => peer.pongs.length === payloads.length);
    assert.deepEqual(peer.pongs, payloads);
    await browser.call("close", id, 1000, "");
  });

  it("close from the browser: the server sees the code and reason", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const reason = "browser leaves — ünï";
    const seen = await browser.call<CloseSeen>("close", id, 4000, reason);
    const info = await peer.closed();
    assert.equal(info.code, 4000);
    assert.equal(info.reason, reason);
    assert.equal(info.wasClean, true);
    assert.equal(seen.code, 4000, "the server answers with the same code");
    assert.equal(seen.wasClean, true);
  });

  it("close from the server: the browser sees the code and reason", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const reason = `server leaves ✓ ${"r".repeat(100)}`;
    peer.conn.close(4003, reason);
    const seen = await browser.call<CloseSeen>("closed", id);
    assert.deepEqual(seen, { code: 4003, reason, wasClean: true, errored: false });
    const info = await peer.closed();
    assert.equal(info.wasClean, true);
    assert.equal(info.code, 4003, "the browser echoes the code");
  });

  it("a refused handshake is a failed connection for the browser", TIMEOUT, async () => {
    const before = server.peers.length;
    const opened = await browser.call<Opened>("open", server.url("/refuse"));
    assert.deepEqual(opened.failed, { code: 1006, reason: "", wasClean: false, errored: true });
    assert.equal(server.refusals.count, 1);
    assert.equal(server.peers.length, before);
    assert.ok(
      browser.console.some((l) => l.includes("Unexpected response code: 403")),
      browser.console.join("\n"),
    );
  });

  it("selects a subprotocol among the browser's", TIMEOUT, async () => {
    const { id, opened, peer } = await open(browser, server, ["x.unknown", "chat.v1", "chat.v2"]);
    assert.equal(opened.protocol, "chat.v1");
    assert.equal(peer.conn.protocol, "chat.v1");
    await browser.call("close", id, 1000, "");
    // No match: the server answers without the header and the browser fails the connection.
    const serverSide = server.connection();
    const none = await browser.call<Opened>("open", server.url("/"), ["x.unknown"]);
    assert.equal(none.failed?.code, 1006);
    assert.equal((await serverSide).conn.protocol, "");
  });

  it("keeps the order of 10,000 small messages, both ways", TIMEOUT, async () => {
    const { id, peer } = await open(browser, server);
    const up = await browser.call<{ inOrder: boolean }>("burst", id, 10_000);
    assert.deepEqual(up, { inOrder: true, count: 10_000 });
    assert.equal(peer.texts()[9_999], "burst 9999");
    peer.echo = false;
    for (let i = 0; i < 10_000; i++) peer.conn.send(`down ${i}`);
    const down = await browser.call("expectBurst", id, "down", 10_000);
    assert.deepEqual(down, { inOrder: true, count: 10_000 });
    await browser.call("close", id, 1000, "");
  });

  it("the browser answers the idle pings of a heartbeat server", TIMEOUT, async () => {
    const beating = await startInteropServer({ idleTimeout: 50 });
    try {
      await browser.load(beating);
      const { id, peer } = await open(browser, beating);
      await peer.until(() => peer.pongs.length >= 3 || peer.closeInfo !== undefined);
      assert.equal(peer.closeInfo, undefined, "closed while the browser was answering the pings");
      await browser.call("close", id, 1000, "");
    } finally {
      await beating.close();
      await browser.load(server);
    }
  });

  it("navigating away closes with 1001 (going away)", TIMEOUT, async () => {
    const { peer } = await open(browser, server);
    await browser.page.goto("about:blank");
    const info = await peer.closed();
    assert.equal(info.code, 1001);
    assert.equal(info.wasClean, true);
    await browser.load(server);
  });

  it("serves 200 concurrent connections from one page", TIMEOUT, async () => {
    const n = 200; // Chromium allows 255 WebSockets per renderer
    const start = server.peers.length;
    const result = await browser.call("many", server.url("/many"), n);
    assert.deepEqual(result, { openCount: n, echoed: n, cleanCloses: n });
    assert.equal(server.peers.length - start, n);
    await Promise.all(server.peers.slice(start).map((p) => p.closed()));
  });
});

/** The browser offers what it always offers: the cases differ by the server's options only. */
const deflateCases: DeflateCase<UpgraderOptions["perMessageDeflate"], undefined>[] = [
  {
    name: "defaults",
    server: true,
    client: undefined,
    ...EXPECT.serverDefaults,
    serverWindow: 15,
    burst: true,
  },
  {
    name: "server context takeover kept (serverNoContextTakeover: false)",
    server: { serverNoContextTakeover: false },
    client: undefined,
    ...EXPECT.serverContextKept,
    serverWindow: 15,
  },
  {
    name: "no context takeover imposed by the server",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
    client: undefined,
    ...EXPECT.noContextTakeover,
    serverWindow: 15,
  },
  {
    name: "window bits 9 imposed by the server",
    server: { serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    client: undefined,
    ...EXPECT.windows("client_max_window_bits=9", "server_no_context_takeover"),
    serverWindow: 9,
  },
  {
    name: "client window bits 8 imposed by the server",
    server: { clientMaxWindowBits: 8 },
    client: undefined,
    ...EXPECT.windows("client_max_window_bits=8", "server_no_context_takeover"),
    serverWindow: 15,
  },
];

let deflateBrowser: Browser | undefined;

describeDeflateCases({
  title: "Chromium -> tidews server: permessage-deflate",
  options,
  cases: deflateCases,
  who: { up: "Chromium", down: "tidews" },
  async setUp() {
    deflateBrowser = await Browser.launch();
  },
  async tearDown() {
    await deflateBrowser?.close();
  },
  async open(c) {
    const browser = deflateBrowser;
    assert.ok(browser, "the browser did not start");
    const server = await startInteropServer({ perMessageDeflate: c.server });
    const { id, opened, peer } = await browser
      .load(server)
      .then(() => open(browser, server))
      .catch(async (error: unknown) => {
        await server.close();
        throw error;
      });
    return {
      browser,
      id,
      peer,
      negotiated: () => [opened.extensions ?? "", peer.conn.extensions],
      echoes: (specs) => checkEchoes(browser, id, peer, specs),
      async measure(message) {
        const read = peer.socket.bytesRead;
        const written = peer.socket.bytesWritten;
        assert.equal(await browser.call("echoText", id, message), message);
        return { up: peer.socket.bytesRead - read, down: peer.socket.bytesWritten - written };
      },
      close: () => server.close(),
    };
  },
  more(c, session) {
    it(`compresses within the server's ${c.serverWindow}-bit window`, TIMEOUT, async () => {
      const { browser, id, peer } = session();
      // 300 bytes back is beyond a 9-bit zlib window (250 bytes) and within a 10-bit one.
      const block = randomBytes(150).toString("hex");
      const message = block.repeat(16);
      const written = peer.socket.bytesWritten;
      assert.equal(await browser.call("echoText", id, message), message);
      const down = peer.socket.bytesWritten - written;
      assert.equal(down < message.length / 3, (c.serverWindow ?? 15) >= 10, `${down} bytes down`);
    });

    if (c.burst) {
      it("keeps the order of 10,000 compressed messages", TIMEOUT, async () => {
        const { browser, id } = session();
        const up = await browser.call("burst", id, 10_000);
        assert.deepEqual(up, { inOrder: true, count: 10_000 });
      });
    }
  },
});
