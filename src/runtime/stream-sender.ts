/**
 * Sending one WebSocket message from a stream of chunks (a Node Readable or any AsyncIterable),
 * in fragments, with constant memory: the logic behind `Connection.sendStream`.
 *
 * RFC 6455 section 5.4: "An unfragmented message consists of a single frame with the FIN bit set
 * and an opcode other than 0. A fragmented message consists of a single frame with the FIN bit
 * clear and an opcode other than 0, followed by zero or more frames with the FIN bit clear and
 * the opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0."
 * And: "Control frames MAY be injected in the middle of a fragmented message", while "the
 * fragments of one message MUST NOT be interleaved between the fragments of another message".
 * So while a stream message is on the wire, the connection holds other data messages back; pings,
 * pongs and the close frame still go between its fragments.
 *
 * Memory: one pooled fragment buffer is filled at a time and handed to the core, which writes
 * the frame header into the room reserved in front of the payload. The sender reads the next
 * chunk from the source, and hands over the next fragment, only while the connection's queued
 * bytes are under its high-water mark; otherwise it waits for {@link StreamSender.writable}.
 * So the bytes queued for one stream never pass the high-water mark plus one frame.
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError, isTidewsError, type TidewsError } from "../errors.js";
import { MAX_HEADER_SIZE } from "../protocol/frame-encoder.js";
import { Opcode } from "../protocol/opcodes.js";
import { Utf8Validator } from "../protocol/utf8-validator.js";

/** A chunk a stream message may be made of: bytes, or a string (encoded as UTF-8). */
export type StreamChunk = Uint8Array | string;

/** What {@link Connection.sendStream} reads: a Node Readable or any async iterable of chunks. */
export type StreamSource = NodeJS.ReadableStream | AsyncIterable<StreamChunk>;

/** Options of `Connection.sendStream` and `Connection.sendFile`. */
export interface SendStreamOptions {
  /**
   * Send as a binary message (default `true`) or as text (`false`). Text is validated as UTF-8
   * across chunk boundaries before any of a chunk is sent; invalid text rejects with
   * `ERR_WS_STREAM_INVALID_UTF8`.
   */
  readonly binary?: boolean;
  /**
   * The largest payload of one frame, in bytes: chunks are coalesced or split into frames of this
   * size (the last may be shorter). Default {@link DEFAULT_STREAM_FRAGMENT_SIZE}.
   */
  readonly fragmentSize?: number;
  /**
   * Aborts the send. Before the first frame went out the connection is untouched; after it, the
   * half-sent message can only be ended by closing the connection, which is closed with 1011.
   */
  readonly signal?: AbortSignal;
}

/**
 * The default fragment payload size: 64 KiB minus the largest frame header, so that a fragment
 * with its header fills one 64 KiB pooled buffer exactly.
 */
export const DEFAULT_STREAM_FRAGMENT_SIZE = 64 * 1024 - MAX_HEADER_SIZE;

/** What a {@link StreamSender} needs from its connection. */
export interface StreamHost {
  /** True while the stream may hand over another frame (queued bytes under the high-water mark). */
  streamWritable(): boolean;
  /**
   * Sends `buf` (payload after {@link MAX_HEADER_SIZE} bytes of room) as the next frame of the
   * message (`first` for its first frame); ownership moves to the connection, also when this
   * throws (`ERR_WS_NOT_OPEN`, or `ERR_WS_INVALID_STATE` when another message is unfinished).
   */
  streamFrame(opcode: number, buf: ByteBuffer, fin: boolean, first: boolean): void;
  /**
   * The stream is over: `error` undefined after its last frame, else why it failed;
   * `midMessage` when frames of it are on the wire without the final one.
   */
  streamFinished(sender: StreamSender, error: TidewsError | undefined, midMessage: boolean): void;
}

const QUEUED = 0;
const RUNNING = 1;
const DONE = 2;

interface ReadableLike {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy?(error?: Error): unknown;
  readonly readableEnded?: boolean;
  readonly destroyed?: boolean;
}

function isReadable(source: unknown): source is ReadableLike {
  const s = source as Partial<ReadableLike> & { pipe?: unknown };
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.on === "function" &&
    typeof s.pause === "function" &&
    typeof s.resume === "function" &&
    typeof s.pipe === "function"
  );
}

