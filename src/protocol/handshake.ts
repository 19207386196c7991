/**
 * The opening handshake (RFC 6455 section 4), as pure functions over already-parsed HTTP parts.
 *
 * Node parses HTTP itself: the server side gets the request from the http `'upgrade'` event, the
 * client side the response from `http.request`'s `'upgrade'` event. Header objects use lower-case
 * names, as `IncomingMessage.headers` does (Node joins repeated unknown headers with `", "`).
 *
 * Server: {@link validateRequest}, {@link selectProtocol}, {@link buildResponse},
 * {@link buildRefusal}. Client: {@link generateKey}, {@link buildRequestHeaders},
 * {@link validateResponse}. Extension negotiation itself lives with each extension (see
 * `deflate/negotiation`); this module only checks names and syntax.
 *
 * @module
 */

import {
  createError,
  createHandshakeError,
  ERROR_CODES,
  type ErrorCode,
  type HandshakeError,
} from "../errors.js";
import { type ExtensionOffer, isToken, parseExtensions } from "./extension-header.js";
import { sha1 } from "./sha1.js";

/** The GUID appended to the key before hashing (RFC 6455 section 1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this library speaks (RFC 6455 section 4.1, item 9). */
export const WEBSOCKET_VERSION = "13";

/** A header value as Node's `IncomingMessage.headers` holds it. */
export type HeaderValue = string | string[] | undefined;

/** Received headers, lower-case names. */
export type IncomingHeaders = Readonly<Record<string, HeaderValue>>;

/** Headers to send: a value, a number, or several values (one line each). */
export type OutgoingHeaders = Readonly<Record<string, string | number | readonly string[]>>;

/** The parts of an opening-handshake request the server checks. */
export interface HandshakeRequest {
  /** The request method, e.g. `GET`. */
  method: string;
  /** `IncomingMessage.httpVersion`, e.g. `1.1`. */
  httpVersion: string;
  /** Headers with lower-case names. */
  headers: Record<string, string | string[] | undefined>;
}

/** What a valid request carries. */
export interface ValidatedRequest {
  /** The `Sec-WebSocket-Key` value, to pass to {@link buildResponse}. */
  key: string;
  /** Offered subprotocols in the client's order of preference (may be empty). */
  protocols: string[];
  /** The raw `Sec-WebSocket-Extensions` value, for `parseExtensions` and negotiation. */
  extensions: string | undefined;
  /** The `Origin` header, if any (RFC 6455 section 4.2.1, item 7). */
  origin: string | undefined;
}

/** What a valid server response carries. */
export interface ValidatedResponse {
  /** The subprotocol the server selected, if any. */
  protocol: string | undefined;
  /** The extensions the server accepted, in order, for each extension's own acceptance check. */
  extensions: ExtensionOffer[];
}

/** Options of {@link buildResponse}. */
export interface ResponseOptions {
  /** The selected subprotocol (a token the client offered). */
  protocol?: string | undefined;
  /** The `Sec-WebSocket-Extensions` value of the accepted extensions. */
  extensions?: string | undefined;
  /** Extra headers, e.g. `Set-Cookie`. The handshake headers themselves are reserved. */
  headers?: OutgoingHeaders | undefined;
}

/** Options of {@link buildRequestHeaders}. */
export interface RequestHeaderOptions {
  /** The key from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[] | undefined;
  /** The `Sec-WebSocket-Extensions` offer, e.g. from `buildOffer` of permessage-deflate. */
  extensions?: string | undefined;
  /** The `Origin` header (browsers send it; other clients may). */
  origin?: string | undefined;
  /** Extra headers, e.g. `Authorization`. The handshake headers themselves are reserved. */
  headers?: OutgoingHeaders | undefined;
}

/** Reason phrases for the statuses a handshake answers with (RFC 7231 section 6). */
const REASONS: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Header names the handshake builders write themselves (lower case). */
const RESERVED_RESPONSE = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);
const RESERVED_REQUEST = new Set([
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);
const RESERVED_REFUSAL = new Set(["connection", "content-length", "transfer-encoding"]);

/** base64 of 16 bytes: 22 significant characters and `==` (RFC 4648 section 4). */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/** A decimal version number without sign (RFC 6455 section 4.1: `1*DIGIT`). */
const VERSION_PATTERN = /^\d{1,3}$/;

function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * The `Sec-WebSocket-Accept` value for `key`: base64 of SHA-1(key + GUID)
 * (RFC 6455 section 4.2.2, item 5.4).
 */
export function acceptKey(key: string): string {
  return bytesToBase64(sha1(Buffer.from(key + WEBSOCKET_GUID, "utf8")));
}

/** True when `key` is base64 of exactly 16 bytes (RFC 6455 section 4.1, item 7). */
export function isValidKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** OWS trim (RFC 7230 section 3.2.3): spaces and horizontal tabs only. */
function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return s.slice(start, end);
}

