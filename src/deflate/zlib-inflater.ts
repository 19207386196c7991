/**
 * The permessage-deflate decompressor over node:zlib (RFC 7692 section 7.2.2).
 *
 * Small messages inflate synchronously on the context's native handle, straight into a pooled
 * buffer; large ones, and any that arrive while others are queued, go to libuv's thread pool.
 * A synchronous inflate that keeps producing output (a compression bomb, or a large message)
 * stops after `syncOutputLimit` bytes and continues on the thread pool from where it stopped, so
 * the event loop is never blocked for long. The size limit is enforced while inflating: the
 * synchronous path never writes more than `maxSize + 1` bytes, the asynchronous path refuses the
 * first chunk that would pass `maxSize` and stops zlib.
 *
 * A DEFLATE block with BFINAL set ends zlib's stream (RFC 7692 section 7.2.3.4 allows a sender
 * to flush that way); whatever follows it, such as the empty stored block `0x00` + tail the RFC
 * example ends with, is inflated as a new stream. The LZ77 window is lost at that point.
 *
 * @module
 */

import zlib from "node:zlib";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import { createError, type TidewsError } from "../errors.js";
import { type CodecListener, type CodecResult, type Inflater, PENDING } from "./codec.js";
import { copyInput, reserve } from "./output-buffer.js";
import type { ZlibContext } from "./zlib-context.js";
import { CONTINUE, Job, ZlibJobQueue } from "./zlib-job-queue.js";

const { Z_SYNC_FLUSH } = zlib.constants;

/** RFC 7692 section 7.2.2: the receiver appends 0x00 0x00 0xff 0xff to the payload. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

// Outcomes of one synchronous feed.
const OK = 0;
const TOO_BIG = 1;
const CORRUPT = 2;
/** The synchronous output budget is spent; continue asynchronously. */
const SPILL = 3;

/** The first output buffer for `total` compressed bytes. */
function firstOutputSize(total: number, maxSize: number): number {
  const guess = total < 256 ? 1024 : total * 4;
  return guess < maxSize ? guess : maxSize + 1;
}

/** Decompresses the messages of one connection. See {@link Inflater} for the contract. */
export class ZlibInflater extends ZlibJobQueue implements Inflater {
  /** Output of the synchronous job in progress. */
  private out: ByteBuffer | null = null;
  /** Input offset where a synchronous feed stopped with {@link SPILL}. */
  private stoppedAt = 0;
  /** The context was reset during the synchronous job and has consumed nothing since. */
  private resetWithoutProgress = false;

  inflate(
    input: readonly Uint8Array[],
    maxSize: number,
    listener: CodecListener,
    token: number,
  ): CodecResult {
    if (this.closed) throw createError("ERR_WS_INVALID_STATE", "the inflater is closed");
    if (this.failure !== null) return this.failure;
    let total = 0;
    for (let i = 0; i < input.length; i++) total += input[i]!.byteLength;
    if (this.queue.length === 0 && total === 0) {
      // An empty payload holds no DEFLATE block to inflate (a compliant sender writes at least
      // 0x00, RFC 7692 section 7.2.3.6); feeding only the tail would leave zlib inside a
      // stored block. The message is empty.
      return this.res.bufferPool.get(0);
    }
    if (this.canRunNow(total)) {
      const result = this.inflateNow(input, total, maxSize, listener, token);
      if (result !== undefined) return result;
    }
    const pool = this.res.bufferPool;
    const job = new Job(
      // An empty payload is not inflated at all (see above): no tail either.
      copyInput(pool, input, 0, 0, total === 0 ? undefined : TAIL),
      pool.get(firstOutputSize(total, maxSize)),
      maxSize,
      listener,
      token,
    );
    job.payloadEnd = total;
    this.enqueue(job);
    return PENDING;
  }

  /** Forgets the LZ77 window. Only while no job is pending. */
  reset(): void {
    if (this.closed) return;
    if (this.queue.length > 0) {
      throw createError("ERR_WS_INVALID_STATE", "reset while inflate jobs are pending");
    }
    this.resetOwned();
  }

  /**
   * The synchronous path. `undefined` when the runtime has no synchronous entry (the caller
   * then queues the job); PENDING when the job spilled to the thread pool.
   */
  private inflateNow(
    input: readonly Uint8Array[],
    total: number,
    maxSize: number,
    listener: CodecListener,
    token: number,
  ): CodecResult | undefined {
    const ctx = this.takeContext();
    if (!ctx.canWriteSync) {
      this.giveBack(ctx);
      return undefined;
    }
    const pool = this.res.bufferPool;
    this.out = pool.get(firstOutputSize(total, maxSize));
    const budget = this.res.syncOutputLimit;
    this.resetWithoutProgress = false;
    let status = OK;
    let i = 0;
    for (; i < input.length; i++) {
      status = this.feed(ctx, input[i]!, maxSize, budget, false);
      if (status !== OK) break;
    }
    const inTail = status === OK;
    if (inTail) status = this.feed(ctx, TAIL, maxSize, budget, true);
    const out = this.out!;
    this.out = null;
    switch (status) {
      case OK:
        this.giveBack(ctx);
        return out;
      case SPILL: {
        const job = new Job(
          inTail
            ? copyInput(pool, TAIL, 0, this.stoppedAt, undefined)
            : copyInput(pool, input, i, this.stoppedAt, TAIL),
          out,
          maxSize,
          listener,
          token,
        );
        job.payloadEnd = inTail ? 0 : job.inputLength - TAIL.byteLength;
        job.ctx = ctx;
        this.enqueue(job);
        return PENDING;
      }
      case TOO_BIG:
        pool.put(out);
        ctx.reset();
        this.giveBack(ctx);
        return this.failNow("ERR_WS_MESSAGE_TOO_BIG", `more than ${maxSize} bytes inflated`);
      default:
        pool.put(out);
        this.giveBack(ctx);
        return this.failNow("ERR_WS_INFLATE_FAILED", "corrupt deflate data");
    }
  }

