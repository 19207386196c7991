/**
 * node:http client errors, as the client reports them.
 *
 * @module
 */

import { createHandshakeError } from "../errors.js";

/**
 * A parse error of node:http's response parser (`HPE_*` codes, e.g. `HPE_HEADER_OVERFLOW`)
 * becomes a typed {@link HandshakeError} with status 0 (no valid answer); network errors
 * (`ECONNREFUSED`, TLS failures, ...) are returned unchanged, so that their `code` stays the
 * system's.
 */
export function fromHttpError(error: Error): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("HPE_")) return error;
  if (code === "HPE_HEADER_OVERFLOW") {
    return createHandshakeError("ERR_HANDSHAKE_HEADERS_TOO_LARGE", 0, error.message);
  }
  return createHandshakeError("ERR_HANDSHAKE_MALFORMED", 0, `${code}: ${error.message}`);
}