function ignore(): void {}

/** The chunk as bytes, or undefined when it is not a chunk. */
function toBytes(chunk: unknown): Uint8Array | undefined {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  return undefined;
}

/**
 * Sends one message from a source, fragment by fragment (see the module comment). Created by the
 * connection; one per `sendStream` call, with one listener of each kind per stream and none per
 * chunk.
 */
export class StreamSender {
  /** Settles when the last frame was queued for the wire, or with the error that stopped it. */
  readonly promise: Promise<void>;

  private readonly host: StreamHost;
  private readonly pool: Pool;
  private readonly source: StreamSource;
  private readonly readable: ReadableLike | undefined;
  private iterator: AsyncIterator<StreamChunk> | undefined;
  private readonly opcode: number;
  private readonly fragmentSize: number;
  private readonly signal: AbortSignal | undefined;
  private readonly validator: Utf8Validator | undefined;
  private resolveFn: (() => void) | undefined;
  private rejectFn: ((error: TidewsError) => void) | undefined;

  private state = QUEUED;
  private fragment: ByteBuffer | undefined;
  private chunk: Uint8Array | undefined;
  private chunkOff = 0;
  private framesSent = 0;
  private sourceEnded = false;
  /** An iterator `next()` is pending. */
  private reading = false;
  /** Waiting for {@link writable}. */
  private waiting = false;
  /** The Readable was paused by us. */
  private paused = false;
  /** Inside the Readable's 'data' listener. */
  private inData = false;
  /** The current 'data' call asked for more: keep the Readable flowing. */
  private wantMore = false;

  // One of each per stream.
  private readonly onData: (chunk: unknown) => void;
  private readonly onEnd: () => void;
  private readonly onError: (error: unknown) => void;
  private readonly onClose: () => void;
  private readonly onAbort: () => void;
  private onNext: ((result: IteratorResult<StreamChunk>) => void) | undefined;
  private onNextError: ((error: unknown) => void) | undefined;

