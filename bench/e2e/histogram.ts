/**
 * A latency histogram in microseconds with log-linear buckets: exact below 64 µs, then 32 buckets
 * per power of two (about 3% wide), up to 2^31 µs. Recording is one `Math.clz32` and an array
 * increment, cheap enough for the load generator's hot path; histograms of several processes or
 * rounds merge by adding counts.
 */

/** Buckets per power of two above the linear range. */
const SUB = 32;
const SUB_BITS = 5;
/** Number of buckets: values up to 2^31 - 1 µs. */
export const BUCKETS = (31 - SUB_BITS + 1) * SUB;

/** The bucket of `us` (a duration in microseconds, clamped to `[0, 2^31)`). */
export function bucketOf(us: number): number {
  let v = us < 0 ? 0 : us >= 2147483647 ? 2147483647 : Math.floor(us);
  if (v < 2 * SUB) return v;
  const e = 31 - Math.clz32(v); // >= SUB_BITS + 1
  v = v >>> (e - SUB_BITS); // in [SUB, 2 * SUB)
  return (e - SUB_BITS) * SUB + v;
}

/** The smallest value (µs) that falls into bucket `i`. */
export function bucketLow(i: number): number {
  if (i < 2 * SUB) return i;
  const e = Math.floor(i / SUB) + SUB_BITS - 1;
  const sub = (i % SUB) + SUB;
  return sub * 2 ** (e - SUB_BITS);
}

/** A histogram of durations in microseconds. */
export class LatencyHistogram {
  /** One count per bucket. */
  readonly counts: Float64Array = new Float64Array(BUCKETS);
  /** Number of values recorded. */
  total = 0;

  /** Records one duration in microseconds. */
  record(us: number): void {
    const i = bucketOf(us);
    this.counts[i] = (this.counts[i] as number) + 1;
    this.total++;
  }

  /** Records `n` values of the same duration. */
  recordMany(us: number, n: number): void {
    const i = bucketOf(us);
    this.counts[i] = (this.counts[i] as number) + n;
    this.total += n;
  }

  /** Forgets every value. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** Adds the counts of `other`. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) {
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    }
    this.total += other.total;
  }

  /**
   * The value at quantile `q` (0..1), as the middle of its bucket; `NaN` for an empty histogram.
   */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return (bucketLow(i) + bucketLow(i + 1)) / 2;
    }
    return bucketLow(BUCKETS);
  }

  /** The non-empty buckets as `[bucket, count]` pairs, for IPC and JSON. */
  toPairs(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i] as number;
      if (c > 0) out.push([i, c]);
    }
    return out;
  }

  /** A histogram from {@link toPairs} output. */
  static fromPairs(pairs: readonly (readonly [number, number])[]): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [i, c] of pairs) {
      if (i >= 0 && i < BUCKETS) {
        h.counts[i] = (h.counts[i] as number) + c;
        h.total += c;
      }
    }
    return h;
  }
}
