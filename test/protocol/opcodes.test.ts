import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isControlOpcode,
  isDataOpcode,
  isMessageOpcode,
  isReservedOpcode,
  Opcode,
} from "../../src/protocol/opcodes.js";

describe("opcodes", () => {
  it("has the RFC 6455 section 5.2 values", () => {
    assert.deepEqual(Opcode, {
      Continuation: 0,
      Text: 1,
      Binary: 2,
      Close: 8,
      Ping: 9,
      Pong: 10,
    });
  });

  it("classifies all 16 values", () => {
    const kinds = [];
    for (let op = 0; op < 16; op++) {
      kinds.push(
        isControlOpcode(op)
          ? "c"
          : isDataOpcode(op)
            ? isMessageOpcode(op)
              ? "m"
              : "d"
            : isReservedOpcode(op)
              ? "r"
              : "?",
      );
    }
    assert.equal(kinds.join(""), "dmmrrrrrcccrrrrr");
    assert.equal(isReservedOpcode(16), false);
    assert.equal(isDataOpcode(-1), false);
  });
});
