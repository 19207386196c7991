// Proves that the built package works through both module systems, as a user would load it.
// `npm test` builds dist/ first.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

const root = new URL("../../", import.meta.url);

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" }).trim();
}

const probe = `
  const pool = new t.BufferPool(64, 1024);
  const b = pool.get(100);
  b.writeString("hi");
  pool.put(b);
  let code = "none";
  try { pool.put(b); } catch (e) { code = e.code + ":" + (e instanceof t.UsageError); }
  console.log([typeof t.ByteBuffer, t.binaryCeil(1000), pool.stats().hits, code].join(","));
`;
const expected = "function,1024,0,ERR_POOL_DOUBLE_PUT:true";

describe("package exports", () => {
  it("works with require()", () => {
    assert.equal(run(["-e", `const t = require("tidews");${probe}`]), expected);
  });

  it("works with import", () => {
    assert.equal(
      run(["--input-type=module", "-e", `import * as t from "tidews";${probe}`]),
      expected,
    );
  });

  it("ships type declarations for both builds", () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
    const entry = pkg.exports["."];
    for (const file of [
      entry.import.types,
      entry.require.types,
      entry.import.default,
      entry.require.default,
    ]) {
      assert.ok(existsSync(new URL(file, root)), `${file} exists`);
    }
    assert.match(readFileSync(new URL(entry.import.types, root), "utf8"), /buffer\/index\.js/);
    assert.equal(pkg.dependencies, undefined, "zero runtime dependencies");
  });

  it("has a tidews bin", () => {
    const out = run(["bin/tidews.mjs", "--help"]);
    assert.match(out, /usage: tidews/);
  });
});
