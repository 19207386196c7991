/**
 * Garbage-collection measurement for benchmarks: a `PerformanceObserver` on `gc` entries, and a
 * way to force a collection between phases.
 */

import { spawnSync } from "node:child_process";
import { type PerformanceEntry, PerformanceObserver, performance } from "node:perf_hooks";

/** Collections seen in a time window. */
export interface GcSummary {
  /** The number of collections that started in the window. */
  readonly count: number;
  /** Their total duration, in milliseconds. */
  readonly ms: number;
  /** Collections by kind: minor (scavenge), major (mark-sweep-compact), incremental, weak. */
  readonly byKind: Readonly<Record<string, number>>;
}

interface GcRecord {
  readonly start: number;
  readonly duration: number;
  readonly kind: string;
}

/** `NodeGCPerformanceDetail.kind` values, from `perf_hooks.constants`. */
const KIND_NAMES: Readonly<Record<number, string>> = {
  1: "minor",
  2: "major",
  4: "incremental",
  8: "weak",
};

function kindOf(entry: PerformanceEntry): string {
  const detail = (entry as { detail?: unknown }).detail as { kind?: number } | undefined;
  return KIND_NAMES[detail?.kind ?? 0] ?? "other";
}

/**
 * Records every garbage collection while started. Node.js delivers `gc` entries asynchronously,
 * after the collection, so a synchronous benchmark loop reads them afterwards: note
 * `performance.now()` before and after the loop, `await meter.flush()`, then ask
 * {@link GcMeter.between} for that window.
 */
export class GcMeter {
  private records: GcRecord[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.records.push({ start: entry.startTime, duration: entry.duration, kind: kindOf(entry) });
    }
  });

  /** Starts observing. */
  start(): void {
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** Stops observing; the records so far stay readable. */
  stop(): void {
    this.observer.disconnect();
  }

  /** Waits until the entries of collections that already happened have been delivered. */
  async flush(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The collections that started in `[from, to]` (`performance.now()` times). */
  between(from: number, to: number): GcSummary {
    let count = 0;
    let ms = 0;
    const byKind: Record<string, number> = {};
    for (const r of this.records) {
      if (r.start < from || r.start > to) continue;
      count++;
      ms += r.duration;
      byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    }
    return { count, ms, byKind };
  }

  /** Forgets the records collected so far. */
  clear(): void {
    this.records = [];
  }
}

/** The current `performance.now()`, re-exported so callers time windows on the same clock. */
export function now(): number {
  return performance.now();
}

/** Runs a full collection when the process has `--expose-gc`; returns whether it could. */
export function forceGc(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return false;
  gc();
  return true;
}

/**
 * Makes sure `global.gc` exists: when it does not, runs this same script again in a child process
 * with `--expose-gc` added to the Node.js options (keeping `--import tsx` and the like), waits for
 * it, and exits with its status. Returns only in a process that has `global.gc`. The child shares
 * stdin, stdout and stderr, so `--json` output passes through untouched.
 */
export function ensureExposeGc(): void {
  if (typeof (globalThis as { gc?: unknown }).gc === "function") return;
  const result = spawnSync(
    process.execPath,
    [...process.execArgv, "--expose-gc", ...process.argv.slice(1)],
    { stdio: "inherit" },
  );
  if (result.error !== undefined) throw result.error;
  process.exit(result.status ?? 1);
}
