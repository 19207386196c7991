/**
 * The soak test: a tidews echo server in this process, clients (`ws`) in a child process, two
 * phases. `churn`: connect, echo one message, disconnect, as fast as `--parallel` clients can;
 * `echo`: `--clients` connections each echoing 1 KiB messages with a window of 4 in flight.
 * Once a second the server's heap (after a full collection), external memory, RSS and the
 * pool's idle bytes are sampled, with the rate of the phase. At the end of each phase, once
 * every connection is gone, memory must be back near where the phase started.
 *
 * Usage: `npm run soak -- [--seconds N] [--parallel N] [--clients N] [--ci]`
 *
 * - `--seconds`: length of each phase (default 60);
 * - `--parallel`: clients churning at once (default 32);
 * - `--clients`: connections of the echo phase (default 200);
 * - `--ci`: 5 seconds per phase, no charts written; the exit status says whether memory came
 *   back (heap within 4 MiB, external within 4 MiB, pool idle bytes not grown, no connection).
 *
 * Progress goes to stderr; the summary table to stdout. Without `--ci`, charts are written to
 * docs/bench/soak-memory.svg and docs/bench/soak-rate.svg.
 */

import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import WebSocket from "ws";
import {
  flagValue,
  formatNumber,
  hasFlag,
  printTable,
  progress,
  progressDone,
} from "../bench/lib/report.js";
import { lineChart } from "../bench/lib/svg.js";
import { createServer } from "../src/index.js";

const MiB = 2 ** 20;

type Phase = "churn" | "echo";

interface DriverJob {
  readonly phase: Phase;
  readonly port: number;
  readonly seconds: number;
  readonly parallel: number;
  readonly clients: number;
}

/** What the driver reports: work done so far (cycles or messages). */
interface Tick {
  readonly done: number;
  readonly finished: boolean;
}

// --- The driver (child process) -------------------------------------------------------------

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

async function drive(job: DriverJob): Promise<void> {
  const url = `ws://127.0.0.1:${job.port}`;
  const deadline = Date.now() + job.seconds * 1000;
  let done = 0;
  const report = setInterval(() => process.send?.({ done, finished: false } satisfies Tick), 250);
  if (job.phase === "churn") {
    await Promise.all(
      Array.from({ length: job.parallel }, async () => {
        while (Date.now() < deadline) {
          const ws = await open(url);
          ws.send("hello");
          await new Promise((r) => ws.once("message", r));
          const closed = new Promise((r) => ws.once("close", r));
          ws.close(1000);
          await closed;
          done++;
        }
      }),
    );
  } else {
    const payload = Buffer.alloc(1024, 0x61);
    const conns = await Promise.all(Array.from({ length: job.clients }, () => open(url)));
    await Promise.all(
      conns.map(
        (ws) =>
          new Promise<void>((resolve) => {
            let inFlight = 0;
            const pump = () => {
              while (inFlight < 4 && Date.now() < deadline) {
                ws.send(payload);
                inFlight++;
              }
              if (inFlight === 0) ws.close(1000);
            };
            ws.on("message", () => {
              inFlight--;
              done++;
              pump();
            });
            ws.on("close", () => resolve());
            pump();
          }),
      ),
    );
  }
  clearInterval(report);
  process.send?.({ done, finished: true } satisfies Tick, () => process.exit(0));
}

// --- The server side (this process) ---------------------------------------------------------

let gcFn: (() => void) | undefined;
function gc(): void {
  if (gcFn === undefined) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  gcFn();
  gcFn();
}

interface Sample {
  readonly t: number;
  readonly heap: number;
  readonly external: number;
  readonly rss: number;
  readonly idle: number;
  readonly connections: number;
  readonly rate: number;
}

interface PhaseResult {
  readonly phase: Phase;
  readonly samples: Sample[];
  readonly done: number;
  readonly seconds: number;
  readonly start: Sample;
  readonly end: Sample;
}

