import { createError } from "../errors.js";

/** A connection the heartbeat watches. */
export interface HeartbeatMember {
  /** Called on every tick with the new epoch. */
  heartbeatTick(epoch: number): void;
}

/**
 * One interval for all the connections of a server or client (no timer per connection).
 *
 * Every `idleTimeout / 2` ms the epoch advances. A connection records the epoch whenever bytes
 * arrive; one that stayed silent for a whole tick gets a ping, and one still silent at the next
 * tick is terminated. A peer that stops answering is therefore found between 1 and 1.5
 * `idleTimeout` after its last bytes, within the promised `2 * idleTimeout`; a busy connection is
 * never pinged.
 */
export class Heartbeat {
  /** Milliseconds of silence after which a connection is pinged (about). */
  readonly idleTimeout: number;
  /** Advances on every tick. */
  epoch = 1;
  private readonly members = new Set<HeartbeatMember>();
  private timer: ReturnType<typeof setInterval> | undefined;

  /** @param idleTimeout - milliseconds, at least 2 */
  constructor(idleTimeout: number) {
    if (!Number.isInteger(idleTimeout) || idleTimeout < 2) {
      throw createError(
        "ERR_INVALID_ARGUMENT",
        `idleTimeout must be an integer >= 2 ms, got ${idleTimeout}`,
      );
    }
    this.idleTimeout = idleTimeout;
  }

  /** Number of watched connections. */
  get size(): number {
    return this.members.size;
  }

  /** Starts watching `member`; the timer runs while anyone is watched. */
  add(member: HeartbeatMember): void {
    this.members.add(member);
    if (this.timer === undefined) {
      this.timer = setInterval(tickHeartbeat, Math.max(1, this.idleTimeout >> 1), this);
      this.timer.unref();
    }
  }

  /** Stops watching `member`. */
  delete(member: HeartbeatMember): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  /** Advances the epoch and visits every member (called by the timer; public for tests). */
  tick(): void {
    this.epoch++;
    for (const m of this.members) m.heartbeatTick(this.epoch);
  }

  /** Stops the timer (members stay registered; `add` restarts it). */
  stop(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function tickHeartbeat(h: Heartbeat): void {
  h.tick();
}
