// Interop: the Python `websockets` client (Debian's python3-websockets) against the tidews server.
// test/interop/peers/client.py runs the client; this file drives it command by command and checks
// both what Python saw and what the server saw.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { UpgraderOptions } from "../../src/server/upgrader.js";
import {
  assertEchoVerdicts,
  assertReceived,
  type DeflateCase,
  describeDeflateCases,
  EXPECT,
  haveOpenFiles,
  INTEROP_TIMEOUT as TIMEOUT,
} from "../helpers/interop.js";
import { findPython, gate } from "./gate.js";
import {
  binaryPayload,
  type PayloadSpec,
  sha256,
  sizeMatrix,
  textPayload,
  UNICODE_SAMPLES,
} from "./payloads.js";
import { type Answer, hex, PythonPeer } from "./python-peer.js";
import { GREETING, type InteropServer, type ServerPeer, startInteropServer } from "./server.js";

const found = findPython();
const options = gate(found === undefined ? "python3-websockets not installed" : undefined);
const python = found?.python ?? "python3";

/** Connects Python to `path` and returns the answer with the server's side. */
async function connect(
  py: PythonPeer,
  server: InteropServer,
  args: Record<string, unknown> = {},
  path = "/",
): Promise<{ answer: Answer; peer: ServerPeer }> {
  const serverSide = server.connection();
  const answer = await py.request("connect", { url: server.url(path), deflate: false, ...args });
  assert.equal(answer.refused, undefined, "the handshake was refused");
  return { answer, peer: await serverSide };
}

async function checkEchoes(
  py: PythonPeer,
  peer: ServerPeer,
  specs: readonly PayloadSpec[],
): Promise<void> {
  const first = peer.received.length;
  const { results } = (await py.request("echo", { specs })) as {
    results: { kind: string; size: number; same_type: boolean; length: number; equal: boolean }[];
  };
  assertEchoVerdicts(
    specs,
    results.map(({ same_type, ...r }) => ({ ...r, sameType: same_type })),
  );
  assertReceived(specs, peer.received.slice(first), "the server");
}

