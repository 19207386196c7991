import { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import type { SharedFrame } from "./shared-frame.js";

/** A frame on its way out: owned (returned to the pool when written) or shared (unref'd). */
export type OutgoingFrame = ByteBuffer | SharedFrame;

/** What the queue writes to: the part of a Node Writable it uses. */
export interface WritableTarget {
  write(data: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  readonly writableNeedDrain: boolean;
  /** Bytes given to `write` and not written out yet (Node's `writableLength`). */
  readonly writableLength?: number;
}

/**
 * Who may let the queue write without a callback: the connection, for a TCP socket, while it
 * needs no write completion (no `onDrain` due, no stream being sent).
 */
export interface QuietWriter {
  readonly quietWrites: boolean;
}

/** The zero-length write that reports, through its callback, when the writes before it are out. */
const MARKER = Buffer.alloc(0);

/**
 * A corked burst hands the stream frames while it has written fewer bytes than this (the echo of
 * one 64 KiB read goes whole); the rest waits in the pending line.
 *
 * The pending line is emptied on the stream's `drain`, and only the cork makes sure one comes:
 * corked, the burst's bytes count against the high-water mark before anything is written, so
 * Node owes a `drain`. An uncorked write that the kernel takes at once returns true and owes none,
 * whatever its size (a 60 KiB write to a TCP socket does), and frames parked behind it would wait
 * for the peer's next message.
 */
const BURST_MAX = 64 * 1024;

/** Frames up to this size are coalesced with the other small frames of the same tick. */
export const BATCH_FRAME_MAX = 4096;
/** The capacity of one coalescing buffer (a pool shard size). */
export const BATCH_CAPACITY = 16 * 1024;

/** The empty list every queue starts with (frozen: a push to it would be a bug, and throws). */
const NO_FRAMES: OutgoingFrame[] = Object.freeze([]) as unknown as OutgoingFrame[];
/** The same for the list of write callbacks to come. */
const NO_POINTS: number[] = Object.freeze([]) as unknown as number[];

/**
 * A list's first storage: room for four entries, which an echo or a relay rarely passes. The
 * lists keep their storage (see the fields), and an empty array literal would get 17 slots at
 * its first push.
 */
function frameList(): OutgoingFrame[] {
  return [undefined, undefined, undefined, undefined] as unknown as OutgoingFrame[];
}

/**
 * A FIFO whose head passed this many consumed slots, and half its length, is copied down to its
 * live part; below that, consumed slots are only cleared (their storage is kept, see the fields).
 */
const COMPACT_AFTER = 1024;

function wantsCompaction(head: number, tail: number): boolean {
  return head > COMPACT_AFTER && head * 2 > tail;
}

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
 * Data frames wait for the end of the tick ({@link flushBatch}, called by the connection), so a
 * burst goes out together: small owned frames are coalesced (the first is held as it is; when a
 * second comes, it goes into the room at the end of the first, or both are copied into one pooled
 * batch buffer, or the core builds them straight into it, see {@link room} and
 * {@link existingRoom}), so that a burst of small messages costs one `write` (one buffer, one
 * callback) instead of one per frame. Shared frames (a broadcast) and large ones are not copied:
 * copying a broadcast for thousands of recipients costs more memory than it saves. A tick with
 * one frame is one plain `write`; several are one corked burst (`writev`).
 */
export class WriteQueue {
  private readonly target: WritableTarget;
  private readonly pool: Pool;
  private readonly callback: (error?: Error | null) => void;
  // The lists start as the shared empty NO_FRAMES and get an array of their own on first use:
  // an idle connection keeps none (about 100 bytes each). A list is a FIFO between a head and a
  // tail index; emptied, both go back to 0 and the array keeps its storage. (Truncating it with
  // `length = 0` instead is a runtime call in V8, which also gives the storage up, so the next
  // push allocates it again: three times per echoed message, 1.4% of the server's user time.)
  private inflight: OutgoingFrame[] = NO_FRAMES;
  private inflightHead = 0;
  private inflightTail = 0;
  /** In-flight frames released so far, ever: the position of `inflight[inflightHead]`. */
  private released = 0;
  /**
   * One entry per write callback to come, in order: how many frames (counted as
   * {@link released} counts) are out once it is called.
   */
  private points: number[] = NO_POINTS;
  private pointsHead = 0;
  private pointsTail = 0;
  private readonly quiet: QuietWriter | undefined;
  private pending: OutgoingFrame[] = NO_FRAMES;
  private pendingHead = 0;
  /** Bytes written to the stream whose callbacks are pending. */
  inflightBytes = 0;
  /** Bytes waiting here for the stream to drain. */
  pendingBytes = 0;
  /** The first small frame of this tick, not yet copied anywhere. */
  private held: ByteBuffer | undefined;
  /** The small frames of this tick after the first, coalesced. */
  private batch: ByteBuffer | undefined;
  /** The data frames of this tick waiting for {@link flushBatch}, in order: `tick[0, tickCount)`. */
  private tick: OutgoingFrame[] = NO_FRAMES;
  private tickCount = 0;
  private tickBytes = 0;
  /** See {@link expect}. */
  private expected = 0;
  /**
   * Frames written without a callback are still on their way, and Node owes the stream a
   * `drain` event (see {@link settleQuiet}): {@link drain} releases them.
   */
  private settleOnDrain = false;

  /**
   * @param target - the stream
   * @param pool - where owned frames go back
   * @param callback - the one write callback of the connection; it must call {@link written}
   * @param quiet - for a TCP socket: when it allows, frames are written without a callback and
   *   released as soon as `writableLength` says they are out (at once, in the usual case that the
   *   kernel took them); a write that is still on its way is released on the `drain` event that
   *   Node then owes (see {@link drain}), or, when it owes none, by a zero-length marker write
   *   behind it, whose callback releases it. Node then schedules nothing per write.
   */
  constructor(
    target: WritableTarget,
    pool: Pool,
    callback: (error?: Error | null) => void,
    quiet?: QuietWriter,
  ) {
    this.target = target;
    this.pool = pool;
    this.callback = callback;
    this.quiet = quiet;
  }

  /** Everything not yet flushed by the stream. */
  get bytes(): number {
    return (
      this.inflightBytes +
      this.pendingBytes +
      this.tickBytes +
      (this.held?.len ?? 0) +
      (this.batch?.len ?? 0)
    );
  }

  /**
   * The frame queued last in this tick when it is the last thing waiting at all (nothing held
   * or coalesced after it), else undefined: what a frame appended to it would follow.
   */
  get lastQueued(): OutgoingFrame | undefined {
    if (this.held !== undefined || this.batch !== undefined) return undefined;
    const n = this.tickCount;
    return n === 0 ? undefined : this.tick[n - 1];
  }

  /** Frames waiting here (not yet handed to the stream), a batch counting as one. */
  get waiting(): number {
    return (
      this.pending.length -
      this.pendingHead +
      this.tickCount +
      (this.held === undefined ? 0 : 1) +
      (this.batch === undefined ? 0 : 1)
    );
  }

  /**
   * Queues `frame`; the queue owns it (or one reference of it) from now on. Data frames wait for
   * {@link flushBatch} at the end of the tick (small owned ones coalesced); a control frame goes
   * at once, after the data of this tick, so order is kept.
   */
  push(frame: OutgoingFrame, control: boolean): void {
    if (control) {
      this.flushBatch();
      this.enqueue(frame, true);
      return;
    }
    if (frame instanceof ByteBuffer && frame.len <= BATCH_FRAME_MAX) {
      this.coalesce(frame);
      return;
    }
    this.closeBatch();
    this.addToTick(frame);
  }

  /** Appends `frame` to this tick's list. */
  private addToTick(frame: OutgoingFrame): void {
    if (this.tick === NO_FRAMES) this.tick = frameList();
    this.tick[this.tickCount++] = frame;
    this.tickBytes += frame.len;
  }

  /**
   * About `bytes` may be sent this tick: the size of the input being parsed, since an echo or a
   * relay answers with as much. The first batch of the tick is sized for it (up to
   * {@link BATCH_CAPACITY}) instead of doubling from the size of two frames. Reset by
   * {@link flushBatch}.
   */
  expect(bytes: number): void {
    this.expected = bytes;
  }

  /**
   * Room for a frame of `size` bytes that needs no new buffer, or undefined: the batch's, or
   * else the free end of the held frame or of the tick's last frame (an owned one), which then
   * becomes the batch. A message sent on in its own buffer usually has room after it (the pool
   * rounds up to a power of two): what follows it in the tick then goes out in the same buffer,
   * one plain write instead of a corked burst of two.
   */
  existingRoom(size: number): ByteBuffer | undefined {
    const batch = this.batch;
    if (batch !== undefined) return batch.available >= size ? batch : undefined;
    const held = this.held;
    if (held !== undefined) {
      if (held.available < size) return undefined;
      this.held = undefined;
      this.batch = held;
      return held;
    }
    const n = this.tickCount;
    if (n === 0) return undefined;
    const last = this.tick[n - 1];
    if (!(last instanceof ByteBuffer) || last.available < size) return undefined;
    this.tick[n - 1] = undefined as unknown as OutgoingFrame;
    this.tickCount = n - 1;
    this.tickBytes -= last.len;
    this.batch = last;
    return last;
  }

  /**
   * The batch of this tick, with at least `size` bytes free at its end, for a frame built in
   * place (the caller appends it and moves `end`): room already there ({@link existingRoom}), or
   * else a new pooled batch, into which a held frame moves first, so the order stays that of the
   * calls.
   */
  room(size: number): ByteBuffer {
    let batch = this.batch;
    if (batch === undefined) {
      const found = this.existingRoom(size);
      if (found !== undefined) return found;
      // Just what is needed (the pool rounds up to a power of two), doubling as the tick goes
      // on: with thousands of connections each holding a batch in flight, the size is memory.
      // An echo of the chunk being parsed needs about its size (see expect()): one batch then
      // takes the whole answer, and the tick is one plain write rather than a writev.
      const held = this.held;
      batch = this.pool.get(
        Math.max(size + (held?.len ?? 0), Math.min(this.expected, BATCH_CAPACITY)),
      );
      this.batch = batch;
      if (held !== undefined) {
        this.held = undefined;
        this.append(batch, held);
      }
    } else if (batch.available < size) {
      const next = Math.max(size, Math.min(BATCH_CAPACITY, 2 * batch.cap));
      this.closeBatch();
      batch = this.pool.get(next);
      this.batch = batch;
    }
    return batch;
  }

  /**
   * Hands the frames of this tick to the stream (or the pending line), in order: one `write` for
   * a single frame, one corked burst (a `writev`) for several.
   */
  flushBatch(): void {
    this.expected = 0;
    this.closeBatch();
    const tick = this.tick;
    const n = this.tickCount;
    if (n === 0) return;
    this.tickBytes = 0;
    this.tickCount = 0;
    if (n === 1) {
      const frame = tick[0] as OutgoingFrame;
      tick[0] = undefined as unknown as OutgoingFrame;
      this.enqueue(frame, false);
      return;
    }
    // Quiet writes are checked once, after the burst: inside the cork nothing is out yet.
    // Whether the tick may go is decided before the cork, and then by the burst's own size:
    // inside the cork, the corked bytes count in writableLength and would hold the rest of an
    // ordinary tick (an echo of one read) back until the next drain, a system call of its own.
    if (this.mustWait()) {
      for (let i = 0; i < n; i++) {
        this.wait(tick[i] as OutgoingFrame);
        tick[i] = undefined as unknown as OutgoingFrame;
      }
      return;
    }
    const quiet = this.mayWriteQuietly();
    const marked = !quiet && this.quiet?.quietWrites === true;
    const before = this.handed;
    this.target.cork();
    let sent = 0;
    for (let i = 0; i < n; i++) {
      const frame = tick[i] as OutgoingFrame;
      tick[i] = undefined as unknown as OutgoingFrame;
      // Past BURST_MAX the rest waits in line, where pings and pongs can still overtake it.
      if (sent >= BURST_MAX || this.pendingHead < this.pending.length) {
        this.wait(frame);
        continue;
      }
      // Without quiet writes (a drain due, a stream being sent, not TCP): a callback each.
      this.write(frame, quiet || marked);
      sent += frame.len;
    }
    if (marked) this.markBurst(before);
    this.target.uncork();
    if (quiet) this.settleQuiet();
  }

  /**
   * Ends a corked burst whose frames went without a callback on a TCP socket: one zero-length
   * marker write inside the cork (a piece of the same `writev`, no system call of its own)
   * reports when all of them are out, instead of a callback per frame.
   */
  private markBurst(before: number): void {
    if (this.handed === before) return;
    this.addPoint();
    this.target.write(MARKER, this.callback);
  }

  /** Moves the held frame or the batch to the end of this tick's list. */
  private closeBatch(): void {
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      this.addToTick(held);
    }
    const batch = this.batch;
    if (batch !== undefined) {
      this.batch = undefined;
      // Empty when a frame to be built in place was refused after room() (a bad argument).
      if (batch.len === 0) this.pool.put(batch);
      else this.addToTick(batch);
    }
  }

  /**
   * The first small frame of a tick goes into the free end of the frame before it, or is held
   * as it is; the next ones go into the batch.
   */
  private coalesce(frame: ByteBuffer): void {
    if (this.held === undefined && this.batch === undefined) {
      const into = this.existingRoom(frame.len);
      if (into === undefined) this.held = frame;
      else this.append(into, frame);
      return;
    }
    this.append(this.room(frame.len), frame);
  }

  /** Copies `frame` to the end of `batch` (which has room) and gives `frame` back to the pool. */
  private append(batch: ByteBuffer, frame: ByteBuffer): void {
    frame.storage.copy(batch.storage, batch.end, frame.off, frame.end);
    batch.end += frame.end - frame.off;
    this.pool.put(frame);
  }

  private enqueue(frame: OutgoingFrame, control: boolean): void {
    if (!control && this.mustWait()) this.wait(frame);
    else this.write(frame, false);
  }

  /** Data must wait in the pending line: others wait already, or the stream is full. */
  private mustWait(): boolean {
    return this.pendingHead < this.pending.length || this.full();
  }

  private wait(frame: OutgoingFrame): void {
    if (this.pending === NO_FRAMES) this.pending = [];
    this.pending.push(frame);
    this.pendingBytes += frame.len;
  }

  /**
   * The stream drained: first releases the frames that waited for this event (see
   * {@link settleQuiet}), then hands the stream waiting frames until it is full again, as one
   * corked burst (one `writev`, not a system call per frame).
   */
  drain(): void {
    if (this.settleOnDrain) {
      this.settleOnDrain = false;
      this.settleQuiet();
    }
    const several = this.pending.length - this.pendingHead > 1;
    if (several) this.target.cork();
    const marked = several && this.quiet?.quietWrites === true;
    const before = this.handed;
    while (this.pendingHead < this.pending.length && !this.full()) {
      const frame = this.pending[this.pendingHead] as OutgoingFrame;
      this.pending[this.pendingHead] = undefined as unknown as OutgoingFrame;
      this.pendingHead++;
      this.pendingBytes -= frame.len;
      this.write(frame, marked);
    }
    if (marked) this.markBurst(before);
    if (several) this.target.uncork();
    if (this.pendingHead === this.pending.length && this.pendingHead !== 0) {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
  }

  /** Called from the write callback: the frames written up to that callback are out. */
  written(): void {
    const points = this.points;
    if (this.pointsHead === this.pointsTail) return;
    const upTo = points[this.pointsHead] as number;
    points[this.pointsHead++] = 0;
    if (this.pointsHead === this.pointsTail) {
      this.pointsHead = 0;
      this.pointsTail = 0;
    } else if (wantsCompaction(this.pointsHead, this.pointsTail)) {
      this.points = points.slice(this.pointsHead, this.pointsTail);
      this.pointsTail -= this.pointsHead;
      this.pointsHead = 0;
    }
    this.releaseUpTo(upTo);
  }

  /** Releases the in-flight frames until `upTo` of them have been released in all. */
  private releaseUpTo(upTo: number): void {
    const inflight = this.inflight;
    while (this.released < upTo && this.inflightHead < this.inflightTail) {
      const frame = inflight[this.inflightHead] as OutgoingFrame;
      inflight[this.inflightHead++] = undefined as unknown as OutgoingFrame;
      this.released++;
      this.inflightBytes -= frame.len;
      this.release(frame);
    }
    if (this.inflightHead === this.inflightTail) {
      this.inflightHead = 0;
      this.inflightTail = 0;
    } else if (wantsCompaction(this.inflightHead, this.inflightTail)) {
      this.inflight = inflight.slice(this.inflightHead, this.inflightTail);
      this.inflightTail -= this.inflightHead;
      this.inflightHead = 0;
    }
  }

  /** Frames handed to the stream so far, ever (released ones included). */
  private get handed(): number {
    return this.released + this.inflightTail - this.inflightHead;
  }

  /**
   * After writes without a callback: all out (the usual case) releases them now. Otherwise,
   * when Node owes the stream a `drain` event (`writableNeedDrain`: the bytes it held reached
   * the high-water mark, which any write as large as the mark does), {@link drain} releases
   * them; Node emits that event once it holds nothing, so nothing more is written for it.
   * Failing both, a zero-length marker write calls back once they are out.
   */
  private settleQuiet(): void {
    if (this.target.writableLength === 0) {
      this.releaseUpTo(this.handed);
      return;
    }
    if (this.target.writableNeedDrain) {
      this.settleOnDrain = true;
      return;
    }
    this.addPoint();
    this.target.write(MARKER, this.callback);
  }

  /**
   * A write may go without a callback: the owner allows it, and nothing is still on its way
   * (else the callback of a write behind it comes as soon). A write the kernel does not take
   * whole is settled by {@link settleQuiet}.
   */
  private mayWriteQuietly(): boolean {
    return this.target.writableLength === 0 && this.quiet?.quietWrites === true;
  }

  /**
   * The stream holds at least its high-water mark of bytes it has not written out. Node's
   * `writableNeedDrain` alone is not that: it turns true with any write as large as the mark and
   * stays true until the `drain` event of a later tick, even when the kernel took every byte at
   * once (`writableLength` back to 0). Holding frames back then would cost a system call per
   * frame on that `drain` instead of one for the tick.
   */
  private full(): boolean {
    return this.target.writableNeedDrain && (this.target.writableLength ?? 1) !== 0;
  }

  private addPoint(): void {
    if (this.points === NO_POINTS) this.points = [0, 0, 0, 0];
    this.points[this.pointsTail++] = this.handed;
  }

  /** Releases every frame still held (the stream is gone). */
  clear(): void {
    for (let i = 0; i < this.tickCount; i++) this.release(this.tick[i] as OutgoingFrame);
    this.tick = NO_FRAMES;
    this.tickCount = 0;
    this.tickBytes = 0;
    if (this.held !== undefined) this.pool.put(this.held);
    if (this.batch !== undefined) this.pool.put(this.batch);
    this.held = undefined;
    this.batch = undefined;
    for (let i = this.inflightHead; i < this.inflightTail; i++) {
      this.release(this.inflight[i] as OutgoingFrame);
    }
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      this.release(this.pending[i] as OutgoingFrame);
    }
    this.released += this.inflightTail - this.inflightHead;
    this.inflight = NO_FRAMES;
    this.pending = NO_FRAMES;
    this.points = NO_POINTS;
    this.pointsHead = 0;
    this.pointsTail = 0;
    this.inflightHead = 0;
    this.inflightTail = 0;
    this.pendingHead = 0;
    this.inflightBytes = 0;
    this.pendingBytes = 0;
    this.settleOnDrain = false;
  }

  /**
   * Hands `frame` to the stream. `inBurst`: inside a corked burst that flushBatch or drain
   * settles as a whole (no callback per frame). Otherwise a frame on an idle TCP socket goes
   * quietly: released at once when the kernel took it and nothing is in flight before it (the
   * usual case of an echo or a broadcast recipient), else tracked and settled by
   * {@link settleQuiet}.
   */
  private write(frame: OutgoingFrame, inBurst: boolean): void {
    if (!inBurst && this.mayWriteQuietly()) {
      this.target.write(bytesOf(frame));
      if (this.inflightHead === this.inflightTail && this.target.writableLength === 0) {
        this.released++;
        this.release(frame);
        return;
      }
      this.track(frame);
      this.settleQuiet();
      return;
    }
    this.track(frame);
    if (inBurst) {
      this.target.write(bytesOf(frame));
      return;
    }
    this.addPoint();
    this.target.write(bytesOf(frame), this.callback);
  }

  /** Puts `frame` at the end of the in-flight list. */
  private track(frame: OutgoingFrame): void {
    if (this.inflight === NO_FRAMES) this.inflight = frameList();
    this.inflight[this.inflightTail++] = frame;
    this.inflightBytes += frame.len;
  }

  private release(frame: OutgoingFrame): void {
    if (frame instanceof ByteBuffer) this.pool.put(frame);
    else frame.unref();
  }
}
