import { createError } from "../errors.js";
import { binaryCeil } from "./binary-ceil.js";
import { ByteBuffer } from "./byte-buffer.js";
import type { Pool, PoolStats, ShardStats } from "./pool.js";

/** Bounds on the idle memory a {@link BufferPool} retains. */
export interface BufferPoolOptions {
  /**
   * Idle buffers one shard keeps at most. Default 65536: the byte bounds below are what limit
   * memory; a count this high lets a server with tens of thousands of connections reuse the
   * buffers they return.
   */
  readonly maxIdleBuffersPerShard?: number;
  /** Idle bytes one shard keeps at most. Default 4 MiB (so 64 buffers of 64 KiB, 4 of 1 MiB). */
  readonly maxIdleBytesPerShard?: number;
  /** Idle bytes the whole pool keeps at most. Default 32 MiB. */
  readonly maxIdleBytes?: number;
  /**
   * When set, every `decayIntervalMs` milliseconds the pool calls {@link BufferPool.decay}, which
   * releases the buffers that stayed idle for a whole interval. The timer is unref'd, so it never
   * keeps the process alive; {@link BufferPool.close} stops it. Default: no timer.
   */
  readonly decayIntervalMs?: number;
}

/** The defaults of {@link BufferPoolOptions}. */
export const BUFFER_POOL_DEFAULTS = {
  maxIdleBuffersPerShard: 65536,
  maxIdleBytesPerShard: 4 * 1024 * 1024,
  maxIdleBytes: 32 * 1024 * 1024,
} as const;

/** One power-of-two size class. */
class Shard {
  readonly free: ByteBuffer[] = [];
  /** The smallest idle count since the last decay: buffers nobody needed in the interval. */
  lowWater = 0;
  gets = 0;
  puts = 0;
  hits = 0;
  misses = 0;
  drops = 0;
  readonly maxIdle: number;

  constructor(
    readonly size: number,
    maxIdleBuffers: number,
    maxIdleBytes: number,
  ) {
    this.maxIdle = Math.min(maxIdleBuffers, Math.floor(maxIdleBytes / size));
  }

  stats(): ShardStats {
    return {
      size: this.size,
      gets: this.gets,
      puts: this.puts,
      hits: this.hits,
      misses: this.misses,
      drops: this.drops,
      idleBuffers: this.free.length,
      idleBytes: this.free.length * this.size,
    };
  }
}

/** log2 of a power of two (fractional for other values, which then match no shard). */
function log2(v: number): number {
  return v < 0x80000000 ? 31 - Math.clz32(v) + (v & (v - 1) ? 0.5 : 0) : Math.log2(v);
}

/**
 * The error of a bad `get` argument, built out of line: a template literal in `get` itself cost
 * a number-to-string conversion on every call (see binaryCeil).
 */
function invalidGet(n: number): Error {
  return createError("ERR_INVALID_ARGUMENT", `get(${n}): n must be a non-negative number`);
}

function nonNegativeInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/**
 * A pool of {@link ByteBuffer}s sharded by power-of-two capacity, GWS style.
 *
 * Both bounds are rounded up to powers of two; there is one shard per power of two from `left` to
 * `right`. `get(n)` hands out an empty buffer of capacity `max(binaryCeil(n), left)`, reused from
 * its shard when one is idle; above `right` it allocates exactly `n` bytes that the pool will never
 * keep. `put(buf)` files a buffer back into the shard of its exact capacity, or drops it when no
 * shard has that size (it grew past `right`, or wraps foreign storage) or the shard is full.
 *
 * JavaScript has no GC-aware `sync.Pool`, so idle memory is bounded per shard and in total, and
 * {@link trim} and {@link decay} hand it back. A pool is an ordinary object: each server or client
 * has its own, or shares one the user passes in.
 */
export class BufferPool implements Pool {
  /** The smallest capacity handed out (a power of two). */
  readonly left: number;
  /** The largest capacity kept (a power of two). */
  readonly right: number;
  private readonly shards: Shard[] = [];
  private readonly leftExponent: number;
  private readonly maxIdleBytes: number;
  private idleBytes = 0;
  private oversizeGets = 0;
  private foreignPuts = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param left - the smallest buffer capacity (rounded up to a power of two)
   * @param right - the largest capacity kept (rounded up to a power of two), at least `left`
   * @param options - bounds on retained memory, see {@link BufferPoolOptions}
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for bounds that are not ordered numbers
   */
  constructor(left: number, right: number, options: BufferPoolOptions = {}) {
    if (!(left >= 1) || !(right >= left) || !Number.isFinite(right)) {
      throw createError("ERR_INVALID_ARGUMENT", `need 1 <= left <= right, got ${left}, ${right}`);
    }
    this.left = binaryCeil(left);
    this.right = binaryCeil(right);
    this.leftExponent = log2(this.left);
    const perShardBuffers = nonNegativeInteger(
      "maxIdleBuffersPerShard",
      options.maxIdleBuffersPerShard ?? BUFFER_POOL_DEFAULTS.maxIdleBuffersPerShard,
    );
    const perShardBytes = nonNegativeInteger(
      "maxIdleBytesPerShard",
      options.maxIdleBytesPerShard ?? BUFFER_POOL_DEFAULTS.maxIdleBytesPerShard,
    );
    this.maxIdleBytes = nonNegativeInteger(
      "maxIdleBytes",
      options.maxIdleBytes ?? BUFFER_POOL_DEFAULTS.maxIdleBytes,
    );
    for (let size = this.left; size <= this.right; size *= 2) {
      this.shards.push(new Shard(size, perShardBuffers, perShardBytes));
    }
    if (options.decayIntervalMs !== undefined) {
      const ms = options.decayIntervalMs;
      if (!Number.isInteger(ms) || ms < 1) {
        throw createError(
          "ERR_INVALID_ARGUMENT",
          `decayIntervalMs must be an integer >= 1, got ${ms}`,
        );
      }
      this.timer = setInterval(() => this.decay(), ms);
      this.timer.unref();
    }
  }

