/**
 * The messages the runner exchanges with the server and load-generator processes over their IPC
 * channels (`child_process` with an `"ipc"` stdio slot). Types only, shared by both ends.
 *
 * @module
 */

// --- Servers -------------------------------------------------------------------------------------

/** What a server process does with the messages it receives. */
export type ServerMode = "echo" | "broadcast";

/** Runner to server. */
export type ServerCommand =
  | { readonly type: "stats"; readonly id: number }
  | { readonly type: "gc"; readonly id: number }
  | { readonly type: "stop" };

/** A server's counters at one moment. */
export interface ServerStats {
  /** `performance.now()` in the server when the stats were taken, milliseconds. */
  readonly time: number;
  /** The monotonic clock (`process.hrtime`) in microseconds, the clock of V8's CPU profiles. */
  readonly monoUs: number;
  /** `process.cpuUsage()`: microseconds of user and system time since the process started. */
  readonly cpuUser: number;
  readonly cpuSystem: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /**
   * Resident bytes of V8's young generation. It grows with the allocation rate (a burst of
   * handshakes) and stays grown, empty, after full collections: memory of the process, not of
   * the connections it holds.
   */
  readonly young?: number;
  /** Open WebSocket connections, as the server counts them. */
  readonly connections: number;
  /** tidews only: the buffer pool's counters. */
  readonly pool?: { readonly gets: number; readonly hits: number; readonly misses: number };
}

/** Server to runner. */
export type ServerReply =
  | {
      readonly type: "ready";
      readonly port: number;
      /** What the server runs, for the report (e.g. "ws 8.23.1 + bufferutil"). */
      readonly label: string;
    }
  | { readonly type: "stats"; readonly id: number; readonly stats: ServerStats }
  | { readonly type: "gc"; readonly id: number };

// --- Load generator --------------------------------------------------------------------------

/** The messages of a job: a ring of payloads the load generator builds and frames in advance. */
export interface PayloadSpec {
  /** Number of distinct payloads (their order is what the generator checks). */
  readonly count: number;
  readonly minSize: number;
  readonly maxSize: number;
  /** Text (ASCII, JSON-like, compressible) or binary (random bytes). */
  readonly text: boolean;
  readonly seed: number;
}

/** One job of the load generator. */
export interface LoadJob {
  /**
   * - `echo`: every connection keeps `depth` messages in flight and checks each echo;
   * - `broadcast`: connection 0 publishes, `depth` broadcasts in flight, every connection checks
   *   each delivery;
   * - `idle`: connect, exchange `messagesPerConnection` messages each, then stay idle;
   * - `setup`: `connections` handshakes in flight at a time, each socket reset after its 101.
   */
  readonly kind: "echo" | "broadcast" | "idle" | "setup";
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  readonly depth: number;
  readonly payload: PayloadSpec;
  /** Offer permessage-deflate; payloads are compressed in advance, echoes inflated and checked. */
  readonly deflate: boolean;
  /** The Sec-WebSocket-Extensions offer when `deflate` is on. */
  readonly deflateOffer: string;
  readonly messagesPerConnection: number;
  /** Handshakes in flight while connecting. */
  readonly connectConcurrency: number;
}

/** Runner to load generator. */
export type LoadCommand =
  | { readonly type: "setup"; readonly job: LoadJob }
  | { readonly type: "start" }
  | { readonly type: "mark" }
  | { readonly type: "end" }
  | { readonly type: "close" };

/** What the load generator measured between `mark` and `end`. */
export interface LoadResult {
  /** Messages received and checked (echoes, deliveries, or handshakes for `setup`). */
  readonly messages: number;
  /** Payload bytes of those messages. */
  readonly bytes: number;
  readonly elapsedMs: number;
  /** The load generator's own CPU time in the window, microseconds. */
  readonly cpuUser: number;
  readonly cpuSystem: number;
  /** Latency histogram (see `histogram.ts`), as `[bucket, count]` pairs. */
  readonly latency: [number, number][];
  /** Over the whole run, not only the window: messages sent and checked. */
  readonly sent: number;
  readonly verified: number;
  /** Failed checks (wrong content, order, type, length; refused handshakes; lost echoes). */
  readonly errors: number;
  readonly firstError?: string;
}

/** Load generator to runner. */
export type LoadReply =
  | {
      readonly type: "ready";
      readonly connectMs: number;
      /** The Sec-WebSocket-Extensions the server answered (first connection), or "". */
      readonly extensions: string;
      readonly errors: number;
      readonly firstError?: string;
    }
  | { readonly type: "marked" }
  | { readonly type: "result"; readonly result: LoadResult }
  | { readonly type: "closed" }
  | { readonly type: "fatal"; readonly message: string };
