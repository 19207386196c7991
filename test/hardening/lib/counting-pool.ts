// A Pool wrapper that counts what is out: buffers and bytes held by the code under test, and the
// largest single request. Fuzz targets use it to prove that memory stays bounded and that every
// buffer taken is given back.
import { BufferPool } from "../../../src/buffer/buffer-pool.js";
import type { ByteBuffer } from "../../../src/buffer/byte-buffer.js";
import type { Pool, PoolStats } from "../../../src/buffer/pool.js";

export class CountingPool implements Pool {
  /** Buffers handed out and not given back. */
  outstanding = 0;
  /** The largest `get(n)` request. */
  largestRequest = 0;
  private readonly inner: BufferPool;

  constructor(inner = new BufferPool(256, 1024 * 1024)) {
    this.inner = inner;
  }

  get(n: number): ByteBuffer {
    this.outstanding++;
    if (n > this.largestRequest) this.largestRequest = n;
    return this.inner.get(n);
  }

  put(buf: ByteBuffer): void {
    this.outstanding--;
    this.inner.put(buf);
  }

  stats(): PoolStats {
    return this.inner.stats();
  }

  trim(): void {
    this.inner.trim();
  }
}
