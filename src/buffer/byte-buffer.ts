import { constants } from "node:buffer";
import { createError } from "../errors.js";
import { binaryCeil } from "./binary-ceil.js";

/** Go's `smallBufferSize`: the first allocation of an empty buffer for a small write. */
export const SMALL_BUFFER_SIZE = 64;

/** The largest Buffer this Node.js can allocate. */
const MAX_BUFFER_LENGTH = constants.MAX_LENGTH;

/** Options of a {@link ByteBuffer}. */
export interface ByteBufferOptions {
  /**
   * The most unread bytes the buffer may hold; a write or grow past it throws a
   * {@link LimitError} with code `ERR_BUFFER_TOO_LARGE`. Defaults to the largest Buffer Node.js
   * can allocate.
   */
  readonly maxSize?: number;
}

// The last operation, as Go's `lastRead`: unreadByte is valid only right after a successful read.
const OP_INVALID = 0;
const OP_READ = 1;

// Pool bookkeeping (see BufferPool): whether the buffer currently belongs to a pool.
const OWNED = 0;
const RELEASED = 1;

const EMPTY = Buffer.alloc(0);

/**
 * A growable byte buffer with the semantics of Go's `bytes.Buffer`.
 *
 * The unread contents are `storage[off, end)`: reads advance the read offset, writes append at the
 * end. Growth reuses space before it allocates: a drained buffer resets to offset 0, a write that
 * fits the capacity reslices, and unread bytes slide down to the front when that frees enough room
 * (Go's rule: only while at most half the capacity is in use, so copying never dominates).
 * Otherwise the storage is replaced by one of at least `max(2 * cap, len + n)` bytes and only the
 * unread bytes are copied.
 *
 * Views returned by {@link bytes}, {@link next} and {@link extend} share the storage: they are valid
 * until the next call that writes, grows, truncates or resets the buffer. The storage may be a view
 * into a larger allocation (a non-zero `byteOffset`); every view honours that.
 *
 * Ownership: a ByteBuffer handed out by a {@link BufferPool} belongs to the caller until it is put
 * back; after `put` it must not be used.
 */
export class ByteBuffer {
  /** @internal The backing storage; its length is the capacity. */
  storage: Buffer;
  /** @internal Read offset. */
  off = 0;
  /** @internal Write offset: the end of the unread bytes. */
  end = 0;
  /** The maximum number of unread bytes (see {@link ByteBufferOptions.maxSize}). */
  readonly maxSize: number;
  private lastRead = OP_INVALID;
  /** @internal Pool bookkeeping, used by BufferPool to catch double puts. */
  poolState = OWNED;
  /**
   * @internal Set by BufferPool on the buffers it creates: growth allocations round up to a power
   * of two so that a grown buffer still fits a shard when it is put back.
   */
  growToPowerOfTwo = false;
  /**
   * @internal The storage is a whole ArrayBuffer of its own (not a view into a larger one): the
   * pool keeps only such buffers. Tracked here because reading `storage.buffer` is a call into
   * C++ on every put.
   */
  wholeStorage = true;

