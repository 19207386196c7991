/**
 * `tidews conformance`: the command line of the suite.
 *
 * ```text
 * tidews conformance server --url ws://HOST:PORT/ [--cases 1.*,5.*] [--exclude 12.*] [--out DIR]
 *                           [--agent NAME] [--quick] [--insecure]
 * tidews conformance client [--port P] [--host H] [--cases ...] [--exclude ...] [--out DIR]
 *                           [--quick] [--once]
 * tidews conformance client-driver --url ws://HOST:PORT [--agent NAME]
 * tidews conformance self [--cases ...] [--exclude ...] [--out DIR] [--quick]
 * tidews conformance list [--cases ...] [--exclude ...]
 * ```
 *
 * Exit status: 0 when no case FAILED, 1 when one did, 2 for a usage error.
 *
 * @module
 */

import { createError } from "../errors.js";
import { selectCases } from "./cases/index.js";
import { runClientDriver } from "./client-driver.js";
import { startFuzzingServer } from "./fuzzing-server.js";
import { Progress } from "./progress.js";
import { groupByAgent } from "./report-files.js";
import { writeReports } from "./reports.js";
import { runServerSuite } from "./runner.js";
import { formatSummary } from "./summary.js";
import { tidewsDriverClient } from "./tidews-client.js";
import type { CaseResult } from "./types.js";

/** An echo server of the library under test, for the `self` role. */
export interface SelfEchoServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * What the command line of the tidews package passes in: the echo server that the `self` role
 * tests (it lives in the command line, which the suite sits below and does not import).
 */
export interface ConformanceHooks {
  /** Starts the tidews echo server. */
  readonly startEchoServer?: (options: {
    port: number;
    deflate: boolean;
  }) => Promise<SelfEchoServer>;
}

/** The usage text. */
export const CONFORMANCE_USAGE = `usage: tidews conformance <role> [options]

roles:
  server --url ws://HOST:PORT/   test a server that echoes every message (Autobahn's fuzzingclient)
  client [--port P] [--host H]   serve the cases to a client under test (Autobahn's fuzzingserver):
                                 /getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A
  client-driver --url ws://HOST:PORT [--agent NAME]
                                 drive the tidews client through a fuzzing server (this
                                 suite's client role, or Autobahn's fuzzingserver)
  self                           test tidews itself: its echo server without and with
                                 permessage-deflate, and its client (npm run conformance)
  list                           print the cases

options:
  --cases 1.*,5.*   run only these cases (patterns with *; default: all)
  --exclude 12.*    leave these cases out
  --out DIR         where to write index.json, index.html and the case reports
                    (default reports/conformance/servers or .../clients)
  --agent NAME      name of the peer in the reports (server role: default its Server header)
  --quick           shorter bulk cases (9.7, 9.8, 12, 13 send fewer messages), for CI
  --once            client role: exit after the first /updateReports (status 1 if a case FAILED)
  --insecure        server role with wss://: do not verify the certificate
`;

interface Args {
  readonly flags: Map<string, string | true>;
}

const VALUED = new Set(["url", "cases", "exclude", "out", "agent", "port", "host"]);
const SWITCHES = new Set(["quick", "once", "insecure"]);

function parseArgs(argv: readonly string[]): Args {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--"))
      throw createError("ERR_INVALID_ARGUMENT", `unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (SWITCHES.has(name)) {
      flags.set(name, true);
    } else if (VALUED.has(name)) {
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw createError("ERR_INVALID_ARGUMENT", `--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw createError("ERR_INVALID_ARGUMENT", `unknown option --${name}`);
    }
  }
  return { flags };
}

