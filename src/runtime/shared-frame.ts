import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";

/**
 * A frame written to several connections (a broadcast): one pooled buffer, reference-counted,
 * returned to its pool when the last reference is dropped. The creator holds the first reference
 * and gives it up with {@link unref} (the Broadcaster's `release()`); every write holds one more
 * until its write callback.
 */
export class SharedFrame {
  /** The encoded frame: `buf.bytes()` is exactly the bytes to write. */
  readonly buf: ByteBuffer;
  /** The frame's bytes as one view, made once and written to every recipient. */
  readonly view: Buffer;
  /** The frame's length in bytes. */
  readonly len: number;
  private readonly pool: Pool;
  private refs = 1;

  /** @param buf - the encoded frame, owned by this object from now on; it must not change */
  constructor(buf: ByteBuffer, pool: Pool) {
    this.buf = buf;
    this.view = buf.bytes();
    this.len = buf.len;
    this.pool = pool;
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
