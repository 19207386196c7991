// Interop: the tidews client against a Python `websockets` server (test/interop/peers/server.py).
// The server echoes; text messages starting with "!cmd " make it act (close, ping, send
// fragments, a burst, report digests), and it prints each connection's close. Enabled once
// src/client/index.ts exports `connect`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Connection } from "../../src/runtime/connection.js";
import {
  assertReceived,
  describeDeflateCases,
  haveOpenFiles,
  sendAndCheckEchoes,
  INTEROP_TIMEOUT as TIMEOUT,
  tidewsClientDeflateCases,
} from "../helpers/interop.js";
import { type ClientConnectOptions, ClientPeer, loadClient } from "./client-peer.js";
import { findPython, gate } from "./gate.js";
import {
  binaryPayload,
  type PayloadSpec,
  sizeMatrix,
  textPayload,
  UNICODE_SAMPLES,
} from "./payloads.js";
import { startCountingProxy } from "./proxy.js";
import { hex, PythonPeer } from "./python-peer.js";

const client = await loadClient();
const found = findPython();
const peerGate = gate(found === undefined ? "python3-websockets not installed" : undefined);
const options = client.missing === undefined ? peerGate : { skip: client.missing };
const python = found?.python ?? "python3";

interface CloseEvent {
  readonly event: string;
  readonly path: string;
  readonly code: number;
  readonly reason: string;
  readonly received: number;
}

interface PythonServer {
  readonly py: PythonPeer;
  readonly port: number;
  /** A URL with a path of its own, so that its close event can be told apart. */
  url(path?: string): string;
  /** The close of the connection to `path`, as the server printed it. */
  closeEvent(path: string): Promise<CloseEvent>;
  stop(): Promise<void>;
}

let paths = 0;

async function startPythonServer(config: Record<string, unknown>): Promise<PythonServer> {
  const py = new PythonPeer(python, "server.py", [JSON.stringify(config)]);
  const line = await py.line();
  const match = /^listening (\d+)$/.exec(line);
  assert.ok(match, `server.py printed '${line}'`);
  const port = Number(match[1]);
  const events = new Map<string, CloseEvent>();
  return {
    py,
    port,
    url: (path = `/c${paths++}`) => `ws://127.0.0.1:${port}${path}`,
    async closeEvent(path) {
      for (;;) {
        const event = events.get(path);
        if (event !== undefined) {
          events.delete(path);
          return event;
        }
        const e = JSON.parse(await py.line()) as CloseEvent;
        events.set(e.path, e);
      }
    },
    stop: () => py.stop(),
  };
}

function command(conn: Connection, cmd: Record<string, unknown>): void {
  conn.send(`!cmd ${JSON.stringify(cmd)}`);
}

async function connect(
  url: string,
  opts: ClientConnectOptions = {},
): Promise<{ conn: Connection; peer: ClientPeer; path: string }> {
  const api = client.api;
  assert.ok(api);
  const peer = new ClientPeer();
  const conn = await api.connect(url, peer, {
    perMessageDeflate: false,
    maxMessageSize: 64 * 1024 * 1024,
    ...opts,
  });
  return { conn, peer, path: new URL(url).pathname };
}

async function checkEchoes(
  conn: Connection,
  peer: ClientPeer,
  specs: readonly PayloadSpec[],
): Promise<void> {
  await sendAndCheckEchoes(
    specs,
    (spec) => {
      if (spec.kind === "text") conn.send(textPayload(spec.size, spec.seed));
      else conn.send(binaryPayload(spec.size, spec.seed));
    },
    () => peer.next(),
  );
  command(conn, { op: "digests" });
  const digests = JSON.parse((await peer.next()).data.toString()) as { sha256: string }[];
  assertReceived(specs, digests.slice(-specs.length), "Python");
}

async function closeClient(
  server: PythonServer,
  { conn, peer, path }: { conn: Connection; peer: ClientPeer; path: string },
): Promise<void> {
  conn.close(1000, "");
  assert.equal((await peer.closed()).wasClean, true);
  assert.equal((await server.closeEvent(path)).code, 1000);
}

