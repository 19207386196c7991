/**
 * The control side every benchmark server shares: it answers the runner's `stats`, `gc` and
 * `stop` over the IPC channel and announces the port once listening. It touches nothing on the
 * data path: between two runner requests it costs the server nothing.
 *
 * @module
 */

import { performance } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import type { ServerCommand, ServerMode, ServerReply, ServerStats } from "../ipc.js";

/** What a server tells {@link serveControl} about itself. */
export interface ControlledServer {
  readonly port: number;
  readonly label: string;
  /** Open WebSocket connections. */
  connections(): number;
  /** Extra counters (tidews: its pool). */
  pool?(): ServerStats["pool"];
  /** Closes every connection and the listener. */
  close(): Promise<void> | void;
}

/** The command line every server takes: `--mode echo|broadcast` and `--deflate`. */
export function serverArgs(argv: readonly string[] = process.argv.slice(2)): {
  mode: ServerMode;
  deflate: boolean;
} {
  const i = argv.indexOf("--mode");
  const mode = i >= 0 ? argv[i + 1] : "echo";
  if (mode !== "echo" && mode !== "broadcast") throw new Error(`--mode: unknown mode ${mode}`);
  return { mode, deflate: argv.includes("--deflate") };
}

function send(message: ServerReply): void {
  process.send?.(message);
}

/** Resident bytes of V8's young generation (its new space), whatever it holds. */
function youngResident(): number {
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === "new_space") return space.physical_space_size;
  }
  return 0;
}

function stats(server: ControlledServer): ServerStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const pool = server.pool?.();
  return {
    time: performance.now(),
    monoUs: Number(process.hrtime.bigint() / 1000n),
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    young: youngResident(),
    connections: server.connections(),
    ...(pool !== undefined ? { pool } : {}),
  };
}

/** Full collections until the heap stops shrinking (at most 4), when `--expose-gc` is on. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  let before = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 4; i++) {
    gc();
    const used = process.memoryUsage().heapUsed;
    if (used >= before * 0.99) break;
    before = used;
  }
}

/** Serves the runner's requests for `server` and tells it the port. */
export function serveControl(server: ControlledServer): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // process.exit() also writes a --cpu-prof profile.
    Promise.resolve(server.close()).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("message", (cmd: ServerCommand) => {
    switch (cmd.type) {
      case "stats":
        send({ type: "stats", id: cmd.id, stats: stats(server) });
        return;
      case "gc":
        collect();
        send({ type: "gc", id: cmd.id });
        return;
      case "stop":
        stop();
        return;
    }
  });
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  send({ type: "ready", port: server.port, label: server.label });
}
