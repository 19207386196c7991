/**
 * The end-of-tick flush of the connections that queued output outside a read: one
 * `process.nextTick` per server (or client context) and tick, not one per connection. A
 * broadcast to 10,000 connections corks all of them; each used to schedule its own tick
 * callback, which cost a tick object and a dispatch per recipient.
 *
 * A long flush goes in slices of {@link FLUSH_SLICE} connections, with a turn of the event loop
 * (`setImmediate`) between two slices. Writing to 10,000 sockets takes tens of milliseconds of
 * system calls; in slices, the reads and timers of every other connection wait for one slice
 * only, and a broadcast that comes in meanwhile is appended to the output of the connections
 * still waiting (see `Upgrader.broadcast`), which then write both messages with one system call.
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

/** How many connections the flusher writes before it lets the event loop poll for I/O again. */
export const FLUSH_SLICE = 256;

/** Flushed entries kept at the front of the list before it is compacted. */
const COMPACT_AFTER = 4 * FLUSH_SLICE;

/**
 * Connections whose output is due, flushed in the order they were added: the first
 * {@link FLUSH_SLICE} at the end of the tick, the others a slice per turn of the event loop. An
 * object passed to the connections that share it (no module-level state).
 */
export class TickFlusher {
  private due: Flushable[] = [];
  /** The first connection of `due` not flushed yet. */
  private head = 0;
  /** A run is scheduled (a tick callback, or an immediate between two slices). */
  private scheduled = false;

  /**
   * Flushes `conn` at the end of this tick, or after the connections already waiting when a
   * long flush is under way (the caller adds each connection once until it is flushed).
   */
  add(conn: Flushable): void {
    this.due.push(conn);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(runFlusher, this);
  }

  /** Whether connections are still waiting for their flush. */
  get pending(): boolean {
    return this.head < this.due.length;
  }

  /**
   * @internal Flushes the next slice: connections added so far, and those added while it runs,
   * up to {@link FLUSH_SLICE}; schedules the next slice when some are left.
   */
  run(): void {
    const due = this.due;
    let i = this.head;
    const end = i + FLUSH_SLICE;
    try {
      for (; i < due.length && i < end; i++) (due[i] as Flushable).flush();
    } catch (error) {
      // A flush threw (a bug): the others still flush, with the next slice.
      i++;
      throw error;
    } finally {
      if (i < due.length) {
        // Flushed entries go once they are most of the list: a server that broadcasts all
        // the time may never see the list empty.
        if (i >= COMPACT_AFTER && i * 2 >= due.length) {
          due.copyWithin(0, i);
          due.length -= i;
          i = 0;
        }
        this.head = i;
        setImmediate(runFlusher, this);
      } else {
        due.length = 0;
        this.head = 0;
        this.scheduled = false;
      }
    }
  }
}
