/**
 * The tester as a client: open a TCP (or TLS) connection, perform the opening handshake of
 * RFC 6455 section 4.1 with the offers of the case, check the response, and hand the socket
 * over with whatever bytes followed the response.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import net, { type Socket } from "node:net";
import tls from "node:tls";
import { acceptResponse } from "../deflate/negotiation.js";
import { createError, createHandshakeError } from "../errors.js";
import { type ExtensionOffer, parseExtensions } from "../protocol/extension-header.js";
import { generateKey, validateResponse } from "../protocol/handshake.js";
import type { NegotiatedDeflate } from "./types.js";

/** A completed opening handshake. */
export interface Dialed {
  readonly socket: Socket;
  /** Bytes that arrived after the response head. */
  readonly head: Buffer;
  readonly request: string;
  readonly response: string;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly deflate: NegotiatedDeflate | null;
}

/** Options of {@link dial}. */
export interface DialOptions {
  /** permessage-deflate offers, as header elements in order of preference. */
  readonly offers?: readonly string[];
  /** Default 10 s. */
  readonly timeout?: number;
  /** For `wss:` URLs: verify the server certificate (default true). */
  readonly rejectUnauthorized?: boolean;
}

/** The largest response head accepted. */
const MAX_HEAD = 64 * 1024;

function parseHead(text: string): { status: number; headers: Record<string, string | string[]> } {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (m === null) throw createError("ERR_HANDSHAKE_MALFORMED", `status line "${lines[0]}"`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw createError("ERR_HANDSHAKE_MALFORMED", `header line "${line}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[name];
    headers[name] =
      prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return { status: Number(m[1]), headers };
}

/**
 * Checks the server's permessage-deflate answer against each offer (RFC 7692 section 5) and
 * returns what the tester must do, or throws when the answer fits no offer.
 */
function agree(
  offers: readonly string[],
  accepted: readonly ExtensionOffer[],
): NegotiatedDeflate | null {
  const element = accepted.find((e) => e.name === "permessage-deflate");
  if (element === undefined) return null;
  let lastError: unknown = null;
  for (const offer of parseExtensions(offers.join(", "))) {
    const bits = offer.params.get("server_max_window_bits");
    try {
      const params = acceptResponse(accepted, {
        serverNoContextTakeover: offer.params.has("server_no_context_takeover"),
        clientNoContextTakeover: offer.params.has("client_no_context_takeover"),
        ...(typeof bits === "string" ? { serverMaxWindowBits: Number(bits) } : {}),
      });
      if (params === null) return null;
      return {
        response: [...element.params].reduce(
          (s, [k, v]) => `${s}; ${k}${v === true ? "" : `=${v}`}`,
          element.name,
        ),
        // As Autobahn: the tester resets its compressor when the server asked it to.
        localNoContextTakeover: element.params.has("client_no_context_takeover"),
        localWindowBits: params.clientMaxWindowBits,
        remoteNoContextTakeover: params.serverNoContextTakeover,
      };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? createError("ERR_HANDSHAKE_EXTENSIONS", "answer fits no offer");
}

/**
 * Connects to `url` (`ws:` or `wss:`) and performs the opening handshake.
 *
 * @throws {@link HandshakeError} when the connection or the handshake fails
 */
export function dial(url: URL, options: DialOptions = {}): Promise<Dialed> {
  const secure = url.protocol === "wss:";
  if (!secure && url.protocol !== "ws:") {
    return Promise.reject(createError("ERR_INVALID_ARGUMENT", `not a ws: or wss: URL: ${url}`));
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (secure ? 443 : 80));
  const offers = options.offers ?? [];
  const key = generateKey(randomBytes(16));
  const request =
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n" +
    (offers.length > 0 ? `Sec-WebSocket-Extensions: ${offers.join(", ")}\r\n` : "") +
    "User-Agent: tidews-conformance\r\n\r\n";

  return new Promise<Dialed>((resolve, reject) => {
    const socket: Socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          rejectUnauthorized: options.rejectUnauthorized ?? true,
        })
      : net.connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (error: unknown) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(createHandshakeError("ERR_HANDSHAKE_TIMEOUT", 0, `no response from ${url.host}`)),
      options.timeout ?? 10_000,
    );
    const onError = (error: Error) =>
      fail(createHandshakeError("ERR_HANDSHAKE_REFUSED", 0, `${url.host}: ${error.message}`));
    const onClose = () =>
      fail(createHandshakeError("ERR_HANDSHAKE_REFUSED", 0, "connection closed"));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) {
        if (received.length > MAX_HEAD) fail(createError("ERR_HANDSHAKE_HEADERS_TOO_LARGE"));
        return;
      }
      const response = received.subarray(0, end).toString("latin1");
      const head = received.subarray(end + 4);
      try {
        const { status, headers } = parseHead(response);
        const checked = validateResponse(
          status,
          headers,
          key,
          [],
          offers.length > 0 ? ["permessage-deflate"] : [],
        );
        const deflate = agree(offers, checked.extensions);
        cleanup();
        socket.pause();
        resolve({ socket, head, request, response: `${response}\r\n`, headers, deflate });
      } catch (error) {
        fail(error);
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.once(secure ? "secureConnect" : "connect", () => socket.write(request));
  });
}