/** The elements of a `#rule` list, empty ones dropped (RFC 7230 section 7). */
function listElements(value: HeaderValue): string[] {
  if (value === undefined) return [];
  const lines = typeof value === "string" ? [value] : value;
  const out: string[] = [];
  for (const line of lines) {
    for (const part of line.split(",")) {
      const element = trimOws(part);
      if (element.length > 0) out.push(element);
    }
  }
  return out;
}

/** True when the comma-separated list holds `token`, compared ASCII case-insensitively. */
function hasToken(value: HeaderValue, token: string): boolean {
  for (const element of listElements(value)) {
    if (element.toLowerCase() === token) return true;
  }
  return false;
}

const REPEATED = Symbol("repeated");

/** The one value of a header that must appear once; {@link REPEATED} when it appears more. */
function singleValue(value: HeaderValue): string | undefined | typeof REPEATED {
  if (value === undefined || typeof value === "string") return value;
  if (value.length === 0) return undefined;
  if (value.length === 1) return value[0];
  return REPEATED;
}

function joined(value: HeaderValue): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  return value.length === 0 ? undefined : value.join(", ");
}

/** `major.minor` at least 1.1 (RFC 6455 section 4.1, item 2). */
function isHttp11OrLater(version: string): boolean {
  const dot = version.indexOf(".");
  if (dot <= 0 || dot === version.length - 1) return false;
  const major = version.slice(0, dot);
  const minor = version.slice(dot + 1);
  if (!/^\d+$/.test(major) || !/^\d+$/.test(minor)) return false;
  const ma = Number(major);
  return ma > 1 || (ma === 1 && Number(minor) >= 1);
}

/**
 * Parses an offered `Sec-WebSocket-Protocol` list (RFC 6455 section 4.1, item 10): tokens,
 * comma-separated, each unique, in the client's order of preference. Empty list elements are
 * ignored (RFC 7230 section 7). No header gives `[]`.
 *
 * @throws {@link HandshakeError} `ERR_HANDSHAKE_PROTOCOL` (400) for a non-token, a repeated value
 *   or a header without any value
 */
export function parseProtocols(value: HeaderValue): string[] {
  if (value === undefined) return [];
  const protocols = listElements(value);
  if (protocols.length === 0) {
    throw createHandshakeError("ERR_HANDSHAKE_PROTOCOL", 400, "empty list");
  }
  const seen = new Set<string>();
  for (const p of protocols) {
    if (!isToken(p)) throw createHandshakeError("ERR_HANDSHAKE_PROTOCOL", 400, "not a token");
    if (seen.has(p)) throw createHandshakeError("ERR_HANDSHAKE_PROTOCOL", 400, "repeated value");
    seen.add(p);
  }
  return protocols;
}

/**
 * Checks an opening-handshake request (RFC 6455 section 4.2.1) and returns what the response
 * needs. The checks run in this order, the first failure wins:
 *
 * | check | status |
 * |---|---|
 * | method is `GET` | 405, with `Allow: GET` (RFC 7231 section 6.5.5 requires that header) |
 * | HTTP version at least 1.1 | 400 |
 * | a `Host` header (item 2; RFC 7230 section 5.4) | 400 |
 * | `Upgrade` lists the token `websocket` (case-insensitive) | 400 |
 * | `Connection` lists the token `upgrade` (case-insensitive) | 400 |
 * | one `Sec-WebSocket-Key`, base64 of 16 bytes (22 characters and `==`) | 400 |
 * | one `Sec-WebSocket-Version` | 400 |
 * | version `13`, else 426 with `Sec-WebSocket-Version: 13` (section 4.4) | 426 |
 * | `Sec-WebSocket-Protocol`, if any, unique tokens | 400 |
 *
 * 405 rather than 400 for another method: the resource exists, only the method is wrong, and
 * the `Allow` header tells the client how to fix it.
 *
 * @throws {@link HandshakeError} with the status to answer with and headers to send
 */
