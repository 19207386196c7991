/**
 * Pub/sub fan-out: one 1 KiB message to 10,000 subscribers, tidews against `ws` with a
 * hand-written topic loop, in the same run.
 *
 * Scenarios (each server in its own process, the subscribers in a load process of bare node:net
 * WebSocket clients, see bench/pubsub/load.ts):
 * - `one process`: the node that holds the subscribers publishes. tidews: `conn.subscribe` on
 *   open, `server.publish` (one frame for all). ws: a `Set` of sockets and `ws.send` in a loop.
 * - `over Redis`: two nodes and a private redis-server; the subscribers are on node B, node A
 *   publishes. tidews: `RedisAdapter` on both. ws: a hand-written ioredis publisher on A, and on
 *   B an ioredis subscriber whose `messageBuffer` listener runs the loop.
 *
 * Measurements, per scenario and server:
 * - deliveries/s: bursts of `--burst` publishes back to back; from just before the publish command
 *   to the last delivery in the load process (the monotonic clock is shared by the processes);
 *   the median of `--rounds` bursts;
 * - latency: `--paced` publishes one at a time (the next once every subscriber got the previous);
 *   publish-to-delivery of every delivery, p50 and p99 (the p99 is about the time it takes to
 *   write to all subscribers); also the p99 inside the bursts.
 *
 * Usage: `npm run bench:pubsub -- [--quick] [--json] [--subscribers N] [--burst N] [--rounds N]
 * [--paced N] [--only one|redis]`. `--quick`: 1,000 subscribers and fewer messages. `--json` prints one JSON document
 * on stdout; progress goes to stderr. The Redis scenario needs `redis-server` on the PATH (or
 * TIDEWS_REDIS_SERVER); without it that scenario is skipped with a message. Node flags for the
 * child processes (e.g. `--cpu-prof`) go in TIDEWS_BENCH_NODE_FLAGS.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RedisProcess, redisServerVersion } from "../test/helpers/redis-server.js";
import {
  flagValue,
  formatNumber,
  hasFlag,
  printTable,
  progress,
  progressDone,
  ratio,
} from "./lib/report.js";
import { median } from "./lib/stats.js";
import type { LoadCommand, LoadReply, NodeCommand, NodeReply } from "./pubsub/ipc.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = hasFlag("quick");
const json = hasFlag("json");
const SUBSCRIBERS = Number(flagValue("subscribers") ?? (quick ? 1000 : 10_000));
const BURST = Number(flagValue("burst") ?? (quick ? 10 : 20));
const ROUNDS = Number(flagValue("rounds") ?? (quick ? 3 : 5));
const PACED = Number(flagValue("paced") ?? (quick ? 20 : 50));
const SIZE = 1024;
/** `--only one` or `--only redis` runs one scenario. */
const ONLY = flagValue("only");

/** A child process with an IPC channel whose replies are awaited by type. */
class Child<Command, Reply extends { type: string }> {
  private readonly proc: ChildProcess;
  private readonly queue: Reply[] = [];
  private readonly waiters: Array<{ type: string; resolve: (r: Reply) => void }> = [];
  private readonly exited: Promise<number | null>;
  private failure: Error | undefined;