  /**
   * @param host - the connection
   * @param pool - where fragment buffers come from
   * @param source - a Node Readable or an async iterable of chunks
   * @param options - see {@link SendStreamOptions}
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a bad source or fragment size
   */
  constructor(
    host: StreamHost,
    pool: Pool,
    source: StreamSource,
    options: SendStreamOptions | undefined,
  ) {
    const fragmentSize = options?.fragmentSize ?? DEFAULT_STREAM_FRAGMENT_SIZE;
    if (!Number.isInteger(fragmentSize) || fragmentSize < 1) {
      throw createError("ERR_INVALID_ARGUMENT", `fragmentSize must be >= 1, got ${fragmentSize}`);
    }
    const readable = isReadable(source) ? source : undefined;
    if (
      readable === undefined &&
      typeof (source as Partial<AsyncIterable<StreamChunk>>)?.[Symbol.asyncIterator] !== "function"
    ) {
      throw createError("ERR_INVALID_ARGUMENT", "the source must be a Readable or AsyncIterable");
    }
    this.host = host;
    this.pool = pool;
    this.source = source;
    this.readable = readable;
    this.fragmentSize = fragmentSize;
    const binary = options?.binary ?? true;
    this.opcode = binary ? Opcode.Binary : Opcode.Text;
    // RFC 6455 section 8.1: text is UTF-8. Each chunk is checked before any of it is sent, so
    // invalid bytes never reach the wire.
    this.validator = binary ? undefined : new Utf8Validator();
    this.signal = options?.signal;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.onData = (chunk) => this.data(chunk);
    this.onEnd = () => this.end();
    this.onError = (error) => this.fail(sourceError(error));
    this.onClose = () => {
      if (!this.sourceEnded)
        this.fail(createError("ERR_WS_STREAM_SOURCE", "closed before its end"));
    };
    this.onAbort = () => this.fail(createError("ERR_WS_STREAM_ABORTED"));
    if (readable !== undefined) {
      // An error before the stream starts (while it is queued) must not go unhandled.
      readable.on("error", this.onError);
      readable.on("close", this.onClose);
      readable.on("end", this.onEnd);
    }
    if (this.signal !== undefined) {
      if (this.signal.aborted) {
        this.fail(createError("ERR_WS_STREAM_ABORTED"));
        return;
      }
      this.signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  /** True once the stream finished or failed. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** Starts reading and sending (the connection calls it when the stream's turn comes). */
  start(): void {
    if (this.state !== QUEUED) return;
    this.state = RUNNING;
    this.fragment = this.newFragment();
    if (this.readable !== undefined) {
      if (this.readable.readableEnded === true) {
        this.sourceEnded = true;
        this.pump();
        return;
      }
      if (this.readable.destroyed === true) {
        // Its 'close' is gone already: nothing would ever arrive.
        this.fail(createError("ERR_WS_STREAM_SOURCE", "the Readable was destroyed before its end"));
        return;
      }
      // The 'data' listener switches the Readable to flowing mode; it is paused whenever the
      // connection is over its high-water mark.
      this.inData = true; // no resume() from pump() before the listener is on
      this.readable.on("data", this.onData);
      this.inData = false;
      return;
    }
    try {
      this.iterator = (this.source as AsyncIterable<StreamChunk>)[Symbol.asyncIterator]();
    } catch (error) {
      this.fail(sourceError(error));
      return;
    }
    this.onNext = (result) => this.next(result);
    this.onNextError = (error) => {
      this.reading = false;
      this.fail(sourceError(error));
    };
    this.pump();
  }

  /** The connection's queued bytes fell under the high-water mark: go on if waiting. */
  writable(): void {
    if (!this.waiting || this.state !== RUNNING) return;
    if (!this.host.streamWritable()) return;
    this.waiting = false;
    this.pump();
  }

  /**
   * Stops the stream with `error` (the connection is closing, or the caller aborted): rejects the
   * promise, stops reading the source and releases the fragment buffer. Does nothing when done.
   */
  fail(error: TidewsError): void {
    if (this.state === DONE) return;
    const midMessage = this.framesSent > 0;
    this.finish();
    this.destroySource();
    this.host.streamFinished(this, error, midMessage);
    this.rejectFn?.(error);
  }

  // --- Source events -------------------------------------------------------------------------

  private data(raw: unknown): void {
    if (this.state !== RUNNING) return;
    const bytes = this.accept(raw);
    if (bytes === undefined) return;
    this.chunk = bytes;
    this.chunkOff = 0;
    this.inData = true;
    this.wantMore = false;
    this.pump();
    this.inData = false;
    if (!this.wantMore && this.state === RUNNING && !this.paused) {
      this.paused = true;
      (this.readable as ReadableLike).pause();
    }
  }

  private end(): void {
    this.sourceEnded = true;
    if (this.state === RUNNING && this.chunk === undefined) this.pump();
  }

  private next(result: IteratorResult<StreamChunk>): void {
    this.reading = false;
    if (this.state !== RUNNING) return;
    if (result.done === true) {
      this.sourceEnded = true;
    } else {
      // undefined: an empty chunk (read on), or a bad one (the stream failed; pump does nothing).
      const bytes = this.accept(result.value);
      if (bytes !== undefined) {
        this.chunk = bytes;
        this.chunkOff = 0;
      }
    }
    this.pump();
  }

  /** Checks a chunk from the source; fails the stream and answers undefined for a bad one. */
  private accept(raw: unknown): Uint8Array | undefined {
    const bytes = toBytes(raw);
    if (bytes === undefined) {
      this.fail(
        createError("ERR_INVALID_ARGUMENT", "a stream chunk must be a Uint8Array or string"),
      );
      return undefined;
    }
    if (this.validator !== undefined && !this.validator.push(bytes)) {
      this.fail(createError("ERR_WS_STREAM_INVALID_UTF8"));
      return undefined;
    }
    return bytes.byteLength === 0 ? undefined : bytes;
  }

  // --- Sending -------------------------------------------------------------------------------

  /** Moves bytes from the source into fragments and fragments to the connection, while allowed. */
  private pump(): void {
    while (this.state === RUNNING) {
      const frag = this.fragment as ByteBuffer;
      const chunk = this.chunk;
      if (chunk !== undefined) {
        const filled = frag.len - MAX_HEADER_SIZE;
        if (filled === this.fragmentSize) {
          // Full, and more bytes follow: it is not the last frame.
          if (!this.host.streamWritable()) {
            this.waiting = true;
            return;
          }
          this.emit(false);
          continue;
        }
        const off = this.chunkOff;
        const n = Math.min(chunk.byteLength - off, this.fragmentSize - filled);
        frag.write(n === chunk.byteLength ? chunk : chunk.subarray(off, off + n));
        this.chunkOff = off + n;
        if (this.chunkOff === chunk.byteLength) this.chunk = undefined;
        continue;
      }
      if (this.sourceEnded) {
        if (this.validator !== undefined && !this.validator.end()) {
          // The text ends inside a code point.
          this.fail(createError("ERR_WS_STREAM_INVALID_UTF8", "truncated code point at the end"));
          return;
        }
        this.emit(true);
        return;
      }
      // Read on only while the connection is under its high-water mark.
      if (!this.host.streamWritable()) {
        this.waiting = true;
        return;
      }
      this.readMore();
      return;
    }
  }

  private readMore(): void {
    const readable = this.readable;
    if (readable !== undefined) {
      if (this.inData) {
        this.wantMore = true;
      } else if (this.paused) {
        this.paused = false;
        readable.resume();
      }
      return;
    }
    if (this.reading) return;
    this.reading = true;
    let p: Promise<IteratorResult<StreamChunk>>;
    try {
      p = (this.iterator as AsyncIterator<StreamChunk>).next();
    } catch (error) {
      this.reading = false;
      this.fail(sourceError(error));
      return;
    }
    p.then(this.onNext, this.onNextError);
  }

  private emit(fin: boolean): void {
    const buf = this.fragment as ByteBuffer;
    this.fragment = undefined;
    // The payload starts after the header room (see newFragment).
    buf.off += MAX_HEADER_SIZE;
    try {
      this.host.streamFrame(this.opcode, buf, fin, this.framesSent === 0);
    } catch (error) {
      // The connection stopped sending (a close frame went out): streamFrame took the buffer.
      this.fail(
        isTidewsError(error, "ERR_WS_NOT_OPEN")
          ? createError("ERR_WS_STREAM_CLOSED")
          : sourceError(error),
      );
      return;
    }
    this.framesSent++;
    if (fin) {
      this.finish();
      this.detachSource();
      this.host.streamFinished(this, undefined, false);
      this.resolveFn?.();
      return;
    }
    this.fragment = this.newFragment();
  }

  private newFragment(): ByteBuffer {
    const buf = this.pool.get(MAX_HEADER_SIZE + this.fragmentSize);
    // Room for the header in front, counted as unread bytes while the payload is appended (an
    // empty buffer would rewind on the first write); emit() skips it, and the core writes the
    // header there, right-aligned, when sending.
    buf.extend(MAX_HEADER_SIZE);
    return buf;
  }

  // --- Cleanup -------------------------------------------------------------------------------

  private finish(): void {
    this.state = DONE;
    this.waiting = false;
    this.chunk = undefined;
    if (this.fragment !== undefined) {
      this.pool.put(this.fragment);
      this.fragment = undefined;
    }
    this.signal?.removeEventListener("abort", this.onAbort);
  }

  private detachSource(): void {
    const readable = this.readable;
    if (readable === undefined) return;
    readable.removeListener("data", this.onData);
    readable.removeListener("end", this.onEnd);
    readable.removeListener("close", this.onClose);
    // Keep a no-op error listener: a late error from the source must not crash the process.
    readable.removeListener("error", this.onError);
    readable.on("error", ignore);
  }

  private destroySource(): void {
    const readable = this.readable;
    if (readable !== undefined) {
      this.detachSource();
      readable.destroy?.();
      return;
    }
    const it = this.iterator;
    this.iterator = undefined;
    if (it?.return === undefined) return;
    try {
      const r = it.return();
      if (r !== undefined && typeof r.then === "function") r.then(undefined, ignore);
    } catch {
      // The source's cleanup failed; the stream is already failed.
    }
  }
}

function sourceError(error: unknown): TidewsError {
  if (isTidewsError(error)) return error;
  const e = createError(
    "ERR_WS_STREAM_SOURCE",
    error instanceof Error ? error.message : String(error),
  );
  (e as { cause?: unknown }).cause = error;
  return e;
}
