/**
 * Close status codes and the close frame body (RFC 6455 sections 5.5.1 and 7.4).
 *
 * @module
 */

import { createError, type ProtocolError } from "../errors.js";
import { isValidUtf8 } from "./utf8-validator.js";

/** The status codes RFC 6455 section 7.4.1 defines, and those IANA registered since. */
export const CloseCode = {
  /** 1000: normal closure; the purpose of the connection has been fulfilled. */
  Normal: 1000,
  /** 1001: an endpoint is going away (server going down, browser leaving the page). */
  GoingAway: 1001,
  /** 1002: the endpoint is terminating the connection due to a protocol error. */
  ProtocolError: 1002,
  /** 1003: the endpoint received a type of data it cannot accept. */
  Unsupported: 1003,
  /** 1005: no status code was present. Never sent on the wire. */
  NoStatus: 1005,
  /** 1006: the connection closed without a close frame. Never sent on the wire. */
  Abnormal: 1006,
  /** 1007: data inconsistent with the message type (e.g. non-UTF-8 in a text message). */
  InvalidData: 1007,
  /** 1008: a message violates the endpoint's policy. */
  Policy: 1008,
  /** 1009: a message is too big to process. */
  TooBig: 1009,
  /** 1010: the client expected the server to negotiate an extension that it did not. */
  MandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition. */
  Internal: 1011,
  /** 1012: the service is restarting (IANA registry). */
  ServiceRestart: 1012,
  /** 1013: try again later (IANA registry). */
  TryAgainLater: 1013,
  /** 1014: a gateway or proxy got an invalid response from upstream (IANA registry). */
  BadGateway: 1014,
} as const;

/** The largest close reason in bytes: a control payload is at most 125 bytes, 2 hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * True when `code` may appear in a close frame on the wire.
 *
 * RFC 6455 section 7.4.1 defines 1000-1003 and 1007-1011; IANA has registered 1012-1014.
 * 1004 is reserved, 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control
 * frame by an endpoint". Section 7.4.2: 0-999 are not used, 1000-2999 are reserved for the
 * protocol and its extensions, 3000-3999 for libraries and frameworks (registered with IANA) and
 * 4000-4999 for private use.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** A parsed close frame body. */
export interface ClosePayload {
  /** The status code; {@link CloseCode.NoStatus} (1005) for an empty body. */
  readonly code: number;
  /** The reason, decoded from UTF-8; `""` when there is none. */
  readonly reason: string;
}

function protocolError(
  code:
    | "ERR_WS_INVALID_CLOSE_PAYLOAD"
    | "ERR_WS_INVALID_CLOSE_CODE"
    | "ERR_WS_INVALID_CLOSE_REASON",
  detail?: string,
): ProtocolError {
  return createError(code, detail) as ProtocolError;
}

/**
 * Parses the application data of a close frame. Never throws: bad input is returned as the error
 * to fail the connection with.
 *
 * RFC 6455 section 5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
 * unsigned integer (in network byte order) representing a status code [...] Following the 2-byte
 * integer, the body MAY contain UTF-8-encoded data".
 *
 * @param payload - the unmasked close payload (at most 125 bytes once the parser checked it)
 * @param validateUtf8 - check that the reason is UTF-8 (skip only when the caller already did)
 * @returns the code and reason; an empty body gives {@link CloseCode.NoStatus} and `""`;
 *   otherwise a {@link ProtocolError}: `ERR_WS_INVALID_CLOSE_PAYLOAD` for a one-byte body,
 *   `ERR_WS_INVALID_CLOSE_CODE` (1002) for a code not allowed on the wire,
 *   `ERR_WS_INVALID_CLOSE_REASON` (1007) for a reason that is not UTF-8
 */
export function parseClosePayload(
  payload: Buffer,
  validateUtf8: boolean,
): ClosePayload | ProtocolError {
  const n = payload.length;
  if (n === 0) return { code: CloseCode.NoStatus, reason: "" };
  // Section 5.5.1: a body starts with a 2-byte code, so one byte alone is malformed.
  if (n === 1) return protocolError("ERR_WS_INVALID_CLOSE_PAYLOAD");
  const code = (payload[0]! << 8) | payload[1]!;
  // Section 7.4.1: 1005 and 1006 must not be sent; section 7.4.2: 0-999 are not used.
  if (!isValidCloseCode(code)) return protocolError("ERR_WS_INVALID_CLOSE_CODE", String(code));
  if (n === 2) return { code, reason: "" };
  // Section 8.1: the reason must be valid UTF-8, else the endpoint fails the connection (1007).
  if (validateUtf8 && !isValidUtf8(payload.subarray(2))) {
    return protocolError("ERR_WS_INVALID_CLOSE_REASON");
  }
  return { code, reason: payload.toString("utf8", 2, n) };
}

/**
 * The length of a close body with a code and `reason`: `2 + utf8Length(reason)`.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when the reason exceeds
 *   {@link MAX_CLOSE_REASON_BYTES} bytes in UTF-8
 */
export function closePayloadLength(reason: string): number {
  const bytes = reason.length === 0 ? 0 : Buffer.byteLength(reason, "utf8");
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw createError(
      "ERR_INVALID_ARGUMENT",
      `a close reason is at most ${MAX_CLOSE_REASON_BYTES} bytes, got ${bytes}`,
    );
  }
  return 2 + bytes;
}

/**
 * Writes a close body (code in network byte order, then the reason in UTF-8) into `target` at
 * `at`. The caller provides room for {@link closePayloadLength} bytes.
 *
 * @returns the number of bytes written
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a code that may not be sent (see
 *   {@link isValidCloseCode}) or a reason longer than {@link MAX_CLOSE_REASON_BYTES} bytes;
 *   `ERR_OUT_OF_RANGE` when `target` has no room for the body
 */
export function writeClosePayload(
  target: Buffer,
  at: number,
  code: number,
  reason: string,
): number {
  if (!isValidCloseCode(code)) {
    throw createError("ERR_INVALID_ARGUMENT", `close code ${code} may not be sent`);
  }
  const n = closePayloadLength(reason);
  if (!Number.isInteger(at) || at < 0 || at + n > target.length) {
    throw createError("ERR_OUT_OF_RANGE", `a ${n}-byte close body does not fit at ${at}`);
  }
  target[at] = code >>> 8;
  target[at + 1] = code & 0xff;
  if (n > 2) target.write(reason, at + 2, n - 2, "utf8");
  return n;
}
