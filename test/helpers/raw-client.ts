// A bare-bones WebSocket client on node:net for tests that need a misbehaving peer: one that
// never reads, never answers pings, or sends crafted bytes. Not a WebSocket implementation.
import { once } from "node:events";
import net from "node:net";

/** The handshake request with a fixed key (the RFC 6455 section 4.2.2 example). */
export function upgradeRequest(path = "/", headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** Connects, sends the handshake and resolves with the socket and the response head. */
export async function rawConnect(
  port: number,
  path = "/",
  headers: Record<string, string> = {},
): Promise<{ socket: net.Socket; head: string; rest: Buffer }> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(upgradeRequest(path, headers));
  let buf = Buffer.alloc(0);
  while (true) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf("\r\n\r\n");
    if (end >= 0) {
      return { socket, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) };
    }
  }
}

/** Sends `request` raw and resolves with everything the server answered before closing. */
export async function rawExchange(port: number, request: string | Buffer): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  await once(socket, "close");
  return Buffer.concat(chunks).toString();
}

/** A masked client frame. */
export function maskedFrame(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const data = Buffer.from(payload);
  const mask = Buffer.from([1, 2, 3, 4]);
  const n = data.length;
  const head =
    n < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n])
      : n < 65536
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, n >> 8, n & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = (fin ? 0x80 : 0) | opcode;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(n), 2);
            return h;
          })();
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (data[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, mask, body]);
}
