import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { Heartbeat, type HeartbeatMember } from "../../src/runtime/heartbeat.js";

describe("Heartbeat", () => {
  it("visits every member on each tick with a rising epoch, one timer for all", () => {
    const h = new Heartbeat(1000);
    const seen: number[] = [];
    const a: HeartbeatMember = { heartbeatTick: (e) => seen.push(e) };
    const b: HeartbeatMember = { heartbeatTick: (e) => seen.push(-e) };
    h.add(a);
    h.add(b);
    const start = h.epoch;
    h.tick();
    h.tick();
    assert.deepEqual(seen, [start + 1, -(start + 1), start + 2, -(start + 2)]);
    h.delete(a);
    h.delete(b);
    assert.equal(h.size, 0);
    h.stop();
  });

  it("rejects a timeout it cannot halve", () => {
    assert.throws(() => new Heartbeat(1), UsageError);
    assert.throws(() => new Heartbeat(Number.NaN), UsageError);
  });
});
