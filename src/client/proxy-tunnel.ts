/**
 * A tunnel through an HTTP or HTTPS proxy with `CONNECT` (RFC 9110 section 9.3.6), for
 * `connect`'s `proxy` and `proxyTls` options.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { isIP, type Socket } from "node:net";
import { createError, createHandshakeError } from "../errors.js";
import type { ClientTlsOptions } from "./client-options.js";
import type { HandshakeTimer, TimeoutAbort } from "./handshake-timer.js";
import { fromHttpError } from "./http-error.js";
import { dial } from "./http-exchange.js";
import { MAX_RESPONSE_HEAD } from "./response-head.js";
import { basicCredentials, type Target } from "./target.js";

/** A checked proxy URL. */
export interface ProxyTarget {
  /** `https:`: TLS to the proxy itself. */
  readonly secure: boolean;
  /** Host to dial, IPv6 without brackets. */
  readonly host: string;
  /** Port to dial; default 80 for `http:`, 443 for `https:`. */
  readonly port: number;
  /** `Proxy-Authorization` from the URL's credentials (RFC 9110 section 11.7.2). */
  readonly authorization: string | undefined;
  /** The TLS server name of an `https:` proxy: its host name, none for an IP (RFC 6066). */
  readonly servername: string | undefined;
}

/**
 * Parses the `proxy` option: an `http:` or `https:` URL with a host, optional port and
 * credentials.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an invalid URL or another scheme
 */
export function parseProxy(input: string | URL): ProxyTarget {
  let url: URL;
  try {
    url = new URL(typeof input === "string" ? input : input.href);
  } catch {
    throw createError("ERR_INVALID_ARGUMENT", "invalid proxy URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw createError(
      "ERR_INVALID_ARGUMENT",
      `proxy URL scheme must be http: or https:, got ${url.protocol}`,
    );
  }
  if (url.hostname === "") throw createError("ERR_INVALID_ARGUMENT", "the proxy URL has no host");
  const secure = url.protocol === "https:";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    host,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    authorization: basicCredentials(url),
    servername: isIP(host) === 0 ? host : undefined,
  };
}

/** `host:port` of the target, IPv6 in brackets (RFC 9110 section 7.2, authority-form). */
function authority(target: Target): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

/** Keeps a socket error between the tunnel and the request that takes it over from crashing. */
function ignoreError(): void {}

/**
 * Asks the proxy for a tunnel to the target. Resolves with the connected socket once the proxy
 * answered 2xx; bytes the proxy sent after its answer are put back into the socket. For an
 * `https:` proxy the socket is the TLS session with the proxy: what the caller writes on it
 * reaches the target, a `wss:` target's own TLS included.
 *
 * @param proxyTls - TLS settings for an `https:` proxy
 * @returns a promise of the tunnel socket; it rejects with {@link HandshakeError}
 *   `ERR_CONNECT_PROXY` (the proxy's status and headers) for a refusal, a parse error of the
 *   answer as a typed error, or the network error (a TLS error with the proxy included)
 */
export function openTunnel(
  proxy: ProxyTarget,
  target: Target,
  timer: HandshakeTimer,
  proxyTls?: ClientTlsOptions,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const path = authority(target);
    const headers: Record<string, string> = { Host: path };
    if (proxy.authorization !== undefined) headers["Proxy-Authorization"] = proxy.authorization;
    const req = httpRequest({
      method: "CONNECT",
      host: proxy.host,
      port: proxy.port,
      path,
      headers,
      setHost: false,
      maxHeaderSize: MAX_RESPONSE_HEAD,
      // TCP, or TLS with proxyTls for an https: proxy (servername: the proxy's host name).
      createConnection: () => dial(proxy, proxyTls),
    });
    let settled = false;
    const abort: TimeoutAbort = (error) => {
      settled = true;
      req.destroy();
      reject(error);
    };
    const refuse = (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const seen: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined) seen[name] = value;
      }
      reject(createHandshakeError("ERR_CONNECT_PROXY", status, `status ${status}`, seen));
    };
    const settle = () => {
      settled = true;
      timer.release(abort);
    };
    // node:http reports every answer to CONNECT as 'connect', whatever its status.
    req.on("connect", (res: IncomingMessage, socket: Socket, head: Buffer) => {
      settle();
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        socket.destroy();
        refuse(res);
        return;
      }
      socket.on("error", ignoreError);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on("response", (res: IncomingMessage) => {
      settle();
      req.destroy();
      refuse(res);
    });
    req.on("error", (error: Error) => {
      if (settled) return;
      settle();
      reject(fromHttpError(error));
    });
    timer.watch(abort);
    req.end();
  });
}
