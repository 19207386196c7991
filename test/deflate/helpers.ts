// Shared helpers of the deflate tests (not a test file itself).
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { ByteBuffer } from "../../src/buffer/byte-buffer.js";
import type { Pool, PoolStats } from "../../src/buffer/pool.js";
import type { CodecListener, CodecResult } from "../../src/deflate/codec.js";
import { CodecPool } from "../../src/deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../../src/deflate/concurrency-limiter.js";
import { ZlibCodecFactory, type ZlibCodecOptions } from "../../src/deflate/zlib-codec.js";
import type { ContextSettings, ZlibContext } from "../../src/deflate/zlib-context.js";
import type { TidewsError } from "../../src/errors.js";

/** A pool that remembers the largest request and counts outstanding buffers. */
export class CountingPool implements Pool {
  readonly inner = new BufferPool(64, 1 << 22);
  largest = 0;
  out = 0;
  get(n: number): ByteBuffer {
    if (n > this.largest) this.largest = n;
    this.out++;
    return this.inner.get(n);
  }
  put(buf: ByteBuffer): void {
    this.out--;
    this.inner.put(buf);
  }
  stats(): PoolStats {
    return this.inner.stats();
  }
  trim(): void {
    this.inner.trim();
  }
}

/** A codec pool that remembers every context it made. */
export class RecordingCodecPool extends CodecPool {
  readonly made: ZlibContext[] = [];
  override acquire(settings: ContextSettings): ZlibContext {
    const ctx = super.acquire(settings);
    if (!this.made.includes(ctx)) this.made.push(ctx);
    return ctx;
  }
  override createOwned(settings: ContextSettings): ZlibContext {
    const ctx = super.createOwned(settings);
    this.made.push(ctx);
    return ctx;
  }
}

export interface Rig {
  pool: CountingPool;
  limiter: ConcurrencyLimiter;
  codecPool: RecordingCodecPool;
  factory: ZlibCodecFactory;
}

export function rig(options: Partial<ZlibCodecOptions> = {}, concurrency = 4): Rig {
  const pool = new CountingPool();
  const limiter = new ConcurrencyLimiter(concurrency);
  const codecPool = new RecordingCodecPool();
  const factory = new ZlibCodecFactory({ bufferPool: pool, limiter, codecPool, ...options });
  return { pool, limiter, codecPool, factory };
}

/** The two ways every job can run: synchronously when small, or always on the thread pool. */
export const MODES = [
  { name: "sync path", options: {} },
  { name: "thread pool", options: { syncLimit: 0 } },
] as const;

export type Outcome = { ok: true; bytes: Buffer; off: number } | { ok: false; error: TidewsError };

/**
 * A listener that copies each outcome, gives buffers back to the pool, and lets a test await the
 * outcome of a token.
 */
export class Collector implements CodecListener {
  readonly order: number[] = [];
  private readonly outcomes = new Map<number, Outcome>();
  private readonly waiting = new Map<number, (o: Outcome) => void>();
  constructor(private readonly pool: Pool) {}

  onInflated(data: ByteBuffer, token: number): void {
    this.settle(token, this.take(data));
  }
  onDeflated(data: ByteBuffer, token: number): void {
    this.settle(token, this.take(data));
  }
  onCodecError(error: TidewsError, token: number): void {
    this.settle(token, { ok: false, error });
  }

  /** The outcome of a call: at once when it returned one, else when the listener hears it. */
  result(r: CodecResult, token: number): Promise<Outcome> {
    if (r === null) return this.wait(token);
    if (r instanceof ByteBuffer) return Promise.resolve(this.take(r));
    return Promise.resolve({ ok: false, error: r });
  }

  wait(token: number): Promise<Outcome> {
    const done = this.outcomes.get(token);
    if (done !== undefined) return Promise.resolve(done);
    return new Promise((resolve) => this.waiting.set(token, resolve));
  }

  heard(token: number): boolean {
    return this.outcomes.has(token);
  }

  private take(data: ByteBuffer): Outcome {
    const o: Outcome = { ok: true, bytes: Buffer.from(data.bytes()), off: data.off };
    this.pool.put(data);
    return o;
  }

  private settle(token: number, o: Outcome): void {
    assert.ok(!this.outcomes.has(token), `token ${token} settled twice`);
    this.order.push(token);
    this.outcomes.set(token, o);
    this.waiting.get(token)?.(o);
    this.waiting.delete(token);
  }
}

export function bytesOf(o: Outcome): Buffer {
  if (!o.ok) throw o.error;
  return o.bytes;
}

/** A deterministic generator (xorshift32) for reproducible data. */
export function random(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const WORDS =
  "the quick brown fox jumps over a lazy dog while zlib keeps an eye on its window".split(" ");

/** Text-like data: words from a small vocabulary, some random bytes, some long repeats. */
export function sample(n: number, seed: number): Buffer {
  const rnd = random(seed);
  const out = Buffer.alloc(n);
  let i = 0;
  while (i < n) {
    const kind = rnd();
    if (kind < 0.6) {
      i += out.write(`${WORDS[Math.floor(rnd() * WORDS.length)]} `, i);
    } else if (kind < 0.85) {
      const len = 1 + Math.floor(rnd() * 40);
      for (let k = 0; k < len && i < n; k++) out[i++] = Math.floor(rnd() * 256);
    } else if (i > 0) {
      // A copy from up to 32 KiB back.
      const dist = 1 + Math.floor(rnd() * Math.min(i, 32768));
      const len = 3 + Math.floor(rnd() * 200);
      for (let k = 0; k < len && i < n; k++, i++) out[i] = out[i - dist]!;
    }
  }
  return out;
}

/** Splits `data` into random pieces, each a view with a non-zero byteOffset into a bigger buffer. */
export function split(data: Buffer, seed: number, maxPieces = 5): Uint8Array[] {
  const rnd = random(seed);
  const count = 1 + Math.floor(rnd() * maxPieces);
  const cuts = [0];
  for (let i = 1; i < count; i++) cuts.push(Math.floor(rnd() * data.length));
  cuts.push(data.length);
  cuts.sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const piece = data.subarray(cuts[i], cuts[i + 1]);
    const backing = new Uint8Array(piece.length + 11);
    backing.set(piece, 7);
    pieces.push(backing.subarray(7, 7 + piece.length));
  }
  return pieces;
}
