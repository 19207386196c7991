/**
 * The one place where tidews creates errors.
 *
 * Every error carries a stable string {@link TidewsError.code} (`ERR_WS_...` style) that callers
 * may switch on, and, where the error ends a WebSocket connection, the close code it maps to
 * ({@link TidewsError.closeCode}). The I/O layer turns a protocol error into a close frame with that
 * code and into the `onClose` event in one place.
 *
 * This module has no `node:` imports and no mutable state: the protocol core may use it.
 *
 * @module
 */

/** The family an error belongs to; each family has its own class. */
export type ErrorFamily = "protocol" | "handshake" | "limit" | "usage" | "internal";

/** Close codes the error families map to (RFC 6455 section 7.4.1). */
const PROTOCOL_ERROR = 1002;
const INVALID_DATA = 1007;
const POLICY_VIOLATION = 1008;
const MESSAGE_TOO_BIG = 1009;
const INTERNAL_ERROR = 1011;

interface CodeSpec {
  readonly family: ErrorFamily;
  readonly closeCode?: number;
  readonly message: string;
}

/**
 * Every error code tidews can produce, with its family, close code and default message.
 * Codes are stable: they are part of the public API.
 */
export const ERROR_CODES = {
  // --- Framing (RFC 6455 section 5) -------------------------------------------------------------
  ERR_WS_UNEXPECTED_RSV1: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "RSV1 must be clear unless an extension claims it",
  },
  ERR_WS_UNEXPECTED_RSV2: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "RSV2 must be clear",
  },
  ERR_WS_UNEXPECTED_RSV3: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "RSV3 must be clear",
  },
  ERR_WS_INVALID_OPCODE: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "reserved opcode",
  },
  ERR_WS_EXPECTED_MASK: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "a client frame must be masked",
  },
  ERR_WS_UNEXPECTED_MASK: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "a server frame must not be masked",
  },
  ERR_WS_INVALID_LENGTH: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "the 64-bit payload length must have its most significant bit clear",
  },
  ERR_WS_NON_MINIMAL_LENGTH: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "the payload length must use the minimal encoding",
  },
  ERR_WS_FRAGMENTED_CONTROL: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "control frames must not be fragmented",
  },
  ERR_WS_CONTROL_TOO_LONG: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "control frame payloads must be at most 125 bytes",
  },
  ERR_WS_UNEXPECTED_CONTINUATION: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "continuation frame without a message in progress",
  },
  ERR_WS_EXPECTED_CONTINUATION: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "new data frame while a fragmented message is in progress",
  },
  ERR_WS_INVALID_UTF8: {
    family: "protocol",
    closeCode: INVALID_DATA,
    message: "invalid UTF-8 in a text message",
  },
  ERR_WS_INVALID_CLOSE_PAYLOAD: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "a close frame payload of one byte is invalid",
  },
  ERR_WS_INVALID_CLOSE_CODE: {
    family: "protocol",
    closeCode: PROTOCOL_ERROR,
    message: "invalid close code",
  },
  ERR_WS_INVALID_CLOSE_REASON: {
    family: "protocol",
    closeCode: INVALID_DATA,
    message: "the close reason is not valid UTF-8",
  },
  ERR_WS_INFLATE_FAILED: {
    family: "protocol",
    closeCode: INVALID_DATA,
    message: "the compressed message could not be inflated",
  },
  ERR_WS_UNEXPECTED_EOF: {
    family: "protocol",
    closeCode: 1006,
    message: "the stream ended without a close frame",
  },
  ERR_WS_MESSAGE_INCOMPLETE: {
    family: "protocol",
    message: "the connection closed before the streamed message ended",
  },
  ERR_WS_POLICY: { family: "protocol", closeCode: POLICY_VIOLATION, message: "policy violation" },
  ERR_WS_HEARTBEAT_TIMEOUT: {
    family: "protocol",
    closeCode: 1006,
    message: "the peer did not answer the heartbeat ping",
  },

  // --- Limits ------------------------------------------------------------------------------------
  ERR_WS_MESSAGE_TOO_BIG: {
    family: "limit",
    closeCode: MESSAGE_TOO_BIG,
    message: "the message exceeds the maximum message size",
  },
  ERR_BUFFER_TOO_LARGE: {
    family: "limit",
    closeCode: MESSAGE_TOO_BIG,
    message: "the buffer would exceed its maximum size",
  },
  ERR_WS_BUFFERED_AMOUNT: {
    family: "limit",
    closeCode: POLICY_VIOLATION,
    message: "the connection exceeded its maximum buffered amount",
  },

  // --- Handshake (RFC 6455 section 4) ------------------------------------------------------------
  ERR_HANDSHAKE_METHOD: { family: "handshake", message: "the handshake must be a GET request" },
  ERR_HANDSHAKE_HTTP_VERSION: {
    family: "handshake",
    message: "the handshake needs HTTP/1.1 or later",
  },
  ERR_HANDSHAKE_UPGRADE: { family: "handshake", message: "missing or invalid Upgrade header" },
  ERR_HANDSHAKE_CONNECTION: {
    family: "handshake",
    message: "missing or invalid Connection header",
  },
  ERR_HANDSHAKE_KEY: {
    family: "handshake",
    message: "missing or invalid Sec-WebSocket-Key header",
  },
  ERR_HANDSHAKE_VERSION: { family: "handshake", message: "unsupported Sec-WebSocket-Version" },
  ERR_HANDSHAKE_EXTENSIONS: {
    family: "handshake",
    message: "invalid Sec-WebSocket-Extensions header",
  },
  ERR_HANDSHAKE_PROTOCOL: { family: "handshake", message: "invalid Sec-WebSocket-Protocol header" },
  ERR_HANDSHAKE_STATUS: { family: "handshake", message: "the server did not switch protocols" },
  ERR_HANDSHAKE_ACCEPT: { family: "handshake", message: "invalid Sec-WebSocket-Accept header" },
  ERR_HANDSHAKE_ORIGIN: { family: "handshake", message: "origin not allowed" },
  ERR_HANDSHAKE_HEADERS_TOO_LARGE: { family: "handshake", message: "HTTP headers too large" },
  ERR_HANDSHAKE_MALFORMED: { family: "handshake", message: "malformed HTTP message" },
  ERR_HANDSHAKE_TIMEOUT: { family: "handshake", message: "the handshake timed out" },
  ERR_HANDSHAKE_REFUSED: { family: "handshake", message: "the handshake was refused" },
  ERR_HANDSHAKE_UNAUTHORIZED: { family: "handshake", message: "unauthorized" },
  ERR_HANDSHAKE_TOO_MANY_CONNECTIONS: {
    family: "handshake",
    message: "too many connections",
  },
  ERR_HANDSHAKE_SHUTTING_DOWN: { family: "handshake", message: "the server is shutting down" },
  ERR_HANDSHAKE_REDIRECT: {
    family: "handshake",
    message: "the redirect cannot be followed",
  },
  ERR_CONNECT_PROXY: { family: "handshake", message: "the proxy refused the tunnel" },
  ERR_WS_ABORTED: {
    family: "handshake",
    message: "the connection attempt was aborted by its signal",
  },

  // --- API misuse ----------------------------------------------------------------------------------
  ERR_INVALID_ARGUMENT: { family: "usage", message: "invalid argument" },
  ERR_OUT_OF_RANGE: { family: "usage", message: "argument out of range" },
  ERR_BUFFER_UNREAD: {
    family: "usage",
    message: "unreadByte: the previous operation was not a successful read",
  },
  ERR_POOL_DOUBLE_PUT: {
    family: "usage",
    message: "the buffer was already returned to a pool",
  },
  ERR_WS_NOT_OPEN: { family: "usage", message: "the connection is not open" },
  ERR_WS_INVALID_STATE: { family: "usage", message: "operation not allowed in this state" },
  // --- Stream messages (Connection.sendStream) ------------------------------------------------
  // A stream message cut short can only be ended by closing the connection (RFC 6455 section
  // 5.4): these map to 1011, the close code used when frames of the message were already sent.
  ERR_WS_STREAM_ABORTED: {
    family: "usage",
    closeCode: INTERNAL_ERROR,
    message: "the stream message was aborted by its signal",
  },
  ERR_WS_STREAM_SOURCE: {
    family: "internal",
    closeCode: INTERNAL_ERROR,
    message: "the source of the stream message failed",
  },
  ERR_WS_STREAM_INVALID_UTF8: {
    family: "usage",
    closeCode: INTERNAL_ERROR,
    message: "the text stream message is not valid UTF-8",
  },
  ERR_WS_STREAM_CLOSED: {
    family: "usage",
    message: "the connection closed before the stream message was sent",
  },

  // --- Internal ------------------------------------------------------------------------------------
  ERR_WS_INTERNAL: { family: "internal", closeCode: INTERNAL_ERROR, message: "internal error" },
} as const satisfies Record<string, CodeSpec>;