  /**
   * Feeds one piece to zlib synchronously, growing {@link out} as needed, never past
   * `maxSize + 1` bytes nor past `budget`.
   */
  private feed(
    ctx: ZlibContext,
    piece: Uint8Array,
    maxSize: number,
    budget: number,
    isTail: boolean,
  ): number {
    const pool = this.res.bufferPool;
    let inOff = 0;
    let inLen = piece.byteLength;
    const cap = Math.min(maxSize + 1, budget);
    for (;;) {
      let out = this.out!;
      const len = out.end - out.off;
      if (len > maxSize) return TOO_BIG;
      if (len >= cap) {
        this.stoppedAt = inOff;
        return SPILL;
      }
      if (out.storage.length === out.end) {
        // Never a buffer larger than the output may get: a bomb stops at the limit.
        out = reserve(pool, out, Math.min(out.storage.length, cap - len), out.off + cap);
        this.out = out;
      }
      let room = out.storage.length - out.end;
      if (room > cap - len) room = cap - len;
      if (!ctx.writeSync(Z_SYNC_FLUSH, piece, inOff, inLen, out.storage, out.end, room)) {
        return CORRUPT;
      }
      const availOut = ctx.availOut;
      const availIn = ctx.availIn;
      if (availOut !== room || availIn !== inLen) this.resetWithoutProgress = false;
      out.end += room - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) {
        if (out.end - out.off > maxSize) return TOO_BIG;
        if (inLen === 0) return OK;
        // Room and input left: a block with BFINAL ended the stream (RFC 7692 section
        // 7.2.3.4). The next message starts a new stream, and so does payload that follows
        // the block; a fresh stream that cannot start is corrupt. The appended tail is not
        // payload: fed to a fresh stream it would open a stored block.
        ctx.reset();
        if (isTail) return OK;
        if (this.resetWithoutProgress) return CORRUPT;
        this.resetWithoutProgress = true;
      }
    }
  }

  private failNow(
    code: "ERR_WS_INFLATE_FAILED" | "ERR_WS_MESSAGE_TOO_BIG",
    detail: string,
  ): TidewsError {
    const error = createError(code, detail);
    this.fail(error, null, 0);
    return error;
  }

  protected onJobData(job: Job, chunk: Buffer): void {
    const out = job.out!;
    if (out.end - out.off + chunk.byteLength > job.maxSize) {
      // Stop now: failing destroys the context, so zlib produces nothing more.
      this.fail(
        createError("ERR_WS_MESSAGE_TOO_BIG", `more than ${job.maxSize} bytes inflated`),
        job.listener,
        job.token,
      );
      return;
    }
    const room = reserve(this.res.bufferPool, out, chunk.byteLength, out.off + job.maxSize);
    room.storage.set(chunk, room.end);
    room.end += chunk.byteLength;
    job.out = room;
  }

  protected completeJob(job: Job, ctx: ZlibContext): ByteBuffer | null | typeof CONTINUE {
    const consumed = ctx.bytesWritten - job.consumedBefore;
    const at = job.writtenFrom + consumed;
    if (at < job.inputLength) {
      // A block with BFINAL ended the stream (RFC 7692 section 7.2.3.4). Node ends a stream
      // whose input stopped early, so this context is done: the rest of the payload goes to a
      // fresh one as a new stream; the appended tail alone is not inflated (see feed).
      this.retire(ctx);
      if (at >= job.payloadEnd) {
        const out = job.out!;
        job.out = null;
        return out;
      }
      if (consumed > 0) job.resetWithoutProgress = false;
      if (job.resetWithoutProgress) {
        this.fail(
          createError("ERR_WS_INFLATE_FAILED", "corrupt deflate data"),
          job.listener,
          job.token,
        );
        return null;
      }
      const fresh = this.takeContext();
      job.ctx = fresh;
      job.resetWithoutProgress = true;
      job.writtenFrom = at;
      job.consumedBefore = fresh.bytesWritten;
      fresh.write(job.input!.bytes().subarray(at), this);
      return CONTINUE;
    }
    const out = job.out!;
    job.out = null;
    return out;
  }

  protected deliver(listener: CodecListener, data: ByteBuffer, token: number): void {
    listener.onInflated(data, token);
  }

  protected mapError(error: Error): TidewsError {
    return createError("ERR_WS_INFLATE_FAILED", error.message);
  }
}
