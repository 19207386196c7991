/**
 * The permessage-deflate compressor over node:zlib (RFC 7692 section 7.2.1).
 *
 * Every message ends with a sync flush (`Z_SYNC_FLUSH`), whose trailing empty stored block
 * `00 00 ff ff` is removed. Messages up to `syncDeflateLimit` bytes compress synchronously on the
 * context's native handle, straight into a pooled buffer that keeps `headroom` free bytes in
 * front for the frame header; larger ones, and any submitted while others are queued, go to
 * libuv's thread pool.
 *
 * @module
 */

import zlib from "node:zlib";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import { createError, type TidewsError } from "../errors.js";
import { type CodecListener, type CodecResult, type Deflater, PENDING } from "./codec.js";
import { copyInput, reserve, takeOutput } from "./output-buffer.js";
import type { ZlibContext } from "./zlib-context.js";
import { Job, ZlibJobQueue } from "./zlib-job-queue.js";

const { Z_NO_FLUSH, Z_SYNC_FLUSH } = zlib.constants;

/** Room zlib wants before a call that may flush (a stored block header is 5 bytes). */
const MIN_ROOM = 64;

/** An output estimate: deflate expands incompressible input by well under 2% (stored blocks). */
function outputBound(total: number): number {
  return total + (total >>> 6) + MIN_ROOM;
}

/** Compresses the messages of one connection. See {@link Deflater} for the contract. */
export class ZlibDeflater extends ZlibJobQueue implements Deflater {
  /** Output of the synchronous job in progress. */
  private out: ByteBuffer | null = null;

  /** Bytes kept free in front of every output. */
  get headroom(): number {
    return this.res.headroom;
  }

  deflate(
    input: Uint8Array | readonly Uint8Array[],
    listener: CodecListener,
    token: number,
  ): CodecResult {
    if (this.closed) throw createError("ERR_WS_INVALID_STATE", "the deflater is closed");
    if (this.failure !== null) return this.failure;
    let total = 0;
    if (input instanceof Uint8Array) total = input.byteLength;
    else for (let i = 0; i < input.length; i++) total += input[i]!.byteLength;
    const pool = this.res.bufferPool;
    if (this.queue.length === 0 && total === 0) return this.emptyMessage();
    if (this.canRunNow(total)) {
      const result = this.deflateNow(input);
      if (result !== undefined) return result;
    }
    const job = new Job(
      copyInput(pool, input, 0, 0, undefined),
      takeOutput(pool, this.res.headroom, outputBound(total)),
      0,
      listener,
      token,
    );
    this.enqueue(job);
    return PENDING;
  }

  /**
   * Compresses `input` now, on the calling thread, whatever its size: for a payload compressed
   * once and sent to many connections (a broadcast without context takeover), where waiting for
   * the thread pool buys nothing. Only while no job is queued.
   *
   * @returns the compressed payload (owned by the caller), or an error (1011)
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after close or while jobs are queued
   */
  deflateSync(input: Uint8Array | readonly Uint8Array[]): ByteBuffer | TidewsError {
    if (this.closed || this.queue.length > 0) {
      throw createError("ERR_WS_INVALID_STATE", "deflateSync on a closed or busy deflater");
    }
    if (this.failure !== null) return this.failure;
    let total = 0;
    if (input instanceof Uint8Array) total = input.byteLength;
    else for (let i = 0; i < input.length; i++) total += input[i]!.byteLength;
    if (total === 0) return this.emptyMessage();
    const result = this.deflateNow(input);
    if (result === undefined) {
      // The runtime has no synchronous entry on a reusable handle.
      const error = createError("ERR_WS_INTERNAL", "no synchronous zlib entry");
      this.fail(error, null, 0);
      return error;
    }
    return result as ByteBuffer | TidewsError;
  }

  /**
   * RFC 7692 section 7.2.3.6: an empty message compresses to a single empty stored block
   * header, `0x00`. The compressor's state does not change, so zlib is not called.
   */
  private emptyMessage(): ByteBuffer {
    const out = takeOutput(this.res.bufferPool, this.res.headroom, 1);
    out.storage[out.end++] = 0x00;
    return out;
  }

