import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { appendFrame, frameSize } from "../protocol/frame-encoder.js";

/**
 * A frame written to several connections (a broadcast): one pooled buffer, reference-counted,
 * returned to its pool when the last reference is dropped. The creator holds the first reference
 * and gives it up with {@link unref} (the Broadcaster's `release()`); every write holds one more
 * until its write callback.
 */
export class SharedFrame {
  /** The encoded frame: `buf.bytes()` is exactly the bytes to write. */
  buf: ByteBuffer;
  /** The frame's bytes as one view, made once and written to every recipient. */
  view: Buffer;
  /** The frame's length in bytes (of all its frames, see {@link appendFrame}). */
  len: number;
  private readonly pool: Pool;
  private refs = 1;

  /**
   * @param buf - the encoded frame, owned by this object from now on; it does not change once a
   *   stream has it
   */
  constructor(buf: ByteBuffer, pool: Pool) {
    this.buf = buf;
    this.view = buf.bytes();
    this.len = buf.len;
    this.pool = pool;
  }

  /** The references held: the creator's (until released) and one per recipient queue. */
  get refCount(): number {
    return this.refs;
  }

  /**
   * @internal Appends a whole unmasked server frame after the bytes already here, so that the
   * recipients write both in one buffer. Only while no stream has been given {@link view}: the
   * caller (a broadcast merged into the previous one before it is written) checks that every
   * reference is held by a queue that has not written it yet. The storage may move.
   */
  appendFrame(opcode: number, payload: Uint8Array | string): void {
    const n = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
    const size = frameSize(n, false);
    let buf = this.buf;
    if (buf.available < size) {
      // Doubling, so that merging k frames copies O(k) frames in all.
      const next = this.pool.get(Math.max(2 * buf.len, buf.len + size));
      next.write(buf.bytes());
      this.pool.put(buf);
      buf = next;
      this.buf = next;
    }
    appendFrame(buf, opcode, payload, n, true, false, null);
    this.view = buf.bytes();
    this.len = buf.len;
  }

  /** True while some reference is held. */
  get live(): boolean {
    return this.refs > 0;
  }

  /** Takes one more reference. */
  ref(): void {
    this.refs++;
  }

  /** Drops a reference; the last one returns the buffer to the pool. */
  unref(): void {
    if (this.refs <= 0) return;
    this.refs--;
    if (this.refs === 0) this.pool.put(this.buf);
  }
}