describe(
  `Python websockets${found ? ` ${found.version}` : ""} client -> tidews server`,
  options,
  () => {
    let server: InteropServer;
    let py: PythonPeer;
    before(async () => {
      server = await startInteropServer({ protocols: ["chat.v2", "chat.v1"] });
      py = new PythonPeer(python, "client.py");
    });
    after(async () => {
      await py?.stop();
      await server?.close();
    });

    it("echoes text and binary of 0 B to 16 MiB byte for byte", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      await checkEchoes(py, peer, sizeMatrix());
      await py.request("close");
    });

    it("receives what the server sends from onOpen, right behind the 101", TIMEOUT, async () => {
      const { peer } = await connect(py, server, {}, "/greet");
      const text = await py.request("recv");
      assert.deepEqual(text, { ...text, kind: "text", hex: hex(GREETING[0]) });
      const bin = await py.request("recv");
      assert.deepEqual(bin, { ...bin, kind: "binary", hex: hex(GREETING[1]) });
      await peer.until(() => peer.pongs.length === 1);
      assert.equal(String(peer.pongs[0]), "greeting ping");
      await py.request("close");
    });

    it("carries unicode text unchanged", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      for (const text of UNICODE_SAMPLES) {
        await py.request("send", { kind: "text", hex: hex(text) });
        const echo = await py.request("recv");
        assert.equal(echo.kind, "text");
        assert.equal(Buffer.from(echo.hex as string, "hex").toString("utf8"), text);
      }
      assert.deepEqual(
        peer.received.map((r) => r.sha256),
        UNICODE_SAMPLES.map((t) => sha256(Buffer.from(t))),
      );
      await py.request("close");
    });

    it(
      "assembles messages Python sends in fragments (iterable and async iterator)",
      TIMEOUT,
      async () => {
        const { peer } = await connect(py, server);
        // Python sends str fragments, each encoded on its own: cut on character boundaries.
        const chars = ["Python ", "fragments ", "𝄞", " and € split"];
        await py.request("send_fragments", { kind: "text", parts: chars.map(hex) });
        const bin = binaryPayload(200_000, 11);
        const binParts = [bin.subarray(0, 1), bin.subarray(1, 65_536), bin.subarray(65_536)];
        await py.request("send_fragments", {
          kind: "binary",
          parts: binParts.map(hex),
          async: true,
        });
        const t = await py.request("recv");
        assert.equal(Buffer.from(t.hex as string, "hex").toString(), chars.join(""));
        const b = await py.request("recv");
        assert.equal(b.kind, "binary");
        assert.ok(Buffer.from(b.hex as string, "hex").equals(bin));
        assert.equal(peer.received.length, 2, "one message per fragmented message");
        assert.equal(peer.received[0]?.sha256, sha256(Buffer.from(chars.join(""))));
        assert.equal(peer.received[1]?.sha256, sha256(bin));
        await py.request("close");
      },
    );

    it("sends fragmented messages that Python assembles", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      const bytes = Buffer.from("tidews 😀 fragments", "utf8");
      const cut = bytes.indexOf(Buffer.from("😀")) + 3; // inside the character
      peer.conn.send(bytes.subarray(0, cut), { binary: false, fin: false });
      peer.conn.send(bytes.subarray(cut), { binary: false, fin: true });
      const bin = binaryPayload(100_000, 5);
      peer.conn.send(bin.subarray(0, 10), { fin: false });
      peer.conn.ping("between");
      peer.conn.send(bin.subarray(10, 10), { fin: false });
      peer.conn.send(bin.subarray(10), { fin: true });
      const t = await py.request("recv");
      assert.equal(t.kind, "text");
      assert.ok(Buffer.from(t.hex as string, "hex").equals(bytes));
      const b = await py.request("recv");
      assert.equal(b.kind, "binary");
      assert.ok(Buffer.from(b.hex as string, "hex").equals(bin));
      await peer.until(() => peer.pongs.length === 1);
      assert.equal(String(peer.pongs[0]), "between");
      await py.request("close");
    });

    it("answers pings with their payloads, in both directions", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      const payloads = [Buffer.alloc(0), Buffer.from([0xff]), randomBytes(125), Buffer.from("ŝ")];
      // Python's ping() resolves only on a pong that carries the same payload.
      for (const p of payloads) await py.request("ping", { hex: hex(p) });
      assert.deepEqual(peer.pings, payloads);
      for (const p of payloads) peer.conn.ping(p);
      await peer.until(() => peer.pongs.length === payloads.length);
      assert.deepEqual(peer.pongs, payloads);
      await py.request("pong", { hex: hex("unsolicited") });
      await peer.until(() => peer.pongs.length === payloads.length + 1);
      assert.equal(String(peer.pongs.at(-1)), "unsolicited");
      await py.request("close");
    });

    it("close from Python: the server sees the code and reason", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      const reason = "Python leaves — ünï";
      const seen = await py.request("close", { code: 4000, reason });
      const info = await peer.closed();
      assert.equal(info.code, 4000);
      assert.equal(info.reason, reason);
      assert.equal(info.wasClean, true);
      assert.equal(seen.code, 4000, "the server answers with the same code");
    });

    it("close from the server: Python sees the code and reason", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      const waiting = py.request("wait_closed");
      const reason = `server leaves ✓ ${"r".repeat(100)}`;
      peer.conn.close(4002, reason);
      const seen = await waiting;
      assert.equal(seen.unexpected, undefined);
      assert.equal(seen.code, 4002);
      assert.equal(seen.reason, reason);
      const info = await peer.closed();
      assert.equal(info.wasClean, true);
      assert.equal(info.code, 4002, "Python echoes the code");
    });

    it("a refused handshake is a refusal for Python", TIMEOUT, async () => {
      const before = server.peers.length;
      const answer = await py.request("connect", { url: server.url("/refuse/me") });
      assert.equal(answer.refused, 403);
      assert.equal(server.peers.length, before);
      assert.equal(server.refusals.count, 1);
    });

    it("selects a subprotocol among Python's", TIMEOUT, async () => {
      const { answer, peer } = await connect(py, server, { subprotocols: ["chat.v1", "chat.v2"] });
      assert.equal(answer.subprotocol, "chat.v1");
      assert.equal(peer.conn.protocol, "chat.v1");
      await py.request("close");
      const none = await connect(py, server, { subprotocols: ["other"] });
      assert.equal(none.answer.subprotocol, null);
      assert.equal(none.peer.conn.protocol, "");
      await py.request("close");
    });

    it("keeps the order of 10,000 small messages, both ways", TIMEOUT, async () => {
      const { peer } = await connect(py, server);
      const up = await py.request("burst", { n: 10_000 });
      assert.deepEqual(up, { ...up, in_order: true, count: 10_000 });
      assert.equal(peer.received.length, 10_000);
      assert.equal(peer.texts()[9_999], "burst 9999");
      peer.echo = false;
      const down = py.request("recv_burst", { prefix: "down", n: 10_000 });
      for (let i = 0; i < 10_000; i++) peer.conn.send(`down ${i}`);
      assert.deepEqual(await down, { ...(await down), in_order: true, count: 10_000 });
      await py.request("close");
    });

    it("serves 1,000 concurrent Python connections", TIMEOUT, async (t) => {
      const n = 1000;
      if (!haveOpenFiles(t, n + 200)) return;
      const start = server.peers.length;
      const answer = await py.request("many", { url: server.url("/many"), n });
      assert.equal(answer.ok_count, n);
      assert.equal(server.peers.length - start, n);
      await Promise.all(server.peers.slice(start).map((p) => p.closed()));
      assert.equal(server.upgrader.connections.size, 0);
    });
  },
);

