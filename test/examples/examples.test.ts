// Every example runs as a user would run it, so none can rot.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import WebSocket from "ws";

const root = new URL("../../", import.meta.url);

async function run(file: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", `examples/${file}`, "0"], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  while (!/listening (\d+)\n/.test(out)) {
    const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
    out += chunk.toString();
  }
  return { child, port: Number(/listening (\d+)/.exec(out)?.[1]) };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const [code] = await exited;
  assert.equal(code, 0, "exits cleanly");
}

function collect(ws: WebSocket, n: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    ws.on("message", (d: Buffer) => {
      got.push(d.toString());
      if (got.length === n) resolve(got);
    });
  });
}

describe("examples", () => {
  it("echo-server.ts echoes", async () => {
    const { child, port } = await run("echo-server.ts");
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const got = collect(ws, 1);
    await once(ws, "open");
    ws.send("hi");
    assert.deepEqual(await got, ["hi"]);
    ws.terminate();
    await stop(child);
  });

  it("express-style-upgrade.ts serves HTTP and upgrades /ws", async () => {
    const { child, port } = await run("express-style-upgrade.ts");
    const res = await fetch(`http://127.0.0.1:${port}/hello`);
    assert.equal(await res.text(), "plain HTTP route: /hello\n");
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const got = collect(ws, 2);
    await once(ws, "open");
    ws.send("shout");
    const [welcome, upper] = await got;
    assert.match(welcome ?? "", /^welcome/);
    assert.equal(upper, "SHOUT");
    ws.terminate();
    await stop(child);
  });

  it("auth-and-session.ts accepts a known token and refuses others with 401", async () => {
    const { child, port } = await run("auth-and-session.ts");
    const ws = new WebSocket(`ws://127.0.0.1:${port}/?token=secret-alice`);
    const got = collect(ws, 2);
    await once(ws, "open");
    ws.send("hi");
    assert.deepEqual(await got, ["hello alice", "alice: hi"]);
    ws.terminate();
    const bad = new WebSocket(`ws://127.0.0.1:${port}/?token=nope`);
    bad.on("error", () => {});
    const [, response] = (await once(bad, "unexpected-response")) as [
      unknown,
      { statusCode: number },
    ];
    assert.equal(response.statusCode, 401);
    await stop(child);
  });

  it("broadcast.ts reaches every client, compressed or not", async () => {
    const { child, port } = await run("broadcast.ts");
    const a = new WebSocket(`ws://127.0.0.1:${port}`, {
      perMessageDeflate: { serverNoContextTakeover: true },
    });
    const b = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await Promise.all([once(a, "open"), once(b, "open")]);
    const text = "news ".repeat(500);
    const got = Promise.all([collect(a, 1), collect(b, 1)]);
    a.send(text);
    assert.deepEqual(await got, [[text], [text]]);
    a.terminate();
    b.terminate();
    await stop(child);
  });

  it("send-file.ts sends a file as one message to a ws client and to its own client mode", async () => {
    const { child, port } = await run("send-file.ts");
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    const got: { data: Buffer; isBinary: boolean }[] = [];
    ws.on("message", (data: Buffer, isBinary: boolean) => got.push({ data, isBinary }));
    const [code] = await once(ws, "close");
    assert.equal(code, 1000);
    assert.equal(got.length, 2);
    const header = JSON.parse(got[0]?.data.toString() ?? "") as { size: number; sha256: string };
    const file = got[1] as { data: Buffer; isBinary: boolean };
    assert.equal(file.isBinary, true);
    assert.equal(file.data.length, header.size);
    assert.equal(createHash("sha256").update(file.data).digest("hex"), header.sha256);
    const client = spawn(
      process.execPath,
      ["--import", "tsx", "examples/send-file.ts", "client", `ws://127.0.0.1:${port}`],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    client.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const [clientCode] = await once(client, "exit");
    assert.equal(clientCode, 0);
    assert.match(out, /^verified sample\.bin: 8388608 bytes$/m);
    await stop(child);
  });

  it("backpressure.ts streams all chunks to a reader, then closes with 1000", async () => {
    const { child, port } = await run("backpressure.ts");
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    let bytes = 0;
    ws.on("message", (d: Buffer) => {
      bytes += d.length;
    });
    const [code] = await once(ws, "close");
    assert.equal(code, 1000);
    assert.equal(bytes, 64 * 16 * 1024);
    await stop(child);
  });

  it("stream-upload.ts saves a fragmented upload through a stream and reports its hash", async () => {
    const { child, port } = await run("stream-upload.ts");
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    const got = collect(ws, 2);
    await once(ws, "open");
    const hash = createHash("sha256");
    const piece = Buffer.alloc(256 * 1024);
    const pieces = 12; // 3 MiB: over maxMessageSize (1 MiB), fine for a stream
    for (let i = 0; i < pieces; i++) {
      piece.fill(i);
      hash.update(piece);
      ws.send(piece, { binary: true, fin: i === pieces - 1 });
    }
    ws.send("small");
    // concurrency 2: the small message's answer may overtake the upload's.
    const answers = (await got).map((m) => JSON.parse(m) as { saved?: boolean });
    const upload = answers.find((a) => a.saved === true);
    const small = answers.find((a) => a.saved === undefined);
    assert.deepEqual(upload, {
      saved: true,
      size: pieces * piece.length,
      sha256: hash.digest("hex"),
    });
    assert.deepEqual(small, { small: true, size: 5 });
    ws.terminate();
    await stop(child);
  });
});
