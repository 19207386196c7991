// A TCP relay that counts the bytes in each direction, to check compression on the wire when the
// socket being measured belongs to a peer in another process.
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

export interface CountingProxy {
  readonly port: number;
  /** Bytes from the clients to the target, and back, over every connection so far. */
  readonly bytes: { up: number; down: number };
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const bytes = { up: 0, down: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on("data", (d: Buffer) => {
      bytes.up += d.length;
    });
    outbound.on("data", (d: Buffer) => {
      bytes.down += d.length;
    });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    bytes,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
