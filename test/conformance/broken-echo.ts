// A deliberately careless echo server for the tests: it performs the opening handshake and
// echoes every frame it gets (any opcode, any bits, fragments as they come, invalid UTF-8
// included), echoes close frames with their payload, and never closes the TCP connection
// itself. The suite must fail it where RFC 6455 requires checks.
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { FrameReader } from "../../src/conformance/frame-reader.js";
import { encodeFrame } from "../../src/conformance/raw-frame.js";
import { acceptKey } from "../../src/protocol/handshake.js";

export interface BrokenEcho {
  readonly port: number;
  close(): Promise<void>;
}

export async function startBrokenEcho(): Promise<BrokenEcho> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    let reader: FrameReader | null = null;
    socket.on("data", (chunk: Buffer) => {
      if (reader === null) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key =
          /sec-websocket-key:\s*(\S+)/i.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? "";
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
        );
        reader = new FrameReader();
        chunk = head.subarray(end + 4);
      }
      for (const f of reader.push(chunk)) {
        const opcode = f.opcode === 9 ? 10 : f.opcode;
        socket.write(
          encodeFrame({ opcode, fin: f.fin, rsv: f.rsv, payload: f.payload, mask: null }),
        );
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
