/**
 * `connect`: dial a WebSocket server and complete the opening handshake (RFC 6455 section 4.1).
 *
 * @module
 */

import { createError, createHandshakeError } from "../errors.js";
import { type Connection, checkReceiveOptions, type Handler } from "../runtime/connection.js";
import {
  completeHandshake,
  type PreparedHandshake,
  prepareHandshake,
  resolveClientDeflate,
} from "./client-handshake.js";
import {
  type ClientOptions,
  type ClientTlsOptions,
  type ConnectOptions,
  DEFAULT_MAX_REDIRECTS,
} from "./client-options.js";
import { abortedError, HandshakeTimer } from "./handshake-timer.js";
import { type Answer, dial, exchange } from "./http-exchange.js";
import { openClientConnection } from "./open-connection.js";
import { openTunnel, type ProxyTarget, parseProxy } from "./proxy-tunnel.js";
import { isRedirect, redirectTarget, sameServer, withoutCredentials } from "./redirect.js";
import { handshakeTimeout, nonNegativeInteger, resolveContext } from "./resolve-options.js";
import { parseTarget, type Target } from "./target.js";

/** One request: through the proxy's tunnel when there is one, else on a new connection. */
async function attempt(
  target: Target,
  prepared: PreparedHandshake,
  proxy: ProxyTarget | undefined,
  tls: ClientTlsOptions | undefined,
  timer: HandshakeTimer,
  proxyTls: ClientTlsOptions | undefined,
): Promise<Answer> {
  const tunnel = proxy === undefined ? undefined : await openTunnel(proxy, target, timer, proxyTls);
  try {
    return await exchange(target, prepared, () => dial(target, tls, tunnel), timer);
  } catch (error) {
    // The request owns the tunnel once it made its socket; this covers a failure before that.
    tunnel?.destroy();
    throw error;
  }
}

/**
 * The `signal` option, checked.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for something that is not an `AbortSignal`
 */
function resolveSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  // The shape node's own APIs check, so that a signal of another realm works too.
  const s = signal as Partial<AbortSignal> | null;
  if (
    typeof s === "object" &&
    s !== null &&
    typeof s.aborted === "boolean" &&
    typeof s.addEventListener === "function" &&
    typeof s.removeEventListener === "function"
  ) {
    return signal;
  }
  throw createError("ERR_INVALID_ARGUMENT", "signal must be an AbortSignal");
}

/** The headers of an answer, without the `undefined` entries of node's type. */
function received(headers: Answer["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Connects to a WebSocket server and resolves with the open connection, whose events go to
 * `handler` (its `onOpen` runs before the promise resolves).
 *
 * ```ts
 * const conn = await connect("wss://example.com/chat", {
 *   onMessage(conn, message) { console.log(message.text()); },
 * }, { protocols: ["chat.v1"] });
 * conn.send("hello");
 * ```
 *
 * `ws:` and `wss:` URLs are accepted, and `http:` and `https:` as their equivalents. The handshake
 * offers permessage-deflate unless `perMessageDeflate` is `false`, checks every header of the
 * answer, and must finish within `handshakeTimeout` (10 s by default), redirects and proxy
 * tunnel included.
 *
 * @param url - the server's URL; it must not have a fragment
 * @param handler - the connection's event handler
 * @param options - see {@link ConnectOptions}
 * @returns a promise of the open connection. It rejects with a {@link HandshakeError} whose
 *   `status` and `headers` are those of the answer (`ERR_HANDSHAKE_STATUS` for a refusal such as
 *   401, `ERR_HANDSHAKE_ACCEPT`, `ERR_HANDSHAKE_PROTOCOL`, `ERR_HANDSHAKE_EXTENSIONS`,
 *   `ERR_HANDSHAKE_REDIRECT`, `ERR_CONNECT_PROXY`; status 0 for `ERR_HANDSHAKE_TIMEOUT` and
 *   unparsable answers; `ERR_WS_ABORTED`, status 0 and `cause` the signal's reason, when the
 *   `signal` option fires first), a {@link UsageError} for invalid arguments, or the network
 *   error (`ECONNREFUSED`, a TLS certificate error...) unchanged.
 */
export async function connect<S = Record<string, unknown>>(
  url: string | URL,
  handler: Handler<S>,
  options: ConnectOptions = {},
): Promise<Connection<S>> {
  checkReceiveOptions(options, handler as Handler<never>);
  const context = resolveContext(options);
  const deflate = resolveClientDeflate(options.perMessageDeflate);
  const maxRedirects = nonNegativeInteger(
    "maxRedirects",
    options.maxRedirects,
    DEFAULT_MAX_REDIRECTS,
  );
  const proxy = options.proxy === undefined ? undefined : parseProxy(options.proxy);
  let target = parseTarget(url);
  let requestOptions: ClientOptions = options;
  let tls = options.tls;
  // Checks the options that prepareHandshake would only check after the timer started.
  prepareHandshake(target, requestOptions, deflate);
  const signal = resolveSignal(options.signal);
  const timeout = handshakeTimeout(options);
  // An aborted signal: nothing is dialled, no timer started.
  if (signal?.aborted === true) throw abortedError(signal);
  const timer = new HandshakeTimer(timeout, signal);
  try {
    for (let redirects = 0; ; redirects++) {
      const prepared = prepareHandshake(target, requestOptions, deflate);
      const answer = await attempt(target, prepared, proxy, tls, timer, options.proxyTls);
      // The deadline or the signal may have fired after the answer came, before this line ran.
      const failed = timer.failed;
      if (failed !== undefined) {
        if (answer.kind === "upgrade") answer.socket.destroy();
        throw failed;
      }
      if (answer.kind === "upgrade") {
        let accepted: ReturnType<typeof completeHandshake>;
        try {
          accepted = completeHandshake(prepared, answer.status, answer.headers);
        } catch (error) {
          answer.socket.destroy();
          throw error;
        }
        return openClientConnection(
          answer.socket,
          answer.head,
          handler,
          accepted,
          context,
          options,
        );
      }
      const headers = received(answer.headers);
      if (options.followRedirects !== true || !isRedirect(answer.status, answer.headers)) {
        // Throws for any status but 101; a 101 without Upgrade or Connection fails its checks.
        completeHandshake(prepared, answer.status, answer.headers);
        throw createHandshakeError("ERR_HANDSHAKE_STATUS", answer.status, "not upgraded", headers);
      }
      if (redirects >= maxRedirects) {
        throw createHandshakeError(
          "ERR_HANDSHAKE_REDIRECT",
          answer.status,
          `more than ${maxRedirects} redirects`,
          headers,
        );
      }
      const next = redirectTarget(target, answer.status, headers);
      if (!sameServer(target, next)) {
        requestOptions = { ...requestOptions, headers: withoutCredentials(requestOptions.headers) };
        // A server name set for the first host says nothing about another one.
        if (tls?.servername !== undefined) tls = { ...tls, servername: undefined };
      }
      target = next;
    }
  } finally {
    timer.clear();
  }
}