/** A stable error code string. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error tidews throws or reports. */
export class TidewsError extends Error {
  /** Stable machine-readable code, e.g. `ERR_WS_UNEXPECTED_RSV1`. */
  readonly code: ErrorCode;
  /** The family of the error. */
  readonly family: ErrorFamily;
  /** The WebSocket close code this error maps to when it ends a connection, if any. */
  readonly closeCode: number | undefined;

  constructor(code: ErrorCode, message?: string) {
    const spec: CodeSpec = ERROR_CODES[code];
    super(message ?? spec.message);
    this.code = code;
    this.family = spec.family;
    this.closeCode = spec.closeCode;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** A peer broke RFC 6455 or RFC 7692; the connection is failed with {@link TidewsError.closeCode}. */
export class ProtocolError extends TidewsError {}

/** An opening handshake was invalid or refused. Carries the HTTP status to answer with or seen. */
export class HandshakeError extends TidewsError {
  /** HTTP status: the one to answer with (server) or the one received (client). */
  readonly status: number;
  /** HTTP headers to send with the answer, or the ones received. */
  readonly headers: Readonly<Record<string, string | string[]>>;

  constructor(
    code: ErrorCode,
    message?: string,
    status = 400,
    headers: Readonly<Record<string, string | string[]>> = {},
  ) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/** A size or count limit was exceeded. */
export class LimitError extends TidewsError {}

/** The API was used wrongly (bad argument, wrong state, double release). */
export class UsageError extends TidewsError {}

/** Something that should not happen happened; maps to close code 1011. */
export class InternalError extends TidewsError {}

/**
 * Creates the error for `code`, of the class of its family.
 *
 * @param code - the stable error code
 * @param detail - optional detail appended to the default message
 */
export function createError(code: ErrorCode, detail?: string): TidewsError {
  const spec: CodeSpec = ERROR_CODES[code];
  const message = detail === undefined ? spec.message : `${spec.message}: ${detail}`;
  switch (spec.family) {
    case "protocol":
      return new ProtocolError(code, message);
    case "limit":
      return new LimitError(code, message);
    case "usage":
      return new UsageError(code, message);
    case "handshake":
      return new HandshakeError(code, message);
    default:
      return new InternalError(code, message);
  }
}

/**
 * Wraps an error of the byte stream under it (a socket reset, a TLS failure) as a tidews error,
 * without capturing a stack trace of its own: the stack would only show the event loop, and a
 * server that sees thousands of peers reset pays for each capture. The original error is the
 * `cause`, with its own stack.
 *
 * @param code - the stable error code
 * @param cause - the stream's error
 */
export function createStreamError(code: ErrorCode, cause: Error): TidewsError {
  let limit: number | undefined;
  try {
    limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  } catch {
    limit = undefined; // not writable here (frozen intrinsics): keep the stack
  }
  let error: TidewsError;
  try {
    error = createError(code, cause.message);
  } finally {
    if (limit !== undefined) Error.stackTraceLimit = limit;
  }
  Object.defineProperty(error, "cause", {
    value: cause,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  return error;
}

/**
 * Creates a handshake error with the HTTP status (and headers) to answer with or that was seen.
 *
 * @param code - the stable error code
 * @param status - HTTP status
 * @param detail - optional detail appended to the default message
 * @param headers - HTTP headers to send with the answer, or the ones received
 */
export function createHandshakeError(
  code: ErrorCode,
  status: number,
  detail?: string,
  headers: Readonly<Record<string, string | string[]>> = {},
): HandshakeError {
  const spec: CodeSpec = ERROR_CODES[code];
  const message = detail === undefined ? spec.message : `${spec.message}: ${detail}`;
  return new HandshakeError(code, message, status, headers);
}

/** True when `value` is a tidews error, optionally of a given code. */
export function isTidewsError(value: unknown, code?: ErrorCode): value is TidewsError {
  return value instanceof TidewsError && (code === undefined || value.code === code);
}
