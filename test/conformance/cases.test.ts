// The case catalogue: Autobahn's families, ids and counts, and sound test data.
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { describe, it } from "node:test";
import { ALL_CASES, compareIds, selectCases } from "../../src/conformance/cases/index.js";
import { UTF8_GROUPS } from "../../src/conformance/cases/utf8-sequences.js";

describe("case catalogue", () => {
  it("has Autobahn's 517 cases with unique ids, in order", () => {
    assert.equal(ALL_CASES.length, 517);
    const ids = ALL_CASES.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(compareIds), ids);
    const perFamily: Record<string, number> = {};
    for (const id of ids) {
      const f = id.split(".")[0]!;
      perFamily[f] = (perFamily[f] ?? 0) + 1;
    }
    assert.deepEqual(perFamily, {
      "1": 16,
      "2": 11,
      "3": 7,
      "4": 10,
      "5": 20,
      "6": 145,
      "7": 37,
      "9": 54,
      "10": 1,
      "12": 90,
      "13": 126,
    });
    for (const id of [
      "2.11",
      "5.20",
      "6.23.7",
      "7.7.13",
      "7.9.9",
      "7.13.2",
      "9.8.6",
      "12.5.18",
      "13.7.18",
    ]) {
      assert.ok(ids.includes(id), id);
    }
  });

  it("marks every UTF-8 sequence valid exactly when it is valid UTF-8", () => {
    let n = 0;
    for (const g of UTF8_GROUPS) {
      for (const s of g.sequences) {
        assert.equal(isUtf8(s.bytes), s.valid, `${g.title}: ${s.bytes.toString("hex")}`);
        n++;
      }
    }
    assert.equal(n, 132);
  });

  it("selects cases by patterns, and refuses a pattern that matches nothing", () => {
    assert.equal(selectCases(["1.*"]).length, 16);
    assert.deepEqual(
      selectCases(["6.4.*", "2.1"]).map((c) => c.id),
      ["2.1", "6.4.1", "6.4.2", "6.4.3", "6.4.4"],
    );
    assert.equal(selectCases([], ["12.*", "13.*"]).length, 301);
    assert.equal(selectCases(["1*"]).length, 16 + 1 + 90 + 126);
    assert.throws(() => selectCases(["8.*"]), { code: "ERR_INVALID_ARGUMENT" });
  });
});
