// The command line and its reports: exit status, index.json in Autobahn's shape, browsable HTML
// with the wire log, the summary table.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { selectCases } from "../../src/conformance/cases/index.js";
import { runConformanceCli } from "../../src/conformance/cli.js";
import { runServerSuite } from "../../src/conformance/runner.js";
import { formatSummary } from "../../src/conformance/summary.js";
import { type BrokenEcho, startBrokenEcho } from "./broken-echo.js";

/** Runs the CLI with stderr captured (the progress line and the summary go there). */
async function cli(argv: string[]): Promise<{ status: number; stderr: string }> {
  const write = process.stderr.write;
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { status: await runConformanceCli(argv), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe("conformance command line and reports", () => {
  let wss: WebSocketServer;
  let url: string;
  let broken: BrokenEcho;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tidews-conformance-"));
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    wss.on("connection", (ws) => {
      ws.on("message", (d, b) => ws.send(d as Buffer, { binary: b }));
      ws.on("error", () => {});
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    broken = await startBrokenEcho();
  });
  after(async () => {
    await new Promise((resolve) => wss.close(resolve));
    await broken.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes index.json, index.html and a page per case, and exits 0 without FAILED", async () => {
    const out = join(dir, "ws");
    const { status, stderr } = await cli([
      "server",
      "--url",
      url,
      "--cases",
      "1.1.1,6.4.1,12.1.1",
      "--agent",
      "ws 8",
      "--out",
      out,
    ]);
    assert.equal(status, 0);
    assert.match(stderr, /conformance: 3 cases against ws 8/);
    assert.match(stderr, /NON-STRICT: 6\.4\.1/);
    assert.match(stderr, /UNIMPLEMENTED: 12\.1\.1/);
    const index = JSON.parse(await readFile(join(out, "index.json"), "utf8"));
    assert.deepEqual(Object.keys(index["ws 8"]), ["1.1.1", "12.1.1", "6.4.1"]);
    const entry = index["ws 8"]["1.1.1"];
    assert.deepEqual(Object.keys(entry), [
      "behavior",
      "behaviorClose",
      "duration",
      "remoteCloseCode",
      "reportfile",
    ]);
    assert.equal(entry.reportfile, "ws_8_case_1_1_1.json");
    const detail = JSON.parse(await readFile(join(out, entry.reportfile), "utf8"));
    assert.equal(detail.behavior, "OK");
    assert.ok(detail.wirelog.some((e: { kind: string }) => e.kind === "tx-frame"));
    const html = await readFile(join(out, "index.html"), "utf8");
    assert.match(html, /href="ws_8_case_6_4_1\.html">NON-STRICT</);
    const page = await readFile(join(out, "ws_8_case_6_4_1.html"), "utf8");
    assert.match(page, /Wire log/);
    assert.match(page, /continue A/);
  });

  it("exits 1 when a case FAILED, 2 for a usage error", async () => {
    const failed = await cli([
      "server",
      "--url",
      `ws://127.0.0.1:${broken.port}/`,
      "--cases",
      "3.1",
      "--out",
      join(dir, "broken"),
    ]);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /FAILED: 3\.1/);
    assert.equal((await cli(["server"])).status, 2);
    assert.equal((await cli(["server", "--url", url, "--cases", "8.*"])).status, 2);
    assert.equal((await cli(["sideways"])).status, 2);
  });

  it("summarises verdicts per family with the non-OK cases by id", async () => {
    const results = await runServerSuite({
      url,
      cases: selectCases(["2.1", "7.13.*"]),
      agent: "ws",
    });
    const text = formatSummary(results, "title");
    assert.match(text, /^title\n/);
    assert.match(text, / 2 Pings\/Pongs\s+1\s+0\s+0\s+0\s+0\n/);
    assert.match(text, / 7 Close Handling\s+0\s+0\s+2\s+0\s+0\n/);
    assert.match(text, /total\s+1\s+0\s+2\s+0\s+0\n/);
    assert.match(text, /INFORMATIONAL: 7\.13\.1 7\.13\.2/);
  });
});
