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

function bytesOf(frame: OutgoingFrame): Buffer {
  return frame instanceof ByteBuffer ? frame.bytes() : frame.buf.bytes();
}

/**
 * The outgoing side of a connection: frames handed to the stream wait in an in-flight FIFO until
 * their write callback (the stream calls them in order), then go back to the pool. While the
 * stream is over its high-water mark, data frames wait here instead of piling up inside the
 * stream; control frames (pong, close) skip that line so data never starves them
 * (RFC 6455 section 5.4 allows control frames between the frames of a message).
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
    return this.inflightBytes + this.pendingBytes;
  }

  /** Frames waiting here (not yet handed to the stream). */
  get waiting(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Queues `frame`; the queue owns it (or one reference of it) from now on. */
  push(frame: OutgoingFrame, control: boolean): void {
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