  constructor(script: string, args: readonly string[] = []) {
    const flags = (process.env.TIDEWS_BENCH_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
    // --expose-gc: the subscriber node reports its heap after full collections with its stats.
    const cmd = [process.execPath, "--expose-gc", ...flags, "--import", "tsx", script, ...args];
    // Each side holds one descriptor per subscriber: lift the soft limit to the hard one.
    this.proc = spawn(
      "sh",
      ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...cmd],
      {
        cwd: ROOT,
        stdio: ["ignore", 2, 2, "ipc"],
      },
    );
    this.proc.on("message", (m: Reply) => {
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(m);
      else this.queue.push(m);
    });
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code) => {
        this.failure = new Error(`${script} exited with ${code}`);
        resolve(code);
      });
    });
  }

  send(command: Command): void {
    this.proc.send(command as object);
  }

  next<T extends Reply["type"]>(type: T): Promise<Extract<Reply, { type: T }>> {
    const i = this.queue.findIndex((r) => r.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as Extract<Reply, { type: T }>);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return Promise.race([
      new Promise<Extract<Reply, { type: T }>>((resolve) =>
        this.waiters.push({ type, resolve: resolve as (r: Reply) => void }),
      ),
      this.exited.then(() => {
        throw this.failure;
      }),
    ]);
  }

  async request<T extends Reply["type"]>(
    command: Command,
    type: T,
  ): Promise<Extract<Reply, { type: T }>> {
    this.send(command);
    return this.next(type);
  }

  async stop(command?: Command): Promise<void> {
    if (this.proc.exitCode !== null) return;
    if (command !== undefined) this.send(command);
    else this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

type NodeChild = Child<NodeCommand, NodeReply>;
type LoadChild = Child<LoadCommand, LoadReply>;

interface Result {
  scenario: string;
  server: string;
  subscribers: number;
  deliveriesPerSecond: number;
  pacedP50us: number;
  pacedP99us: number;
  burstP99us: number;
  subscriberNodeRss: number;
  /** The subscriber node's V8 heap in use, and its resident young generation, at the end. */
  subscriberNodeHeap: number;
  subscriberNodeYoung: number;
  subscriberNodeHeapAfterGc: number;
}

async function startNode(
  impl: string,
  redisUrl?: string,
): Promise<{ node: NodeChild; port: number; label: string }> {
  const args = ["--impl", impl, ...(redisUrl === undefined ? [] : ["--redis", redisUrl])];
  const node: NodeChild = new Child("bench/pubsub/node.ts", args);
  const ready = await node.next("ready");
  return { node, port: ready.port, label: ready.label };
}

/** Bursts and paced publishes from `publisher` to the subscribers in `load`. */
async function measure(
  scenario: string,
  label: string,
  publisher: NodeChild,
  subscriberNode: NodeChild,
  load: LoadChild,
): Promise<Result> {
  const burst = async (count: number): Promise<{ seconds: number; deliveries: number }> => {
    load.send({ type: "reset" });
    const deliveries = SUBSCRIBERS * count;
    load.send({ type: "await", deliveries });
    const t0 = process.hrtime.bigint();
    publisher.send({ type: "publish", count, size: SIZE });
    const reached = await load.next("reached");
    return { seconds: Number(BigInt(reached.last) - t0) / 1e9, deliveries };
  };
  progress(`${scenario} / ${label}: warm-up`);
  await burst(Math.max(2, BURST >> 2));
  const rates: number[] = [];
  const burstP99: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    progress(`${scenario} / ${label}: burst ${r + 1}/${ROUNDS} of ${BURST} x ${SUBSCRIBERS}`);
    const { seconds, deliveries } = await burst(BURST);
    rates.push(deliveries / seconds);
    burstP99.push((await load.request({ type: "latency" }, "latency")).p99);
  }
  const stats = await subscriberNode.request({ type: "stats" }, "stats");
  progress(`${scenario} / ${label}: ${PACED} paced publishes`);
  load.send({ type: "reset" });
  for (let i = 1; i <= PACED; i++) {
    load.send({ type: "await", deliveries: SUBSCRIBERS * i });
    publisher.send({ type: "publish", count: 1, size: SIZE });
    await load.next("reached");
  }
  const paced = await load.request({ type: "latency" }, "latency");
  return {
    scenario,
    server: label,
    subscribers: SUBSCRIBERS,
    deliveriesPerSecond: median(rates),
    pacedP50us: paced.p50,
    pacedP99us: paced.p99,
    burstP99us: median(burstP99),
    subscriberNodeRss: stats.rss,
    subscriberNodeHeap: stats.heapUsed,
    subscriberNodeYoung: stats.young,
    subscriberNodeHeapAfterGc: stats.heapAfterGc,
  };
}

