/**
 * A seeded pseudo-random generator, so a benchmark draws the same workload on every run.
 *
 * The algorithm is Mulberry32 (a 32-bit state advanced by a Weyl sequence, then mixed): fast,
 * statistically good enough for picking payload sizes, and not for anything cryptographic.
 */
export class Mulberry32 {
  private state: number;

  /** @param seed - any number; its low 32 bits select the sequence */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next value as an unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** The next value in `[0, 1)`. */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer uniform in `[lo, hi]` (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** An integer in `[lo, hi]` whose logarithm is uniform: as many values per octave. */
  logInt(lo: number, hi: number): number {
    const v = Math.floor(lo * (hi / lo) ** this.float());
    return Math.max(lo, Math.min(v, hi));
  }
}
