#!/usr/bin/env node
// The `tidews` command: runs the built CLI (npm run build creates dist/).
import { existsSync } from "node:fs";

const entry = new URL("../dist/esm/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("tidews: dist/ is missing; run `npm run build` first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
} catch (error) {
  process.stderr.write(`tidews: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
