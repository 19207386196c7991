/**
 * The messages bench/pubsub.ts exchanges with its node and load processes over IPC. Types and
 * the payload layout only, shared by both ends.
 *
 * @module
 */

/** Runner to node. */
export type NodeCommand =
  /** Publish `count` messages back to back, each a fresh 1 KiB buffer stamped with the time. */
  | { readonly type: "publish"; readonly count: number; readonly size: number }
  /** Reply once every local subscription is in effect (Redis confirmed it). */
  | { readonly type: "sync"; readonly subscribers: number }
  | { readonly type: "stats" }
  | { readonly type: "stop" };

/** Node to runner. */
export type NodeReply =
  | { readonly type: "ready"; readonly port: number; readonly label: string }
  | { readonly type: "published"; readonly count: number }
  | { readonly type: "synced"; readonly subscribers: number }
  | {
      readonly type: "stats";
      readonly rss: number;
      /** V8 heap in use, and the resident young generation (which a burst grows and keeps). */
      readonly heapUsed: number;
      readonly young: number;
      /** The heap in use after two full collections (the node runs with `--expose-gc`). */
      readonly heapAfterGc: number;
      readonly cpuUser: number;
      readonly cpuSystem: number;
    };

/** Runner to load generator. */
export type LoadCommand =
  | { readonly type: "connect"; readonly port: number; readonly clients: number }
  /** Reply `reached` once `deliveries` messages have arrived in total since `reset`. */
  | { readonly type: "await"; readonly deliveries: number }
  /** Forget the counts and the latency samples. */
  | { readonly type: "reset" }
  | { readonly type: "latency" }
  | { readonly type: "close" };

/** Load generator to runner. */
export type LoadReply =
  | { readonly type: "ready" }
  | { readonly type: "connected"; readonly clients: number }
  | {
      readonly type: "reached";
      readonly deliveries: number;
      /** `process.hrtime.bigint()` of the first and of the last delivery, as decimal strings. */
      readonly first: string;
      readonly last: string;
    }
  | {
      readonly type: "latency";
      readonly samples: number;
      /** Publish-to-delivery latency in microseconds. */
      readonly p50: number;
      readonly p99: number;
      readonly max: number;
    }
  | { readonly type: "closed" };

/** The topic every subscriber is subscribed to. */
export const TOPIC = "bench";

/**
 * Every payload starts with the publish time, `process.hrtime.bigint()` (CLOCK_MONOTONIC, the
 * same clock in every process of the machine), as a little-endian 64-bit integer.
 */
export const STAMP_BYTES = 8;