  /**
   * An empty buffer with capacity at least `n`, owned by the caller until {@link put}.
   *
   * @param n - the bytes the caller needs (a non-negative integer)
   */
  get(n: number): ByteBuffer {
    if (!(n >= 0)) throw invalidGet(n);
    if (n > this.right) {
      this.oversizeGets++;
      return new ByteBuffer(nonNegativeInteger("n", n));
    }
    const shard = this.shardFor(n <= this.left ? this.left : binaryCeil(n));
    shard.gets++;
    const buf = shard.free.pop();
    if (buf !== undefined) {
      if (shard.free.length < shard.lowWater) shard.lowWater = shard.free.length;
      this.idleBytes -= shard.size;
      shard.hits++;
      buf.markReleased(false);
      return buf;
    }
    shard.lowWater = 0;
    shard.misses++;
    const fresh = new ByteBuffer(shard.size);
    // Grown past its shard, it still lands in one: growth rounds up to a power of two.
    fresh.growToPowerOfTwo = true;
    return fresh;
  }

  /**
   * Gives `buf` back. It is reset and filed into the shard of its exact capacity, or dropped for
   * the garbage collector when there is no such shard or the bounds are reached. Either way the
   * caller must not use `buf` afterwards.
   *
   * @throws {@link UsageError} `ERR_POOL_DOUBLE_PUT` when `buf` was already given back
   */
  put(buf: ByteBuffer): void {
    if (buf.released) {
      throw createError("ERR_POOL_DOUBLE_PUT");
    }
    buf.markReleased(true);
    const cap = buf.cap;
    // Keep only buffers that own their whole allocation: a view into a larger ArrayBuffer (a
    // wrapped slice, a slab) would keep all of it alive while counting as `cap` bytes.
    const shard =
      buf.wholeStorage && cap >= this.left && cap <= this.right ? this.exactShard(cap) : undefined;
    if (shard === undefined) {
      this.foreignPuts++;
      return;
    }
    shard.puts++;
    if (shard.free.length >= shard.maxIdle || this.idleBytes + cap > this.maxIdleBytes) {
      shard.drops++;
      return;
    }
    buf.reset();
    shard.free.push(buf);
    this.idleBytes += cap;
  }

  /** Releases every idle buffer. */
  trim(): void {
    for (const shard of this.shards) {
      shard.drops += shard.free.length;
      shard.free.length = 0;
      shard.lowWater = 0;
    }
    this.idleBytes = 0;
  }

  /**
   * Releases, in every shard, the buffers that stayed idle since the previous call: the smallest
   * idle count seen in between is what nobody needed. Called by the decay timer when
   * {@link BufferPoolOptions.decayIntervalMs} is set, or by the owner on its own schedule.
   */
  decay(): void {
    for (const shard of this.shards) {
      const unused = Math.min(shard.lowWater, shard.free.length);
      if (unused > 0) {
        // The oldest idle buffers sit at the bottom of the stack.
        shard.free.splice(0, unused);
        shard.drops += unused;
        this.idleBytes -= unused * shard.size;
      }
      shard.lowWater = shard.free.length;
    }
  }

  /** Stops the decay timer, if any. The pool stays usable. */
  close(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Counters in total and per shard. The totals include what no shard sees: `get`s above `right`
   * (in `gets`, `misses` and `oversize`) and `put`s of buffers no shard takes (in `puts` and
   * `drops`).
   */
  stats(): PoolStats {
    let gets = this.oversizeGets;
    let puts = this.foreignPuts;
    let hits = 0;
    let misses = this.oversizeGets;
    let drops = this.foreignPuts;
    let idleBuffers = 0;
    const shards: ShardStats[] = [];
    for (const shard of this.shards) {
      const s = shard.stats();
      shards.push(s);
      gets += s.gets;
      puts += s.puts;
      hits += s.hits;
      misses += s.misses;
      drops += s.drops;
      idleBuffers += s.idleBuffers;
    }
    return {
      gets,
      puts,
      hits,
      misses,
      drops,
      oversize: this.oversizeGets,
      idleBuffers,
      idleBytes: this.idleBytes,
      shards,
    };
  }

  private shardFor(size: number): Shard {
    return this.shards[log2(size) - this.leftExponent] as Shard;
  }

  private exactShard(cap: number): Shard | undefined {
    const shard = this.shards[log2(cap) - this.leftExponent];
    return shard !== undefined && shard.size === cap ? shard : undefined;
  }
}
