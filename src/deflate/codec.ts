/**
 * The compression interfaces the connection uses (RFC 7692 section 7.2), independent of zlib.
 *
 * A job either finishes during the call (the synchronous fast path) and its outcome is the
 * return value, or it finishes later and its outcome goes to the {@link CodecListener}, exactly
 * once, in the order the jobs were submitted. The listener is one long-lived object per
 * connection; the `token` tells it which job finished, so no closure or promise is created per
 * message.
 *
 * How the connection calls a codec:
 * 1. `const r = inflater.inflate(pieces, maxSize, listener, token)`.
 * 2. `r` a ByteBuffer: the message, done. `r` a TidewsError: fail the connection with
 *    `r.closeCode`. `r === PENDING` (`null`): the outcome comes later through the listener;
 *    submit the next messages in order as they arrive (they queue behind), or pause reading.
 * 3. The input memory may be reused as soon as the call returns (the codec copies what it keeps).
 * 4. The output ByteBuffer belongs to the caller, who gives it back to the pool the codec was
 *    built with (`pool.put`).
 * 5. After an error (returned or reported) the codec is failed: it reports nothing more, and
 *    every later call returns that same error. Call `close()`.
 * 6. `close()` when the connection ends: pending jobs are dropped without any callback and
 *    their buffers go back to the pool.
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { TidewsError } from "../errors.js";

/** The value of `inflate`/`deflate` when the job will finish later, through the listener. */
export const PENDING = null;

/** What `inflate`/`deflate` return: the output, the error, or {@link PENDING}. */
export type CodecResult = ByteBuffer | TidewsError | typeof PENDING;

/**
 * Receives the outcome of a compress/decompress job. One long-lived object per connection.
 * Its methods run inside zlib stream callbacks and must not throw.
 */
export interface CodecListener {
  /** The decompressed message; the listener owns `data` (return it to the pool). */
  onInflated(data: ByteBuffer, token: number): void;
  /**
   * The compressed payload of a message, without the `00 00 ff ff` tail (RFC 7692 section
   * 7.2.1); the listener owns `data`.
   */
  onDeflated(data: ByteBuffer, token: number): void;
  /** The job failed; the codec is now failed too. */
  onCodecError(error: TidewsError, token: number): void;
}

/** Decompresses messages of one connection (RFC 7692 section 7.2.2). */
export interface Inflater {
  /**
   * Decompresses one message.
   *
   * @param input - the payload pieces of the message, without the `00 00 ff ff` tail (the
   *   inflater appends it, RFC 7692 section 7.2.2); not kept after the call
   * @param maxSize - the largest decompressed size allowed; decompression stops as soon as the
   *   output would pass it, with `ERR_WS_MESSAGE_TOO_BIG` (1009)
   * @param listener - receives the outcome when the result is {@link PENDING}
   * @param token - passed back to the listener
   * @returns the message (owned by the caller), `ERR_WS_MESSAGE_TOO_BIG` (1009),
   *   `ERR_WS_INFLATE_FAILED` (1007) for corrupt data, or {@link PENDING}
   */
  inflate(
    input: readonly Uint8Array[],
    maxSize: number,
    listener: CodecListener,
    token: number,
  ): CodecResult;
  /** Forgets the LZ77 window; only while no job is pending. */
  reset(): void;
  /** Releases the decompressor; pending jobs are dropped without a callback. */
  close(): void;
  /** Jobs submitted and not finished yet. */
  readonly pending: number;
}

/** Compresses messages of one connection (RFC 7692 section 7.2.1). */
export interface Deflater {
  /**
   * Compresses one message.
   *
   * @param input - the message, in one piece or several; not kept after the call
   * @param listener - receives the outcome when the result is {@link PENDING}
   * @param token - passed back to the listener
   * @returns the compressed payload without the `00 00 ff ff` tail (owned by the caller), an
   *   error (1011), or {@link PENDING}. The payload's unread bytes start at least
   *   {@link headroom} bytes into its storage, so a frame header fits in front of it.
   */
  deflate(
    input: Uint8Array | readonly Uint8Array[],
    listener: CodecListener,
    token: number,
  ): CodecResult;
  /** Releases the compressor; pending jobs are dropped without a callback. */
  close(): void;
  /** Jobs submitted and not finished yet. */
  readonly pending: number;
  /** Bytes kept free in front of every output (`output.off >= headroom`). */
  readonly headroom: number;
}
