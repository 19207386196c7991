/**
 * The node:zlib implementation of the codec interfaces: a factory that holds what its codecs
 * share (buffer pool, concurrency limiter, codec pool, settings) and makes the inflater and the
 * deflater of each connection.
 *
 * Memory. With context takeover a connection owns its contexts, with the negotiated windows
 * (a compressor takes about `2^(windowBits+2) + 2^(memLevel+9)` bytes, 256 KiB at 15/8; a
 * decompressor about `2^windowBits` + 7 KiB). They are created on the first message in each
 * direction, so a connection that never sends a compressed message never pays for a
 * compressor. Without context takeover a connection owns nothing: each message borrows a
 * context from the {@link CodecPool}. Shared decompressors always use a 15-bit window, which
 * decodes any smaller one, so every connection shares the same few.
 *
 * Speed. zlib's thread pool costs a round trip per message, which dominates for small ones.
 * Small messages run synchronously on the context's native handle instead. The limits keep one
 * synchronous job near a millisecond on a current CPU: inflating is cheap (64 KiB of output in
 * about 65 us), deflating at the default level is not (16 KiB in about 1 ms), so the default
 * limits are 64 KiB of compressed input and 16 KiB of plain input.
 *
 * @module
 */

import { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError, type TidewsError } from "../errors.js";
import type { CodecPool } from "./codec-pool.js";
import type { ConcurrencyLimiter } from "./concurrency-limiter.js";
import {
  codecParams,
  type DeflateParams,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
  type Role,
  resolveDeflateOptions,
} from "./negotiation.js";
import type { ContextSettings } from "./zlib-context.js";
import { ZlibDeflater } from "./zlib-deflater.js";
import { ZlibInflater } from "./zlib-inflater.js";
import type { CodecResources } from "./zlib-job-queue.js";

/** The default {@link ZlibCodecOptions.syncInflateLimit}. */
export const DEFAULT_SYNC_INFLATE_LIMIT = 64 * 1024;
/** The default {@link ZlibCodecOptions.syncDeflateLimit}. */
export const DEFAULT_SYNC_DEFLATE_LIMIT = 16 * 1024;
/** The default {@link ZlibCodecOptions.syncOutputLimit}. */
export const DEFAULT_SYNC_OUTPUT_LIMIT = 1024 * 1024;
/** The default {@link ZlibCodecOptions.headroom}: the largest frame header (RFC 6455 section 5.2). */
export const DEFAULT_HEADROOM = 14;
/** The default {@link ZlibCodecOptions.chunkSize}. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024;

/** What a {@link ZlibCodecFactory} shares between its codecs. */
export interface ZlibCodecOptions {
  /** Outputs, and inputs queued for the thread pool, come from this pool. */
  readonly bufferPool: Pool;
  /** Bounds the asynchronous jobs of every codec of the factory (and of others sharing it). */
  readonly limiter: ConcurrencyLimiter;
  /** Shared contexts for connections without context takeover. */
  readonly codecPool: CodecPool;
  /** Compression level and memLevel (the protocol parameters come from the negotiation). */
  readonly deflate?: PerMessageDeflateOptions | ResolvedDeflateOptions;
  /**
   * Compressed messages up to this many bytes inflate synchronously; `0` sends every one to
   * the thread pool. Default 64 KiB.
   */
  readonly syncInflateLimit?: number;
  /**
   * Messages up to this many bytes deflate synchronously; `0` sends every one to the thread
   * pool. Default 16 KiB.
   */
  readonly syncDeflateLimit?: number;
  /** Sets both synchronous limits at once (the specific options win). */
  readonly syncLimit?: number;
  /**
   * A synchronous inflate that has produced this many bytes continues on the thread pool, so
   * one message never blocks the event loop for long. Default 1 MiB.
   */
  readonly syncOutputLimit?: number;
  /** Bytes kept free in front of every compressed output for the frame header. Default 14. */
  readonly headroom?: number;
  /** Output chunk size of the thread-pool path. Default 16 KiB. */
  readonly chunkSize?: number;
}

