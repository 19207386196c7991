/**
 * The long-running fuzzer: the targets of test/hardening/lib/targets.ts (frames through
 * ProtocolConnection, the handshake, Sec-WebSocket-Extensions, the zlib inflater), each judged
 * against its reference model, with new seeds until the time is up. The test suite runs the same
 * targets with a fixed seed and a bounded number of inputs.
 *
 * Usage: `npm run fuzz -- [--seconds N] [--target NAME[,NAME]] [--seed N] [--batch N]`
 *
 * - `--seconds`: how long to run (default 60);
 * - `--target`: only these targets (default all);
 * - `--seed`: the first seed (default from the clock); batch `k` of a target uses `seed + k`;
 * - `--batch`: inputs per batch (default 200);
 * - `--replay NAME --seed N --path P`: run the one failing input fast-check reported, and show it.
 *
 * Each target runs in its own child process, so a hang is seen (no progress for 30 s: reported
 * with the seed of the batch in progress, the process killed) and memory is bounded (a 1 GiB
 * heap limit per process: running out is reported as a failure). Progress goes to stderr every two seconds; the summary
 * table (inputs tried, failures, slowest input, peak heap) goes to stdout. The exit status is 1
 * when anything failed.
 */

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  flagValue,
  formatNumber,
  printTable,
  progress,
  progressDone,
} from "../bench/lib/report.js";
import { type FuzzTarget, targets } from "../test/hardening/lib/targets.js";

interface Job {
  readonly target: string;
  readonly seed: number;
  readonly batch: number;
  readonly deadline: number;
}

type Report =
  | {
      readonly kind: "batch";
      readonly seed: number;
      readonly runs: number;
      readonly slowest: number;
      readonly heap: number;
    }
  | {
      readonly kind: "failure";
      readonly seed: number;
      readonly path: string;
      readonly error: string;
      readonly input: string;
    }
  | { readonly kind: "done" };

/** A counterexample, printable: Buffers in hex, long values cut. */
function show(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v !== null && typeof v === "object" && (v as { type?: unknown }).type === "Buffer") {
      return `hex:${Buffer.from((v as { data: number[] }).data).toString("hex")}`;
    }
    return v;
  });
  return text.length > 2000 ? `${text.slice(0, 2000)}...` : text;
}

function find(name: string): FuzzTarget<unknown> {
  const t = targets.find((x) => x.name === name);
  if (t === undefined)
    throw new Error(`no target ${name}; targets: ${targets.map((x) => x.name).join(", ")}`);
  return t as unknown as FuzzTarget<unknown>;
}

/** Worker side: batches of `job.batch` inputs, seed after seed, until the deadline. */
async function work(job: Job): Promise<void> {
  const target = find(job.target);
  const port = { postMessage: (r: Report) => process.send?.(r) };
  let slowest = 0;
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    const t = performance.now();
    await target.check(input);
    const ms = performance.now() - t;
    if (ms > slowest) slowest = ms;
  });
  // At least one batch, even when starting the process took the whole time.
  for (let k = 0; k === 0 || Date.now() < job.deadline; k++) {
    const seed = (job.seed + k) | 0;
    slowest = 0;
    const details = await fc.check(property, { seed, numRuns: job.batch });
    if (details.failed) {
      const error =
        details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance);
      port.postMessage({
        kind: "failure",
        seed,
        path: details.counterexamplePath ?? "",
        error: error.slice(0, 2000),
        input: show(details.counterexample),
      } satisfies Report);
    }
    port.postMessage({
      kind: "batch",
      seed,
      runs: details.numRuns,
      slowest,
      heap: process.memoryUsage().heapUsed,
    } satisfies Report);
  }
  port.postMessage({ kind: "done" } satisfies Report);
  process.disconnect?.();
}

interface Tally {
  name: string;
  maps: string;
  inputs: number;
  failures: number;
  slowest: number;
  heap: number;
  current: number;
  lastReport: number;
  finished: boolean;
  notes: string[];
}

