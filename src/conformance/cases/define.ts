/**
 * Small helpers the case families share: event constructors, the usual close expectations and
 * the usual verdict adjustments.
 *
 * @module
 */

import type {
  CaseContext,
  CaseEvent,
  CaseHandlers,
  CaseSettings,
  ConformanceCase,
  ExpectedClose,
  Judgement,
} from "../types.js";

/** RFC 6455 section 7.4.1 close codes the cases use. */
export const NORMAL = 1000;
export const PROTOCOL_ERROR = 1002;
export const INVALID_PAYLOAD = 1007;

/** The bytes of `s` (UTF-8). */
export function bytes(s: string | Buffer): Buffer {
  return typeof s === "string" ? Buffer.from(s, "utf8") : s;
}

/** An expected message. */
export function message(data: string | Buffer, binary = false): CaseEvent {
  return { kind: "message", data: bytes(data), binary };
}

/** An expected pong. */
export function pong(data: string | Buffer = ""): CaseEvent {
  return { kind: "pong", data: bytes(data) };
}

/** The tester closes after the expected events, with 1000, and the close must be clean. */
export const CLOSE_NORMALLY: ExpectedClose = {
  closedByMe: true,
  codes: [NORMAL],
  requireClean: true,
};

/** The peer must fail the connection with 1002. */
export const PEER_FAILS: ExpectedClose = {
  closedByMe: false,
  codes: [PROTOCOL_ERROR],
  requireClean: false,
};

/** The peer must fail the connection with 1007, and a close by the tester fails the case. */
export const PEER_FAILS_UTF8: ExpectedClose = {
  closedByMe: false,
  codes: [INVALID_PAYLOAD],
  requireClean: false,
  wrongEndpointFatal: true,
};

/** Builds a case from its id, words and script. */
export function defineCase(
  id: string,
  description: string,
  expectation: string,
  run: (c: CaseContext, settings: CaseSettings) => CaseHandlers | undefined,
  extra: Partial<Pick<ConformanceCase, "reportTime" | "deflate">> = {},
): ConformanceCase {
  return { id, description, expectation, run, ...extra };
}

/** Close cases: a close code outside the expected ones fails the case, not just its close. */
export const WRONG_CODE_FAILS: CaseHandlers = {
  finish(j: Judgement) {
    if (j.behaviorClose === "WRONG CODE") {
      j.behavior = "FAILED";
      j.result = j.resultClose;
    }
  },
};

/** Cases whose outcome the RFC leaves open: always INFORMATIONAL, with what happened. */
export function informational(describe: (j: Judgement) => string): CaseHandlers {
  return {
    finish(j: Judgement) {
      j.result = describe(j);
      j.behavior = "INFORMATIONAL";
      j.behaviorClose = "INFORMATIONAL";
    },
  };
}