export function validateRequest(req: HandshakeRequest): ValidatedRequest {
  const h = req.headers;
  if (req.method !== "GET") {
    throw createHandshakeError("ERR_HANDSHAKE_METHOD", 405, req.method, { Allow: "GET" });
  }
  if (!isHttp11OrLater(req.httpVersion)) {
    throw createHandshakeError("ERR_HANDSHAKE_HTTP_VERSION", 400, `HTTP/${req.httpVersion}`);
  }
  if (singleValue(h.host) === undefined) {
    throw createHandshakeError("ERR_HANDSHAKE_MALFORMED", 400, "missing Host header");
  }
  if (!hasToken(h.upgrade, "websocket")) {
    throw createHandshakeError("ERR_HANDSHAKE_UPGRADE", 400, "expected websocket");
  }
  if (!hasToken(h.connection, "upgrade")) {
    throw createHandshakeError("ERR_HANDSHAKE_CONNECTION", 400, "expected upgrade");
  }
  const key = singleValue(h["sec-websocket-key"]);
  if (key === REPEATED) throw createHandshakeError("ERR_HANDSHAKE_KEY", 400, "repeated");
  if (key === undefined) throw createHandshakeError("ERR_HANDSHAKE_KEY", 400, "missing");
  if (!isValidKey(key)) {
    throw createHandshakeError("ERR_HANDSHAKE_KEY", 400, "not base64 of 16 bytes");
  }
  const version = singleValue(h["sec-websocket-version"]);
  if (version === REPEATED || version?.includes(",")) {
    throw createHandshakeError("ERR_HANDSHAKE_VERSION", 400, "repeated");
  }
  if (version === undefined) throw createHandshakeError("ERR_HANDSHAKE_VERSION", 400, "missing");
  if (version !== WEBSOCKET_VERSION) {
    // RFC 6455 section 4.4: answer with the versions the server understands.
    const status = VERSION_PATTERN.test(version) ? 426 : 400;
    throw createHandshakeError("ERR_HANDSHAKE_VERSION", status, version.slice(0, 16), {
      "Sec-WebSocket-Version": WEBSOCKET_VERSION,
    });
  }
  const protocols = parseProtocols(h["sec-websocket-protocol"]);
  const origin = singleValue(h.origin);
  return {
    key,
    protocols,
    extensions: joined(h["sec-websocket-extensions"]),
    origin: origin === REPEATED ? joined(h.origin) : origin,
  };
}

/**
 * Picks the subprotocol to answer with (RFC 6455 section 4.2.2, item 5.5).
 *
 * With a list, the first protocol in the client's order of preference that the server supports
 * wins. With a function, its answer is used; it must be one of `offered` or `undefined`.
 *
 * @param offered - the client's protocols, from {@link validateRequest}
 * @param supported - the server's protocols, or a function choosing among the offered ones
 * @returns the protocol, or `undefined` to answer without `Sec-WebSocket-Protocol`
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when the function picks one never offered
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[] | ((offered: readonly string[]) => string | undefined),
): string | undefined {
  if (offered.length === 0) return undefined;
  if (typeof supported === "function") {
    const chosen = supported(offered);
    if (chosen === undefined) return undefined;
    if (!offered.includes(chosen)) {
      throw createError("ERR_INVALID_ARGUMENT", `subprotocol "${chosen}" was not offered`);
    }
    return chosen;
  }
  for (const p of offered) {
    if (supported.includes(p)) return p;
  }
  return undefined;
}

/** Header value characters this library writes: HTAB, SP and VCHAR (RFC 7230 section 3.2). */
function isSafeValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c !== 0x09 && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}

function headerLine(name: string, value: string): string {
  if (!isToken(name)) throw createError("ERR_INVALID_ARGUMENT", `bad header name "${name}"`);
  // No CR, LF or other control character may reach the wire: that would let a value inject
  // headers or a body (RFC 7230 section 3.2.4 forbids obs-fold in generated messages).
  if (!isSafeValue(value)) {
    throw createError("ERR_INVALID_ARGUMENT", `bad characters in the value of "${name}"`);
  }
  return `${name}: ${value}\r\n`;
}