async function runPhase(
  phase: Phase,
  server: ReturnType<typeof createServer>,
  port: number,
  options: { seconds: number; parallel: number; clients: number },
  offset: number,
): Promise<PhaseResult> {
  const sample = (t: number, rate: number): Sample => {
    gc();
    const m = process.memoryUsage();
    return {
      t,
      heap: m.heapUsed,
      external: m.external,
      rss: m.rss,
      idle: server.pool.stats().idleBytes,
      connections: server.connections.size,
      rate,
    };
  };
  const start = sample(offset, Number.NaN);
  const samples: Sample[] = [start];
  const job: DriverJob = { phase, port, ...options };
  const child = fork(fileURLToPath(import.meta.url), ["--driver", JSON.stringify(job)], {
    execArgv: process.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let done = 0;
  let finished = false;
  child.on("message", (m: Tick) => {
    done = m.done;
    finished ||= m.finished;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const began = performance.now();
  let last = 0;
  let lastAt = began;
  const timer = setInterval(() => {
    const now = performance.now();
    const s = sample(offset + (now - began) / 1000, ((done - last) * 1000) / (now - lastAt));
    last = done;
    lastAt = now;
    samples.push(s);
    progress(
      `soak ${phase} ${((now - began) / 1000).toFixed(0)}/${options.seconds} s: ${formatNumber(done)} ${phase === "churn" ? "cycles" : "messages"}, ${formatNumber(s.rate)}/s, ${s.connections} open, heap ${(s.heap / MiB).toFixed(1)} MiB, RSS ${(s.rss / MiB).toFixed(0)} MiB`,
    );
  }, 1000);
  await exited;
  clearInterval(timer);
  const seconds = (performance.now() - began) / 1000;
  while (server.connections.size > 0) await new Promise((r) => setTimeout(r, 10));
  const end = sample(offset + seconds, Number.NaN);
  samples.push(end);
  if (!finished) throw new Error(`the ${phase} driver did not finish`);
  return { phase, samples, done, seconds, start, end };
}

function mib(n: number): string {
  return `${(n / MiB).toFixed(2)} MiB`;
}

function delta(n: number): string {
  return `${n >= 0 ? "+" : ""}${(n / MiB).toFixed(2)} MiB`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const ci = hasFlag("ci", argv);
  const seconds = Number(flagValue("seconds", argv) ?? (ci ? 5 : 60));
  const parallel = Number(flagValue("parallel", argv) ?? 32);
  const clients = Number(flagValue("clients", argv) ?? 200);
  const server = createServer(
    {
      onMessage(conn, m) {
        conn.send(m.data, { binary: m.isBinary });
      },
    },
    { idleTimeout: 30_000 },
  );
  const { port } = await server.listen(0, "127.0.0.1");
  process.stderr.write(
    `soak: ${seconds} s of churn (${parallel} at once), then ${seconds} s of echo (${clients} connections)\n`,
  );
  const churn = await runPhase("churn", server, port, { seconds, parallel, clients }, 0);
  const echo = await runPhase("echo", server, port, { seconds, parallel, clients }, churn.seconds);
  progressDone();
  await server.close(1000);
  const results = [churn, echo];
  const peak = (r: PhaseResult, k: "heap" | "rss") => Math.max(...r.samples.map((s) => s[k]));
  printTable(
    `soak: node ${process.version}, ${seconds} s per phase`,
    [
      "phase",
      "work",
      "rate",
      "heap start",
      "heap end",
      "heap peak",
      "external",
      "RSS start",
      "RSS peak",
      "RSS end",
      "pool idle",
      "open at end",
    ],
    results.map((r) => [
      r.phase,
      `${formatNumber(r.done)} ${r.phase === "churn" ? "cycles" : "messages"}`,
      `${formatNumber(r.done / r.seconds)}/s`,
      mib(r.start.heap),
      mib(r.end.heap),
      mib(peak(r, "heap")),
      delta(r.end.external - r.start.external),
      mib(r.start.rss),
      mib(peak(r, "rss")),
      mib(r.end.rss),
      `${(r.start.idle / 1024).toFixed(0)} -> ${(r.end.idle / 1024).toFixed(0)} KiB`,
      r.end.connections,
    ]),
  );
  const problems: string[] = [];
  for (const r of results) {
    if (r.end.heap - r.start.heap > 4 * MiB)
      problems.push(`${r.phase}: heap ${delta(r.end.heap - r.start.heap)}`);
    if (r.end.external - r.start.external > 4 * MiB) {
      problems.push(`${r.phase}: external ${delta(r.end.external - r.start.external)}`);
    }
    if (r.end.idle > r.start.idle + 4 * MiB)
      problems.push(`${r.phase}: pool idle ${delta(r.end.idle - r.start.idle)}`);
    if (r.end.connections !== 0) problems.push(`${r.phase}: ${r.end.connections} connections left`);
    if (r.done === 0) problems.push(`${r.phase}: no work done`);
  }
  if (!ci) {
    const docs = join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "bench");
    const all = results.flatMap((r) => r.samples);
    const x = all.map((s) => Number(s.t.toFixed(2)));
    writeFileSync(
      join(docs, "soak-memory.svg"),
      lineChart({
        title: `Soak: server memory over ${formatNumber(seconds)} s of churn, then ${formatNumber(seconds)} s of echo`,
        yLabel: "MiB",
        xLabel: "seconds",
        x,
        series: [
          { name: "RSS", values: all.map((s) => s.rss / MiB) },
          { name: "heap used (after GC)", values: all.map((s) => s.heap / MiB) },
          { name: "external", values: all.map((s) => s.external / MiB) },
          { name: "pool idle", values: all.map((s) => s.idle / MiB) },
        ],
      }),
    );
    writeFileSync(
      join(docs, "soak-rate.svg"),
      lineChart({
        title: "Soak: churn cycles per second, then echoed messages per second",
        yLabel: "per second",
        xLabel: "seconds",
        x,
        series: [
          {
            name: "churn cycles/s",
            values: all.map((s) => (s.t <= churn.seconds ? s.rate : Number.NaN)),
          },
          {
            name: "messages/s",
            values: all.map((s) => (s.t > churn.seconds ? s.rate : Number.NaN)),
          },
        ],
      }),
    );
    process.stderr.write(
      `charts: ${join(docs, "soak-memory.svg")}, ${join(docs, "soak-rate.svg")}\n`,
    );
  }
  if (problems.length > 0) {
    process.stdout.write(`NOT BACK TO BASELINE:\n  ${problems.join("\n  ")}\n`);
    process.exit(1);
  }
  process.stdout.write("memory back to baseline after each phase\n");
  process.exit(0);
}

const driverArg = process.argv.indexOf("--driver");
if (driverArg < 0) await main();
else await drive(JSON.parse(process.argv[driverArg + 1] as string) as DriverJob);
