import { createError } from "../errors.js";
import { ByteBuffer } from "./byte-buffer.js";
import type { Pool, PoolStats } from "./pool.js";

/** The capacity every SimplePool buffer starts with. */
export const SIMPLE_POOL_BUFFER_SIZE = 1024;

/**
 * The naive pool of the GWS article: one free list of buffers that start at 1 KiB and keep
 * whatever capacity they grew to. `get(n)` ignores `n` (the buffer grows when written). It has no
 * bound and exists as the baseline that {@link BufferPool} is measured against.
 */
export class SimplePool implements Pool {
  private readonly free: ByteBuffer[] = [];
  private idleBytes = 0;
  private gets = 0;
  private puts = 0;
  private hits = 0;
  private misses = 0;
  private drops = 0;

  /** An empty buffer: an idle one if there is any, else a new 1 KiB one. */
  get(_n: number): ByteBuffer {
    this.gets++;
    const buf = this.free.pop();
    if (buf !== undefined) {
      this.hits++;
      this.idleBytes -= buf.cap;
      buf.markReleased(false);
      return buf;
    }
    this.misses++;
    return new ByteBuffer(SIMPLE_POOL_BUFFER_SIZE);
  }

  /** Resets `buf` and keeps it, whatever its capacity. */
  put(buf: ByteBuffer): void {
    if (buf.released) throw createError("ERR_POOL_DOUBLE_PUT");
    buf.markReleased(true);
    this.puts++;
    buf.reset();
    this.free.push(buf);
    this.idleBytes += buf.cap;
  }

  stats(): PoolStats {
    return {
      gets: this.gets,
      puts: this.puts,
      hits: this.hits,
      misses: this.misses,
      drops: this.drops,
      oversize: 0,
      idleBuffers: this.free.length,
      idleBytes: this.idleBytes,
      shards: [],
    };
  }

  trim(): void {
    this.drops += this.free.length;
    this.free.length = 0;
    this.idleBytes = 0;
  }
}
