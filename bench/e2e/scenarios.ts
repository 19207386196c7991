/**
 * The scenarios of the end-to-end benchmark (issue 7), each a name that `--scenario` selects,
 * with the targets the issue sets for tidews.
 *
 * @module
 */

import type { LoadJob, PayloadSpec } from "./ipc.js";

/**
 * The servers, in report order. `twin` is a second, identical copy of the ceiling (`raw`), run
 * only when asked (`--noise`): an A/A pair whose ratio, ideally 1.00x, shows how far apart this
 * machine puts two equal servers in the same run. A target against the ceiling that is closer to
 * its threshold than that spread is not decided by one run.
 */
export const SERVER_NAMES = ["tidews", "ws", "raw", "twin"] as const;
/** One of {@link SERVER_NAMES}. */
export type ServerName = (typeof SERVER_NAMES)[number];
/** The servers a run takes without `--servers`. */
export const DEFAULT_SERVERS: readonly ServerName[] = ["tidews", "ws", "raw"];

/** What a scenario measures, which decides its table and metrics. */
export type Measure = "throughput" | "memory";

/** A benchmark scenario: one job for the load generator, run against each applicable server. */
export interface Scenario {
  /** The name given to `--scenario`. */
  readonly name: string;
  /** One line for tables and charts. */
  readonly title: string;
  /** Short category label for charts (payload and shape). */
  readonly label: string;
  readonly measure: Measure;
  /** The load-generator job, without the address. */
  readonly job: Omit<LoadJob, "host" | "port">;
  /** Connections in a `--quick` run, when fewer than `job.connections`. */
  readonly quickConnections?: number;
  /** The servers it applies to. */
  readonly servers: readonly ServerName[];
  /** Server mode. */
  readonly mode: "echo" | "broadcast";
  /** The unit of `messages` in the report ("msg", "delivery", "handshake"). */
  readonly unit: string;
}

function payload(minSize: number, maxSize: number, text = false, count = 64): PayloadSpec {
  return { count, minSize, maxSize, text, seed: 0x7de5 + minSize + maxSize };
}

/** What browsers offer: context takeover both ways, the server may limit our window. */
export const BROWSER_OFFER = "permessage-deflate; client_max_window_bits";
/** An offer without context takeover: no compression history kept between messages. */
export const NO_CONTEXT_OFFER =
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits";

/** Every server: the twin goes wherever the ceiling goes. */
const ALL: readonly ServerName[] = SERVER_NAMES;
const NO_CEILING: readonly ServerName[] = ["tidews", "ws"];

function echo(
  connections: number,
  depth: number,
  spec: PayloadSpec,
  deflate = false,
): Omit<LoadJob, "host" | "port"> {
  return {
    kind: "echo",
    connections,
    depth,
    payload: spec,
    deflate,
    deflateOffer: BROWSER_OFFER,
    messagesPerConnection: 0,
    connectConcurrency: 200,
  };
}

