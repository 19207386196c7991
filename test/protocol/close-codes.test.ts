import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ProtocolError, UsageError } from "../../src/errors.js";
import {
  CloseCode,
  closePayloadLength,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
  writeClosePayload,
} from "../../src/protocol/close-codes.js";
import { withOffset } from "./frame-log.js";

function body(code: number, reason: Uint8Array | string = ""): Buffer {
  const r = typeof reason === "string" ? Buffer.from(reason) : Buffer.from(reason);
  return Buffer.concat([Buffer.from([code >>> 8, code & 0xff]), r]);
}

function expectError(result: unknown, code: string, closeCode: number): void {
  assert.ok(result instanceof ProtocolError, "a ProtocolError");
  assert.equal(result.code, code);
  assert.equal(result.closeCode, closeCode);
}

describe("CloseCode", () => {
  it("has the RFC 6455 section 7.4.1 and IANA values", () => {
    assert.equal(CloseCode.Normal, 1000);
    assert.equal(CloseCode.GoingAway, 1001);
    assert.equal(CloseCode.ProtocolError, 1002);
    assert.equal(CloseCode.Unsupported, 1003);
    assert.equal(CloseCode.NoStatus, 1005);
    assert.equal(CloseCode.Abnormal, 1006);
    assert.equal(CloseCode.InvalidData, 1007);
    assert.equal(CloseCode.Policy, 1008);
    assert.equal(CloseCode.TooBig, 1009);
    assert.equal(CloseCode.MandatoryExtension, 1010);
    assert.equal(CloseCode.Internal, 1011);
    assert.equal(CloseCode.ServiceRestart, 1012);
    assert.equal(CloseCode.TryAgainLater, 1013);
    assert.equal(CloseCode.BadGateway, 1014);
  });
});

describe("isValidCloseCode", () => {
  it("allows 1000-1003, 1007-1014 and 3000-4999 only", () => {
    const valid: number[] = [];
    for (let c = 0; c < 6000; c++) if (isValidCloseCode(c)) valid.push(c);
    const expected: number[] = [1000, 1001, 1002, 1003];
    for (let c = 1007; c <= 1014; c++) expected.push(c);
    for (let c = 3000; c <= 4999; c++) expected.push(c);
    assert.deepEqual(valid, expected);
    assert.equal(isValidCloseCode(1000.5), false);
    assert.equal(isValidCloseCode(65535), false);
  });
});

describe("parseClosePayload", () => {
  it("an empty body is 1005 without a reason", () => {
    assert.deepEqual(parseClosePayload(Buffer.alloc(0), true), { code: 1005, reason: "" });
  });

  it("reads the code in network byte order and the UTF-8 reason", () => {
    assert.deepEqual(parseClosePayload(body(1000), true), { code: 1000, reason: "" });
    assert.deepEqual(parseClosePayload(withOffset(body(4999, "bye ✓"), 3), true), {
      code: 4999,
      reason: "bye ✓",
    });
  });

  it("a one-byte body is ERR_WS_INVALID_CLOSE_PAYLOAD (1002)", () => {
    expectError(parseClosePayload(Buffer.from([3]), true), "ERR_WS_INVALID_CLOSE_PAYLOAD", 1002);
  });

  it("a code not allowed on the wire is ERR_WS_INVALID_CLOSE_CODE (1002)", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      expectError(parseClosePayload(body(code, "x"), true), "ERR_WS_INVALID_CLOSE_CODE", 1002);
    }
  });

  it("a reason that is not UTF-8 is ERR_WS_INVALID_CLOSE_REASON (1007)", () => {
    expectError(
      parseClosePayload(body(1000, Buffer.from([0x61, 0xed, 0xa0, 0x80])), true),
      "ERR_WS_INVALID_CLOSE_REASON",
      1007,
    );
    // The caller may have validated already.
    const unchecked = parseClosePayload(body(1000, Buffer.from([0xff])), false);
    assert.ok(!(unchecked instanceof ProtocolError));
    assert.equal(unchecked.code, 1000);
  });

  it("never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 125 }), fc.boolean(), (bytes, check) => {
        parseClosePayload(Buffer.from(bytes), check);
      }),
    );
  });
});

describe("writeClosePayload / closePayloadLength", () => {
  it("round-trips through parseClosePayload", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1000, 1001, 1003, 1011, 1014, 3000, 4999),
        fc.string({ unit: "grapheme", maxLength: 30 }),
        fc.nat(5),
        (code, reason, at) => {
          fc.pre(Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES);
          const n = closePayloadLength(reason);
          const target = Buffer.alloc(at + n + 2, 0xcc);
          assert.equal(writeClosePayload(target, at, code, reason), n);
          assert.equal(target[at + n], 0xcc, "nothing written past the body");
          assert.deepEqual(parseClosePayload(target.subarray(at, at + n), true), { code, reason });
        },
      ),
    );
  });

  it("accepts a 123-byte reason and rejects a 124-byte one", () => {
    assert.equal(closePayloadLength("a".repeat(123)), 125);
    assert.throws(() => closePayloadLength("a".repeat(124)), UsageError);
    // Counted in UTF-8 bytes: 41 three-byte characters are 123 bytes, 42 are too many.
    assert.equal(closePayloadLength("✓".repeat(41)), 125);
    assert.throws(() => writeClosePayload(Buffer.alloc(200), 0, 1000, "✓".repeat(42)), {
      code: "ERR_INVALID_ARGUMENT",
    });
  });

  it("refuses codes that may not be sent and targets without room", () => {
    for (const code of [1005, 1006, 1015, 999, 5000]) {
      assert.throws(() => writeClosePayload(Buffer.alloc(10), 0, code, ""), {
        code: "ERR_INVALID_ARGUMENT",
      });
    }
    assert.throws(() => writeClosePayload(Buffer.alloc(3), 0, 1000, "ab"), {
      code: "ERR_OUT_OF_RANGE",
    });
  });
});