function extraHeaderLines(headers: OutgoingHeaders | undefined, reserved: Set<string>): string {
  if (headers === undefined) return "";
  let out = "";
  for (const name of Object.keys(headers)) {
    if (reserved.has(name.toLowerCase())) {
      throw createError("ERR_INVALID_ARGUMENT", `header "${name}" is set by the handshake`);
    }
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string" || typeof value === "number") {
      out += headerLine(name, String(value));
    } else {
      for (const v of value) out += headerLine(name, v);
    }
  }
  return out;
}

/**
 * The complete `101 Switching Protocols` response head (RFC 6455 section 4.2.2, item 5), ending
 * with the empty line. Every character is ASCII, so it can be written as `latin1` or `utf8`.
 *
 * @param key - the validated `Sec-WebSocket-Key`
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a protocol that is not a token, a header
 *   name that is not a token, a value with CR, LF or another control or non-ASCII character, or
 *   an extra header the handshake sets itself
 */
export function buildResponse(key: string, options: ResponseOptions = {}): string {
  let head =
    "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) {
      throw createError("ERR_INVALID_ARGUMENT", `subprotocol "${options.protocol}" is not a token`);
    }
    head += `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
  }
  if (options.extensions !== undefined && options.extensions.length > 0) {
    head += headerLine("Sec-WebSocket-Extensions", options.extensions);
  }
  head += extraHeaderLines(options.headers, RESERVED_RESPONSE);
  return `${head}\r\n`;
}

/**
 * A complete HTTP response refusing the upgrade: status line, `Connection: close`,
 * `Content-Type` (default `text/plain; charset=utf-8`), `Content-Length`, the extra headers and
 * the body. Write it with the `utf8` encoding, then end the socket.
 *
 * @param status - a 3xx, 4xx or 5xx status, e.g. 400, 401, 403, 426, 503
 * @param headers - extra headers, e.g. `Sec-WebSocket-Version` for 426 or `Location` for 3xx
 * @param body - a short text body (default empty)
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a status outside 300..599 or a bad header
 */
export function buildRefusal(status: number, headers: OutgoingHeaders = {}, body = ""): string {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw createError("ERR_INVALID_ARGUMENT", `refusal status ${status} not in 300..599`);
  }
  const reason = REASONS[status] ?? (status < 500 ? "Client Error" : "Server Error");
  const hasType = Object.keys(headers).some((n) => n.toLowerCase() === "content-type");
  let head = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n`;
  if (!hasType) head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${Buffer.byteLength(body, "utf8")}\r\n`;
  head += extraHeaderLines(headers, RESERVED_REFUSAL);
  return `${head}\r\n${body}`;
}

/**
 * The refusal for a {@link HandshakeError} thrown by {@link validateRequest} (or by the
 * application): its status and headers, and a short body.
 *
 * @param error - the handshake error
 * @param body - the body; defaults to the reason phrase of the status, so no detail leaks
 */
export function buildRefusalFor(error: HandshakeError, body?: string): string {
  const status = error.status >= 300 && error.status <= 599 ? error.status : 400;
  return buildRefusal(status, error.headers, body ?? REASONS[status] ?? "");
}

/**
 * A `Sec-WebSocket-Key` from 16 random bytes (RFC 6455 section 4.1, item 7). The caller supplies
 * the randomness (e.g. `crypto.randomFillSync`), the core has none.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` unless `random16` has exactly 16 bytes
 */
export function generateKey(random16: Uint8Array): string {
  if (random16.byteLength !== 16) {
    throw createError("ERR_INVALID_ARGUMENT", `the key needs 16 bytes, got ${random16.byteLength}`);
  }
  return bytesToBase64(random16);
}

/**
 * The headers of a client's opening handshake (RFC 6455 section 4.1), to pass to `http.request`
 * (which adds the request line and `Host`).
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an invalid key, a protocol that is not a
 *   token or offered twice, a bad or reserved extra header
 */