async function connectLoad(port: number, subscriberNode: NodeChild): Promise<LoadChild> {
  const load: LoadChild = new Child("bench/pubsub/load.ts");
  await load.next("ready");
  await load.request({ type: "connect", port, clients: SUBSCRIBERS }, "connected");
  await subscriberNode.request({ type: "sync", subscribers: SUBSCRIBERS }, "synced");
  return load;
}

async function oneProcess(impl: string): Promise<Result> {
  progress(`one process / ${impl}: connecting ${SUBSCRIBERS} subscribers`);
  const { node, port, label } = await startNode(impl);
  const load = await connectLoad(port, node);
  try {
    return await measure("one process", label, node, node, load);
  } finally {
    await load.request({ type: "close" }, "closed");
    await Promise.all([load.stop(), node.stop({ type: "stop" })]);
  }
}

async function overRedis(impl: string, redisUrl: string): Promise<Result> {
  progress(`over Redis / ${impl}: connecting ${SUBSCRIBERS} subscribers`);
  const a = await startNode(impl, redisUrl);
  const b = await startNode(impl, redisUrl);
  const load = await connectLoad(b.port, b.node);
  try {
    return await measure("over Redis, 2 nodes", b.label, a.node, b.node, load);
  } finally {
    await load.request({ type: "close" }, "closed");
    await Promise.all([load.stop(), a.node.stop({ type: "stop" }), b.node.stop({ type: "stop" })]);
  }
}

function cpuModel(): string {
  return os.cpus()[0]?.model ?? "unknown CPU";
}

function hasTaskset(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v taskset"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const results: Result[] = [];
if (ONLY !== "redis") for (const impl of ["tidews", "ws"]) results.push(await oneProcess(impl));
const redisVersion = redisServerVersion();
let redisNote: string | undefined;
if (ONLY === "one") {
  // the Redis scenario was not asked for
} else if (redisVersion === undefined) {
  redisNote =
    "redis-server not found: the Redis scenario was skipped (apt-get install redis-server)";
  process.stderr.write(`${redisNote}\n`);
} else {
  const redis = await RedisProcess.start();
  try {
    for (const impl of ["tidews", "ws"]) results.push(await overRedis(impl, redis.url));
  } finally {
    await redis.stop();
  }
}
progressDone();

const environment = {
  node: process.version,
  cpu: cpuModel(),
  cores: os.availableParallelism(),
  redis: redisVersion ?? null,
  taskset: hasTaskset(),
  subscribers: SUBSCRIBERS,
  burst: BURST,
  rounds: ROUNDS,
  paced: PACED,
  size: SIZE,
};

if (json) {
  process.stdout.write(
    `${JSON.stringify({ environment, results, note: redisNote ?? null }, null, 2)}\n`,
  );
} else {
  const baseline = (r: Result) =>
    results.find((o) => o.scenario === r.scenario && o.server.startsWith("ws"));
  printTable(
    `pub/sub fan-out: ${SIZE} B to ${formatNumber(SUBSCRIBERS)} subscribers (node ${process.version}, ${environment.cores} cores, ${environment.cpu})`,
    [
      "scenario",
      "server",
      "deliveries/s",
      "vs ws",
      "p50 paced",
      "p99 paced",
      "p99 in bursts",
      "RSS",
      "heap",
      "young gen",
      "heap after GC",
    ],
    results.map((r) => [
      r.scenario,
      r.server,
      formatNumber(r.deliveriesPerSecond),
      ratio(r.deliveriesPerSecond, baseline(r)?.deliveriesPerSecond ?? Number.NaN),
      `${formatNumber(r.pacedP50us / 1000)} ms`,
      `${formatNumber(r.pacedP99us / 1000)} ms`,
      `${formatNumber(r.burstP99us / 1000)} ms`,
      `${formatNumber(r.subscriberNodeRss / 2 ** 20)} MiB`,
      `${formatNumber(r.subscriberNodeHeap / 2 ** 20)} MiB`,
      `${formatNumber(r.subscriberNodeYoung / 2 ** 20)} MiB`,
      `${formatNumber(r.subscriberNodeHeapAfterGc / 2 ** 20)} MiB`,
    ]),
  );
  if (redisNote !== undefined) console.log(redisNote);
}
