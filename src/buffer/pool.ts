import type { ByteBuffer } from "./byte-buffer.js";

/** Counters of one shard of a {@link BufferPool}. */
export interface ShardStats {
  /** The capacity of every buffer in this shard. */
  readonly size: number;
  /** `get` calls served by this shard. */
  readonly gets: number;
  /** Buffers filed back into this shard (kept or dropped for a bound). */
  readonly puts: number;
  /** `get` calls answered with an idle buffer. */
  readonly hits: number;
  /** `get` calls that allocated a new buffer. */
  readonly misses: number;
  /** Buffers not kept by `put` (shard full) or released by `trim`/`decay`. */
  readonly drops: number;
  /** Buffers waiting in the shard now. */
  readonly idleBuffers: number;
  /** Bytes waiting in the shard now. */
  readonly idleBytes: number;
}

/** Counters of a pool, in total and per shard. */
export interface PoolStats {
  readonly gets: number;
  readonly puts: number;
  readonly hits: number;
  /** Allocations made by `get`. */
  readonly misses: number;
  /** Buffers not kept: out-of-range capacity, shard or total bound reached, trimmed. */
  readonly drops: number;
  /** `get` calls above the largest shard, answered with a buffer the pool never keeps. */
  readonly oversize: number;
  readonly idleBuffers: number;
  readonly idleBytes: number;
  /** One entry per shard, smallest first (empty for a pool without shards). */
  readonly shards: readonly ShardStats[];
}

/**
 * What every pool offers. `get(n)` hands out an empty {@link ByteBuffer} that the caller owns
 * until it calls `put`; after `put` the caller must not touch it.
 */
export interface Pool {
  /** An empty buffer for about `n` bytes, owned by the caller. */
  get(n: number): ByteBuffer;
  /** Gives `buf` back. Throws `ERR_POOL_DOUBLE_PUT` if it was already given back. */
  put(buf: ByteBuffer): void;
  /** Counters since the pool was created. */
  stats(): PoolStats;
  /** Releases idle buffers so the garbage collector can take them. */
  trim(): void;
}
