/**
 * Shared zlib contexts for connections without context takeover.
 *
 * Such a connection needs a compressor (or decompressor) only for the duration of one message:
 * it borrows a context, uses it, and gives it back reset. A synchronous job gives it back
 * before it returns, so any number of such connections run on one context per setting; an
 * asynchronous job holds one only while it holds a slot of the concurrency limiter, so the
 * contexts in use stay within that bound. Idle contexts are kept up to `maxIdlePerKey` per
 * setting.
 *
 * Connections with context takeover own their contexts; the pool creates those too, so that
 * {@link CodecPool.stats} counts every live context. A pool is an ordinary object passed in.
 *
 * @module
 */

import { createError } from "../errors.js";
import { type ContextSettings, contextKey, ZlibContext } from "./zlib-context.js";

/** Options of a {@link CodecPool}. */
export interface CodecPoolOptions {
  /** Idle shared contexts kept per setting. Default 4. */
  readonly maxIdlePerKey?: number;
}

/** Counters of a {@link CodecPool}. */
export interface CodecPoolStats {
  /** Contexts alive now (shared in use, shared idle, and owned). */
  readonly live: number;
  /** Shared contexts idle now. */
  readonly idle: number;
  /** Contexts created since the pool was made. */
  readonly created: number;
}

/** A pool of shared zlib contexts, plus the factory of owned ones. */
export class CodecPool {
  private readonly maxIdlePerKey: number;
  private readonly idle = new Map<string, ZlibContext[]>();
  private idleCount = 0;
  private liveCount = 0;
  private createdCount = 0;

  /**
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a negative or fractional bound
   */
  constructor(options: CodecPoolOptions = {}) {
    const max = options.maxIdlePerKey ?? 4;
    if (!Number.isInteger(max) || max < 0) {
      throw createError("ERR_INVALID_ARGUMENT", `maxIdlePerKey must be >= 0, got ${max}`);
    }
    this.maxIdlePerKey = max;
  }

  /** An idle shared context with `settings`, or a new one. Give it back with {@link release}. */
  acquire(settings: ContextSettings): ZlibContext {
    const list = this.idle.get(contextKey(settings));
    const ctx = list?.pop();
    if (ctx !== undefined) {
      this.idleCount--;
      return ctx;
    }
    return this.make(settings, true);
  }

  /** Gives a shared context back: reset and kept, or destroyed (dead, or too many idle). */
  release(ctx: ZlibContext): void {
    if (!ctx.shared) throw createError("ERR_INVALID_ARGUMENT", "not a shared context");
    if (ctx.dead) {
      this.discard(ctx);
      return;
    }
    let list = this.idle.get(ctx.key);
    if (list === undefined) {
      list = [];
      this.idle.set(ctx.key, list);
    }
    if (list.length >= this.maxIdlePerKey) {
      this.discard(ctx);
      return;
    }
    // RFC 7692 section 7.2.1/7.2.2 without context takeover: the next message starts empty.
    ctx.reset();
    list.push(ctx);
    this.idleCount++;
  }

  /** A context owned by one connection (context takeover). Free it with {@link discard}. */
  createOwned(settings: ContextSettings): ZlibContext {
    return this.make(settings, false);
  }

  /** Destroys a context (owned, or shared and not idle). */
  discard(ctx: ZlibContext): void {
    if (ctx.retired) return;
    ctx.retired = true;
    ctx.destroy();
    this.liveCount--;
  }

  /** Destroys every idle shared context. */
  trim(): void {
    for (const list of this.idle.values()) {
      for (const ctx of list) this.discard(ctx);
      list.length = 0;
    }
    this.idleCount = 0;
  }

  /** Counters since the pool was made. */
  stats(): CodecPoolStats {
    return { live: this.liveCount, idle: this.idleCount, created: this.createdCount };
  }

  private make(settings: ContextSettings, shared: boolean): ZlibContext {
    const ctx = new ZlibContext(settings, shared);
    this.liveCount++;
    this.createdCount++;
    return ctx;
  }
}
