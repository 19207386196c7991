/**
 * One handshake request over node:http: dial (TCP, TLS, or through a proxy tunnel), send the GET,
 * and report the answer, upgraded or not.
 *
 * @module
 */

import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import type { PreparedHandshake } from "./client-handshake.js";
import type { ClientTlsOptions } from "./client-options.js";
import type { HandshakeTimer, TimeoutAbort } from "./handshake-timer.js";
import { fromHttpError } from "./http-error.js";
import { MAX_RESPONSE_HEAD } from "./response-head.js";
import type { Target } from "./target.js";

/** The server switched protocols (whether validly is for the handshake checks to say). */
export interface UpgradeAnswer {
  readonly kind: "upgrade";
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The upgraded socket. */
  readonly socket: Duplex;
  /** Bytes read past the response head. */
  readonly head: Buffer;
}

/** The server answered with an ordinary response (a refusal, a redirect); its socket is gone. */
export interface PlainAnswer {
  readonly kind: "response";
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
}

/** What one request got back. */
export type Answer = UpgradeAnswer | PlainAnswer;

/**
 * The socket for the request: `tunnel` (a proxy's) or a new TCP connection, wrapped in TLS for
 * `wss:` (and for an `https:` proxy, which has the same fields). The TLS server name defaults to the target's host name; `host` keeps the certificate
 * check right over a tunnel, where nothing is dialled.
 */
export function dial(
  target: Pick<Target, "secure" | "host" | "port" | "servername">,
  tls: ClientTlsOptions | undefined,
  tunnel?: Socket,
): Socket {
  if (!target.secure) return tunnel ?? netConnect({ host: target.host, port: target.port });
  const servername = tls?.servername ?? target.servername;
  return tlsConnect({
    ...tls,
    host: target.host,
    port: target.port,
    ...(servername === undefined ? {} : { servername }),
    ...(tunnel === undefined ? {} : { socket: tunnel }),
  });
}

/**
 * Sends the handshake request on the socket `createSocket` makes and resolves with the answer.
 * node:http parses the answer (with a 16 KiB head limit and its strict parser): a 101 with
 * `Upgrade` and `Connection` comes back with its socket, anything else as a plain answer whose
 * socket is destroyed.
 *
 * @returns a promise that rejects with the network error, a typed error for an unparsable
 *   answer, or the timer's `ERR_HANDSHAKE_TIMEOUT`
 */
export function exchange(
  target: Target,
  prepared: PreparedHandshake,
  createSocket: () => Socket,
  timer: HandshakeTimer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      method: "GET",
      host: target.host,
      port: target.port,
      path: target.path,
      headers: prepared.headers,
      setHost: false,
      maxHeaderSize: MAX_RESPONSE_HEAD,
      insecureHTTPParser: false,
      joinDuplicateHeaders: true,
      createConnection: createSocket,
    });
    let settled = false;
    const abort: TimeoutAbort = (error) => {
      settled = true;
      req.destroy();
      reject(error);
    };
    const settle = () => {
      settled = true;
      timer.release(abort);
    };
    req.on("upgrade", (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      settle();
      resolve({ kind: "upgrade", status: res.statusCode ?? 0, headers: res.headers, socket, head });
    });
    req.on("response", (res: IncomingMessage) => {
      settle();
      req.destroy();
      resolve({ kind: "response", status: res.statusCode ?? 0, headers: res.headers });
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