const HANG_MS = 30_000;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = Number(flagValue("seconds", argv) ?? 60);
  const batch = Number(flagValue("batch", argv) ?? 200);
  const seed = Number(flagValue("seed", argv) ?? Date.now() % 2 ** 31);
  const replay = flagValue("replay", argv);
  if (replay !== undefined) {
    const target = find(replay);
    const path = flagValue("path", argv);
    const details = await fc.check(
      fc.asyncProperty(target.arbitrary, async (input) => {
        await target.check(input);
      }),
      { seed, path, numRuns: 1, endOnFailure: true },
    );
    if (details.failed) {
      process.stdout.write(
        `FAILS: ${show(details.counterexample)}\n${String(details.errorInstance)}\n`,
      );
    } else {
      process.stdout.write(`passes: ${replay}, seed ${seed}, path ${path ?? "(none)"}\n`);
    }
    process.exit(details.failed ? 1 : 0);
  }
  const names = (flagValue("target", argv) ?? targets.map((t) => t.name).join(",")).split(",");
  const deadline = Date.now() + seconds * 1000;
  const tallies: Tally[] = names.map((name) => ({
    name,
    maps: find(name).maps,
    inputs: 0,
    failures: 0,
    slowest: 0,
    heap: 0,
    current: seed,
    lastReport: Date.now(),
    finished: false,
    notes: [],
  }));
  const started = Date.now();
  process.stderr.write(`fuzz: ${names.join(", ")} for ${seconds} s from seed ${seed}\n`);
  const finished = tallies.map(
    (tally) =>
      new Promise<void>((resolve) => {
        const job: Job = { target: tally.name, seed, batch, deadline };
        const worker = fork(fileURLToPath(import.meta.url), ["--worker", JSON.stringify(job)], {
          execArgv: [...process.execArgv, "--max-old-space-size=1024"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        const watchdog = setInterval(() => {
          if (Date.now() - tally.lastReport > HANG_MS) {
            tally.failures++;
            tally.notes.push(
              `hang: no progress for ${HANG_MS / 1000} s in the batch of seed ${tally.current + 1}`,
            );
            worker.kill("SIGKILL");
          }
        }, 1000);
        worker.on("message", (r: Report) => {
          tally.lastReport = Date.now();
          if (r.kind === "batch") {
            tally.inputs += r.runs;
            tally.current = r.seed;
            tally.slowest = Math.max(tally.slowest, r.slowest);
            tally.heap = Math.max(tally.heap, r.heap);
          } else if (r.kind === "failure") {
            tally.failures++;
            progressDone();
            process.stderr.write(
              `\nFAILURE in ${tally.name}: ${r.error}\n  input: ${r.input}\n  replay: npm run fuzz -- --replay ${tally.name} --seed ${r.seed} --path ${r.path}\n\n`,
            );
          } else {
            tally.finished = true;
          }
        });
        worker.on("error", (error) => {
          tally.failures++;
          tally.notes.push(`worker died: ${error.message}`);
        });
        worker.on("exit", (code, signal) => {
          clearInterval(watchdog);
          if (!tally.finished && code !== 0) {
            tally.failures++;
            tally.notes.push(`died: exit code ${code}, signal ${signal} (out of memory?)`);
          }
          resolve();
        });
      }),
  );
  const ticker = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    progress(
      `fuzz ${s}/${seconds} s  ${tallies.map((t) => `${t.name} ${formatNumber(t.inputs)}${t.failures > 0 ? ` (${t.failures} failed)` : ""}`).join("  ")}`,
    );
  }, 2000);
  await Promise.all(finished);
  clearInterval(ticker);
  progressDone();
  const total = (Date.now() - started) / 1000;
  printTable(
    `fuzz: ${formatNumber(total)} s, seeds ${seed}.. (node ${process.version})`,
    ["target", "inputs", "inputs/s", "failures", "slowest input", "peak heap", "failures map to"],
    tallies.map((t) => [
      t.name,
      t.inputs,
      formatNumber(t.inputs / total),
      t.failures,
      `${t.slowest.toFixed(1)} ms`,
      `${(t.heap / 2 ** 20).toFixed(0)} MiB`,
      t.maps,
    ]),
  );
  for (const t of tallies) for (const n of t.notes) process.stdout.write(`${t.name}: ${n}\n`);
  process.exit(tallies.some((t) => t.failures > 0 || !t.finished) ? 1 : 0);
}

const workerArg = process.argv.indexOf("--worker");
if (workerArg < 0) await main();
else await work(JSON.parse(process.argv[workerArg + 1] as string) as Job);