export function buildRequestHeaders(options: RequestHeaderOptions): Record<string, string> {
  if (!isValidKey(options.key)) {
    throw createError("ERR_INVALID_ARGUMENT", "the key is not base64 of 16 bytes");
  }
  const out: Record<string, string> = {};
  if (options.headers !== undefined) {
    // Validated as lines; node joins repeated values itself.
    extraHeaderLines(options.headers, RESERVED_REQUEST);
    for (const name of Object.keys(options.headers)) {
      const value = options.headers[name];
      if (value === undefined) continue;
      out[name] = typeof value === "object" ? value.join(", ") : String(value);
    }
  }
  out.Connection = "Upgrade";
  out.Upgrade = "websocket";
  out["Sec-WebSocket-Key"] = options.key;
  out["Sec-WebSocket-Version"] = WEBSOCKET_VERSION;
  const protocols = options.protocols ?? [];
  if (protocols.length > 0) {
    const seen = new Set<string>();
    for (const p of protocols) {
      if (!isToken(p) || seen.has(p)) {
        throw createError("ERR_INVALID_ARGUMENT", `bad or repeated subprotocol "${p}"`);
      }
      seen.add(p);
    }
    out["Sec-WebSocket-Protocol"] = protocols.join(", ");
  }
  if (options.extensions !== undefined && options.extensions.length > 0) {
    headerLine("Sec-WebSocket-Extensions", options.extensions);
    out["Sec-WebSocket-Extensions"] = options.extensions;
  }
  if (options.origin !== undefined) {
    headerLine("Origin", options.origin);
    out.Origin = options.origin;
  }
  return out;
}

function definedHeaders(headers: IncomingHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Checks the server's answer to our opening handshake (RFC 6455 section 4.1, "the client MUST
 * validate the server's response").
 *
 * Extension parameters are not judged here: each accepted extension is returned for its own
 * acceptance check (e.g. permessage-deflate's `acceptResponse`).
 *
 * @param status - the HTTP status received
 * @param headers - the response headers, lower-case names
 * @param key - the key we sent
 * @param offeredProtocols - the subprotocols we offered (empty when none)
 * @param offeredExtensions - the names of the extensions we offered (empty when none)
 * @throws {@link HandshakeError} carrying the status and headers received:
 *   `ERR_HANDSHAKE_STATUS` when the status is not 101, `ERR_HANDSHAKE_UPGRADE`,
 *   `ERR_HANDSHAKE_CONNECTION`, `ERR_HANDSHAKE_ACCEPT` for a wrong or repeated accept value,
 *   `ERR_HANDSHAKE_PROTOCOL` for a subprotocol we never offered (or any, when we offered none),
 *   `ERR_HANDSHAKE_EXTENSIONS` for a malformed header or an extension we never offered
 */
export function validateResponse(
  status: number,
  headers: IncomingHeaders,
  key: string,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[],
): ValidatedResponse {
  const seen = definedHeaders(headers);
  const fail = (code: ErrorCode, detail: string) =>
    createHandshakeError(code, status, detail, seen);
  if (status !== 101) throw fail("ERR_HANDSHAKE_STATUS", `status ${status}`);
  if (!hasToken(headers.upgrade, "websocket")) {
    throw fail("ERR_HANDSHAKE_UPGRADE", "expected websocket");
  }
  if (!hasToken(headers.connection, "upgrade")) {
    throw fail("ERR_HANDSHAKE_CONNECTION", "expected upgrade");
  }
  // RFC 6455 section 4.1, item 4 of the response checks: the exact base64 value.
  const accept = singleValue(headers["sec-websocket-accept"]);
  if (accept !== acceptKey(key)) {
    throw fail("ERR_HANDSHAKE_ACCEPT", accept === undefined ? "missing" : "mismatch");
  }
  // Item 6: a subprotocol that was not in our handshake fails the connection.
  const protocolHeader = singleValue(headers["sec-websocket-protocol"]);
  let protocol: string | undefined;
  if (protocolHeader !== undefined) {
    if (protocolHeader === REPEATED || !offeredProtocols.includes(protocolHeader)) {
      throw fail(
        "ERR_HANDSHAKE_PROTOCOL",
        offeredProtocols.length === 0 ? "none was offered" : "not offered",
      );
    }
    protocol = protocolHeader;
  }
  // Item 5: an extension that was not in our handshake fails the connection.
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensions(headers["sec-websocket-extensions"]);
  } catch (error) {
    // Keep the parser's detail, drop its copy of the default message.
    const prefix = `${ERROR_CODES.ERR_HANDSHAKE_EXTENSIONS.message}: `;
    const message = error instanceof Error ? error.message : "";
    const detail = message.startsWith(prefix) ? message.slice(prefix.length) : "malformed";
    throw fail("ERR_HANDSHAKE_EXTENSIONS", detail);
  }
  for (const e of extensions) {
    if (!offeredExtensions.includes(e.name)) {
      throw fail("ERR_HANDSHAKE_EXTENSIONS", `"${e.name}" was not offered`);
    }
  }
  return { protocol, extensions };
}