/** Every scenario, in run order. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "echo-1k",
    title: "1 KiB binary echo, 100 connections pipelined 8 deep",
    label: "1 KiB, 100 conns, 8 deep",
    measure: "throughput",
    job: echo(100, 8, payload(1024, 1024)),
    servers: ALL,
    mode: "echo",
    unit: "msg",
  },
  {
    name: "echo-1k-1000",
    title: "1 KiB binary echo, 1,000 connections one message at a time",
    label: "1 KiB, 1000 conns, 1 deep",
    measure: "throughput",
    job: echo(1000, 1, payload(1024, 1024)),
    quickConnections: 200,
    servers: ALL,
    mode: "echo",
    unit: "msg",
  },
  {
    name: "random-64k",
    title: "random 1..64 KiB binary echo, 100 connections pipelined 4 deep",
    label: "1-64 KiB, 100 conns, 4 deep",
    measure: "throughput",
    job: echo(100, 4, payload(1024, 65536, false, 256)),
    servers: ALL,
    mode: "echo",
    unit: "msg",
  },
  {
    name: "deflate-4k",
    title:
      "4 KiB text echo with permessage-deflate (browser offer: context takeover), 100 connections pipelined 8 deep",
    label: "4 KiB text deflate, 100 conns",
    measure: "throughput",
    job: echo(100, 8, payload(4096, 4096, true), true),
    servers: NO_CEILING,
    mode: "echo",
    unit: "msg",
  },
  {
    name: "small-16",
    title: "16 B binary echo (per-message overhead), 100 connections pipelined 8 deep",
    label: "16 B, 100 conns, 8 deep",
    measure: "throughput",
    job: echo(100, 8, payload(16, 16)),
    servers: ALL,
    mode: "echo",
    unit: "msg",
  },
  {
    name: "idle-10k",
    title: "10,000 idle connections: server memory per connection",
    label: "10k idle",
    measure: "memory",
    job: { ...echo(10_000, 1, payload(1024, 1024)), kind: "idle" },
    quickConnections: 500,
    servers: ALL,
    mode: "echo",
    unit: "conn",
  },
  {
    name: "idle-10k-deflate",
    title:
      "10,000 connections after one 4 KiB compressed message each (browser offer: context takeover): server memory",
    label: "10k after 1 deflate msg",
    measure: "memory",
    job: {
      ...echo(10_000, 1, payload(4096, 4096, true), true),
      kind: "idle",
      messagesPerConnection: 1,
    },
    quickConnections: 500,
    servers: NO_CEILING,
    mode: "echo",
    unit: "conn",
  },
  {
    name: "idle-10k-deflate-nct",
    title:
      "10,000 connections after one 4 KiB compressed message each, offer without context takeover: server memory",
    label: "10k after 1 deflate msg, no takeover",
    measure: "memory",
    job: {
      ...echo(10_000, 1, payload(4096, 4096, true), true),
      kind: "idle",
      messagesPerConnection: 1,
      deflateOffer: NO_CONTEXT_OFFER,
    },
    quickConnections: 500,
    servers: NO_CEILING,
    mode: "echo",
    unit: "conn",
  },
  {
    name: "broadcast-10k",
    title: "broadcast of 1 KiB to 10,000 connections, 4 broadcasts in flight",
    label: "broadcast 1 KiB to 10k",
    measure: "throughput",
    job: { ...echo(10_000, 4, payload(1024, 1024)), kind: "broadcast" },
    quickConnections: 500,
    servers: ALL,
    mode: "broadcast",
    unit: "delivery",
  },
  {
    name: "setup",
    title: "connection setup: handshakes per second, 64 in flight, each reset after its 101",
    label: "handshakes",
    measure: "throughput",
    job: { ...echo(64, 1, payload(16, 16)), kind: "setup" },
    servers: ALL,
    mode: "echo",
    unit: "handshake",
  },
];

/** A target of the issue, checked on the medians of one scenario. */
export interface Target {
  readonly scenario: string;
  /** What the issue asks, in words. */
  readonly text: string;
  /** Compares rates (messages or bytes per second), which a noisy run judges per CPU-second. */
  readonly rate?: boolean;
  /**
   * The servers the target reads. Medians are taken over the rounds that all of them ran, so
   * that runs pooled from several documents (`--from A,B`) compare like with like.
   */
  readonly servers: readonly ServerName[];
  /**
   * For a ratio against the ceiling: the metric compared, so that a run with the ceiling's twin
   * can show the same ratio between the two copies of the ceiling (the noise next to the value).
   */
  readonly ceilingMetric?: "rate" | "mbps" | "perConn" | "rss";
  /**
   * The measured value and whether it meets the target; `undefined` when not measurable.
   * `figure` is the number the threshold is applied to (a ratio, or a hit rate), for summaries
   * over several runs; `format` prints one.
   */
  check(m: TargetInputs): TargetCheck | undefined;
  /**
   * For a rate target: the check of a figure that is the median of the rounds' own figures.
   * The servers' runs of one round are next to each other in time, so each round's ratio is
   * taken within one state of the machine; the ratio of two medians over rounds would compare
   * one server's typical state with the other's (see `summary.ts`).
   */
  readonly paired?: (figure: number) => TargetCheck;
  /** Prints a {@link TargetCheck.figure} the way `value` shows it, briefly. */
  format(figure: number): string;
}

