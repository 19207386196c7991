// The browser side of test/interop/browser.test.ts: the test calls these functions with
// page.evaluate; they drive the browser's own WebSocket. The payload generators are byte for
// byte those of test/interop/payloads.ts. Loaded as a module by peer.html.

const BLOCK = 256;
const TEXT_BLOCK = 64;
const TEXT_BODY = `${"aé€😀".repeat(5)}ж中!`;
const encoder = new TextEncoder();

function binaryPayload(size, seed) {
  const out = new Uint8Array(Math.ceil(size / BLOCK) * BLOCK);
  const view = new DataView(out.buffer);
  for (let k = 0; k * BLOCK < size; k++) {
    const at = k * BLOCK;
    view.setUint32(at, (k ^ seed) >>> 0);
    const r = k & 0xff;
    for (let j = 0; j < BLOCK - 4; j++) out[at + 4 + j] = (j * 131 + r) & 0xff;
  }
  return out.subarray(0, size);
}

function textPayload(size, seed) {
  const parts = [];
  for (let k = 0; k < Math.floor(size / TEXT_BLOCK); k++) {
    parts.push(((k ^ seed) >>> 0).toString(16).padStart(8, "0"), TEXT_BODY);
  }
  parts.push("x".repeat(size % TEXT_BLOCK));
  return parts.join("");
}

function payload(spec) {
  return spec.kind === "text"
    ? textPayload(spec.size, spec.seed)
    : binaryPayload(spec.size, spec.seed);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One socket whose messages queue up, so none is missed between calls. */
class Peer {
  constructor(ws) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    this.queue = [];
    this.waiters = [];
    this.errored = false;
    ws.addEventListener("message", (e) => {
      const waiter = this.waiters.shift();
      if (waiter === undefined) this.queue.push(e.data);
      else waiter(e.data);
    });
    ws.addEventListener("error", () => {
      this.errored = true;
    });
    this.closeEvent = new Promise((resolve) => {
      ws.addEventListener("close", (e) =>
        resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean, errored: this.errored }),
      );
    });
    this.opened = new Promise((resolve) => {
      ws.addEventListener("open", () => resolve(true));
      ws.addEventListener("close", () => resolve(false));
    });
  }

  next() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

const sockets = new Map();
let nextId = 1;

function get(id) {
  const p = sockets.get(id);
  if (p === undefined) throw new Error(`no socket ${id}`);
  return p;
}

async function summary(data) {
  if (typeof data === "string") {
    const bytes = encoder.encode(data);
    return { kind: "text", length: bytes.length, sha256: await sha256(bytes) };
  }
  const bytes = new Uint8Array(data);
  return { kind: "binary", length: bytes.length, sha256: await sha256(bytes) };
}

window.peer = {
  /** Opens a socket; resolves once it is open or has failed. */
  async open(url, protocols) {
    const p = new Peer(new WebSocket(url, protocols));
    const id = nextId++;
    sockets.set(id, p);
    if (!(await p.opened)) return { id, failed: await p.closeEvent };
    return { id, protocol: p.ws.protocol, extensions: p.ws.extensions };
  },

  /** Sends each spec and checks its echo, type and bytes. */
  async echo(id, specs) {
    const p = get(id);
    const results = [];
    for (const spec of specs) {
      const sent = payload(spec);
      p.ws.send(sent);
      const got = await p.next();
      const sameType = spec.kind === "text" ? typeof got === "string" : got instanceof ArrayBuffer;
      let equal = false;
      if (sameType)
        equal = spec.kind === "text" ? got === sent : sameBytes(new Uint8Array(got), sent);
      const length = typeof got === "string" ? encoder.encode(got).length : got.byteLength;
      results.push({ kind: spec.kind, size: spec.size, sameType, length, equal });
    }
    return results;
  },

  /** Sends a text and returns the text of the echo. */
  async echoText(id, text) {
    const p = get(id);
    p.ws.send(text);
    const got = await p.next();
    return typeof got === "string" ? got : { binary: got.byteLength };
  },

  /** The next message: its type, UTF-8 length and SHA-256. */
  async next(id) {
    return summary(await get(id).next());
  },

  async close(id, code, reason) {
    const p = get(id);
    p.ws.close(code, reason);
    return p.closeEvent;
  },

  closed(id) {
    return get(id).closeEvent;
  },

  /** Sends n texts `burst i` and checks that the echoes come back in order. */
  async burst(id, n) {
    const p = get(id);
    for (let i = 0; i < n; i++) p.ws.send(`burst ${i}`);
    return this.expectBurst(id, "burst", n);
  },

  async expectBurst(id, prefix, n) {
    const p = get(id);
    for (let i = 0; i < n; i++) {
      const got = await p.next();
      if (got !== `${prefix} ${i}`)
        return { inOrder: false, index: i, got: String(got).slice(0, 80) };
    }
    return { inOrder: true, count: n };
  },

  /** Opens n sockets at once, echoes one message on each, closes them all. */
  async many(url, n) {
    const peers = Array.from({ length: n }, () => new Peer(new WebSocket(url)));
    const opened = await Promise.all(peers.map((p) => p.opened));
    const openCount = opened.filter(Boolean).length;
    const echoes = await Promise.all(
      peers.map(async (p, i) => {
        p.ws.send(`client ${i}`);
        return (await p.next()) === `client ${i}`;
      }),
    );
    const closes = await Promise.all(
      peers.map((p) => {
        p.ws.close(1000);
        return p.closeEvent;
      }),
    );
    return {
      openCount,
      echoed: echoes.filter(Boolean).length,
      cleanCloses: closes.filter((c) => c.wasClean && c.code === 1000).length,
    };
  },
};