describe("tidews client -> Python websockets server", options, () => {
  let server: PythonServer;
  before(async () => {
    server = await startPythonServer({ subprotocols: ["chat.v2", "chat.v1"] });
  });
  after(() => server?.stop());

  it("echoes text and binary of 0 B to 16 MiB byte for byte", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    await checkEchoes(conn, peer, sizeMatrix());
    await closeClient(server, c);
  });

  it("receives the frames Python sends right behind the 101", TIMEOUT, async () => {
    const c = await connect(server.url("/greet"));
    const text = await c.peer.next();
    assert.ok(text.isText && text.data.toString() === "hello from Python ✓");
    const bin = await c.peer.next();
    assert.ok(!bin.isText && bin.data.equals(Buffer.alloc(3000, 0xef)));
    await c.peer.until(() => c.peer.pings.length === 1);
    assert.equal(String(c.peer.pings[0]), "greeting ping");
    await closeClient(server, c);
  });

  it("carries unicode text unchanged", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    for (const text of UNICODE_SAMPLES) {
      conn.send(text);
      assert.equal((await peer.next()).data.toString("utf8"), text);
    }
    await closeClient(server, c);
  });

  it("sends fragmented messages that Python assembles", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    const text = Buffer.from("client fragments 😀 for Python", "utf8");
    const cut = text.indexOf(Buffer.from("😀")) + 1;
    conn.send(text.subarray(0, cut), { binary: false, fin: false });
    conn.ping("between");
    conn.send(text.subarray(cut), { binary: false, fin: true });
    const bin = binaryPayload(150_000, 4);
    conn.send(bin.subarray(0, 100), { fin: false });
    conn.send(bin.subarray(100), { fin: true });
    const t = await peer.next();
    assert.ok(t.isText && t.data.equals(text));
    const b = await peer.next();
    assert.ok(!b.isText && b.data.equals(bin));
    await peer.until(() => peer.pongs.length === 1);
    assert.equal(String(peer.pongs[0]), "between");
    await closeClient(server, c);
  });

  it("assembles fragmented messages from Python", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    const parts = ["Python ", "", "fragments 𝄞", " end"];
    command(conn, { op: "fragments", kind: "text", parts: parts.map(hex) });
    const bin = binaryPayload(100_000, 6);
    const binParts = [bin.subarray(0, 1), bin.subarray(1, 70_000), bin.subarray(70_000)];
    command(conn, { op: "fragments", kind: "binary", parts: binParts.map(hex) });
    const t = await peer.next();
    assert.equal(t.isText, true);
    assert.equal(t.data.toString(), parts.join(""));
    const b = await peer.next();
    assert.ok(!b.isText && b.data.equals(bin));
    await closeClient(server, c);
  });

  it("answers pings with their payloads, in both directions", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    const payloads = [Buffer.alloc(0), Buffer.from([0xff]), randomBytes(125), Buffer.from("✓")];
    for (const p of payloads) conn.ping(p);
    await peer.until(() => peer.pongs.length === payloads.length);
    assert.deepEqual(peer.pongs, payloads);
    for (const p of payloads) {
      // Python answers "!pong <hex>" only once a pong with this payload came back.
      command(conn, { op: "ping", hex: hex(p) });
      assert.equal((await peer.next()).data.toString(), `!pong ${hex(p)}`);
    }
    assert.deepEqual(peer.pings, payloads);
    await closeClient(server, c);
  });

  it("close from the client: Python sees the code and reason", TIMEOUT, async () => {
    const { conn, peer } = await connect(server.url("/bye"));
    const reason = "client leaves — ünï";
    conn.close(4000, reason);
    const info = await peer.closed();
    assert.equal(info.code, 4000, "Python echoes the code");
    assert.equal(info.wasClean, true);
    const seen = await server.closeEvent("/bye");
    assert.deepEqual(seen, { event: "closed", path: "/bye", code: 4000, reason, received: 0 });
  });

  it("close from Python: the client sees the code and reason", TIMEOUT, async () => {
    const { conn, peer, path } = await connect(server.url());
    const reason = `Python leaves ✓ ${"r".repeat(100)}`;
    command(conn, { op: "close", code: 4004, reason });
    const info = await peer.closed();
    assert.equal(info.code, 4004);
    assert.equal(info.reason, reason);
    assert.equal(info.wasClean, true);
    assert.equal((await server.closeEvent(path)).code, 4004, "the client echoes the code");
  });

  it("a refused handshake rejects connect with the status", TIMEOUT, async () => {
    const api = client.api;
    assert.ok(api);
    await assert.rejects(api.connect(server.url("/refuse"), new ClientPeer()), (error) => {
      assert.equal((error as { status?: number }).status, 403);
      return true;
    });
  });

  it("takes the subprotocol Python selects", TIMEOUT, async () => {
    const cases: [string[], string][] = [
      [["chat.v1"], "chat.v1"],
      [["chat.v3", "chat.v2"], "chat.v2"],
      [["other"], ""],
    ];
    for (const [offered, expected] of cases) {
      const c = await connect(server.url(), { protocols: offered });
      assert.equal(c.conn.protocol, expected, `offered ${offered.join(", ")}`);
      await closeClient(server, c);
    }
  });

  it("keeps the order of 10,000 small messages, both ways", TIMEOUT, async () => {
    const c = await connect(server.url());
    const { conn, peer } = c;
    for (let i = 0; i < 10_000; i++) conn.send(`burst ${i}`);
    for (let i = 0; i < 10_000; i++) {
      assert.equal((await peer.next()).data.toString(), `burst ${i}`);
    }
    command(conn, { op: "burst", prefix: "down", n: 10_000 });
    for (let i = 0; i < 10_000; i++) {
      assert.equal((await peer.next()).data.toString(), `down ${i}`);
    }
    await closeClient(server, c);
  });

  it("opens 1,000 concurrent client connections", TIMEOUT, async (t) => {
    const n = 1000;
    if (!haveOpenFiles(t, n + 200)) return;
    const pairs = await Promise.all(
      Array.from({ length: n }, (_, i) => connect(server.url(`/many/${i}`))),
    );
    pairs.forEach(({ conn }, i) => {
      conn.send(`client ${i}`);
    });
    const echoes = await Promise.all(pairs.map(async ({ peer }) => (await peer.next()).data));
    assert.deepEqual(
      echoes.map(String),
      pairs.map((_, i) => `client ${i}`),
    );
    for (const { conn } of pairs) conn.close(1000, "");
    const infos = await Promise.all(pairs.map(({ peer }) => peer.closed()));
    assert.ok(infos.every((i) => i.wasClean && i.code === 1000));
    for (let i = 0; i < n; i++) {
      assert.equal((await server.closeEvent(`/many/${i}`)).code, 1000);
    }
  });
});