function nonNegative(name: string, value: number | undefined, dflt: number, min = 0): number {
  if (value === undefined) return dflt;
  if (!Number.isInteger(value) || value < min) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** The inflater and deflater of one connection. */
export interface ConnectionCodecs {
  readonly inflater: ZlibInflater;
  readonly deflater: ZlibDeflater;
}

/** Makes the zlib codecs of connections; one per server or client configuration. */
export class ZlibCodecFactory {
  /** The checked permessage-deflate options (threshold, level, memLevel, ...). */
  readonly options: ResolvedDeflateOptions;
  private readonly res: CodecResources;
  private readonly chunkSize: number;
  /** One deflater without context takeover per window size, for {@link deflateOnce}. */
  private readonly once = new Map<number, ZlibDeflater>();

  /**
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an invalid option
   */
  constructor(options: ZlibCodecOptions) {
    this.options = resolveDeflateOptions(options.deflate);
    const both = options.syncLimit;
    this.res = {
      bufferPool: options.bufferPool,
      limiter: options.limiter,
      codecPool: options.codecPool,
      syncInflateLimit: nonNegative(
        "syncInflateLimit",
        options.syncInflateLimit ?? both,
        DEFAULT_SYNC_INFLATE_LIMIT,
      ),
      syncDeflateLimit: nonNegative(
        "syncDeflateLimit",
        options.syncDeflateLimit ?? both,
        DEFAULT_SYNC_DEFLATE_LIMIT,
      ),
      syncOutputLimit: nonNegative(
        "syncOutputLimit",
        options.syncOutputLimit,
        DEFAULT_SYNC_OUTPUT_LIMIT,
        1,
      ),
      headroom: nonNegative("headroom", options.headroom, DEFAULT_HEADROOM),
    };
    // node:zlib refuses chunks under 64 bytes.
    this.chunkSize = nonNegative("chunkSize", options.chunkSize, DEFAULT_CHUNK_SIZE, 64);
  }

  /** Messages shorter than this are best sent uncompressed (RSV1 clear). */
  get threshold(): number {
    return this.options.threshold;
  }

  /**
   * A decompressor for messages compressed with a window of `windowBits`.
   *
   * @param windowBits - 8..15, the peer's negotiated window
   * @param noContextTakeover - the peer resets its context after every message
   */
  createInflater(windowBits: number, noContextTakeover: boolean): ZlibInflater {
    return new ZlibInflater(
      this.settings("inflate", noContextTakeover ? 15 : windowBits),
      noContextTakeover,
      this.res,
    );
  }

  /**
   * A compressor with a window of `windowBits`.
   *
   * @param windowBits - 8..15, our negotiated window (8 runs as zlib's 9, see `negotiation`)
   * @param noContextTakeover - reset the context after every message
   */
  createDeflater(windowBits: number, noContextTakeover: boolean): ZlibDeflater {
    return new ZlibDeflater(this.settings("deflate", windowBits), noContextTakeover, this.res);
  }

  /**
   * Compresses one payload on its own, synchronously, on a shared context: the result references
   * nothing before it, so any peer whose window is at least `windowBits` decodes it whatever its
   * own state. That is a broadcast frame encoded once for many connections, valid for those
   * where our side compresses without context takeover: with takeover, our next message would
   * point back past the shared payload in the peer's window. Unlike `zlib.deflateRawSync`, no
   * zlib context is created per call.
   *
   * @param data - the payload
   * @param windowBits - 8..15
   * @returns the payload compressed as RFC 7692 section 7.2.1 says, `headroom` bytes free in
   *   front, owned by the caller; or an error (1011)
   */
  deflateOnce(
    data: Uint8Array | readonly Uint8Array[],
    windowBits: number,
  ): ByteBuffer | TidewsError {
    let d = this.once.get(windowBits);
    if (d === undefined) {
      d = new ZlibDeflater(this.settings("deflate", windowBits, true), true, this.res);
      this.once.set(windowBits, d);
    }
    const result = d.deflateSync(data);
    // A failure leaves that deflater failed; the next call gets a fresh one.
    if (!(result instanceof ByteBuffer)) this.once.delete(windowBits);
    return result;
  }

  /** Both codecs of a connection in `role` under the negotiated `params`. */
  create(params: DeflateParams, role: Role): ConnectionCodecs {
    const p = codecParams(params, role);
    return {
      inflater: this.createInflater(p.inflateWindowBits, p.inflateNoContextTakeover),
      deflater: this.createDeflater(p.deflateWindowBits, p.deflateNoContextTakeover),
    };
  }

  private settings(
    kind: "inflate" | "deflate",
    windowBits: number,
    forceSync = false,
  ): ContextSettings {
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw createError("ERR_INVALID_ARGUMENT", `windowBits must be in 8..15, got ${windowBits}`);
    }
    return {
      kind,
      windowBits,
      level: this.options.level,
      memLevel: this.options.memLevel,
      chunkSize: this.chunkSize,
      sync:
        forceSync ||
        (kind === "inflate" ? this.res.syncInflateLimit : this.res.syncDeflateLimit) > 0,
    };
  }
}
