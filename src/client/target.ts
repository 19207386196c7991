/**
 * The WebSocket URL a client connects to (RFC 6455 section 3), taken apart into what the dial and
 * the request need.
 *
 * @module
 */

import { isIP } from "node:net";
import { createError } from "../errors.js";

/** Where and how to connect, and what to put in the request line and `Host`. */
export interface Target {
  /** The normalized URL, scheme `ws:` or `wss:`, without a fragment or credentials. */
  readonly url: URL;
  /** `wss:`: TLS to the server. */
  readonly secure: boolean;
  /** The host to dial: a name or an IP address, IPv6 without brackets. */
  readonly host: string;
  /** The port to dial. */
  readonly port: number;
  /** The request target: path and query (RFC 6455 section 3, "resource name"). */
  readonly path: string;
  /** The `Host` header: host, and the port unless it is the scheme's default. */
  readonly hostHeader: string;
  /** `Authorization: Basic ...` from credentials in the URL, if any. */
  readonly authorization: string | undefined;
  /** The TLS server name: the host name, or `undefined` for an IP address (RFC 6066 section 3). */
  readonly servername: string | undefined;
}

/** `http:` and `https:` URLs are accepted and mean `ws:` and `wss:` (RFC 6455 section 3). */
const SCHEMES: Readonly<Record<string, "ws:" | "wss:">> = {
  "ws:": "ws:",
  "wss:": "wss:",
  "http:": "ws:",
  "https:": "wss:",
};

/**
 * Maps a URL scheme to its WebSocket scheme: `ws:`/`http:` to `ws:`, `wss:`/`https:` to `wss:`,
 * anything else to `undefined`.
 */
export function webSocketScheme(protocol: string): "ws:" | "wss:" | undefined {
  return SCHEMES[protocol];
}

/** Basic credentials (RFC 7617) from the percent-encoded user and password of a URL. */
export function basicCredentials(url: URL): string | undefined {
  if (url.username === "" && url.password === "") return undefined;
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
}

/**
 * Parses and checks a client URL.
 *
 * RFC 6455 section 3: fragment identifiers are meaningless in WebSocket URIs and "MUST NOT be
 * used"; a `#` in the URL is refused rather than silently dropped.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an invalid URL, another scheme, or a
 *   fragment
 */
export function parseTarget(input: string | URL): Target {
  let url: URL;
  try {
    url = new URL(typeof input === "string" ? input : input.href);
  } catch {
    throw createError("ERR_INVALID_ARGUMENT", `invalid URL "${String(input)}"`);
  }
  const scheme = webSocketScheme(url.protocol);
  if (scheme === undefined) {
    throw createError(
      "ERR_INVALID_ARGUMENT",
      `URL scheme must be ws:, wss:, http: or https:, got "${url.protocol}"`,
    );
  }
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw createError("ERR_INVALID_ARGUMENT", "a WebSocket URL must not have a fragment");
  }
  if (url.hostname === "") throw createError("ERR_INVALID_ARGUMENT", "the URL has no host");
  const authorization = basicCredentials(url);
  // Changing the scheme between special schemes keeps the rest; the default port follows it.
  const normalized = new URL(url.href);
  normalized.protocol = scheme;
  normalized.username = "";
  normalized.password = "";
  const secure = scheme === "wss:";
  const host = normalized.hostname.startsWith("[")
    ? normalized.hostname.slice(1, -1)
    : normalized.hostname;
  const port = normalized.port === "" ? (secure ? 443 : 80) : Number(normalized.port);
  return {
    url: normalized,
    secure,
    host,
    port,
    path: `${normalized.pathname || "/"}${normalized.search}`,
    hostHeader: normalized.host,
    authorization,
    servername: isIP(host) === 0 ? host : undefined,
  };
}
