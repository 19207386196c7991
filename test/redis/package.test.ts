// The `tidews/redis` entry point as a user loads it from the built package (`npm test` builds
// dist/ first), and the promise that the core itself needs no ioredis.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = new URL("../../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" }).trim();
}

function jsFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) jsFiles(p, out);
    else if (e.name.endsWith(".js")) out.push(p);
  }
  return out;
}

const probe = `const a = new t.RedisAdapter({ client: fake });
  console.log([typeof t.RedisAdapter, a.nodeId.length, a.connected].join(","));`;
// A stand-in for an ioredis client: enough for the constructor, never connected.
const fake = `const { EventEmitter } = require("node:events");
  class Fake extends EventEmitter { status = "wait"; duplicate() { return new Fake(); } }
  const fake = new Fake();`;

describe("package: tidews/redis", () => {
  it("declares ioredis as an optional peer dependency, not a dependency", () => {
    assert.equal(pkg.dependencies, undefined);
    assert.ok(pkg.peerDependencies.ioredis);
    assert.equal(pkg.peerDependenciesMeta.ioredis.optional, true);
    assert.ok(pkg.devDependencies.ioredis, "installed for the tests");
  });

  it("ships both builds and their types", () => {
    const entry = pkg.exports["./redis"];
    for (const file of [
      entry.import.types,
      entry.import.default,
      entry.require.types,
      entry.require.default,
    ]) {
      assert.ok(existsSync(new URL(file, root)), `${file} exists`);
    }
  });

  it("loads with require()", () => {
    assert.equal(
      run(["-e", `${fake} const t = require("tidews/redis"); ${probe}`]),
      "function,16,false",
    );
  });

  it("loads with import", () => {
    const esmFake = fake.replace('const { EventEmitter } = require("node:events");', "");
    assert.equal(
      run([
        "--input-type=module",
        "-e",
        `import { EventEmitter } from "node:events"; import * as t from "tidews/redis"; ${esmFake} ${probe}`,
      ]),
      "function,16,false",
    );
  });

  it("keeps ioredis out of the core build", () => {
    const core = readFileSync(new URL("dist/esm/index.js", root), "utf8");
    assert.doesNotMatch(core, /redis/, "the core entry point does not reach src/redis");
    for (const build of ["esm", "cjs"]) {
      const dir = new URL(`dist/${build}/`, root).pathname;
      for (const file of jsFiles(dir)) {
        if (file.includes(`${join(dir, "redis")}/`)) continue;
        assert.doesNotMatch(
          readFileSync(file, "utf8"),
          /(?:from|require\(|import\()\s*["']ioredis["']/,
          `${file} loads ioredis`,
        );
      }
    }
  });
});