  /**
   * Creates an empty buffer.
   *
   * @param capacity - bytes to allocate up front; `0` (the default) allocates nothing until the
   *   first write, like Go's zero `bytes.Buffer`
   * @param options - see {@link ByteBufferOptions}
   */
  constructor(capacity = 0, options?: ByteBufferOptions) {
    const maxSize = options?.maxSize ?? MAX_BUFFER_LENGTH;
    if (!Number.isInteger(maxSize) || maxSize < 0) {
      throw createError(
        "ERR_INVALID_ARGUMENT",
        `maxSize must be a non-negative integer, got ${maxSize}`,
      );
    }
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > MAX_BUFFER_LENGTH) {
      throw createError(
        "ERR_OUT_OF_RANGE",
        `capacity must be an integer in [0, ${MAX_BUFFER_LENGTH}]`,
      );
    }
    this.maxSize = maxSize;
    this.storage = capacity === 0 ? EMPTY : Buffer.allocUnsafeSlow(capacity);
  }

  /**
   * Adopts `buf` as the storage, without copying; its bytes become the unread contents (Go's
   * `bytes.NewBuffer`). The ByteBuffer now owns `buf`: the caller must not write to it.
   */
  static wrap(buf: Uint8Array, options?: ByteBufferOptions): ByteBuffer {
    const b = new ByteBuffer(0, options);
    b.storage = Buffer.isBuffer(buf)
      ? buf
      : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    b.end = buf.byteLength;
    b.wholeStorage = buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength;
    return b;
  }

  /** The number of unread bytes (Go's `Len`). */
  get len(): number {
    return this.end - this.off;
  }

  /** The capacity of the storage (Go's `Cap`). */
  get cap(): number {
    return this.storage.length;
  }

  /** Bytes that can be written without growing (Go's `Available`). */
  get available(): number {
    return this.storage.length - this.end;
  }

  /** A view of the unread bytes, valid until the next modifying call (Go's `Bytes`). */
  bytes(): Buffer {
    return this.storage.subarray(this.off, this.end);
  }

  /** The unread bytes decoded as a string (Go's `String`); does not consume them. */
  toString(encoding: BufferEncoding = "utf8"): string {
    return this.storage.toString(encoding, this.off, this.end);
  }

  /** Empties the buffer and keeps its storage (Go's `Reset`). */
  reset(): void {
    this.off = 0;
    this.end = 0;
    this.lastRead = OP_INVALID;
  }

  /**
   * Discards all but the first `n` unread bytes (Go's `Truncate`).
   *
   * @throws {@link UsageError} `ERR_OUT_OF_RANGE` when `n` is negative or larger than {@link len}
   */
  truncate(n: number): void {
    if (n === 0) {
      this.reset();
      return;
    }
    this.lastRead = OP_INVALID;
    if (!Number.isInteger(n) || n < 0 || n > this.end - this.off) {
      throw createError("ERR_OUT_OF_RANGE", `truncate(${n}) outside [0, ${this.end - this.off}]`);
    }
    this.end = this.off + n;
  }

  /**
   * Makes room for at least `n` more bytes without another allocation (Go's `Grow`).
   *
   * @throws {@link UsageError} `ERR_OUT_OF_RANGE` for a negative `n`
   * @throws {@link LimitError} `ERR_BUFFER_TOO_LARGE` past {@link maxSize}
   */
  grow(n: number): void {
    if (!Number.isInteger(n) || n < 0) {
      throw createError("ERR_OUT_OF_RANGE", `grow(${n}): n must be a non-negative integer`);
    }
    const m = this.growBy(n);
    this.end = m;
  }

  /**
   * Appends `n` bytes and returns a view of them for the caller to fill in. The bytes are not
   * initialised. A tidews extension, the equivalent of Go's `AvailableBuffer` plus `Write`.
   */
  extend(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0) {
      throw createError("ERR_OUT_OF_RANGE", `extend(${n}): n must be a non-negative integer`);
    }
    this.lastRead = OP_INVALID;
    const at = this.growBy(n);
    return this.storage.subarray(at, at + n);
  }

  /** Appends `src`, growing as needed; returns the number of bytes written (Go's `Write`). */
  write(src: Uint8Array): number {
    this.lastRead = OP_INVALID;
    const n = src.byteLength;
    const at = this.growBy(n);
    this.storage.set(src, at);
    return n;
  }

  /** Appends one byte (Go's `WriteByte`). */
  writeByte(b: number): void {
    this.lastRead = OP_INVALID;
    const at = this.growBy(1);
    this.storage[at] = b;
  }

  /**
   * Appends the encoded bytes of `s`, encoding straight into the storage (Go's `WriteString`).
   *
   * @returns the number of bytes written
   */
  writeString(s: string, encoding: BufferEncoding = "utf8"): number {
    this.lastRead = OP_INVALID;
    const n = Buffer.byteLength(s, encoding);
    const at = this.growBy(n);
    this.storage.write(s, at, n, encoding);
    return n;
  }

  /**
   * Reads up to `dst.byteLength` bytes into `dst` (Go's `Read`).
   *
   * @returns the number of bytes read; `0` at the end of the contents
   */
  read(dst: Uint8Array): number {
    this.lastRead = OP_INVALID;
    if (this.off >= this.end) {
      this.reset();
      return 0;
    }
    const n = Math.min(dst.byteLength, this.end - this.off);
    dst.set(this.storage.subarray(this.off, this.off + n));
    this.off += n;
    if (n > 0) this.lastRead = OP_READ;
    return n;
  }

  /** Reads one byte (Go's `ReadByte`); `-1` at the end of the contents. */
  readByte(): number {
    if (this.off >= this.end) {
      this.reset();
      return -1;
    }
    const c = this.storage[this.off] as number;
    this.off++;
    this.lastRead = OP_READ;
    return c;
  }

  /**
   * Unreads the last byte returned by the most recent successful read (Go's `UnreadByte`).
   *
   * @throws {@link UsageError} `ERR_BUFFER_UNREAD` when the previous call was not a successful read
   */
  unreadByte(): void {
    if (this.lastRead === OP_INVALID) {
      throw createError("ERR_BUFFER_UNREAD");
    }
    this.lastRead = OP_INVALID;
    if (this.off > 0) this.off--;
  }

  /**
   * Consumes up to `n` unread bytes and returns a view of them (Go's `Next`), valid until the next
   * modifying call.
   */
  next(n: number): Buffer {
    this.lastRead = OP_INVALID;
    const m = this.end - this.off;
    if (n > m) n = m;
    if (!(n > 0)) return this.storage.subarray(this.off, this.off);
    const start = this.off;
    this.off += n;
    this.lastRead = OP_READ;
    return this.storage.subarray(start, start + n);
  }

  /**
   * Go's `grow`: makes room for `n` more bytes and extends the contents by `n`.
   *
   * @returns the offset at which the caller writes the `n` bytes
   */
  private growBy(n: number): number {
    let m = this.end - this.off;
    // A drained buffer recovers its space first.
    if (m === 0 && this.off !== 0) {
      this.reset();
    }
    if (m + n > this.maxSize) throw overMaxSize(m + n, this.maxSize);
    // Reslice: the bytes fit behind the contents.
    const c = this.storage.length;
    if (n <= c - this.end) {
      const at = this.end;
      this.end += n;
      return at;
    }
    if (c === 0 && n <= SMALL_BUFFER_SIZE) {
      this.storage = Buffer.allocUnsafeSlow(SMALL_BUFFER_SIZE);
      this.wholeStorage = true;
      this.off = 0;
      this.end = n;
      return 0;
    }
    m = this.end - this.off;
    if (n <= (c >>> 1) - m) {
      // Slide the unread bytes down instead of allocating: capacity may double before copying
      // would dominate.
      this.storage.copy(this.storage, 0, this.off, this.end);
    } else {
      let want = Math.max(2 * c, m + n);
      if (this.growToPowerOfTwo) {
        const p = binaryCeil(want);
        if (p <= MAX_BUFFER_LENGTH) want = p;
      }
      if (want > MAX_BUFFER_LENGTH) throw overBufferLimit(want);
      const next = Buffer.allocUnsafeSlow(want);
      this.storage.copy(next, 0, this.off, this.end);
      this.storage = next;
      this.wholeStorage = true;
    }
    this.off = 0;
    this.end = m + n;
    return m;
  }

  /** @internal Whether the buffer is currently filed in a pool. */
  get released(): boolean {
    return this.poolState === RELEASED;
  }

  /** @internal Marks the buffer as handed back to (`true`) or out of (`false`) a pool. */
  markReleased(released: boolean): void {
    this.poolState = released ? RELEASED : OWNED;
  }
}

// The errors of the growth path, built out of line: a template literal in a hot method makes the
// optimizing compiler convert its numbers to strings on every call, thrown or not.

function overMaxSize(size: number, maxSize: number): Error {
  return createError("ERR_BUFFER_TOO_LARGE", `${size} bytes > maxSize ${maxSize}`);
}

function overBufferLimit(size: number): Error {
  return createError("ERR_BUFFER_TOO_LARGE", `${size} bytes exceed the largest Buffer`);
}
