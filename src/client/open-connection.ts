/**
 * The end of a client handshake: the runtime {@link Connection} over the stream, as the server's
 * Upgrader makes it, in the client role.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import { Connection, ConnectionConfig, type Handler } from "../runtime/connection.js";
import { DeflateMessageCodec } from "../runtime/message-codec.js";
import { peerAddress } from "../transport/peer-address.js";
import { attachStream } from "../transport/stream-transport.js";
import type { ClientContext } from "./client-context.js";
import type { AcceptedHandshake } from "./client-handshake.js";
import type { ClientOptions } from "./client-options.js";

/**
 * Opens the connection: codecs for the negotiated permessage-deflate, the runtime connection
 * (masking with the context's or the option's mask source), the stream listeners, then the
 * handler's `onOpen` and the bytes that came after the response head.
 *
 * @param head - bytes read past the response head: the server's first frames
 */
export function openClientConnection<S>(
  stream: Duplex,
  head: Buffer,
  handler: Handler<S>,
  accepted: AcceptedHandshake,
  context: ClientContext,
  options: ClientOptions,
): Connection<S> {
  let codec: DeflateMessageCodec | undefined;
  if (accepted.deflate !== undefined && accepted.deflateOptions !== undefined) {
    const factory = context.codecFactory(accepted.deflateOptions);
    const { inflater, deflater } = factory.create(accepted.deflate, "client");
    codec = new DeflateMessageCodec(
      inflater,
      deflater,
      context.pool,
      accepted.deflateOptions.threshold,
    );
  }
  const config = new ConnectionConfig<S>(handler, {
    role: "client",
    pool: context.pool,
    maskSource: options.maskSource ?? context.maskSource,
    maxMessageSize: options.maxMessageSize,
    autoPong: options.autoPong,
    validateUtf8: options.validateUtf8,
    closeTimeout: options.closeTimeout,
    recovery: options.recovery,
    highWaterMark: options.highWaterMark,
    maxBufferedAmount: options.maxBufferedAmount,
    backpressure: options.backpressure,
    concurrency: options.concurrency,
    maxBacklogBytes: options.maxBacklogBytes,
    maxBacklogMessages: options.maxBacklogMessages,
    streamMessages: options.streamMessages,
    maxStreamSize: options.maxStreamSize,
    heartbeat:
      options.idleTimeout === undefined ? undefined : context.heartbeat(options.idleTimeout),
    flusher: context.flusher,
  });
  const conn = new Connection<S>(stream, config, {
    codec,
    protocol: accepted.protocol,
    extensions: accepted.extensions,
    remoteAddress: peerAddress(stream),
  });
  attachStream(stream, conn, context.readBuffer);
  // node:http hands over the upgraded socket as it was; make sure it flows.
  stream.resume();
  conn.open(head);
  return conn;
}
