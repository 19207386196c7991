/**
 * Reads a V8 `.cpuprofile` (written by `npm run bench -- --profile`) and prints where the time
 * went: the top functions by self time, and self time by file. When the run's `window.json` is
 * beside the profile, only the samples of the measurement window count (no startup, no
 * connecting, no teardown).
 *
 * Usage: `node --import tsx bench/e2e/profile.ts FILE.cpuprofile [--top N] [--callers NAME]`.
 * `--callers NAME` also splits the self time of the functions named NAME by their caller chain
 * (three frames up): who makes the `subarray` calls, say.
 *
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { flagValue } from "../lib/report.js";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Self time per function and per file of a profile, in microseconds, largest first. */
function selfTimes(
  profile: CpuProfile,
  window?: { fromUs: number; toUs: number },
  callersOf?: string,
): {
  total: number;
  functions: [string, number][];
  files: [string, number][];
  callers: [string, number][];
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, number>();
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    total += us;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, "$1/");
    const fn = `${n.callFrame.functionName || "(anonymous)"} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ""}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    const file = url || n.callFrame.functionName;
    files.set(file, (files.get(file) ?? 0) + us);
    if (callersOf !== undefined && n.callFrame.functionName === callersOf) {
      const chain: string[] = [];
      for (let p = parent.get(id); p !== undefined && chain.length < 3; p = parent.get(p)) {
        chain.push(byId.get(p)?.callFrame.functionName || "(anonymous)");
      }
      const key = chain.join(" < ");
      callers.set(key, (callers.get(key) ?? 0) + us);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, functions: sorted(functions), files: sorted(files), callers: sorted(callers) };
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined || file.startsWith("--")) {
    process.stderr.write("usage: profile.ts FILE.cpuprofile [--top N]\n");
    process.exitCode = 2;
    return;
  }
  const top = Number(flagValue("top") ?? 25);
  // A profile written by `npm run bench -- --profile` has the measurement window beside it.
  const windowFile = join(dirname(file), "window.json");
  const window = existsSync(windowFile)
    ? (JSON.parse(readFileSync(windowFile, "utf8")) as { fromUs: number; toUs: number })
    : undefined;
  const callersOf = flagValue("callers");
  const { total, functions, files, callers } = selfTimes(
    JSON.parse(readFileSync(file, "utf8")) as CpuProfile,
    window,
    callersOf,
  );
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const scope = window === undefined ? "whole process" : "measurement window only";
  process.stdout.write(
    `${file}: ${(total / 1000).toFixed(0)} ms sampled (${scope})\n\nself time by function:\n`,
  );
  for (const [name, us] of functions.slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
  process.stdout.write("\nself time by file:\n");
  for (const [name, us] of files.slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
  if (callersOf === undefined) return;
  process.stdout.write(`\nself time of ${callersOf} by caller chain:\n`);
  for (const [name, us] of callers.slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
}

main();
