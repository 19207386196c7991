/**
 * The machinery both zlib codecs share: a FIFO of asynchronous jobs run one at a time on a
 * context, slots from the concurrency limiter, contexts owned (context takeover) or borrowed
 * from the codec pool (no context takeover), and the failed and closed states.
 *
 * Ordering: a synchronous job only runs while the queue is empty, and queued jobs finish in
 * submission order, so outcomes reach the caller in submission order whichever path each took.
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import type { TidewsError } from "../errors.js";
import type { CodecListener } from "./codec.js";
import type { CodecPool } from "./codec-pool.js";
import type { ConcurrencyLimiter, LimiterWaiter } from "./concurrency-limiter.js";
import type { ContextSettings, ContextUser, ZlibContext } from "./zlib-context.js";

/** Returned by `completeJob` when the job goes on with another write. */
export const CONTINUE = 1;

/** What a codec needs from its factory; all values checked. */
export interface CodecResources {
  readonly bufferPool: Pool;
  readonly limiter: ConcurrencyLimiter;
  readonly codecPool: CodecPool;
  /** Compressed inputs up to this many bytes inflate synchronously; 0: never. */
  readonly syncInflateLimit: number;
  /** Inputs up to this many bytes deflate synchronously; 0: never. */
  readonly syncDeflateLimit: number;
  /** A synchronous inflate stops producing output here and continues asynchronously. */
  readonly syncOutputLimit: number;
  /** Bytes kept free in front of every compressed output. */
  readonly headroom: number;
}

/** One queued message. */
export class Job {
  /** The input copied for the thread pool (the tail included, for an inflate). */
  input: ByteBuffer | null;
  /** The output being filled. */
  out: ByteBuffer | null;
  /** The context the job runs on; set when it starts (or when a synchronous start spilled). */
  ctx: ZlibContext | null = null;
  /** `ctx.bytesWritten` when the current write started. */
  consumedBefore = 0;
  /** Where in {@link input} the current write started. */
  writtenFrom = 0;
  /** The context was reset and has consumed nothing since. */
  resetWithoutProgress = false;
  /** Where the appended tail starts in {@link input} (an inflate job). */
  payloadEnd = 0;
  /** The length of {@link input}. */
  readonly inputLength: number;

  constructor(
    input: ByteBuffer,
    out: ByteBuffer,
    readonly maxSize: number,
    readonly listener: CodecListener,
    readonly token: number,
  ) {
    this.input = input;
    this.inputLength = input.len;
    this.out = out;
  }
}

/** Base class of the zlib inflater and deflater. */
export abstract class ZlibJobQueue implements LimiterWaiter, ContextUser {
  protected readonly queue: Job[] = [];
  /** The head job waits for, or holds, a limiter slot. */
  private started = false;
  private slot = false;
  /** The context owned by this codec, with context takeover; created on first use. */
  private owned: ZlibContext | null = null;
  /** Set once a job failed: every later call returns it. */
  protected failure: TidewsError | null = null;
  protected closed = false;
  /** Inputs up to this many bytes may run synchronously. */
  private readonly syncLimit: number;

  constructor(
    protected readonly settings: ContextSettings,
    /** No context takeover: contexts are borrowed from the codec pool per message. */
    protected readonly noContextTakeover: boolean,
    protected readonly res: CodecResources,
  ) {
    this.syncLimit = settings.kind === "inflate" ? res.syncInflateLimit : res.syncDeflateLimit;
  }

  /** Jobs submitted and not finished yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Releases everything; pending jobs are dropped without a callback. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropAll();
  }

  /** Whether a job of `total` input bytes may run synchronously now. */
  protected canRunNow(total: number): boolean {
    return this.queue.length === 0 && total <= this.syncLimit;
  }

  /** The context for the next job: the owned one, or one borrowed from the pool. */
  protected takeContext(): ZlibContext {
    if (this.noContextTakeover) return this.res.codecPool.acquire(this.settings);
    let ctx = this.owned;
    if (ctx === null || ctx.dead) {
      if (ctx !== null) this.res.codecPool.discard(ctx);
      ctx = this.res.codecPool.createOwned(this.settings);
      this.owned = ctx;
    }
    return ctx;
  }

  /** Ends the use of `ctx` for one message. */
  protected giveBack(ctx: ZlibContext): void {
    if (ctx.shared) this.res.codecPool.release(ctx);
    else if (ctx.dead) {
      this.res.codecPool.discard(ctx);
      if (this.owned === ctx) this.owned = null;
    }
  }