/** What {@link Target.check} measured. */
export interface TargetCheck {
  readonly value: string;
  readonly met: boolean;
  readonly figure: number;
}

/** The medians a target check reads, per server (missing servers are `undefined`). */
export interface TargetInputs {
  metric(
    server: ServerName,
    name: "rate" | "mbps" | "p99" | "perConn" | "rss" | "poolHit",
  ): number | undefined;
}

function ratioTarget(
  scenario: string,
  text: string,
  metric: "rate" | "mbps" | "perConn" | "rss",
  versus: ServerName,
  test: (r: number) => boolean,
): Target {
  const rate = metric === "rate" || metric === "mbps";
  const judge = (r: number): TargetCheck => ({
    value: `${r.toFixed(2)}x ${versus}`,
    met: test(r),
    figure: r,
  });
  return {
    scenario,
    text,
    rate,
    servers: ["tidews", versus],
    ...(versus === "raw" ? { ceilingMetric: metric } : {}),
    ...(rate ? { paired: judge } : {}),
    check(m) {
      const a = m.metric("tidews", metric);
      const b = m.metric(versus, metric);
      if (a === undefined || b === undefined || !(b > 0)) return undefined;
      return judge(a / b);
    },
    format: (r) => `${r.toFixed(2)}x`,
  };
}

/** The targets, in scenario order. */
export const TARGETS: readonly Target[] = [
  ratioTarget("echo-1k", ">= 2x ws msg/s", "rate", "ws", (r) => r >= 2),
  ratioTarget("echo-1k", ">= 85% of the ceiling", "rate", "raw", (r) => r >= 0.85),
  ratioTarget("echo-1k-1000", ">= 95% of the ceiling", "rate", "raw", (r) => r >= 0.95),
  {
    scenario: "echo-1k-1000",
    text: "p99 <= ws p99",
    servers: ["tidews", "ws"],
    check(m) {
      const a = m.metric("tidews", "p99");
      const b = m.metric("ws", "p99");
      if (a === undefined || b === undefined) return undefined;
      const ms = (us: number) => `${(us / 1000).toPrecision(3)} ms`;
      return { value: `${ms(a)} vs ${ms(b)}`, met: a <= b, figure: b > 0 ? a / b : Number.NaN };
    },
    format: (r) => `${r.toFixed(2)}x`,
  },
  ratioTarget("random-64k", ">= 95% of the ceiling MB/s", "mbps", "raw", (r) => r >= 0.95),
  ratioTarget("deflate-4k", ">= 3x ws msg/s", "rate", "ws", (r) => r >= 3),
  ratioTarget("idle-10k", "<= 1.05x bare socket per conn", "perConn", "raw", (r) => r <= 1.05),
  ratioTarget("idle-10k-deflate", "<= 15% of ws RSS", "rss", "ws", (r) => r <= 0.15),
  ratioTarget("idle-10k-deflate-nct", "<= 15% of ws RSS", "rss", "ws", (r) => r <= 0.15),
  ratioTarget("broadcast-10k", ">= 3x ws deliveries/s", "rate", "ws", (r) => r >= 3),
  ...["echo-1k", "echo-1k-1000", "random-64k", "deflate-4k", "small-16"].map(
    (scenario): Target => ({
      scenario,
      text: "pool hit rate > 99%",
      servers: ["tidews"],
      check(m) {
        const h = m.metric("tidews", "poolHit");
        if (h === undefined) return undefined;
        return { value: `${(h * 100).toFixed(2)}%`, met: h > 0.99, figure: h };
      },
      format: (h) => `${(h * 100).toFixed(1)}%`,
    }),
  ),
];
