/**
 * A bound on concurrent asynchronous zlib jobs. An ordinary object: a server creates one and
 * passes it to its codecs; there is no module-level limiter.
 *
 * @module
 */

import { createError } from "../errors.js";

/** Someone waiting for a slot: called once when the slot is theirs. */
export interface LimiterWaiter {
  /** The slot is granted; the waiter must {@link ConcurrencyLimiter.release} it when done. */
  onSlot(): void;
}

/**
 * The default {@link ConcurrencyLimiter} bound. Jobs above libuv's thread count (4 by default)
 * wait inside libuv; the bound keeps that queue, and the memory it pins, short.
 */
export const DEFAULT_CONCURRENCY = 8;

/**
 * Hands out at most `concurrency` slots; further waiters queue in FIFO order. Waiters are
 * long-lived objects (a codec), so waiting allocates no closure.
 */
export class ConcurrencyLimiter {
  /** The most slots held at once. */
  readonly concurrency: number;
  private held = 0;
  private readonly waiters: LimiterWaiter[] = [];
  private head = 0;

  /**
   * @param concurrency - the bound, a positive integer (default {@link DEFAULT_CONCURRENCY})
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a bound that is not a positive integer
   */
  constructor(concurrency = DEFAULT_CONCURRENCY) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw createError("ERR_INVALID_ARGUMENT", `concurrency must be >= 1, got ${concurrency}`);
    }
    this.concurrency = concurrency;
  }

  /** Slots held now. */
  get active(): number {
    return this.held;
  }

  /** Waiters queued now. */
  get waiting(): number {
    return this.waiters.length - this.head;
  }

  /**
   * Takes a slot now (`true`), or queues `waiter` and returns `false`: its `onSlot` runs when a
   * slot frees up.
   */
  acquire(waiter: LimiterWaiter): boolean {
    if (this.held < this.concurrency) {
      this.held++;
      return true;
    }
    this.waiters.push(waiter);
    return false;
  }

  /** Gives a slot back; the first waiter, if any, gets it at once. */
  release(): void {
    if (this.held === 0) throw createError("ERR_WS_INVALID_STATE", "release without a slot");
    const next = this.shift();
    if (next === undefined) {
      this.held--;
      return;
    }
    next.onSlot();
  }

  /** Removes `waiter` from the queue (it no longer wants a slot). */
  cancel(waiter: LimiterWaiter): void {
    const i = this.waiters.indexOf(waiter, this.head);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private shift(): LimiterWaiter | undefined {
    if (this.head >= this.waiters.length) return undefined;
    const next = this.waiters[this.head];
    this.head++;
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
    return next;
  }
}
