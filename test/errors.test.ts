import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createError, createStreamError, InternalError, isTidewsError } from "../src/errors.js";

describe("errors", () => {
  it("createError: the family's class, the stable code, the close code and a stack", () => {
    const e = createError("ERR_WS_INVALID_UTF8");
    assert.ok(isTidewsError(e));
    assert.equal(e.code, "ERR_WS_INVALID_UTF8");
    assert.equal(e.closeCode, 1007);
    assert.ok((e.stack ?? "").split("\n").length > 1, "a stack with frames");
  });

  it("createStreamError wraps a stream error without a stack of its own, the cause keeps one", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const before = Error.stackTraceLimit;
    const e = createStreamError("ERR_WS_INTERNAL", reset);
    assert.equal(Error.stackTraceLimit, before, "the limit is put back");
    assert.ok(e instanceof InternalError);
    assert.equal(e.code, "ERR_WS_INTERNAL");
    assert.equal(e.closeCode, 1011);
    assert.match(e.message, /read ECONNRESET/);
    assert.equal((e as { cause?: unknown }).cause, reset);
    assert.equal((e.stack ?? "").split("\n").length, 1, "no frames captured");
    assert.ok((reset.stack ?? "").split("\n").length > 1);
  });
});
