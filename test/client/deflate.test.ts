// permessage-deflate negotiated by the tidews client with real servers (RFC 7692): the ws server
// under each of its settings, the client's own offer parameters, and proof on the wire that
// messages are compressed in both directions.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import type WebSocket from "ws";
import type { PerMessageDeflateOptions as WsDeflateOptions } from "ws";
import { connect } from "../../src/client/index.js";
import type { PerMessageDeflateOptions } from "../../src/deflate/negotiation.js";
import { Inbox, startTidewsServer, startWsServer } from "./helpers.js";

/** A compressible message of about `n` bytes. */
function prose(n: number, salt: number): string {
  let s = "";
  for (let i = 0; s.length < n; i++)
    s += `line ${i % 97} of message ${salt}: the quick brown fox. `;
  return s.slice(0, n);
}

interface Case {
  name: string;
  server: WsDeflateOptions;
  client?: PerMessageDeflateOptions;
  /** The exact Sec-WebSocket-Extensions answer expected. */
  answer: string;
}

const cases: Case[] = [
  {
    name: "defaults (context takeover both ways)",
    server: {},
    answer: "permessage-deflate",
  },
  {
    name: "no context takeover on either side (server's demand)",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "no context takeover asked by the client",
    server: {},
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "windows limited by the server",
    server: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    answer: "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10",
  },
  {
    name: "windows limited by the client",
    server: {},
    client: { serverMaxWindowBits: 11, clientMaxWindowBits: 12 },
    answer: "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12",
  },
  {
    name: "smallest windows (8 bits)",
    server: {},
    client: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    answer: "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
  },
];

describe("permessage-deflate with the ws server", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const server = await startWsServer({ perMessageDeflate: { threshold: 0, ...c.server } });
      try {
        const inbox = new Inbox();
        const accepted = once(server.wss, "connection");
        const conn = await connect(server.url, inbox, {
          perMessageDeflate: { threshold: 0, ...c.client },
        });
        const [remote, req] = (await accepted) as [WebSocket, IncomingMessage];
        assert.equal(conn.extensions, c.answer);
        const socket = req.socket;
        // Many messages, so that context takeover (or its absence) matters.
        let plain = 0;
        for (let i = 0; i < 50; i++) {
          const text = prose(4000 + i * 37, i);
          plain += text.length;
          conn.send(text);
          const echoed = await inbox.next();
          assert.equal(echoed.data.toString(), text, `message ${i}`);
        }
        // Compressed on the way up: the server read far fewer bytes than the plain text.
        assert.ok(socket.bytesRead < plain / 4, `client->server ${socket.bytesRead} of ${plain}`);
        // And on the way down.
        assert.ok(socket.bytesWritten < plain / 4, `server->client ${socket.bytesWritten}`);
        remote.close(1000);
        await inbox.closed;
      } finally {
        await server.close();
      }
    });
  }

  it("a server without permessage-deflate: messages go uncompressed", async () => {
    const server = await startWsServer({ perMessageDeflate: false });
    try {
      const inbox = new Inbox();
      const accepted = once(server.wss, "connection");
      const conn = await connect(server.url, inbox);
      const [, req] = (await accepted) as [WebSocket, IncomingMessage];
      assert.equal(conn.extensions, "");
      const text = prose(20_000, 1);
      conn.send(text);
      assert.equal((await inbox.next()).data.toString(), text);
      assert.ok(req.socket.bytesRead > text.length, "the whole text crossed the wire");
      conn.close();
      await inbox.closed;
    } finally {
      await server.close();
    }
  });

  it("the threshold leaves small messages uncompressed", async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 } });
    try {
      const inbox = new Inbox();
      const accepted = once(server.wss, "connection");
      const conn = await connect(server.url, inbox, { perMessageDeflate: { threshold: 4096 } });
      const [, req] = (await accepted) as [WebSocket, IncomingMessage];
      const before = req.socket.bytesRead;
      const text = "a".repeat(3000);
      conn.send(text);
      await inbox.next();
      assert.ok(req.socket.bytesRead - before > 3000, "sent as is, under the threshold");
      const after = req.socket.bytesRead;
      conn.send("a".repeat(5000));
      await inbox.next();
      assert.ok(req.socket.bytesRead - after < 200, "compressed, over the threshold");
      conn.close();
      await inbox.closed;
    } finally {
      await server.close();
    }
  });

  it("compress: false per message overrides the threshold", async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 } });
    try {
      const inbox = new Inbox();
      const accepted = once(server.wss, "connection");
      const conn = await connect(server.url, inbox, { perMessageDeflate: { threshold: 0 } });
      const [, req] = (await accepted) as [WebSocket, IncomingMessage];
      const before = req.socket.bytesRead;
      conn.send("b".repeat(10_000), { compress: false });
      await inbox.next();
      assert.ok(req.socket.bytesRead - before > 10_000);
      conn.close();
      await inbox.closed;
    } finally {
      await server.close();
    }
  });
});

describe("permessage-deflate with the tidews Upgrader", () => {
  it("negotiates and compresses", async () => {
    const server = await startTidewsServer({ perMessageDeflate: { threshold: 0 } });
    try {
      const inbox = new Inbox();
      const conn = await connect(server.url, inbox, {
        perMessageDeflate: { clientNoContextTakeover: true, threshold: 0 },
      });
      assert.match(conn.extensions, /^permessage-deflate;.*client_no_context_takeover/);
      for (let i = 0; i < 20; i++) {
        const text = prose(10_000, i);
        conn.send(text);
        assert.equal((await inbox.next()).data.toString(), text);
      }
      const socket = server.requests[0]?.socket;
      assert.ok(socket !== undefined && socket.bytesRead < 50_000, `read ${socket?.bytesRead}`);
      conn.close();
      await inbox.closed;
    } finally {
      await server.close();
    }
  });
});