  /** Destroys a context that can serve no further message. */
  protected retire(ctx: ZlibContext): void {
    this.res.codecPool.discard(ctx);
    if (this.owned === ctx) this.owned = null;
  }

  /** Forgets the LZ77 window of the owned context (if any). */
  protected resetOwned(): void {
    this.owned?.reset();
  }

  /** Queues `job` and starts it when it is at the head. */
  protected enqueue(job: Job): void {
    this.queue.push(job);
    this.pump();
  }

  /** Fails the codec: drops everything, then tells `listener` (when the error is reported). */
  protected fail(error: TidewsError, listener: CodecListener | null, token: number): void {
    this.failure = error;
    this.dropAll();
    listener?.onCodecError(error, token);
  }

  /** @internal LimiterWaiter: the head job may run. */
  onSlot(): void {
    this.slot = true;
    const job = this.queue[0];
    if (this.closed || this.failure !== null || job === undefined) {
      this.releaseSlot();
      this.started = false;
      return;
    }
    let ctx = job.ctx;
    if (ctx === null) {
      ctx = this.takeContext();
      job.ctx = ctx;
    }
    job.consumedBefore = ctx.bytesWritten;
    job.writtenFrom = 0;
    ctx.write(job.input!.bytes(), this);
  }

  /** @internal ContextUser: output of the running job. */
  onContextData(chunk: Buffer): void {
    const job = this.queue[0];
    if (job !== undefined) this.onJobData(job, chunk);
  }

  /** @internal ContextUser: the running job's write finished. */
  onContextDone(): void {
    const job = this.queue[0];
    if (job === undefined) return;
    const ctx = job.ctx!;
    const result = this.completeJob(job, ctx);
    // CONTINUE: the job wrote more input. null: the job failed the codec, which cleaned up.
    if (result === CONTINUE || result === null) return;
    this.queue.shift();
    this.started = false;
    this.releaseSlot();
    job.ctx = null;
    this.res.bufferPool.put(job.input!);
    job.input = null;
    this.giveBack(ctx);
    this.deliver(job.listener, result, job.token);
    this.pump();
  }

  /** @internal ContextUser: zlib failed during the running job. */
  onContextError(error: Error): void {
    const job = this.queue[0];
    if (job === undefined || this.failure !== null || this.closed) return;
    this.fail(this.mapError(error), job.listener, job.token);
  }

  /** Handles output of the running asynchronous job (may fail the codec). */
  protected abstract onJobData(job: Job, chunk: Buffer): void;

  /**
   * Finishes an asynchronous job whose write completed: the output (taken out of `job.out`),
   * `null` after failing the codec with {@link fail} (which reports the error and frees the
   * job), or {@link CONTINUE} after starting another write on `ctx` for the same job.
   */
  protected abstract completeJob(job: Job, ctx: ZlibContext): ByteBuffer | null | typeof CONTINUE;

  /** Hands a finished output to the listener. */
  protected abstract deliver(listener: CodecListener, data: ByteBuffer, token: number): void;

  /** The tidews error for a zlib failure. */
  protected abstract mapError(error: Error): TidewsError;

  private pump(): void {
    if (this.started || this.closed || this.failure !== null || this.queue.length === 0) return;
    this.started = true;
    if (this.res.limiter.acquire(this)) this.onSlot();
  }

  private releaseSlot(): void {
    if (this.slot) {
      this.slot = false;
      this.res.limiter.release();
    }
  }

  /** Abandons the running job and every queued one, and frees the owned context. */
  private dropAll(): void {
    if (this.started && !this.slot) this.res.limiter.cancel(this);
    this.started = false;
    const pool = this.res.bufferPool;
    for (const job of this.queue) {
      if (job.input !== null) pool.put(job.input);
      if (job.out !== null) pool.put(job.out);
      job.input = null;
      job.out = null;
      const ctx = job.ctx;
      job.ctx = null;
      // A context in the middle of a message cannot serve another one: destroy it.
      if (ctx !== null && ctx !== this.owned) this.res.codecPool.discard(ctx);
    }
    this.queue.length = 0;
    this.releaseSlot();
    if (this.owned !== null) {
      this.res.codecPool.discard(this.owned);
      this.owned = null;
    }
  }
}
