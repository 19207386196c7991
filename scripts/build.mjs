#!/usr/bin/env node
// Builds the ESM and CommonJS outputs (with .d.ts) into dist/.
// `--if-needed` skips the build when dist/ is newer than every file in src/.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const stamp = join(root, "dist", ".stamp");

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

if (process.argv.includes("--if-needed")) {
  let built = 0;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {}
  const sources = Math.max(
    newest(join(root, "src")),
    statSync(join(root, "tsconfig.build.json")).mtimeMs,
    statSync(join(root, "tsconfig.json")).mtimeMs,
  );
  if (built > sources) process.exit(0);
}

const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
rmSync(join(root, "dist"), { recursive: true, force: true });
for (const config of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  try {
    execFileSync(process.execPath, [tsc, "-p", join(root, config)], { stdio: "inherit" });
  } catch {
    console.error(`build failed: tsc -p ${config}`);
    process.exit(1);
  }
}
// The demo's pages are plain files beside its module (the CLI, and so the demo, is ESM only:
// tsconfig.cjs.json leaves src/cli and src/demo out).
cpSync(join(root, "src", "demo", "public"), join(root, "dist", "esm", "demo", "public"), {
  recursive: true,
});
// dist/cjs is CommonJS although the package is "type": "module".
mkdirSync(join(root, "dist", "cjs"), { recursive: true });
writeFileSync(join(root, "dist", "cjs", "package.json"), '{ "type": "commonjs" }\n');
writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.log("built dist/esm and dist/cjs");
