/**
 * Options of `connect` and `fromDuplex`.
 *
 * @module
 */

import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Pool } from "../buffer/pool.js";
import type { PerMessageDeflateOptions } from "../deflate/negotiation.js";
import type { HandshakeError } from "../errors.js";
import type { OutgoingHeaders } from "../protocol/handshake.js";
import type { MaskSource } from "../protocol/mask.js";
import type { BackpressurePolicy, ReceiveOptions } from "../runtime/connection.js";
import type { ClientContext } from "./client-context.js";

/** The default {@link ClientOptions.handshakeTimeout}: 10 seconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The default {@link ConnectOptions.maxRedirects}. */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Options shared by `connect` and `fromDuplex`; the {@link ReceiveOptions} (`concurrency`,
 * `streamMessages`, `maxStreamSize`, `maxBacklogBytes`, `maxBacklogMessages`) among them.
 */
export interface ClientOptions extends ReceiveOptions {
  /** Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). */
  readonly protocols?: readonly string[];
  /**
   * Extra request headers, e.g. `Authorization` or `Cookie`. The handshake's own headers
   * (`Upgrade`, `Connection`, `Sec-WebSocket-*`) are refused; `Host` replaces the one derived
   * from the URL.
   */
  readonly headers?: OutgoingHeaders;
  /** The `Origin` header (RFC 6455 section 4.1, item 8). Default: none. */
  readonly origin?: string;
  /**
   * permessage-deflate (RFC 7692): offered by default. `false` offers nothing; an object sets
   * the offer's parameters, the threshold, level and memLevel. An answer that breaks the offer
   * fails the handshake with `ERR_HANDSHAKE_EXTENSIONS`.
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Milliseconds from the call to the open connection (dial, proxy tunnel, TLS, every redirect
   * and the response), after which the attempt fails with `ERR_HANDSHAKE_TIMEOUT`. `0` waits
   * forever. Default {@link DEFAULT_HANDSHAKE_TIMEOUT}.
   */
  readonly handshakeTimeout?: number;
  /** Largest message accepted, after decompression. Default 16 MiB. */
  readonly maxMessageSize?: number;
  /** Milliseconds to wait for the server to finish the close handshake. Default 5000. */
  readonly closeTimeout?: number;
  /** Answer pings automatically. Default `true`. */
  readonly autoPong?: boolean;
  /** Validate text messages as UTF-8 (RFC 6455 section 8.1). Default `true`. */
  readonly validateUtf8?: boolean;
  /** What a throwing handler does: `"log"` (default) or `"close"` (1011). */
  readonly recovery?: "log" | "close";
  /**
   * Milliseconds of silence after which the server is pinged; one that does not answer is
   * terminated, at most `2 * idleTimeout` after its last bytes. The connections of one
   * {@link ClientContext} with the same value share one timer. Default: off.
   */
  readonly idleTimeout?: number;
  /** `send` returns false once this many bytes are queued. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Queued bytes beyond which `backpressure` applies. Default 16 MiB; 0: none. */
  readonly maxBufferedAmount?: number;
  /** Past `maxBufferedAmount`: `"close"` (default, 1008) or `"drop"` (drop the message). */
  readonly backpressure?: BackpressurePolicy;
  /**
   * Shared resources (buffer pool, zlib contexts, mask source). Default: a new
   * {@link ClientContext} per call, which is wasteful for many connections.
   */
  readonly context?: ClientContext;
  /**
   * The buffer pool, used when no `context` is given (with a `context`, its pool is used, and a
   * different `pool` is an error).
   */
  readonly pool?: Pool;
  /** Masking keys; default: the context's `CryptoMaskSource`. Tests may pass a fixed source. */
  readonly maskSource?: MaskSource;
}

/** TLS settings for `wss:`, passed to `tls.connect` (`ca`, `rejectUnauthorized`, `servername`...). */
export type ClientTlsOptions = Omit<TlsConnectionOptions, "host" | "port" | "path" | "socket">;

/** Options of `connect`. */
export interface ConnectOptions extends ClientOptions {
  /**
   * TLS settings for `wss:` URLs. `servername` defaults to the URL's host name (none for an IP
   * address).
   */
  readonly tls?: ClientTlsOptions;
  /**
   * Follow 301, 302, 303, 307 and 308 answers with a `Location`. Default `false`: a redirect
   * fails the handshake with `ERR_HANDSHAKE_STATUS` and its status and headers. A redirect from
   * `wss:` to `ws:` is never followed; `Authorization` and `Cookie` are dropped when the host
   * or port changes.
   */
  readonly followRedirects?: boolean;
  /** The most redirects followed before `ERR_HANDSHAKE_REDIRECT`. Default 10. */
  readonly maxRedirects?: number;
  /**
   * A proxy to tunnel through with `CONNECT` (RFC 9110 section 9.3.6), e.g.
   * `"http://user:secret@proxy.local:3128"`. An `https:` URL (default port 443) speaks TLS to
   * the proxy, set by {@link proxyTls}; a `wss:` target then runs a second TLS session, end to
   * end, inside the tunnel. Credentials in the URL become `Proxy-Authorization: Basic`
   * (RFC 7617), sent to the proxy only. A refusal fails with `ERR_CONNECT_PROXY` and the proxy's
   * status and headers (e.g. 407 and its `proxy-authenticate`).
   */
  readonly proxy?: string | URL;
  /**
   * TLS settings for the connection to an `https:` {@link proxy}, passed to `tls.connect`
   * (`ca`, `rejectUnauthorized`, `cert`, `key`, `servername`...). `servername` defaults to the
   * proxy's host name (none for an IP address). Ignored for an `http:` proxy. The target's own
   * TLS settings are {@link tls}.
   */
  readonly proxyTls?: ClientTlsOptions;
  /**
   * Cancels the connection attempt: at any stage (DNS and TCP, TLS, the proxy tunnel, the
   * handshake, redirects) the promise rejects with a {@link HandshakeError} `ERR_WS_ABORTED`
   * (status 0, `cause` the signal's `reason`), every socket of the attempt is destroyed and
   * its timer cleared. A signal that is already aborted rejects at once, before anything is
   * dialled. Once the connection is open the signal has no effect (its listener is removed);
   * close the connection with `close()` or `terminate()`.
   *
   * ```ts
   * const conn = await connect(url, handler, { signal: AbortSignal.timeout(2000) });
   * ```
   */
  readonly signal?: AbortSignal;
}

/** Options of `fromDuplex`. */
export interface FromDuplexOptions extends ClientOptions {
  /**
   * The URL whose path, query and host go into the request line and `Host`; its scheme and
   * port only shape `Host`, nothing is dialled. Default `ws://localhost/`.
   */
  readonly url?: string | URL;
}
