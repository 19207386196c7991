import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConcurrencyLimiter, type LimiterWaiter } from "../../src/deflate/concurrency-limiter.js";
import { isTidewsError } from "../../src/errors.js";

class Waiter implements LimiterWaiter {
  granted = 0;
  constructor(
    readonly log: number[],
    readonly id: number,
  ) {}
  onSlot(): void {
    this.granted++;
    this.log.push(this.id);
  }
}

describe("ConcurrencyLimiter", () => {
  it("grants up to its bound, then queues in FIFO order", () => {
    const log: number[] = [];
    const l = new ConcurrencyLimiter(2);
    const w = Array.from({ length: 5 }, (_, i) => new Waiter(log, i));
    assert.equal(l.acquire(w[0]!), true);
    assert.equal(l.acquire(w[1]!), true);
    assert.equal(l.acquire(w[2]!), false);
    assert.equal(l.acquire(w[3]!), false);
    assert.equal(l.acquire(w[4]!), false);
    assert.deepEqual([l.active, l.waiting], [2, 3]);
    l.release();
    l.release();
    assert.deepEqual(log, [2, 3]);
    assert.deepEqual([l.active, l.waiting], [2, 1]);
    l.cancel(w[4]!);
    l.release();
    l.release();
    assert.deepEqual([l.active, l.waiting], [0, 0]);
    assert.equal(w[4]!.granted, 0);
  });

  it("refuses a bad bound and a release without a slot", () => {
    for (const n of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new ConcurrencyLimiter(n),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
      );
    }
    assert.throws(
      () => new ConcurrencyLimiter(1).release(),
      (e: unknown) => isTidewsError(e, "ERR_WS_INVALID_STATE"),
    );
  });

  it("never exceeds its bound and serves waiters in order (model check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.oneof(fc.constant("acquire"), fc.constant("release"), fc.constant("cancel")), {
          maxLength: 200,
        }),
        (bound, ops) => {
          const log: number[] = [];
          const l = new ConcurrencyLimiter(bound);
          let held = 0;
          const queue: Waiter[] = [];
          let id = 0;
          for (const op of ops) {
            if (op === "acquire") {
              const w = new Waiter(log, id++);
              if (l.acquire(w)) held++;
              else queue.push(w);
            } else if (op === "release" && held > 0) {
              const next = queue.shift();
              const before = log.length;
              l.release();
              if (next === undefined) held--;
              else assert.deepEqual(log.slice(before), [next.id]);
            } else if (op === "cancel" && queue.length > 0) {
              const w = queue.splice(queue.length >> 1, 1)[0]!;
              l.cancel(w);
            }
            assert.ok(held <= bound);
            assert.equal(l.active, held);
            assert.equal(l.waiting, queue.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
