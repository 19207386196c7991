/**
 * `fromDuplex`: the client handshake over a stream the application already has.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import { createHandshakeError } from "../errors.js";
import { type Connection, checkReceiveOptions, type Handler } from "../runtime/connection.js";
import { completeHandshake, prepareHandshake, resolveClientDeflate } from "./client-handshake.js";
import type { FromDuplexOptions } from "./client-options.js";
import { HandshakeTimer } from "./handshake-timer.js";
import { openClientConnection } from "./open-connection.js";
import { formatRequestHead } from "./request-head.js";
import { handshakeTimeout, resolveContext } from "./resolve-options.js";
import { type ResponseHead, ResponseHeadReader } from "./response-head.js";
import { parseTarget } from "./target.js";

/** The default {@link FromDuplexOptions.url}. */
const DEFAULT_URL = "ws://localhost/";

/**
 * Runs the client handshake over `stream` (a socket the application connected, a TLS stream, a
 * stream of an in-memory pair...) and resolves with the open connection.
 *
 * The request is written by hand and the response head is read strictly (status line, header
 * syntax, no obsolete folding, bare CR or LF, at most 16 KiB); bytes after the head are the
 * server's first frames and go to the connection. No redirect is followed and no proxy is used:
 * the stream is already connected to its peer. On failure the stream is destroyed.
 *
 * @param stream - a connected Duplex, not yet read from
 * @param handler - the connection's event handler
 * @param options - see {@link FromDuplexOptions}; `url` sets the request target and `Host`
 * @returns a promise of the open connection; it rejects as `connect` does (a
 *   {@link HandshakeError} with the answer's status and headers, `ERR_HANDSHAKE_MALFORMED` or
 *   `ERR_HANDSHAKE_HEADERS_TOO_LARGE` with status 0 for an unparsable head, `ERR_HANDSHAKE_MALFORMED`
 *   when the stream ends first, `ERR_HANDSHAKE_TIMEOUT`), or with the stream's error
 */
export function fromDuplex<S = Record<string, unknown>>(
  stream: Duplex,
  handler: Handler<S>,
  options: FromDuplexOptions = {},
): Promise<Connection<S>> {
  return new Promise((resolve, reject) => {
    checkReceiveOptions(options, handler as Handler<never>);
    const context = resolveContext(options);
    const target = parseTarget(options.url ?? DEFAULT_URL);
    const prepared = prepareHandshake(
      target,
      options,
      resolveClientDeflate(options.perMessageDeflate),
    );
    const timer = new HandshakeTimer(handshakeTimeout(options));
    const reader = new ResponseHeadReader();

    const stop = () => {
      timer.clear();
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.off("error", onError);
    };
    const fail = (error: Error) => {
      stop();
      stream.destroy();
      reject(error);
    };
    const answered = (head: ResponseHead) => {
      stop();
      const accepted = completeHandshake(prepared, head.status, head.headers);
      resolve(openClientConnection(stream, reader.leftover, handler, accepted, context, options));
    };
    const onData = (chunk: Buffer) => {
      let head: ResponseHead | undefined;
      try {
        head = reader.push(chunk);
        if (head !== undefined) answered(head);
      } catch (error) {
        fail(error as Error);
      }
    };
    const onEnd = () => {
      fail(
        createHandshakeError("ERR_HANDSHAKE_MALFORMED", 0, "the stream ended before the answer"),
      );
    };
    const onError = (error: Error) => fail(error);

    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onEnd);
    stream.on("error", onError);
    timer.watch(fail);
    stream.write(formatRequestHead(target.path, prepared.headers), "latin1");
  });
}