  /** The synchronous path; `undefined` when the runtime has no synchronous entry. */
  private deflateNow(input: Uint8Array | readonly Uint8Array[]): CodecResult | undefined {
    const ctx = this.takeContext();
    if (!ctx.canWriteSync) {
      this.giveBack(ctx);
      return undefined;
    }
    const pool = this.res.bufferPool;
    let ok: boolean;
    if (input instanceof Uint8Array) {
      this.out = takeOutput(pool, this.res.headroom, outputBound(input.byteLength));
      ok = this.feed(ctx, input, Z_SYNC_FLUSH);
    } else {
      let total = 0;
      for (let i = 0; i < input.length; i++) total += input[i]!.byteLength;
      this.out = takeOutput(pool, this.res.headroom, outputBound(total));
      ok = true;
      const last = input.length - 1;
      for (let i = 0; ok && i <= last; i++) {
        ok = this.feed(ctx, input[i]!, i === last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      }
    }
    const out = this.out!;
    this.out = null;
    if (!ok) {
      pool.put(out);
      this.giveBack(ctx);
      const error = createError("ERR_WS_INTERNAL", "deflate failed");
      this.fail(error, null, 0);
      return error;
    }
    const result = this.finish(out);
    this.giveBack(ctx);
    if (result === null) {
      pool.put(out);
      const error = createError("ERR_WS_INTERNAL", "deflate output lacks the sync flush");
      this.fail(error, null, 0);
      return error;
    }
    return result;
  }

  /** Feeds one piece to zlib synchronously, growing {@link out} as needed. */
  private feed(ctx: ZlibContext, piece: Uint8Array, flush: number): boolean {
    let inOff = 0;
    let inLen = piece.byteLength;
    for (;;) {
      let out = this.out!;
      if (out.storage.length - out.end < MIN_ROOM) {
        out = reserve(this.res.bufferPool, out, Math.max(MIN_ROOM, inLen >>> 1));
        this.out = out;
      }
      const room = out.storage.length - out.end;
      if (!ctx.writeSync(flush, piece, inOff, inLen, out.storage, out.end, room)) return false;
      const availOut = ctx.availOut;
      const availIn = ctx.availIn;
      out.end += room - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      // Room left means zlib took all the input (and, with a flush, wrote all of it out).
      if (availOut !== 0) return true;
    }
  }

  /**
   * RFC 7692 section 7.2.1: removes the `00 00 ff ff` the sync flush ends with; `null` when the
   * output does not end with it. Output that came out empty becomes the empty block `0x00`.
   */
  private finish(out: ByteBuffer): ByteBuffer | null {
    const s = out.storage;
    const e = out.end;
    if (e - out.off === 0) {
      // A flush with nothing pending writes nothing: emit the empty stored block header.
      const room = reserve(this.res.bufferPool, out, 1);
      room.storage[room.end++] = 0x00;
      return room;
    }
    if (
      e - out.off < 4 ||
      s[e - 4] !== 0 ||
      s[e - 3] !== 0 ||
      s[e - 2] !== 0xff ||
      s[e - 1] !== 0xff
    ) {
      return null;
    }
    out.end = e - 4;
    return out;
  }

  protected onJobData(job: Job, chunk: Buffer): void {
    const out = reserve(this.res.bufferPool, job.out!, chunk.byteLength);
    out.storage.set(chunk, out.end);
    out.end += chunk.byteLength;
    job.out = out;
  }

  protected completeJob(job: Job, _ctx: ZlibContext): ByteBuffer | null {
    const out = job.out!;
    job.out = null;
    const result = this.finish(out);
    if (result === null) {
      this.res.bufferPool.put(out);
      this.fail(
        createError("ERR_WS_INTERNAL", "deflate output lacks the sync flush"),
        job.listener,
        job.token,
      );
    }
    return result;
  }

  protected deliver(listener: CodecListener, data: ByteBuffer, token: number): void {
    listener.onDeflated(data, token);
  }

  protected mapError(error: Error): TidewsError {
    return createError("ERR_WS_INTERNAL", `deflate failed: ${error.message}`);
  }
}
