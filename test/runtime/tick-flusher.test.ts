import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TickFlusher } from "../../src/runtime/tick-flusher.js";

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

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
});
