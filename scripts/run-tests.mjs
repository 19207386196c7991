#!/usr/bin/env node
// Runs every test file under test/ (TypeScript, through tsx) with Node's built-in runner.
// Arguments narrow the run: `node scripts/run-tests.mjs buffer` runs files whose path contains
// "buffer".
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("--"));

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) collect(p, out);
    else if (entry.name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}

const files = collect(join(root, "test"), [])
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const reporter = process.env.CI ? "spec" : "spec";
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    `--test-reporter=${reporter}`,
    "--test-concurrency=2",
    "--test-timeout=300000",
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