function text(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

function patterns(args: Args, name: string): string[] {
  return (text(args, name) ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

function exitStatus(results: readonly CaseResult[]): number {
  return results.some((r) => r.behavior === "FAILED") ? 1 : 0;
}

async function serverRole(args: Args): Promise<number> {
  const url = text(args, "url");
  if (url === undefined) throw createError("ERR_INVALID_ARGUMENT", "server: --url is required");
  const cases = selectCases(patterns(args, "cases"), patterns(args, "exclude"));
  const out = text(args, "out") ?? "reports/conformance/servers";
  const progress = new Progress(cases.length);
  const t0 = performance.now();
  const agent = text(args, "agent");
  const results = await runServerSuite({
    url,
    cases,
    quick: args.flags.has("quick"),
    ...(agent !== undefined ? { agent } : {}),
    ...(args.flags.has("insecure") ? { rejectUnauthorized: false } : {}),
    onResult: (r, i) => progress.update(r, cases[i + 1]?.id),
  });
  await writeReports(out, groupByAgent(results));
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  process.stderr.write(
    formatSummary(
      results,
      `conformance: ${results.length} cases against ${results[0]?.agent ?? url} (tested as a server) in ${seconds} s`,
    ),
  );
  process.stderr.write(`reports: ${out}/index.html, ${out}/index.json\n`);
  return exitStatus(results);
}

async function clientRole(args: Args): Promise<number> {
  const cases = selectCases(patterns(args, "cases"), patterns(args, "exclude"));
  const out = text(args, "out") ?? "reports/conformance/clients";
  const portText = text(args, "port") ?? "9001";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw createError("ERR_INVALID_ARGUMENT", `--port: expected a port number, got "${portText}"`);
  }
  const progress = new Map<string, Progress>();
  const once = args.flags.has("once");
  let finish: (status: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const server = await startFuzzingServer({
    port,
    host: text(args, "host") ?? "127.0.0.1",
    cases,
    outDir: out,
    quick: args.flags.has("quick"),
    onResult(r, index, total) {
      let p = progress.get(r.agent);
      if (p === undefined) {
        p = new Progress(total, process.stderr, `${r.agent} `);
        progress.set(r.agent, p);
      }
      p.update(r, cases[index + 1]?.id);
    },
    onReports(agent) {
      const agents = agent === undefined ? [...server.results.keys()] : [agent];
      let status = 0;
      for (const a of agents) {
        const results = server.resultsOf(a);
        process.stderr.write(
          formatSummary(
            results,
            `conformance: ${results.length} cases against ${a} (tested as a client)`,
          ),
        );
        status = Math.max(status, exitStatus(results));
      }
      process.stderr.write(`reports: ${out}/index.html, ${out}/index.json\n`);
      if (once) finish(status);
    },
  });
  process.stdout.write(`listening ${server.port}\n`);
  const stop = () => finish(-2);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let status = await finished;
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  if (status === -2) {
    // Stopped by a signal: the reports once more, with what ran.
    await server.writeReports();
    status = 0;
    for (const a of server.results.keys())
      status = Math.max(status, exitStatus(server.resultsOf(a)));
  }
  await server.close();
  return status;
}

/**
 * Tests tidews itself, in process: the echo server without and with permessage-deflate, and the
 * client through the fuzzing server.
 */
async function selfTest(args: Args, hooks: ConformanceHooks): Promise<number> {
  const startEchoServer = hooks.startEchoServer;
  if (startEchoServer === undefined) {
    throw createError("ERR_INVALID_ARGUMENT", "self: no tidews echo server was provided");
  }
  const cases = selectCases(patterns(args, "cases"), patterns(args, "exclude"));
  const out = text(args, "out") ?? "reports/conformance/self";
  const all: CaseResult[] = [];
  let status = 0;
  for (const deflate of [false, true]) {
    const agent = deflate ? "tidews-echo-deflate" : "tidews-echo";
    const server = await startEchoServer({ port: 0, deflate });
    try {
      const progress = new Progress(cases.length, process.stderr, `${agent} `);
      const t0 = performance.now();
      const results = await runServerSuite({
        url: `ws://127.0.0.1:${server.port}/`,
        cases,
        agent,
        quick: args.flags.has("quick"),
        onResult: (r, i) => progress.update(r, cases[i + 1]?.id),
      });
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      process.stderr.write(
        formatSummary(
          results,
          `conformance: ${results.length} cases against ${agent} in ${seconds} s`,
        ),
      );
      all.push(...results);
      status = Math.max(status, exitStatus(results));
    } finally {
      await server.close();
    }
  }
  const agent = "tidews-client";
  const progress = new Progress(cases.length, process.stderr, `${agent} `);
  const fuzzing = await startFuzzingServer({
    cases,
    quick: args.flags.has("quick"),
    onResult: (r, i) => progress.update(r, cases[i + 1]?.id),
  });
  try {
    const t0 = performance.now();
    await runClientDriver({
      url: `ws://127.0.0.1:${fuzzing.port}`,
      agent,
      client: tidewsDriverClient(),
    });
    const results = fuzzing.resultsOf(agent);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    process.stderr.write(
      formatSummary(
        results,
        `conformance: ${results.length} cases against ${agent} in ${seconds} s`,
      ),
    );
    all.push(...results);
    status = Math.max(status, exitStatus(results), results.length < cases.length ? 1 : 0);
  } finally {
    await fuzzing.close();
  }
  await writeReports(out, groupByAgent(all));
  process.stderr.write(`reports: ${out}/index.html, ${out}/index.json\n`);
  return status;
}

async function clientDriver(args: Args): Promise<number> {
  const url = text(args, "url");
  if (url === undefined)
    throw createError("ERR_INVALID_ARGUMENT", "client-driver: --url is required");
  const agent = text(args, "agent") ?? "tidews";
  try {
    const count = await runClientDriver({
      url,
      agent,
      client: tidewsDriverClient(),
      onCase: (n, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${agent} case ${n}/${total}`);
        else if (n === 1 || n % 50 === 0 || n === total)
          process.stderr.write(`${agent} case ${n}/${total}\n`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write("\n");
    process.stderr.write(
      `${agent}: ran ${count} cases and asked for the reports (the verdicts are the fuzzing server's)\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(
      `tidews conformance client-driver: ${error instanceof Error ? error.message : error}\n`,
    );
    return 1;
  }
}

function list(args: Args): number {
  for (const c of selectCases(patterns(args, "cases"), patterns(args, "exclude"))) {
    process.stdout.write(`${c.id.padEnd(9)} ${c.description}\n`);
  }
  return 0;
}

/**
 * Runs `tidews conformance ...`.
 *
 * @param argv - the arguments after `conformance`
 * @param hooks - the parts of tidews to test in the `self` and `client-driver` roles
 * @returns the exit status
 */
export async function runConformanceCli(
  argv: readonly string[],
  hooks: ConformanceHooks = {},
): Promise<number> {
  const [role, ...rest] = argv;
  try {
    const args = parseArgs(rest);
    switch (role) {
      case "server":
        return await serverRole(args);
      case "client":
        return await clientRole(args);
      case "client-driver":
        return await clientDriver(args);
      case "self":
        return await selfTest(args, hooks);
      case "list":
        return list(args);
      case undefined:
      case "help":
      case "--help":
        process.stdout.write(CONFORMANCE_USAGE);
        return 0;
      default:
        throw createError("ERR_INVALID_ARGUMENT", `unknown role "${role}"`);
    }
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ERR_INVALID_ARGUMENT") {
      process.stderr.write(`tidews conformance: ${error.message}\n${CONFORMANCE_USAGE}`);
      return 2;
    }
    throw error;
  }
}
