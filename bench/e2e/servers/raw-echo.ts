/**
 * The ceiling: a `node:net` server that does only what any WebSocket echo must do and nothing
 * more. It answers the opening handshake (finds `Sec-WebSocket-Key`, checks nothing else), then
 * reframes: each client frame's header is rewritten as a server header and its payload unmasked
 * straight into the output, piece by piece as it arrives (a frame that spans reads is never
 * gathered). One `socket.write` per socket read. No UTF-8 validation, no message assembly, no
 * limits, no close handshake beyond ending the socket, no extensions: no Node WebSocket library
 * can do less per byte, so none should pass it.
 *
 * Memory is reused as far as Node allows, so that the garbage collector costs it no more than
 * any library could get away with: every upgraded socket reads into one shared 64 KiB buffer
 * (the mechanism tidews' `ReadBuffer` uses), and in echo mode a socket writes from its own
 * output buffer, taken again for the next read when the write completed at once (nothing left
 * in `writableLength`) and replaced otherwise. Without this (`--fresh-reads`: Node's read per
 * buffer and a new output buffer per read) the ceiling paid for external-memory garbage that
 * tidews does not, and tidews passed it.
 *
 * - `--mode echo`: the output goes back to the sender;
 * - `--mode broadcast`: the output (framed once) is written to every upgraded socket.
 *
 * @module
 */

import net from "node:net";
import { ReadBuffer } from "../../../src/transport/read-buffer.js";
import { acceptKey, maskInto, NATIVE_MASK, OP_CLOSE, writeHeader } from "../wire.js";
import { serveControl, serverArgs } from "./control.js";

const { mode, deflate } = serverArgs();
if (deflate) throw new Error("raw-echo: permessage-deflate is not supported");
const fresh = process.argv.includes("--fresh-reads");
const reads = fresh ? undefined : new ReadBuffer();

const HEADER = 0;
const PAYLOAD = 1;

/** One socket's reframing state. */
class RawConn {
  upgraded = false;
  request: Buffer | undefined;
  state = HEADER;
  readonly head = Buffer.alloc(14);
  headLen = 0;
  readonly mask = Buffer.alloc(4);
  remaining = 0;
  phase = 0;
  closing = false;
  /** Echo mode: the output buffer, reused while writes complete at once. */
  out: Buffer | undefined;

  constructor(readonly socket: net.Socket) {}
}

const upgraded = new Set<net.Socket>();

/** The header length announced by the second byte of a masked client frame. */
function needed(b1: number): number {
  const len7 = b1 & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

/** Reframes `chunk` into `out` from 0; returns the number of bytes written. */
function reframe(c: RawConn, chunk: Buffer, out: Buffer): number {
  let off = 0;
  let w = 0;
  const n = chunk.length;
  while (off < n) {
    if (c.state === PAYLOAD) {
      const take = Math.min(c.remaining, n - off);
      maskInto(chunk.subarray(off, off + take), c.mask, c.phase, out, w, take);
      off += take;
      w += take;
      c.phase += take;
      c.remaining -= take;
      if (c.remaining === 0) c.state = HEADER;
      continue;
    }
    // Gather the header (2 to 14 bytes) in c.head when it is not whole in this chunk.
    let src = chunk;
    let at = off;
    const avail = c.headLen === 0 ? n - off : 0;
    let need = avail >= 2 ? needed(chunk[off + 1] as number) : 14;
    if (c.headLen > 0 || avail < need) {
      while (off < n) {
        c.head[c.headLen++] = chunk[off++] as number;
        if (c.headLen >= 2) need = needed(c.head[1] as number);
        if (c.headLen === need) break;
      }
      if (c.headLen < 2 || c.headLen < need) break;
      src = c.head;
      at = 0;
      c.headLen = 0;
    } else {
      off += need;
    }
    const b0 = src[at] as number;
    const len7 = (src[at + 1] as number) & 0x7f;
    let length = len7;
    let p = at + 2;
    if (len7 === 126) {
      length = src.readUInt16BE(p);
      p += 2;
    } else if (len7 === 127) {
      length = src.readUInt32BE(p) * 2 ** 32 + src.readUInt32BE(p + 4);
      p += 8;
    }
    src.copy(c.mask, 0, p, p + 4);
    w += writeHeader(out, w, b0 & 0x0f, length, {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
    });
    if ((b0 & 0x0f) === OP_CLOSE) c.closing = true;
    c.remaining = length;
    c.phase = 0;
    c.state = length > 0 ? PAYLOAD : HEADER;
  }
  return w;
}

function onFrames(c: RawConn, chunk: Buffer): void {
  // A server header is 4 bytes shorter than the client's; only a header gathered from the
  // previous read can make the output longer than this read.
  const size = chunk.length + 14;
  let out = c.out;
  if (out === undefined || out.length < size) out = Buffer.allocUnsafe(Math.max(size, 65550));
  const w = reframe(c, chunk, out);
  if (w === 0) {
    if (!fresh) c.out = out;
    return;
  }
  const bytes = out.subarray(0, w);
  if (mode === "echo") {
    c.socket.write(bytes);
    // Written through at once: the buffer is free again; else it stays with the socket.
    c.out = !fresh && c.socket.writableLength === 0 ? out : undefined;
  } else {
    for (const s of upgraded) s.write(bytes);
  }
  if (c.closing) c.socket.end();
}

function onHandshake(c: RawConn, chunk: Buffer): void {
  const all = c.request === undefined ? chunk : Buffer.concat([c.request, chunk]);
  const end = all.indexOf("\r\n\r\n");
  if (end < 0) {
    c.request = all === chunk ? Buffer.from(chunk) : all; // a shared read buffer is reused
    return;
  }
  c.request = undefined;
  const key = /\r\nsec-websocket-key:[ \t]*([^\r\n]+?)[ \t]*\r\n/i.exec(
    all.toString("latin1", 0, end + 2),
  );
  if (key === null) {
    c.socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    return;
  }
  c.socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${acceptKey(key[1] as string)}\r\n\r\n`,
  );
  c.upgraded = true;
  upgraded.add(c.socket);
  if (end + 4 < all.length) onFrames(c, all.subarray(end + 4));
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const c = new RawConn(socket);
  socket.on("data", (chunk: Buffer) => {
    if (c.upgraded) onFrames(c, chunk);
    else onHandshake(c, chunk);
  });
  // From the first read on, into the shared buffer: chunks are valid during the call only,
  // which reframing (it copies every byte into the output) allows.
  reads?.adopt(socket, (n, buffer) => {
    const chunk = buffer.subarray(0, n);
    if (c.upgraded) onFrames(c, chunk);
    else onHandshake(c, chunk);
    return true;
  });
  socket.on("error", () => {});
  socket.on("close", () => upgraded.delete(socket));
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address() as net.AddressInfo;
  serveControl({
    port: address.port,
    label: `raw node:net (unmask ${NATIVE_MASK ? "bufferutil" : "js"}, ${fresh ? "a buffer per read" : "shared read buffer"})`,
    connections: () => upgraded.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of upgraded) s.destroy();
        server.close(() => resolve());
      }),
  });
});
