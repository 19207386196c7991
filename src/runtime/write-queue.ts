import { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import type { SharedFrame } from "./shared-frame.js";

/** A frame on its way out: owned (returned to the pool when written) or shared (unref'd). */
export type OutgoingFrame = ByteBuffer | SharedFrame;

/** What the queue writes to: the part of a Node Writable it uses. */
export interface WritableTarget {
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean;
  readonly writableNeedDrain: boolean;
}

/** Frames up to this size are coalesced with the other small frames of the same tick. */
export const BATCH_FRAME_MAX = 4096;
/** The capacity of one coalescing buffer (a pool shard size). */
export const BATCH_CAPACITY = 16 * 1024;

function bytesOf(frame: OutgoingFrame): Buffer {
  return frame instanceof ByteBuffer ? frame.bytes() : frame.view;
}

/**
 * The outgoing side of a connection: frames handed to the stream wait in an in-flight FIFO until
 * their write callback (the stream calls them in order), then go back to the pool. While the
 * stream is over its high-water mark, data frames wait here instead of piling up inside the
 * stream; control frames (pong, close) skip that line so data never starves them
 * (RFC 6455 section 5.4 allows control frames between the frames of a message).
 *
 * Small data frames of one tick (not shared ones: a broadcast's frame goes out as it is, copying
 * it for thousands of recipients costs more than it saves) are coalesced: the first is held as it is, and when a second
 * comes both are copied into one pooled batch buffer, so that a burst of small messages costs one
 * `write` (one buffer, one callback) instead of one per frame. The connection calls
 * {@link flushBatch} at the end of the tick, before it uncorks the stream. A tick with one frame
 * copies nothing.
 */
export class WriteQueue {
  private readonly target: WritableTarget;
  private readonly pool: Pool;
  private readonly callback: (error?: Error | null) => void;
  private inflight: OutgoingFrame[] = [];
  private inflightHead = 0;
  private pending: OutgoingFrame[] = [];
  private pendingHead = 0;
  /** Bytes written to the stream whose callbacks are pending. */
  inflightBytes = 0;
  /** Bytes waiting here for the stream to drain. */
  pendingBytes = 0;
  /** The first small frame of this tick, not yet copied anywhere. */
  private held: ByteBuffer | undefined;
  /** The small frames of this tick after the first, coalesced. */
  private batch: ByteBuffer | undefined;

  /**
   * @param target - the stream
   * @param pool - where owned frames go back
   * @param callback - the one write callback of the connection; it must call {@link written}
   */
  constructor(target: WritableTarget, pool: Pool, callback: (error?: Error | null) => void) {
    this.target = target;
    this.pool = pool;
    this.callback = callback;
  }

  /** Everything not yet flushed by the stream. */
  get bytes(): number {
    return this.inflightBytes + this.pendingBytes + (this.held?.len ?? 0) + (this.batch?.len ?? 0);
  }

  /** Frames waiting here (not yet handed to the stream), a batch counting as one. */
  get waiting(): number {
    return (
      this.pending.length -
      this.pendingHead +
      (this.held === undefined ? 0 : 1) +
      (this.batch === undefined ? 0 : 1)
    );
  }

  /**
   * Queues `frame`; the queue owns it (or one reference of it) from now on. A small data frame may
   * wait for {@link flushBatch}; any other frame flushes the batch first, so order is kept.
   */
  push(frame: OutgoingFrame, control: boolean): void {
    if (!control && frame instanceof ByteBuffer && frame.len <= BATCH_FRAME_MAX) {
      this.coalesce(frame);
      return;
    }
    if (this.held !== undefined || this.batch !== undefined) this.flushBatch();
    this.enqueue(frame, control);
  }

  /**
   * The batch of this tick, with at least `size` bytes free at its end, for a frame built in
   * place (the caller appends it and moves `end`). A held frame moves into the batch first, so
   * the order stays that of the calls.
   */
  room(size: number): ByteBuffer {
    let batch = this.batch;
    if (batch === undefined) {
      const held = this.held;
      batch = this.pool.get(size + (held?.len ?? 0));
      this.batch = batch;
      if (held !== undefined) {
        this.held = undefined;
        this.append(batch, held);
      }
    } else if (batch.available < size) {
      const next = Math.max(size, Math.min(BATCH_CAPACITY, 2 * batch.cap));
      this.enqueue(batch, false);
      batch = this.pool.get(next);
      this.batch = batch;
    }
    return batch;
  }

  /** Hands the coalesced small frames of this tick to the stream (or the pending line). */
  flushBatch(): void {
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      this.enqueue(held, false);
    }
    const batch = this.batch;
    if (batch !== undefined) {
      this.batch = undefined;
      // Empty when a frame to be built in place was refused after room() (a bad argument).
      if (batch.len === 0) this.pool.put(batch);
      else this.enqueue(batch, false);
    }
  }

  private coalesce(frame: ByteBuffer): void {
    let batch = this.batch;
    if (batch === undefined) {
      const held = this.held;
      if (held === undefined) {
        this.held = frame;
        return;
      }
      this.held = undefined;
      // Sized for a few more frames like these, not for the largest batch: with thousands of
      // connections each holding one batch in flight, the size is memory.
      batch = this.pool.get(Math.min(BATCH_CAPACITY, 4 * (held.len + frame.len)));
      this.batch = batch;
      this.append(batch, held);
    } else if (batch.available < frame.len) {
      const next = Math.min(BATCH_CAPACITY, 2 * batch.cap);
      this.enqueue(batch, false);
      batch = this.pool.get(next);
      this.batch = batch;
    }
    this.append(batch, frame);
  }

  /** Copies `frame` to the end of `batch` (which has room) and gives `frame` back to the pool. */
  private append(batch: ByteBuffer, frame: ByteBuffer): void {
    frame.storage.copy(batch.storage, batch.end, frame.off, frame.end);
    batch.end += frame.end - frame.off;
    this.pool.put(frame);
  }

  private enqueue(frame: OutgoingFrame, control: boolean): void {
    if (!control && (this.pendingHead < this.pending.length || this.target.writableNeedDrain)) {
      this.pending.push(frame);
      this.pendingBytes += frame.len;
      return;
    }
    this.write(frame);
  }

  /** The stream drained: hands it waiting frames until it is full again. */
  drain(): void {
    while (this.pendingHead < this.pending.length && !this.target.writableNeedDrain) {
      const frame = this.pending[this.pendingHead] as OutgoingFrame;
      this.pending[this.pendingHead] = undefined as unknown as OutgoingFrame;
      this.pendingHead++;
      this.pendingBytes -= frame.len;
      this.write(frame);
    }
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
  }

  /** Called from the write callback: the oldest in-flight frame is written; release it. */
  written(): void {
    const frame = this.inflight[this.inflightHead];
    if (frame === undefined) return;
    this.inflight[this.inflightHead] = undefined as unknown as OutgoingFrame;
    this.inflightHead++;
    this.inflightBytes -= frame.len;
    this.release(frame);
    if (this.inflightHead === this.inflight.length) {
      this.inflight.length = 0;
      this.inflightHead = 0;
    } else if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.inflightHead);
      this.inflightHead = 0;
    }
  }

  /** Releases every frame still held (the stream is gone). */
  clear(): void {
    if (this.held !== undefined) this.pool.put(this.held);
    if (this.batch !== undefined) this.pool.put(this.batch);
    this.held = undefined;
    this.batch = undefined;
    for (let i = this.inflightHead; i < this.inflight.length; i++) {
      this.release(this.inflight[i] as OutgoingFrame);
    }
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      this.release(this.pending[i] as OutgoingFrame);
    }
    this.inflight = [];
    this.pending = [];
    this.inflightHead = 0;
    this.pendingHead = 0;
    this.inflightBytes = 0;
    this.pendingBytes = 0;
  }

  private write(frame: OutgoingFrame): void {
    this.inflight.push(frame);
    this.inflightBytes += frame.len;
    this.target.write(bytesOf(frame), this.callback);
  }

  private release(frame: OutgoingFrame): void {
    if (frame instanceof ByteBuffer) this.pool.put(frame);
    else frame.unref();
  }
}
