// peerAddress: the peer's address of a socket without node:net's per-socket cache.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { peerAddress } from "../../src/transport/peer-address.js";

/** A connected pair on 127.0.0.1: the server's socket and the client's. */
async function pair(): Promise<{ accepted: net.Socket; client: net.Socket; close(): void }> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, "127.0.0.1");
  const [accepted] = (await once(server, "connection")) as [net.Socket];
  await once(client, "connect");
  return {
    accepted,
    client,
    close() {
      client.destroy();
      accepted.destroy();
      server.close();
    },
  };
}

const cached = (s: net.Socket) => (s as unknown as { _peername?: unknown })._peername;

describe("peerAddress", () => {
  it("reads a TCP socket's peer address and leaves node:net's cache empty", async () => {
    const { accepted, close } = await pair();
    try {
      assert.equal(peerAddress(accepted), "127.0.0.1");
      assert.equal(cached(accepted), undefined, "no _peername kept on the socket");
      // The public getter gives the same, and caches it.
      assert.equal(accepted.remoteAddress, "127.0.0.1");
      assert.notEqual(cached(accepted), undefined);
      assert.equal(peerAddress(accepted), "127.0.0.1", "from the cache once it is there");
    } finally {
      close();
    }
  });

  it("answers with the previous address when it is the same, and with the new one otherwise", async () => {
    const { accepted, close } = await pair();
    try {
      const previous = ["127", "0", "0", "1"].join(".");
      assert.equal(peerAddress(accepted, previous), previous);
      assert.equal(peerAddress(accepted, "10.0.0.1"), "127.0.0.1");
      assert.equal(peerAddress({ remoteAddress: "::1" }, "::1"), "::1");
      assert.equal(peerAddress(new PassThrough(), "10.0.0.1"), undefined);
    } finally {
      close();
    }
  });

  it("falls back to remoteAddress for other streams and closed sockets", async () => {
    assert.equal(peerAddress(new PassThrough()), undefined);
    assert.equal(peerAddress({ remoteAddress: "::1" }), "::1");
    const { accepted, close } = await pair();
    close();
    await once(accepted, "close");
    assert.equal(peerAddress(accepted), undefined, "no handle, nothing read before");
  });
});
