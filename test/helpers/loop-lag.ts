import { monitorEventLoopDelay } from "node:perf_hooks";

/**
 * Watches this process's event-loop delay until stopped; returns the worst delay in ms. Timing
 * bounds add it: on a loaded machine (CI runs two test files at once on two cores) a timer fires
 * late by that much whatever the code under test does, while a real failure is late by far more.
 */
export function loopLag(): { stop(): number } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return {
    stop() {
      h.disable();
      return h.max / 1e6;
    },
  };
}
