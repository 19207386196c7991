import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FLUSH_SLICE, TickFlusher } from "../../src/runtime/tick-flusher.js";

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("TickFlusher", () => {
  it("flushes every added connection once, in order, at the end of the tick", async () => {
    const flusher = new TickFlusher();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) flusher.add({ flush: () => seen.push(i) });
    assert.equal(seen.length, 0, "nothing during the tick");
    await tick();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    flusher.add({ flush: () => seen.push(9) });
    await tick();
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 9], "schedules again after a run");
  });

  it("uses one tick callback for any number of connections", async () => {
    const flusher = new TickFlusher();
    const original = process.nextTick;
    let scheduled = 0;
    process.nextTick = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
      scheduled++;
      original(fn, ...args);
    }) as typeof process.nextTick;
    try {
      for (let i = 0; i < 1000; i++) flusher.add({ flush() {} });
    } finally {
      process.nextTick = original;
    }
    assert.equal(scheduled, 1);
    await tick();
  });

  it("flushes connections added while it runs in the same pass", async () => {
    const flusher = new TickFlusher();
    const seen: string[] = [];
    flusher.add({
      flush() {
        seen.push("a");
        flusher.add({ flush: () => seen.push("b") });
      },
    });
    await tick();
    assert.deepEqual(seen, ["a", "b"]);
  });

  it("a throwing flush does not keep the others from flushing", async () => {
    const flusher = new TickFlusher();
    const seen: string[] = [];
    flusher.add({ flush: () => seen.push("first") });
    flusher.add({
      flush() {
        throw new Error("bug");
      },
    });
    flusher.add({ flush: () => seen.push("last") });
    // Run by hand (the runner would report an uncaught exception from the tick callback).
    assert.throws(() => flusher.run(), /bug/);
    assert.deepEqual(seen, ["first"]);
    await tick();
    assert.deepEqual(seen, ["first", "last"]);
  });

  it("flushes a slice per turn of the event loop, letting I/O and immediates run between", async () => {
    const flusher = new TickFlusher();
    const seen: number[] = [];
    const between: number[] = [];
    const n = 2 * FLUSH_SLICE + 5;
    for (let i = 0; i < n; i++) {
      flusher.add({
        flush() {
          seen.push(i);
          // Queued during the first slice: it must run before the second slice starts.
          if (i === 0) setImmediate(() => between.push(seen.length));
        },
      });
    }
    await tick();
    assert.equal(seen.length, FLUSH_SLICE, "the first slice at the end of the tick");
    assert.equal(flusher.pending, true);
    await new Promise<void>((resolve) => {
      const poll = () => (flusher.pending ? setImmediate(poll) : resolve());
      poll();
    });
    assert.deepEqual(between, [FLUSH_SLICE], "the immediate ran between the slices");
    assert.deepEqual(
      seen,
      Array.from({ length: n }, (_, i) => i),
      "every connection once, in order",
    );
    assert.equal(flusher.pending, false);
  });

  it("flushes connections added between slices after those already waiting", async () => {
    const flusher = new TickFlusher();
    const seen: string[] = [];
    for (let i = 0; i < FLUSH_SLICE + 1; i++) flusher.add({ flush: () => seen.push(`a${i}`) });
    await tick();
    assert.equal(seen.length, FLUSH_SLICE);
    // A send in a later tick, while the last one still waits: it queues behind it.
    flusher.add({ flush: () => seen.push("late") });
    await tick();
    assert.equal(seen.length, FLUSH_SLICE, "no second run scheduled for it");
    await turn();
    assert.deepEqual(seen.slice(-2), [`a${FLUSH_SLICE}`, "late"]);
    assert.equal(flusher.pending, false);
    // Idle again: the next add is flushed at the end of its own tick.
    flusher.add({ flush: () => seen.push("next") });
    await tick();
    assert.equal(seen.at(-1), "next");
  });

  it("keeps its list bounded when connections are added faster than it ever empties", async () => {
    const flusher = new TickFlusher();
    const internals = flusher as unknown as { due: unknown[]; head: number };
    // 2 slices' worth of connections, each added again when flushed (a broadcast per turn).
    let flushes = 0;
    let longest = 0;
    const conns = Array.from({ length: 2 * FLUSH_SLICE }, () => ({
      flush() {
        flushes++;
        longest = Math.max(longest, internals.due.length);
        if (flushes < 40 * FLUSH_SLICE) flusher.add(this);
      },
    }));
    for (const c of conns) flusher.add(c);
    await new Promise<void>((resolve) => {
      const poll = () => (flusher.pending ? setImmediate(poll) : resolve());
      poll();
    });
    assert.ok(flushes >= 40 * FLUSH_SLICE, `${flushes} flushes`);
    assert.ok(longest <= 8 * FLUSH_SLICE, `the list grew to ${longest} entries`);
    assert.equal(internals.head, 0);
  });
});
