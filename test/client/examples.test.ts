// The client examples, run as a user runs them: against the `tidews echo` command (what
// `npm run echo` starts, here from source so that no build is needed), as child processes.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { runScript, type ScriptRun } from "../helpers/run-script.js";

const root = new URL("../../", import.meta.url);

/** Starts `tidews echo` from source; resolves with the child and its port. */
async function startEcho(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const script = `import("./src/cli/main.ts").then((m) => m.main(${JSON.stringify(["echo", ...args])}))`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
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

/** Runs an example to its end; resolves with its exit code and output. */
function runExample(file: string, args: string[]): Promise<ScriptRun> {
  return runScript(`examples/${file}`, args);
}

describe("client examples against `tidews echo`", () => {
  let plain: { child: ChildProcess; port: number };
  let deflate: { child: ChildProcess; port: number };
  before(async () => {
    [plain, deflate] = await Promise.all([startEcho(["--port", "0"]), startEcho(["--deflate"])]);
  });
  after(() => {
    plain?.child.kill("SIGTERM");
    deflate?.child.kill("SIGTERM");
  });

  it("client-echo.ts prints each echo and a clean close", async () => {
    const url = `ws://127.0.0.1:${plain.port}`;
    const r = await runExample("client-echo.ts", [url, "one", "twö", "three"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      `connected to ${url} (extensions: none)`,
      "echo: one",
      "echo: twö",
      "echo: three",
      "closed: 1000",
    ]);
  });

  it("client-echo.ts negotiates permessage-deflate when the server offers it", async () => {
    const r = await runExample("client-echo.ts", [`ws://127.0.0.1:${deflate.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /extensions: permessage-deflate/);
    assert.match(r.stdout, /echo: hello\necho: tidews\n/);
  });

  it("client-echo.ts reports a failed connection and exits with 1", async () => {
    const server = await startEcho(["--port", "0"]);
    const exited = once(server.child, "exit");
    server.child.kill("SIGTERM");
    await exited;
    const r = await runExample("client-echo.ts", [`ws://127.0.0.1:${server.port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed: ECONNREFUSED/);
  });

  it("client-shared-context.ts: 20 connections, a few shared zlib contexts", async () => {
    const r = await runExample("client-shared-context.ts", [
      `ws://127.0.0.1:${deflate.port}`,
      "20",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = /20 connections, 20 echoes, zlib contexts created: (\d+)/.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    const created = Number(m[1]);
    assert.ok(created >= 1 && created <= 8, `created ${created} contexts for 20 connections`);
  });
});
