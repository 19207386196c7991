/**
 * Following HTTP redirects during a client handshake (RFC 9110 section 15.4), pure.
 *
 * @module
 */

import { createHandshakeError, isTidewsError } from "../errors.js";
import type { IncomingHeaders, OutgoingHeaders } from "../protocol/handshake.js";
import { parseTarget, type Target, webSocketScheme } from "./target.js";

/** The statuses followed: 301, 302, 303, 307 and 308. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** True for a redirect status with a `Location` header. */
export function isRedirect(status: number, headers: IncomingHeaders): boolean {
  return REDIRECTS.has(status) && headers.location !== undefined;
}

/**
 * Where a redirect points, as a WebSocket target. The `Location` is resolved against the current
 * URL (it may be relative, RFC 9110 section 10.2.2); `http:` maps to `ws:` and `https:` to `wss:`;
 * a fragment is dropped (it means nothing to a WebSocket server). Credentials come from the
 * `Location`, or from the current URL when the redirect stays on the same server.
 *
 * @throws {@link HandshakeError} `ERR_HANDSHAKE_REDIRECT`, with the status and headers of the
 *   redirect, for an unusable `Location`, another scheme, or `wss:` to `ws:` (a downgrade would
 *   send the handshake, and its credentials, in the clear)
 */
export function redirectTarget(
  current: Target,
  status: number,
  headers: Readonly<Record<string, string | string[]>>,
): Target {
  const fail = (detail: string) =>
    createHandshakeError("ERR_HANDSHAKE_REDIRECT", status, detail, headers);
  const location = headers.location;
  if (typeof location !== "string" || location.length === 0) throw fail("no single Location");
  let url: URL;
  try {
    url = new URL(location, current.url);
  } catch {
    throw fail("invalid Location");
  }
  const scheme = webSocketScheme(url.protocol);
  if (scheme === undefined) throw fail(`unsupported scheme "${url.protocol}"`);
  if (current.secure && scheme === "ws:") throw fail("refusing to downgrade wss: to ws:");
  url.hash = "";
  let next: Target;
  try {
    next = parseTarget(url.href.endsWith("#") ? url.href.slice(0, -1) : url.href);
  } catch (error) {
    throw fail(isTidewsError(error) ? error.message : "invalid Location");
  }
  // The current URL's credentials follow a redirect to the same server, and only there.
  if (next.authorization === undefined && current.authorization !== undefined) {
    if (sameServer(current, next)) return { ...next, authorization: current.authorization };
  }
  return next;
}

/** True when both targets are the same server: scheme, host and port. */
export function sameServer(a: Target, b: Target): boolean {
  return a.secure === b.secure && a.host === b.host && a.port === b.port;
}

/** Headers that carry credentials for one server only (ws and browsers drop them too). */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie"]);

/** `headers` without `Authorization` and `Cookie`, for a redirect to another server. */
export function withoutCredentials(headers: OutgoingHeaders | undefined): OutgoingHeaders {
  const out: Record<string, string | number | readonly string[]> = {};
  if (headers === undefined) return out;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined && !CREDENTIAL_HEADERS.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}