/** The server's side is ServerPerMessageDeflateFactory keyword arguments. */
const deflateCases = tidewsClientDeflateCases<Record<string, unknown>>("Python", {
  none: {},
  noContextTakeover: { server_no_context_takeover: true, client_no_context_takeover: true },
  windowBits9: { server_max_window_bits: 9, client_max_window_bits: 9 },
});

describeDeflateCases({
  title: "tidews client -> Python websockets server: permessage-deflate",
  options,
  cases: deflateCases,
  who: { up: "tidews", down: "Python" },
  async open(c) {
    const server = await startPythonServer({ deflate: c.server });
    // Python's socket is in another process: a relay counts the bytes.
    const proxy = await startCountingProxy(server.port);
    const { conn, peer } = await connect(`ws://127.0.0.1:${proxy.port}/`, {
      perMessageDeflate: c.client,
    }).catch(async (error: unknown) => {
      await proxy.close();
      await server.stop();
      throw error;
    });
    return {
      conn,
      peer,
      negotiated: () => [conn.extensions],
      echoes: (specs) => checkEchoes(conn, peer, specs),
      async measure(text) {
        const message = Buffer.from(text);
        const { up, down } = proxy.bytes;
        conn.send(message);
        assert.ok((await peer.next()).data.equals(message));
        return { up: proxy.bytes.up - up, down: proxy.bytes.down - down };
      },
      async close() {
        conn.close(1000, "");
        await peer.closed();
        await proxy.close();
        await server.stop();
      },
    };
  },
  more(c, session) {
    it("inflates fragmented compressed messages and small ones from Python", TIMEOUT, async () => {
      const { conn, peer } = session();
      const text = textPayload(40_000, 12);
      const parts = [text.slice(0, 9_000), text.slice(9_000)];
      command(conn, { op: "fragments", kind: "text", parts: parts.map(hex) });
      assert.equal((await peer.next()).data.toString(), text);
      for (const s of ["", "a", "bb"]) {
        conn.send(Buffer.from(s));
        assert.equal((await peer.next()).data.toString(), s);
      }
    });

    if (c.burst) {
      it("keeps the order of 10,000 compressed messages", TIMEOUT, async () => {
        const { conn, peer } = session();
        command(conn, { op: "burst", prefix: "down", n: 10_000 });
        for (let i = 0; i < 10_000; i++) {
          assert.equal((await peer.next()).data.toString(), `down ${i}`);
        }
      });
    }
  },
});
