/**
 * The end-of-tick flush of the connections that queued output outside a read: one
 * `process.nextTick` per server (or client context) and tick, not one per connection. A
 * broadcast to 10,000 connections corks all of them; each used to schedule its own tick
 * callback, which cost a tick object and a dispatch per recipient.
 *
 * @module
 */

/** What the flusher flushes: a connection with output due. */
export interface Flushable {
  /** Writes the output queued this tick. */
  flush(): void;
}

function runFlusher(flusher: TickFlusher): void {
  flusher.run();
}

/**
 * Connections whose output is due at the end of this tick, flushed in the order they were
 * added. An object passed to the connections that share it (no module-level state).
 */
export class TickFlusher {
  private due: Flushable[] = [];
  private scheduled = false;

  /** Flushes `conn` at the end of this tick (the caller adds each connection once per tick). */
  add(conn: Flushable): void {
    this.due.push(conn);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(runFlusher, this);
  }

  /** @internal Flushes every connection added so far, and those added while it runs. */
  run(): void {
    const due = this.due;
    let i = 0;
    try {
      for (; i < due.length; i++) (due[i] as Flushable).flush();
    } finally {
      if (i < due.length) {
        // A flush threw (a bug): the others still flush, on the next tick.
        this.due = due.slice(i + 1);
        process.nextTick(runFlusher, this);
      } else {
        due.length = 0;
        this.scheduled = false;
      }
    }
  }
}
