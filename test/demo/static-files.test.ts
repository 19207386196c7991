// The demo's static pages: served by exact name from a table, nothing else reachable.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StaticFiles } from "../../src/demo/static-files.js";

describe("StaticFiles", () => {
  let dir: string;
  let server: Server;
  let base: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tidews-static-"));
    writeFileSync(join(dir, "index.html"), "<h1>hi</h1>");
    writeFileSync(join(dir, "app.js"), "console.log(1)");
    writeFileSync(join(dir, "data.bin"), Buffer.from([1, 2, 3]));
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "secret.txt"), "no");
    writeFileSync(join(dir, "..", "tidews-static-outside.txt"), "no");
    const files = new StaticFiles(dir, { "/": "index.html", "/home": "index.html" });
    server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (!files.serve(req, res, path)) {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(dir, "..", "tidews-static-outside.txt"), { force: true });
  });

  it("serves files by name and alias, with their content type", async () => {
    for (const [path, type, body] of [
      ["/", "text/html; charset=utf-8", "<h1>hi</h1>"],
      ["/home?x=1", "text/html; charset=utf-8", "<h1>hi</h1>"],
      ["/index.html", "text/html; charset=utf-8", "<h1>hi</h1>"],
      ["/app.js", "text/javascript; charset=utf-8", "console.log(1)"],
      ["/data.bin", "application/octet-stream", "\u0001\u0002\u0003"],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), type, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(await res.text(), body, path);
    }
  });

  it("answers HEAD without a body", async () => {
    const res = await fetch(`${base}/app.js`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "14");
    assert.equal(await res.text(), "");
  });

  it("reaches nothing else: no folders, no parent, no encoded tricks", async () => {
    for (const path of [
      "/sub/secret.txt",
      "/sub",
      "/../tidews-static-outside.txt",
      "/%2e%2e/tidews-static-outside.txt",
      "/..%2Ftidews-static-outside.txt",
      "/INDEX.HTML",
      "/index.html/",
    ]) {
      assert.equal((await fetch(`${base}${path}`)).status, 404, path);
    }
  });

  it("refuses an alias to a missing file at construction", () => {
    assert.throws(() => new StaticFiles(dir, { "/x": "missing.html" }), /missing\.html is missing/);
  });
});