describe("Python websockets client -> tidews server: heartbeat", options, () => {
  it("Python answers the idle pings, and the connection stays open", TIMEOUT, async () => {
    const server = await startInteropServer({ idleTimeout: 50 });
    const py = new PythonPeer(python, "client.py");
    try {
      const { peer } = await connect(py, server);
      await peer.until(() => peer.pongs.length >= 3 || peer.closeInfo !== undefined);
      assert.equal(peer.closeInfo, undefined, "closed while Python was answering the pings");
      await py.request("close");
    } finally {
      await py.stop();
      await server.close();
    }
  });
});

/** The client's side is ClientPerMessageDeflateFactory keyword arguments. */
const deflateCases: DeflateCase<UpgraderOptions["perMessageDeflate"], Record<string, unknown>>[] = [
  { name: "defaults", server: true, client: {}, ...EXPECT.serverDefaults, burst: true },
  {
    name: "server context takeover kept (serverNoContextTakeover: false)",
    server: { serverNoContextTakeover: false },
    client: {},
    ...EXPECT.serverContextKept,
  },
  {
    name: "no context takeover asked by Python",
    server: { threshold: 0 },
    client: { server_no_context_takeover: true, client_no_context_takeover: true },
    ...EXPECT.noContextTakeover,
  },
  {
    name: "no context takeover imposed by the server",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    client: {},
    ...EXPECT.noContextTakeover,
  },
  {
    name: "window bits 9 and 10 asked by Python",
    server: true,
    client: { server_max_window_bits: 9, client_max_window_bits: 10 },
    ...EXPECT.windows(
      "client_max_window_bits=10",
      "server_max_window_bits=9",
      "server_no_context_takeover",
    ),
  },
  {
    // tidews compresses with zlib's 9-bit window here (zlib has no raw 8-bit deflater) and
    // claims the stream fits a 256-byte window: Python inflates with exactly that window.
    name: "server window bits 8 asked by Python",
    server: true,
    client: { server_max_window_bits: 8, client_max_window_bits: 9 },
    ...EXPECT.windows(
      "client_max_window_bits=9",
      "server_max_window_bits=8",
      "server_no_context_takeover",
    ),
  },
  {
    name: "window bits 11 imposed by the server",
    server: { serverMaxWindowBits: 11, clientMaxWindowBits: 11 },
    client: {},
    ...EXPECT.windows("client_max_window_bits=11", "server_no_context_takeover"),
  },
];

describeDeflateCases({
  title: "Python websockets client -> tidews server: permessage-deflate",
  options,
  cases: deflateCases,
  who: { up: "Python", down: "tidews" },
  async open(c) {
    const server = await startInteropServer({ perMessageDeflate: c.server });
    const py = new PythonPeer(python, "client.py");
    const { answer, peer } = await connect(py, server, { deflate: c.client }).catch(
      async (error: unknown) => {
        await py.stop();
        await server.close();
        throw error;
      },
    );
    return {
      py,
      negotiated: () => [answer.extensions as string, peer.conn.extensions],
      echoes: (specs) => checkEchoes(py, peer, specs),
      async measure(message) {
        const read = peer.socket.bytesRead;
        const written = peer.socket.bytesWritten;
        await py.request("send", { kind: "text", hex: hex(message) });
        const echo = await py.request("recv");
        assert.equal(echo.hex, hex(message));
        return { up: peer.socket.bytesRead - read, down: peer.socket.bytesWritten - written };
      },
      async close() {
        await py.stop();
        await server.close();
      },
    };
  },
  more(c, session) {
    it("inflates fragmented compressed messages from Python", TIMEOUT, async () => {
      const { py } = session();
      const text = textPayload(40_000, 3);
      const parts = [text.slice(0, 10_000), text.slice(10_000, 10_001), text.slice(10_001)];
      await py.request("send_fragments", { kind: "text", parts: parts.map(hex) });
      const echo = await py.request("recv");
      assert.equal(echo.hex, hex(text));
      // Small messages, which Python compresses too (it has no threshold).
      for (const s of ["", "a", "bb"]) {
        await py.request("send", { kind: "binary", hex: hex(s) });
        assert.equal((await py.request("recv")).hex, hex(s));
      }
    });

    if (c.burst) {
      it("keeps the order of 10,000 compressed messages", TIMEOUT, async () => {
        const up = await session().py.request("burst", { n: 10_000 });
        assert.equal(up.in_order, true, JSON.stringify(up));
      });
    }
  },
});
