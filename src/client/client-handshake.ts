/**
 * The client's side of the opening handshake (RFC 6455 section 4.1), independent of how the
 * request travels: the headers to send, then the checks of the answer, permessage-deflate
 * included (RFC 7692 section 5).
 *
 * @module
 */

import { randomFillSync } from "node:crypto";
import {
  acceptResponse,
  buildOffer,
  type DeflateParams,
  PERMESSAGE_DEFLATE,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from "../deflate/negotiation.js";
import { createHandshakeError, ERROR_CODES, HandshakeError } from "../errors.js";
import {
  buildRequestHeaders,
  generateKey,
  type IncomingHeaders,
  validateResponse,
} from "../protocol/handshake.js";
import type { ClientOptions } from "./client-options.js";
import type { Target } from "./target.js";

/** A request ready to send, and what its answer is checked against. */
export interface PreparedHandshake {
  /** The `Sec-WebSocket-Key` sent. */
  readonly key: string;
  /** Every request header, `Host` included. */
  readonly headers: Readonly<Record<string, string>>;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The permessage-deflate settings offered, or `undefined` when nothing was offered. */
  readonly deflate: ResolvedDeflateOptions | undefined;
}

/** What the server agreed to. */
export interface AcceptedHandshake {
  /** The selected subprotocol, if any. */
  readonly protocol: string | undefined;
  /** The `Sec-WebSocket-Extensions` value of the answer, if any. */
  readonly extensions: string | undefined;
  /** The permessage-deflate parameters, when the server accepted the offer. */
  readonly deflate: DeflateParams | undefined;
  /** The settings the offer was made with (threshold, level, memLevel). */
  readonly deflateOptions: ResolvedDeflateOptions | undefined;
}

/** The permessage-deflate settings to offer, checked, or `undefined` to offer nothing. */
export function resolveClientDeflate(
  option: ClientOptions["perMessageDeflate"],
): ResolvedDeflateOptions | undefined {
  if (option === false) return undefined;
  return resolveDeflateOptions(option === true || option === undefined ? {} : option);
}

function hasHeader(headers: Readonly<Record<string, unknown>>, lowerName: string): boolean {
  return Object.keys(headers).some((n) => n.toLowerCase() === lowerName);
}

/**
 * Builds the request of one handshake attempt, with a fresh key (RFC 6455 section 4.1, item 7:
 * "randomly selected for each connection").
 *
 * @param deflate - from {@link resolveClientDeflate}
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a bad subprotocol or header
 */
export function prepareHandshake(
  target: Target,
  options: ClientOptions,
  deflate: ResolvedDeflateOptions | undefined,
): PreparedHandshake {
  const key = generateKey(randomFillSync(new Uint8Array(16)));
  const protocols = options.protocols ?? [];
  const built = buildRequestHeaders({
    key,
    protocols,
    extensions: deflate === undefined ? undefined : buildOffer(deflate),
    origin: options.origin,
    headers: options.headers,
  });
  const headers: Record<string, string> = {};
  // RFC 6455 section 4.1, item 4: Host carries the host and, when not the default, the port.
  if (!hasHeader(built, "host")) headers.Host = target.hostHeader;
  if (target.authorization !== undefined && !hasHeader(built, "authorization")) {
    headers.Authorization = target.authorization;
  }
  Object.assign(headers, built);
  return { key, headers, protocols, deflate };
}

/** `error` again, carrying the status and headers of the answer that caused it. */
function withAnswer(
  error: HandshakeError,
  status: number,
  headers: Readonly<Record<string, string | string[]>>,
): HandshakeError {
  const prefix = `${ERROR_CODES[error.code].message}: `;
  const detail = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : undefined;
  return createHandshakeError(error.code, status, detail, headers);
}

function defined(headers: IncomingHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Checks the server's answer: status 101, `Upgrade`, `Connection`, the accept key, a subprotocol
 * that was offered, extensions that were offered, and permessage-deflate parameters that keep
 * the offer (RFC 6455 section 4.1, RFC 7692 section 5).
 *
 * A server that selects no subprotocol is accepted even when some were offered (RFC 6455 only
 * fails a subprotocol that was not offered); the connection's `protocol` is then `""`.
 *
 * @throws {@link HandshakeError} with the status and headers of the answer
 */
export function completeHandshake(
  prepared: PreparedHandshake,
  status: number,
  headers: IncomingHeaders,
): AcceptedHandshake {
  const validated = validateResponse(
    status,
    headers,
    prepared.key,
    prepared.protocols,
    prepared.deflate === undefined ? [] : [PERMESSAGE_DEFLATE],
  );
  let deflate: DeflateParams | undefined;
  if (prepared.deflate !== undefined) {
    try {
      deflate = acceptResponse(validated.extensions, prepared.deflate) ?? undefined;
    } catch (error) {
      if (error instanceof HandshakeError) throw withAnswer(error, status, defined(headers));
      throw error;
    }
  }
  const raw = headers["sec-websocket-extensions"];
  return {
    protocol: validated.protocol,
    extensions: Array.isArray(raw) ? raw.join(", ") : raw,
    deflate,
    deflateOptions: prepared.deflate,
  };
}
