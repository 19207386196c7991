import { Buffer } from "node:buffer";
import { createReadStream } from "node:fs";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import { createError, createStreamError, isTidewsError, type TidewsError } from "../errors.js";
import { defineFlags, type HasBits } from "../protocol/bit-flags.js";
import { CloseCode, closePayloadLength, isValidCloseCode } from "../protocol/close-codes.js";
import {
  type CloseInfo,
  HEADROOM_MIN,
  ProtocolConnection,
  type ProtocolSink,
  ReadyState,
  type ReadyStateValue,
} from "../protocol/connection.js";
import { MAX_HEADER_SIZE } from "../protocol/frame-encoder.js";
import { Opcode } from "../protocol/opcodes.js";
import {
  type ConnectionConfig,
  type ConnectionParams,
  integerOption,
  streamThresholdOf,
} from "./connection-config.js";
import { ConnectionExtras, HandlerSlot, HeldSend } from "./connection-extras.js";
import { channels } from "./diagnostics.js";
import type { HeartbeatMember } from "./heartbeat.js";
import { Message } from "./message.js";
import type { MessageCodec } from "./message-codec.js";
import { MessageStream, type MessageStreamHost } from "./message-stream.js";
import type { SharedFrame } from "./shared-frame.js";
import {
  DEFAULT_STREAM_FRAGMENT_SIZE,
  type SendStreamOptions,
  type StreamHost,
  StreamSender,
  type StreamSource,
} from "./stream-sender.js";
import { WriteQueue } from "./write-queue.js";

export {
  ConnectionConfig,
  type ConnectionOptions,
  type ConnectionParams,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BACKLOG_BYTES,
  DEFAULT_MAX_BACKLOG_MESSAGES,
  DEFAULT_MAX_BUFFERED_AMOUNT,
} from "./connection-config.js";

/** The byte stream a connection writes to: a `net.Socket`, a `tls.TLSSocket` or any Duplex. */
export interface ByteStream {
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  destroy(error?: Error): void;
  pause(): void;
  resume(): void;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
}

/** How the connection ended, as the `onClose` handler sees it. */
export type ConnectionCloseInfo = CloseInfo;

/**
 * The application's event handler, in the spirit of GWS's five-method interface. Every method is
 * optional; exceptions and rejections are caught (see {@link ConnectionOptions.recovery}).
 */
export interface Handler<S = Record<string, unknown>> {
  /** The connection is open. */
  onOpen?(conn: Connection<S>): void | Promise<void>;
  /**
   * A message arrived. See {@link Message} for who owns its buffer and for how long. An async
   * handler occupies one of the connection's `concurrency` slots (default 1) until its promise
   * settles: further messages wait, in order, and reading pauses when too many wait (see
   * {@link ReceiveOptions}). Its message's buffer is released when its own promise settles.
   */
  onMessage?(conn: Connection<S>, message: Message): void | Promise<void>;
  /**
   * A message arrived as a stream (only with the `streamMessages` option, for the messages it
   * selects; the others still go to {@link onMessage}). The stream occupies one of the
   * connection's `concurrency` slots until it ends or is destroyed; a rejection is reported like
   * any handler error and destroys the stream. See {@link MessageStream}.
   */
  onStream?(conn: Connection<S>, stream: MessageStream): void | Promise<void>;
  /** The connection is closed; called once. */
  onClose?(conn: Connection<S>, info: ConnectionCloseInfo): void;
  /** A ping arrived (already answered unless autoPong is off); `payload` is valid during the call. */
  onPing?(conn: Connection<S>, payload: Buffer): void;
  /** A pong arrived; `payload` is valid during the call. */
  onPong?(conn: Connection<S>, payload: Buffer): void;
  /** An error that did not close the connection by itself (e.g. thrown by a handler). */
  onError?(conn: Connection<S>, error: unknown): void;
  /** The queued bytes drained below the high-water mark after `send` returned false. */
  onDrain?(conn: Connection<S>): void;
}

/**
 * The pub/sub registry a connection belongs to (implemented by the topic index; the connection
 * only delegates). `except` is a connection to skip (a publish from a connection skips its sender).
 */
export interface TopicHost {
  subscribe(conn: Connection<never>, topic: string): boolean;
  unsubscribe(conn: Connection<never>, topic: string): boolean;
  topicsOf(conn: Connection<never>): ReadonlySet<string>;
  publish(
    topic: string,
    data: string | Uint8Array,
    options: PublishOptions | undefined,
    except: Connection<never> | undefined,
  ): number;
  /** The connection closed: drop all its subscriptions. */
  removeAll(conn: Connection<never>): void;
}

/** Options of {@link Connection.publish}. */
export interface PublishOptions {
  /** Send as binary (default for buffers) or text (default for strings). */
  readonly binary?: boolean;
  /** Compress (for recipients where a shared compressed frame is allowed). */
  readonly compress?: boolean;
  /** `conn.publish` skips the sender unless this is true. */
  readonly includeSelf?: boolean;
}

const NO_TOPICS: ReadonlySet<string> = new Set();

/** What happens when a connection's queued bytes pass `maxBufferedAmount`. */
export type BackpressurePolicy = "close" | "drop";

/**
 * How a connection receives messages; options of the server (`UpgraderOptions`) and of the
 * client (`ClientOptions`).
 */
export interface ReceiveOptions {
  /**
   * How many async handler calls (`onMessage` promises, message streams) of one connection may
   * be in flight at once. Messages still start in arrival order. Default 1: an async handler
   * holds the next messages back until its promise settles. An integer >= 1.
   */
  readonly concurrency?: number;
  /**
   * Stop reading from the peer while the messages waiting for a free handler slot hold more
   * than this many payload bytes; read again once they fall to half. Default
   * {@link DEFAULT_MAX_BACKLOG_BYTES} (1 MiB). One message always gets in, so the waiting bytes
   * stay under this bound plus one message (`maxMessageSize`). An integer >= 0.
   */
  readonly maxBacklogBytes?: number;
  /**
   * Stop reading from the peer while more than this many messages wait for a handler slot.
   * Default {@link DEFAULT_MAX_BACKLOG_MESSAGES} (1024). An integer >= 1.
   */
  readonly maxBacklogMessages?: number;
  /**
   * Receive some messages as streams, through `Handler.onStream` (which must then exist):
   * `true` streams every message; a number `n` streams the messages whose first frame is not
   * final (fragmented, size unknown up front) or declares at least `n` bytes. Default `false`.
   * Compressed (permessage-deflate) messages are inflated whole, within `maxMessageSize`, then
   * streamed as one chunk when they were fragmented or inflate to at least `n` bytes.
   */
  readonly streamMessages?: boolean | number;
  /**
   * Largest streamed (uncompressed) message, across its fragments; beyond, the connection fails
   * with 1009. Default: `maxMessageSize`. Raise it for large uploads: a stream costs at most its
   * 64 KiB buffer, whatever the message size.
   */
  readonly maxStreamSize?: number;
}

/**
 * Checks the {@link ReceiveOptions} (the server and client call it up front, so that a bad
 * option fails at once rather than at the first connection).
 *
 * @param handler - the handler the options go with: it must be an object whose `on*` members
 *   are functions, and `streamMessages` needs its `onStream`
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT`
 */
export function checkReceiveOptions(options: ReceiveOptions, handler: Handler<never>): void {
  checkHandler(handler);
  integerOption("concurrency", options.concurrency, 1, 1);
  integerOption("maxBacklogBytes", options.maxBacklogBytes, 0, 0);
  integerOption("maxBacklogMessages", options.maxBacklogMessages, 1, 1);
  integerOption("maxStreamSize", options.maxStreamSize, 0, 0);
  const threshold = streamThresholdOf(options.streamMessages);
  if (threshold !== undefined && typeof handler.onStream !== "function") {
    throw createError("ERR_INVALID_ARGUMENT", "streamMessages needs a handler with onStream");
  }
}

/** The members of a {@link Handler}, each a function when present. */
const HANDLER_METHODS = [
  "onOpen",
  "onMessage",
  "onStream",
  "onClose",
  "onPing",
  "onPong",
  "onError",
  "onDrain",
] as const;

/** A handler is an object (a class instance or a literal) of optional `on*` functions. */
function checkHandler(handler: unknown): void {
  if (typeof handler !== "object" || handler === null) {
    throw createError(
      "ERR_INVALID_ARGUMENT",
      `the handler must be an object with on* methods (got ${handler === null ? "null" : typeof handler})`,
    );
  }
  for (const name of HANDLER_METHODS) {
    const fn = (handler as Record<string, unknown>)[name];
    if (fn !== undefined && typeof fn !== "function") {
      throw createError("ERR_INVALID_ARGUMENT", `handler.${name} must be a function`);
    }
  }
}

/** Options of {@link Connection.send}. */
export interface SendOptions {
  /** Send as binary (default for buffers) or text (default for strings). */
  readonly binary?: boolean;
  /** Compress this message (when permessage-deflate was negotiated); default by threshold. */
  readonly compress?: boolean;
  /** `false` sends a fragment; the message continues with the next `send`. Default `true`. */
  readonly fin?: boolean;
  /** Cut the message into frames of at most this many bytes (sent uncompressed). */
  readonly fragmentSize?: number;
}

/** Pause reading while a compressed message inflates and this much input is queued. */
const PAUSE_INPUT_BYTES = 256 * 1024;
// Why reading from the stream is paused: each reason is set and cleared on its own, and the
// stream resumes only when none is left.
/** Parsing waits for an inflate and much input is queued behind it. */
const PAUSE_INFLATE = 1;
/** Too many messages wait for a handler slot (the core's parser is paused too). */
const PAUSE_BACKLOG = 2;
/** The message stream being received is full (the core's parser is paused too). */
const PAUSE_STREAM = 4;
/** The reasons that paused the core's parser through the sink. */
const SINK_PAUSES = PAUSE_BACKLOG | PAUSE_STREAM;
const EMPTY = Buffer.alloc(0);
/** The backlog of a connection that never needed one (shared, never written). */
const NO_BACKLOG: (Message | MessageStream)[] = Object.freeze([]) as unknown as (
  | Message
  | MessageStream
)[];

function destroyStream(stream: ByteStream): void {
  stream.destroy();
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function"
  );
}

function byteLengthOf(payload: string | Uint8Array): number {
  return typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
}

/**
 * One WebSocket connection over a byte stream: the protocol core plus the I/O-neutral logic every
 * transport shares (write batching and queueing, backpressure, handler dispatch, close timer,
 * heartbeat). The transport feeds it through the `handle*` methods.
 */
export class Connection<S = Record<string, unknown>>
  implements ProtocolSink, HeartbeatMember, MessageStreamHost, StreamHost
{
  /** The session data; `{}` is created on first read when `authorize` gave none. */
  private sessionData: S | undefined;
  /** The negotiated subprotocol, or "". */
  readonly protocol: string;
  /** The negotiated extensions (the Sec-WebSocket-Extensions value), or "". */
  readonly extensions: string;
  /** The peer's address, if known. */
  readonly remoteAddress: string | undefined;

  private readonly stream: ByteStream;
  private readonly core: ProtocolConnection;
  /** The settings shared with the other connections of the server or client call. */
  private readonly config: ConnectionConfig<S>;
  private readonly codec: MessageCodec | undefined;
  /**
   * The write queue, made at the first write: a connection that never sends holds none (nor
   * its write callback).
   */
  private queue: WriteQueue | undefined = undefined;

  /** The boolean fields below, one bit each (see bit-flags.ts). */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read and written by the accessors bit-flags.ts defines.
  private bits = 0;
  /** Frames were queued this tick: {@link flush} is due (at the end of handleData or next tick). */
  declare private corked: boolean;
  /** True while the core parses a chunk: frames queued meanwhile go out when it returns. */
  declare private parsing: boolean;
  declare private needDrain: boolean;
  /** The stream is a TCP socket: writes may go without a callback (see {@link quietWrites}). */
  declare private quietCapable: boolean;
  declare private closed: boolean;
  declare private opened: boolean;
  declare private streamEnded: boolean;
  /** The PAUSE_* reasons reading is paused for. */
  private pauseReasons = 0;
  /** stream.pause() was called and not resumed yet. */
  declare private inputPaused: boolean;
  /**
   * The peer ended the stream while parsing was paused (a compressed message inflating, or the
   * sink's backlog or message stream full): handled once parsing goes on.
   */
  declare private endPending: boolean;
  private seenEpoch = 0;
  /** A close requested while the codec still had messages queued. */
  private pendingClose: { code: number; reason: string } | undefined;
  declare private pinged: boolean;
  /** Async handler calls in flight: onMessage promises and message streams not finished. */
  private inFlight = 0;
  /** Messages and streams waiting for a handler slot, in arrival order. */
  private backlog: (Message | MessageStream)[] = NO_BACKLOG;
  /** Its consumer destroyed it: the rest of its frames are dropped. */
  declare private discarding: boolean;
  /** The stream message on the wire, if any (see {@link sendStream}). */
  private activeStream: StreamSender | undefined;
  /** What only some connections need, made on first use (see connection-extras.ts). */
  private extras: ConnectionExtras | undefined = undefined;

  /** @internal Created by the server or client. */
  constructor(stream: ByteStream, config: ConnectionConfig<S>, params: ConnectionParams = {}) {
    this.stream = stream;
    this.config = config;
    this.codec = params.codec;
    this.protocol = params.protocol ?? "";
    this.extensions = params.extensions ?? "";
    this.remoteAddress = params.remoteAddress;
    this.sessionData = params.session as S | undefined;
    this.core = new ProtocolConnection(
      this,
      config.protocol.withCompression(params.codec !== undefined),
    );
    this.codec?.attach(this.core, this);
  }

  /** Per-connection storage for the application (typed by the server's `S`). */
  get session(): S {
    // Created on first read: an idle connection whose application never looks costs no object.
    if (this.sessionData === undefined) this.sessionData = {} as S;
    return this.sessionData;
  }

  set session(value: S) {
    this.sessionData = value;
  }

  /** The state, numbered as the browser's `readyState`: 1 open, 2 closing, 3 closed. */
  get readyState(): ReadyStateValue {
    if (this.closed) return ReadyState.Closed;
    return this.pendingClose !== undefined ? ReadyState.Closing : this.core.state;
  }

  /** Bytes queued for the peer: in the library and in the stream, not yet flushed. */
  get bufferedAmount(): number {
    return (
      (this.queue?.bytes ?? 0) + (this.codec?.pendingBytes ?? 0) + (this.extras?.heldBytes ?? 0)
    );
  }

  /** True when permessage-deflate was negotiated. */
  get compressed(): boolean {
    return this.codec !== undefined;
  }

  // --- Sending ----------------------------------------------------------------------------------

  /**
   * Sends a message: strings as text, buffers, typed arrays and ArrayBuffers as binary (override
   * with `options.binary`). The bytes are copied (or compressed) before `send` returns.
   *
   * A received {@link Message} is forwarded with its own type and consumed: its buffer moves to
   * this connection and the message counts as released (`message.data` throws afterwards). It is
   * copied once at most: a message that arrived whole in one read is unmasked straight from the
   * input into the output; a large one (16 KiB and more) that spanned reads, or was kept, goes
   * out without any copy, its header written in front of the payload where it lies.
   *
   * @returns `false` when the caller should wait for `onDrain` (queued bytes over the
   *   high-water mark), and when the message was not sent: the connection is closing or closed
   *   (like `ws`, no exception), or the backpressure policy refused it
   */
  send(data: string | Uint8Array | ArrayBuffer | Message, options?: SendOptions): boolean {
    if (data instanceof Message) return this.sendMessage(data, options);
    if (!this.core.canSend || this.closed || this.pendingClose !== undefined) return false;
    const fin = options?.fin ?? true;
    let opcode: number;
    let payload: string | Uint8Array;
    if (typeof data === "string") {
      opcode = options?.binary === true ? Opcode.Binary : Opcode.Text;
      payload = data;
    } else {
      opcode = options?.binary === false ? Opcode.Text : Opcode.Binary;
      payload = data instanceof Uint8Array ? data : new Uint8Array(data);
    }
    return this.sendPayload(opcode, payload, fin, options);
  }

  /** `send` once the connection is known open and the opcode is known. */
  private sendPayload(
    opcode: number,
    payload: string | Uint8Array,
    fin: boolean,
    options: SendOptions | undefined,
  ): boolean {
    if (!this.admit(payload)) return false;
    if (this.activeStream !== undefined) this.holdMessage(opcode, payload, fin, options);
    else this.sendNow(opcode, payload, fin, options);
    if (fin && this.config.stats !== undefined) {
      this.config.stats.messagesOut++;
      this.config.stats.bytesOut += byteLengthOf(payload);
    }
    return this.underHighWaterMark();
  }

  private sendNow(
    opcode: number,
    payload: string | Uint8Array,
    fin: boolean,
    options: SendOptions | undefined,
  ): void {
    const codec = this.codec;
    const fragmentSize = options?.fragmentSize;
    if (fragmentSize !== undefined && fin && !codec?.busy && !this.core.sendingFragments) {
      const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
      this.core.sendFragmented(opcode, bytes, fragmentSize);
    } else if (codec === undefined) {
      this.core.send(opcode, payload, fin, false);
    } else if (codec.shouldCompress(payload, options?.compress, fin)) {
      codec.compress(opcode, payload, fin);
    } else if (codec.busy) {
      // Keep order behind messages still being compressed.
      codec.enqueuePlain(opcode, payload, fin);
    } else {
      this.core.send(opcode, payload, fin, false);
    }
  }

  /**
   * Forwards a received message (an echo, a relay) and consumes it: its buffer moves to this
   * connection, and the message is released, as after {@link Message.release}. A large message
   * goes out as a frame built in place around its payload, with no copy; otherwise (small,
   * compressed, fragmented, or received compressed) its bytes are sent as by {@link send}.
   * The opcode is the message's unless `options.binary` says otherwise.
   */
  private sendMessage(message: Message, options: SendOptions | undefined): boolean {
    const opcode =
      options?.binary === undefined ? message.opcode : options.binary ? Opcode.Binary : Opcode.Text;
    const fin = options?.fin ?? true;
    const input = message.input;
    if (
      input !== undefined &&
      this.codec === undefined &&
      this.activeStream === undefined &&
      options?.fragmentSize === undefined &&
      this.core.canSend &&
      !this.closed &&
      this.pendingClose === undefined
    ) {
      // Still in the input: unmasked straight into this tick's batch (or, past its frame size, a
      // frame of its own), one pass: no buffer of its own, no copy in between.
      const size = message.length;
      if (!this.admitSize(size)) {
        message.release();
        return false;
      }
      try {
        this.core.sendRangeOf(
          opcode,
          input,
          message.inputStart,
          message.inputEnd,
          message.inputKey,
          fin,
        );
      } finally {
        message.release();
      }
      if (fin && this.config.stats !== undefined) {
        this.config.stats.messagesOut++;
        this.config.stats.bytesOut += size;
      }
      return this.underHighWaterMark();
    }
    const buf = message.take();
    if (!this.core.canSend || this.closed || this.pendingClose !== undefined) {
      this.config.pool.put(buf);
      return false;
    }
    const codec = this.codec;
    const inPlace =
      buf.off >= MAX_HEADER_SIZE &&
      buf.len >= HEADROOM_MIN &&
      fin &&
      options?.fragmentSize === undefined &&
      !this.core.sendingFragments &&
      this.activeStream === undefined &&
      (codec === undefined ||
        (!codec.busy && !codec.shouldCompress(buf.bytes(), options?.compress, true)));
    if (
      !inPlace &&
      codec === undefined &&
      this.activeStream === undefined &&
      options?.fragmentSize === undefined
    ) {
      // The common relay of a small message: copied straight from its buffer into this tick's
      // batch (no view of it, none of send()'s dispatch), then the buffer goes back at once.
      const size = buf.len;
      if (!this.admitSize(size)) {
        this.config.pool.put(buf);
        return false;
      }
      try {
        this.core.sendCopyOf(opcode, buf, fin);
      } finally {
        this.config.pool.put(buf);
      }
      if (fin && this.config.stats !== undefined) {
        this.config.stats.messagesOut++;
        this.config.stats.bytesOut += size;
      }
      return this.underHighWaterMark();
    }
    if (!inPlace) {
      // Copied (or compressed) like any send, then the buffer goes back at once.
      const sent = this.sendPayload(opcode, buf.bytes(), fin, options);
      this.config.pool.put(buf);
      return sent;
    }
    const size = buf.len;
    if (!this.admitSize(size)) {
      this.config.pool.put(buf);
      return false;
    }
    // The header goes into the room in front of the payload; the buffer is the frame.
    this.core.sendBuffer(opcode, buf, true, false);
    // Sent on while the input is parsed: an echo, whose answers to the rest of a read fit
    // after the next such message when it has room for them (see ProtocolConnection.echoesInput).
    if (this.parsing) this.core.echoesInput = true;
    if (this.config.stats !== undefined) {
      this.config.stats.messagesOut++;
      this.config.stats.bytesOut += size;
    }
    return this.underHighWaterMark();
  }

  /** Sends a text message. */
  sendText(text: string, options?: Omit<SendOptions, "binary">): boolean {
    return this.send(text, options === undefined ? undefined : { ...options, binary: false });
  }

  /** Sends a binary message. */
  sendBinary(data: Uint8Array | ArrayBuffer, options?: Omit<SendOptions, "binary">): boolean {
    return this.send(data, { ...options, binary: true });
  }

  /**
   * Sends several buffers as one binary message (or text with `binary: false`) without
   * concatenating them first.
   */
  writev(parts: readonly Uint8Array[], options?: SendOptions): boolean {
    if (!this.core.canSend || this.closed || this.pendingClose !== undefined) return false;
    const opcode = options?.binary === false ? Opcode.Text : Opcode.Binary;
    const fin = options?.fin ?? true;
    let size = 0;
    for (const p of parts) size += p.byteLength;
    if (!this.admitSize(size)) return false;
    const codec = this.codec;
    if (this.activeStream !== undefined) {
      const copy = this.config.pool.get(size);
      for (const p of parts) copy.write(p);
      this.pushHeld(new HeldSend(opcode, fin, undefined, copy, undefined, undefined, size));
    } else if (codec?.busy) {
      if (parts.length === 0) codec.enqueuePlain(opcode, EMPTY, fin);
      for (let i = 0; i < parts.length; i++) {
        codec.enqueuePlain(opcode, parts[i] as Uint8Array, fin && i === parts.length - 1);
      }
    } else {
      this.core.sendParts(opcode, parts, fin, false);
    }
    if (fin && this.config.stats !== undefined) {
      this.config.stats.messagesOut++;
      this.config.stats.bytesOut += size;
    }
    return this.underHighWaterMark();
  }

  /**
   * Sends ONE message whose payload is read from `source` (a Node Readable, or any async
   * iterable of `Uint8Array` / string chunks), in frames of at most `options.fragmentSize`
   * bytes (RFC 6455 section 5.4: the first frame carries the opcode, continuation frames follow,
   * the last has FIN set). Memory stays constant: the source is read only while
   * {@link bufferedAmount} is under the high-water mark, and one pooled fragment buffer is
   * filled at a time.
   *
   * While the message is on the wire, other messages (`send`, `writev`, broadcasts, another
   * `sendStream`) are held back whole, in order, and go out right after its last frame; they
   * count towards `bufferedAmount` and the `maxBufferedAmount` policy. Pings, pongs and the
   * close frame may go between its fragments. Stream messages are never compressed (RFC 7692
   * lets any message go uncompressed). A stream cannot start while a message sent with
   * `fin: false` is unfinished (`ERR_WS_INVALID_STATE`).
   *
   * Once a frame of it was sent, a failure (source error, invalid text, abort) closes the
   * connection with 1011: a half-sent message can only be ended by closing. `close()` during the
   * stream abandons it (the close frame follows the fragments already queued).
   *
   * @returns a promise that resolves when the last frame was queued for the wire, or rejects
   *   with `ERR_WS_STREAM_SOURCE` (the source failed; `cause` is its error),
   *   `ERR_WS_STREAM_INVALID_UTF8`, `ERR_WS_STREAM_ABORTED`, `ERR_WS_STREAM_CLOSED` (the
   *   connection closed or `close()` was called first), `ERR_WS_NOT_OPEN`,
   *   `ERR_WS_INVALID_STATE` or `ERR_INVALID_ARGUMENT`. On rejection the source is destroyed
   *   (a Readable) or its iterator returned.
   */
  sendStream(source: StreamSource, options?: SendStreamOptions): Promise<void> {
    let sender: StreamSender;
    try {
      sender = new StreamSender(this, this.config.pool, source, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (sender.done) return sender.promise; // aborted already
    if (!this.core.canSend || this.closed || this.pendingClose !== undefined) {
      sender.fail(createError("ERR_WS_NOT_OPEN"));
    } else if (this.activeStream !== undefined) {
      this.pushHeld(new HeldSend(0, true, undefined, undefined, undefined, sender, 0));
    } else {
      this.startStream(sender);
    }
    return sender.promise;
  }

  /**
   * Sends the file at `path` as ONE message (binary unless `options.binary` is false), read with
   * `fs.createReadStream` in chunks of `fragmentSize`: {@link sendStream} over the file. A file
   * that cannot be opened rejects with `ERR_WS_STREAM_SOURCE` before anything is sent.
   */
  sendFile(path: string, options?: SendStreamOptions): Promise<void> {
    const fragmentSize = options?.fragmentSize ?? DEFAULT_STREAM_FRAGMENT_SIZE;
    if (!Number.isInteger(fragmentSize) || fragmentSize < 1) {
      return Promise.reject(
        createError("ERR_INVALID_ARGUMENT", `fragmentSize must be >= 1, got ${fragmentSize}`),
      );
    }
    if (!this.core.canSend || this.closed || this.pendingClose !== undefined) {
      return Promise.reject(createError("ERR_WS_NOT_OPEN"));
    }
    return this.sendStream(createReadStream(path, { highWaterMark: fragmentSize }), options);
  }

  /** @internal StreamHost: may the stream hand over its next frame? */
  streamWritable(): boolean {
    // Held sends are not counted: they wait for this stream, which must not wait for them. An
    // empty queue is always writable (a high-water mark of 0 must not stall the stream).
    if (this.closed || this.codec?.busy === true) return false;
    const queued = (this.queue?.bytes ?? 0) + (this.codec?.pendingBytes ?? 0);
    return queued === 0 || queued < this.config.highWaterMark;
  }

  /** @internal StreamHost: the next frame of the stream message; takes `buf`. */
  streamFrame(opcode: number, buf: ByteBuffer, fin: boolean, first: boolean): void {
    if (first && this.core.sendingFragments) {
      this.config.pool.put(buf);
      throw createError("ERR_WS_INVALID_STATE", "a message sent with fin: false is unfinished");
    }
    if (this.closed || this.pendingClose !== undefined || !this.core.canSend) {
      this.config.pool.put(buf);
      throw createError("ERR_WS_NOT_OPEN");
    }
    const size = buf.len;
    this.core.sendBuffer(opcode, buf, fin, false);
    if (this.config.stats !== undefined) {
      this.config.stats.bytesOut += size;
      if (fin) this.config.stats.messagesOut++;
    }
  }

  /** @internal StreamHost: a stream finished or failed. */
  streamFinished(sender: StreamSender, error: TidewsError | undefined, midMessage: boolean): void {
    if (sender !== this.activeStream) {
      // A queued stream failed (aborted) before its turn: forget it.
      const extras = this.extras;
      if (extras === undefined) return;
      for (let i = extras.heldHead; i < extras.held.length; i++) {
        if (extras.held[i]?.stream === sender) {
          extras.held.splice(i, 1);
          break;
        }
      }
      return;
    }
    this.activeStream = undefined;
    if (error !== undefined && midMessage) {
      // RFC 6455 section 5.4: a fragmented message ends with a FIN frame and nothing else may
      // come between its fragments but control frames. A message that cannot be completed
      // leaves one way out: closing the connection (1011), and nothing held can follow it.
      this.withExtras().closeError ??= error;
      this.stopStreams("an earlier stream message failed");
      if (this.core.canSend && !this.closed) this.close(CloseCode.Internal, "");
      return;
    }
    this.replayHeld();
  }

  private startStream(sender: StreamSender): void {
    this.activeStream = sender;
    sender.start();
  }

  private holdMessage(
    opcode: number,
    payload: string | Uint8Array,
    fin: boolean,
    options: SendOptions | undefined,
  ): void {
    const size = byteLengthOf(payload);
    const copy = this.config.pool.get(size);
    if (typeof payload === "string") copy.writeString(payload);
    else copy.write(payload);
    const kept =
      options === undefined
        ? undefined
        : { compress: options.compress, fragmentSize: options.fragmentSize };
    this.pushHeld(new HeldSend(opcode, fin, kept, copy, undefined, undefined, size));
  }

  private pushHeld(entry: HeldSend): void {
    const extras = this.withExtras();
    extras.held.push(entry);
    extras.heldBytes += entry.size;
  }

  /** The stream message is complete: sends what was held back, up to the next stream. */
  private replayHeld(): void {
    const extras = this.extras;
    if (extras === undefined) return;
    // `extras.held` is read on every turn: a send below may fail the connection, and
    // stopStreams empty the queue, while this loop runs.
    while (this.activeStream === undefined && extras.heldHead < extras.held.length) {
      const entry = extras.held[extras.heldHead] as HeldSend;
      extras.held[extras.heldHead] = undefined as unknown as HeldSend;
      extras.heldHead++;
      extras.heldBytes -= entry.size;
      if (entry.stream !== undefined) {
        if (entry.stream.done) continue;
        if (!this.core.canSend || this.closed)
          entry.stream.fail(createError("ERR_WS_STREAM_CLOSED"));
        else this.startStream(entry.stream);
        continue;
      }
      const shared = entry.shared;
      if (shared !== undefined) {
        entry.shared = undefined;
        if (this.codec?.busy) this.codec.enqueueShared(shared);
        else this.writeShared(shared);
        continue;
      }
      const payload = entry.payload as ByteBuffer;
      entry.payload = undefined;
      if (this.core.canSend && !this.closed) {
        this.sendNow(entry.opcode, payload.bytes(), entry.fin, entry.options);
      }
      this.config.pool.put(payload);
    }
    if (extras.heldHead === extras.held.length) {
      extras.held.length = 0;
      extras.heldHead = 0;
    }
  }

  /**
   * Abandons the stream message in progress and every held send (the connection is closing):
   * rejects the streams with `ERR_WS_STREAM_CLOSED` (`detail` appended), releases held payloads
   * and frame references.
   */
  private stopStreams(detail?: string): void {
    const active = this.activeStream;
    const extras = this.extras;
    const none = extras === undefined || extras.heldHead === extras.held.length;
    if (active === undefined && none) return;
    // Made only when there is a stream to fail: every close passes here.
    const error = createError("ERR_WS_STREAM_CLOSED", detail);
    this.activeStream = undefined;
    // Detached first: failing a queued stream calls back into streamFinished.
    let held: HeldSend[] = [];
    if (extras !== undefined) {
      held = extras.held.slice(extras.heldHead);
      extras.held = [];
      extras.heldHead = 0;
      extras.heldBytes = 0;
    }
    active?.fail(error);
    for (const entry of held) {
      if (entry.payload !== undefined) this.config.pool.put(entry.payload);
      entry.shared?.unref();
      entry.stream?.fail(error);
    }
  }

  // --- Pub/sub --------------------------------------------------------------------------------

  /**
   * Subscribes to `topic`; messages published to it reach this connection, in publish order.
   *
   * @returns false when already subscribed
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` on a connection without a topic registry
   */
  subscribe(topic: string): boolean {
    return this.topicRegistry().subscribe(this as unknown as Connection<never>, topic);
  }

  /** Unsubscribes from `topic`; false when not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.topicRegistry().unsubscribe(this as unknown as Connection<never>, topic);
  }

  /** The topics this connection is subscribed to. */
  get topics(): ReadonlySet<string> {
    return this.config.topics?.topicsOf(this as unknown as Connection<never>) ?? NO_TOPICS;
  }

  /**
   * Publishes to every subscriber of `topic`, skipping this connection unless
   * `options.includeSelf`.
   *
   * @returns the number of local recipients it was queued for
   */
  publish(topic: string, data: string | Uint8Array, options?: PublishOptions): number {
    const except =
      options?.includeSelf === true ? undefined : (this as unknown as Connection<never>);
    return this.topicRegistry().publish(topic, data, options, except);
  }

  private topicRegistry(): TopicHost {
    if (this.config.topics === undefined) {
      throw createError("ERR_WS_INVALID_STATE", "this connection has no topic registry");
    }
    return this.config.topics;
  }

  /** Sends a ping with up to 125 bytes of payload. */
  ping(payload?: Uint8Array | string): void {
    this.core.ping(typeof payload === "string" ? Buffer.from(payload) : payload);
  }

  /** Sends an unsolicited pong with up to 125 bytes of payload. */
  pong(payload?: Uint8Array | string): void {
    this.core.pong(typeof payload === "string" ? Buffer.from(payload) : payload);
  }

  /**
   * Starts the close handshake (RFC 6455 section 7.1.2). If the peer does not complete it within
   * the close timeout, the stream is destroyed. Does nothing once closing.
   *
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a code or reason that may not be sent
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.closed || this.pendingClose !== undefined) return;
    if (this.core.canSend) {
      closePayloadLength(reason);
      if (!isValidCloseCode(code)) {
        throw createError("ERR_INVALID_ARGUMENT", `close code ${code} may not be sent`);
      }
    }
    // A stream message in progress is abandoned: the close frame may follow its fragments
    // (RFC 6455 section 5.4 lets control frames sit between them), and ends the message.
    this.stopStreams("close() was called");
    if (this.codec?.busy === true && this.core.canSend) {
      // Messages are still being compressed: the close frame must follow them (RFC 6455
      // section 5.5.1). Check the arguments now, send when the codec's queue is empty.
      closePayloadLength(reason);
      if (!isValidCloseCode(code)) {
        throw createError("ERR_INVALID_ARGUMENT", `close code ${code} may not be sent`);
      }
      this.pendingClose = { code, reason };
    } else {
      this.core.close(code, reason);
    }
    this.armCloseTimer();
  }

  /** @internal Compression statistics, from the codec. */
  recordDeflate(input: number, output: number): void {
    if (this.config.stats === undefined) return;
    this.config.stats.deflateIn += input;
    this.config.stats.deflateOut += output;
  }

  /** @internal The codec's queue is empty: a close that waited for it goes out now. */
  codecIdle(): void {
    this.activeStream?.writable();
    const pending = this.pendingClose;
    if (pending === undefined || this.closed) return;
    this.pendingClose = undefined;
    this.core.close(pending.code, pending.reason);
  }

  /** Destroys the stream at once, without a close handshake. */
  terminate(): void {
    if (this.closed) return;
    this.core.abort();
    this.stream.destroy();
  }

  /**
   * @internal Writes a pre-encoded shared frame (a broadcast) in order with this connection's
   * other messages. Applies the backpressure policy.
   *
   * @returns false when not queued (closing, or refused by the backpressure policy)
   */
  sendShared(frame: SharedFrame, payloadSize: number): boolean {
    if (!this.core.canSend || this.config.role !== "server") return false;
    // A stream message holds the frame back until its last fragment; a fragmented message sent
    // with `fin: false` cannot be waited for, so the frame is not queued then.
    if (this.activeStream === undefined && this.core.sendingFragments) return false;
    if (!this.admitSize(payloadSize)) return false;
    frame.ref();
    if (this.activeStream !== undefined) {
      this.pushHeld(new HeldSend(0, true, undefined, undefined, frame, undefined, frame.len));
    } else if (this.codec?.busy) this.codec.enqueueShared(frame);
    else this.writeShared(frame);
    if (this.config.stats !== undefined) {
      this.config.stats.messagesOut++;
      this.config.stats.bytesOut += payloadSize;
    }
    this.underHighWaterMark();
    return true;
  }

  /**
   * @internal The transport found a TCP socket, whose writes are out once `writableLength` is
   * back to 0: the write queue may then write without a callback.
   */
  useQuietWrites(): void {
    this.quietCapable = true;
  }

  /**
   * @internal Whether the write queue may write without a callback now: a TCP socket, and no
   * write completion is awaited (no `onDrain` due, no stream being sent, which both learn of
   * progress through the callbacks).
   */
  get quietWrites(): boolean {
    return this.quietCapable && !this.needDrain && this.activeStream === undefined;
  }

  /**
   * @internal True when `frame` is the last thing this connection queued and it may still send:
   * a broadcast appended to `frame` before it is written then follows everything sent before
   * it, as its own frame would.
   */
  endsWithShared(frame: SharedFrame): boolean {
    return (
      this.queue?.lastQueued === frame &&
      this.core.canSend &&
      !this.closed &&
      this.pendingClose === undefined
    );
  }

  /** @internal The deflate window a shared compressed frame must fit, or undefined (plain only). */
  get sharedDeflateWindowBits(): number | undefined {
    return this.codec?.sharedWindowBits;
  }

  /** @internal Called by the codec for a queued shared frame; takes over one reference. */
  writeShared(frame: SharedFrame): void {
    if (this.closed || this.streamEnded || !this.core.canSend) {
      frame.unref();
      return;
    }
    this.cork();
    if (this.config.stats !== undefined) this.config.stats.wireBytesOut += frame.len;
    this.writes().push(frame, false);
  }

  // --- ProtocolSink -----------------------------------------------------------------------------

  /** @internal */
  onMessage(opcode: number, data: ByteBuffer): boolean {
    if (this.config.stats !== undefined) {
      this.config.stats.messagesIn++;
      this.config.stats.bytesIn += data.len;
    }
    const message = new Message(opcode, data, this.config.pool);
    if (this.inFlight < this.config.concurrency && this.backlog.length === 0) {
      this.dispatch(message);
      return true;
    }
    this.withExtras().backlogBytes += data.len;
    return this.enqueue(message);
  }

  /**
   * @internal A whole message still in the input (see `ProtocolSink.onMessageView`). The same
   * steps as {@link onMessage}, written out: with a helper shared by the two, `echo-1k` ran at
   * 0.94x and 0.93x (A/B runs of 4 and 6 rounds).
   */
  onMessageView(opcode: number, chunk: Buffer, start: number, end: number, key: number): boolean {
    if (this.config.stats !== undefined) {
      this.config.stats.messagesIn++;
      this.config.stats.bytesIn += end - start;
    }
    const { pool, protocol } = this.config;
    const message = Message.inInput(opcode, chunk, start, end, key, pool, protocol.xorInto);
    if (this.inFlight < this.config.concurrency && this.backlog.length === 0) {
      this.dispatch(message);
      return true;
    }
    // Queued: it outlives the input.
    message.own();
    this.withExtras().backlogBytes += end - start;
    return this.enqueue(message);
  }

  /** @internal A message to stream begins. */
  onMessageStart(opcode: number): void {
    if (this.config.stats !== undefined) this.config.stats.messagesIn++;
    const stream = new MessageStream(opcode, this);
    this.withExtras().receiving = stream;
    this.discarding = false;
    if (this.inFlight < this.config.concurrency && this.backlog.length === 0) {
      this.dispatchStream(stream);
    } else {
      // Waits in order; its buffer fills meanwhile, then backpressure pauses reading.
      if (this.backlog === NO_BACKLOG) this.backlog = [];
      this.backlog.push(stream);
    }
  }

  /** @internal A piece of the streamed message. */
  onMessageChunk(data: Buffer): boolean {
    if (this.config.stats !== undefined) this.config.stats.bytesIn += data.length;
    const stream = this.extras?.receiving;
    if (stream === undefined || this.discarding) return true;
    // Destroyed from a "data" listener during the push: no _read will come, do not wait for one.
    if (stream.pushChunk(data) || this.discarding) return true;
    this.pauseInput(PAUSE_STREAM);
    return false;
  }

  /** @internal The streamed message is complete. */
  onMessageEnd(): boolean {
    const extras = this.withExtras();
    const stream = extras.receiving;
    extras.receiving = undefined;
    if (stream !== undefined && !this.discarding) stream.finish();
    this.discarding = false;
    if (!this.overBacklog()) return true;
    this.pauseInput(PAUSE_BACKLOG);
    return false;
  }

  /** @internal The connection ended before the streamed message did. */
  onMessageAbort(): void {
    const extras = this.extras;
    const stream = extras?.receiving;
    if (extras !== undefined) extras.receiving = undefined;
    this.discarding = false;
    if (stream === undefined || stream.destroyed) return;
    if (!stream.dispatched) {
      // No consumer yet, none will come: no error event nobody listens to.
      stream.destroy();
      return;
    }
    const error = this.core.closeInfo.error ?? createError("ERR_WS_MESSAGE_INCOMPLETE");
    stream.destroy(error);
  }

  // --- MessageStreamHost ------------------------------------------------------------------------

  /** @internal The consumer of a message stream wants more. */
  streamRead(stream: MessageStream): void {
    if (stream === this.extras?.receiving) this.releaseSinkPause(PAUSE_STREAM);
  }

  /** @internal A message stream was read to its end or destroyed. */
  streamClosed(stream: MessageStream): void {
    if (stream === this.extras?.receiving) {
      // Destroyed by its consumer before the message ended: drop the rest of its frames.
      this.discarding = true;
      this.releaseSinkPause(PAUSE_STREAM);
    }
    if (stream.dispatched) {
      this.inFlight--;
      this.pump();
    }
  }

  /** @internal */
  onCompressedMessage(opcode: number, data: ByteBuffer): void {
    if (this.codec === undefined) {
      this.config.pool.put(data);
      this.core.failInflate(createError("ERR_WS_INTERNAL", "compressed message without a codec"));
      return;
    }
    this.codec.decompress(opcode, data, this.core.maxMessageSize);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    const fn = this.config.handler.onPing;
    if (fn === undefined) return;
    try {
      fn.call(this.config.handler, this, payload);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** @internal */
  onPong(payload: Buffer): void {
    const fn = this.config.handler.onPong;
    if (fn === undefined) return;
    try {
      fn.call(this.config.handler, this, payload);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** @internal */
  onOutput(frame: ByteBuffer): void {
    if (this.closed || this.streamEnded) {
      this.config.pool.put(frame);
      return;
    }
    const opcode = (frame.storage[frame.off] as number) & 0x0f;
    if (opcode === Opcode.Pong && this.stream.writableNeedDrain) {
      // RFC 6455 section 5.5.3: an endpoint that has not yet answered earlier pings "MAY elect
      // to send a Pong frame for only the most recently processed Ping frame". While the stream
      // is full, only the latest pong is kept, and it goes out on drain: a peer that pings
      // without reading cannot pile pongs up here.
      const extras = this.withExtras();
      if (extras.deferredPong !== undefined) this.config.pool.put(extras.deferredPong);
      extras.deferredPong = frame;
      return;
    }
    this.cork();
    if (this.config.stats !== undefined) this.config.stats.wireBytesOut += frame.len;
    // Pings and pongs overtake data waiting for the stream (RFC 6455 section 5.4 lets control
    // frames sit between the frames of a message). A close frame does not: it must follow every
    // data frame queued before it (section 5.5.1), and the close timer bounds its wait.
    this.writes().push(frame, opcode === Opcode.Ping || opcode === Opcode.Pong);
  }

  /** @internal The core builds a frame straight into this tick's batch. */
  frameRoom(size: number, existing?: boolean): ByteBuffer | undefined {
    if (this.closed || this.streamEnded) return undefined;
    return existing === true ? this.writes().existingRoom(size) : this.writes().room(size);
  }

  /** @internal */
  onOutputAppended(size: number): void {
    this.cork();
    if (this.config.stats !== undefined) this.config.stats.wireBytesOut += size;
  }

  /** @internal */
  onPeerClose(_code: number, _reason: string): void {}

  /** @internal */
  onEnd(): void {
    this.stopStreams();
    if (this.streamEnded) return;
    if (this.config.role === "server") {
      // RFC 6455 section 7.1.1: the server closes the TCP connection first. Frames still waiting
      // for the stream to drain are written first; end() flushes, then sends FIN.
      this.flush();
      if ((this.queue?.waiting ?? 0) === 0) {
        this.streamEnded = true;
        this.stream.end();
      }
    }
    // A client waits for the server's FIN; the close timer destroys the stream otherwise.
    this.armCloseTimer();
  }

  // --- HeartbeatMember --------------------------------------------------------------------------

  /** @internal */
  heartbeatTick(epoch: number): void {
    if (this.seenEpoch >= epoch - 1) {
      this.pinged = false;
      return;
    }
    if (!this.pinged && this.core.canSend) {
      this.pinged = true;
      this.core.ping(EMPTY);
      return;
    }
    // Silent for a whole tick after the ping (or closing and silent): the peer is gone.
    this.core.abort(createError("ERR_WS_HEARTBEAT_TIMEOUT"));
    this.stream.destroy();
  }

  // --- Transport events ------------------------------------------------------------------------

  /**
   * @internal The transport passes every chunk read from the stream. A `transient` chunk is a
   * view of a read buffer the transport reuses for the next read: valid during the call only.
   */
  handleData(chunk: Buffer, transient = false): void {
    if (this.config.heartbeat !== undefined) this.seenEpoch = this.config.heartbeat.epoch;
    if (this.config.stats !== undefined) this.config.stats.wireBytesIn += chunk.length;
    this.parsing = true;
    this.queue?.expect(chunk.length);
    try {
      this.core.receive(chunk, transient);
    } finally {
      this.parsing = false;
      // What the handlers sent in answer to this chunk leaves now, in one write.
      if (this.corked) this.flush();
    }
    if (
      this.core.paused &&
      (this.pauseReasons & PAUSE_INFLATE) === 0 &&
      this.core.bufferedInput >= PAUSE_INPUT_BYTES
    ) {
      this.pauseInput(PAUSE_INFLATE);
    }
  }

  /** @internal Resumes reading once an inflate finished (called by the codec). */
  resumeInput(): void {
    this.parserMoved();
  }

  /** @internal The peer ended its side of the stream. */
  handleEnd(): void {
    if (this.core.paused && this.core.state !== ReadyState.Closed) {
      // Every byte that arrived before the end is still parsed: the message being inflated and
      // the input queued behind it come first, as they would without compression.
      this.endPending = true;
      return;
    }
    this.core.receiveEof();
    if (!this.streamEnded) {
      this.flush();
      this.streamEnded = true;
      this.stream.end();
    }
  }

  /** @internal The stream reported an error. */
  handleError(error: Error): void {
    if (this.core.state !== ReadyState.Closed) {
      this.core.abort(isTidewsError(error) ? error : createStreamError("ERR_WS_INTERNAL", error));
    }
    if (channels.error.hasSubscribers) channels.error.publish({ connection: this, error });
  }

  /** @internal The stream drained. */
  handleDrain(): void {
    const extras = this.extras;
    const pong = extras?.deferredPong;
    if (extras !== undefined && pong !== undefined) {
      extras.deferredPong = undefined;
      this.onOutput(pong);
    }
    this.queue?.drain();
    if (this.streamEnded === false && this.core.closeExpected() && this.config.role === "server") {
      this.onEndAfterDrain();
    }
    this.maybeDrain();
  }

  /** @internal The stream is closed: release everything and tell the handler, once. */
  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.core.state !== ReadyState.Closed) this.core.abort();
    const extras = this.extras;
    if (extras?.closeTimer !== undefined) clearTimeout(extras.closeTimer);
    this.stopStreams();
    this.codec?.close();
    this.queue?.clear();
    if (extras !== undefined) {
      if (extras.deferredPong !== undefined) {
        this.config.pool.put(extras.deferredPong);
        extras.deferredPong = undefined;
      }
      // In-flight async handlers lose their (unretained) buffers now, as documented on Message.
      for (const slot of extras.slots) {
        slot.message?.done();
        slot.message = undefined;
      }
      extras.backlogBytes = 0;
    }
    const backlog = this.backlog;
    this.backlog = NO_BACKLOG;
    for (const item of backlog) {
      // A waiting stream never reaches a handler: destroyed without an error event.
      if (item instanceof Message) item.release();
      else item.destroy();
    }
    this.config.registry?.delete(this as unknown as Connection<never>);
    this.config.heartbeat?.delete(this);
    this.config.topics?.removeAll(this as unknown as Connection<never>);
    let info = this.core.closeInfo;
    // Read again: failing the streams above may have recorded why.
    const closeError = this.extras?.closeError;
    if (info.error === undefined && closeError !== undefined) {
      // No close frame came back: report the code we closed with, as for other failures.
      const code =
        info.code === CloseCode.Abnormal ? (closeError.closeCode ?? info.code) : info.code;
      info = { ...info, code, error: closeError };
    }
    this.config.stats?.recordClose(info.code);
    if (channels.close.hasSubscribers) {
      channels.close.publish({ connection: this, ...info });
    }
    if (!this.opened) return;
    const fn = this.config.handler.onClose;
    if (fn !== undefined) {
      try {
        fn.call(this.config.handler, this, info);
      } catch (error) {
        this.report(error);
      }
    }
  }

  /** @internal Opens the connection: called by the server or client once the handshake is done. */
  open(head?: Buffer): void {
    if (this.closed) return;
    this.opened = true;
    this.config.registry?.add(this as unknown as Connection<never>);
    this.config.heartbeat?.add(this);
    if (this.config.heartbeat !== undefined) this.seenEpoch = this.config.heartbeat.epoch;
    if (this.config.stats !== undefined) this.config.stats.opened++;
    if (channels.open.hasSubscribers) channels.open.publish({ connection: this });
    const fn = this.config.handler.onOpen;
    if (fn !== undefined) {
      try {
        const r = fn.call(this.config.handler, this);
        // One closure per connection with an async onOpen, none for the others.
        if (isThenable(r)) r.then(undefined, (error: unknown) => this.handlerFailed(error));
      } catch (error) {
        this.handlerFailed(error);
      }
    }
    if (head !== undefined && head.length > 0) this.handleData(head);
  }

  /** @internal Writes what was queued in this tick as one batch. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.queue?.flushBatch();
  }

  /** @internal The error that failed the connection, if any. */
  get error(): TidewsError | undefined {
    return this.core.closeInfo.error;
  }

  // --- Internals --------------------------------------------------------------------------------

  /**
   * Marks output as due. Inside {@link handleData} it leaves when the chunk is parsed; otherwise
   * with the flusher (at the end of the tick, or in a later slice of a long flush), so that all
   * sends of one tick go out together.
   */
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    if (!this.parsing) this.config.flusher.add(this);
  }

  /** Applies the backpressure policy before queueing `payload`; false when it must not be sent. */
  private admit(payload: string | Uint8Array): boolean {
    if (this.config.maxBufferedAmount === 0) return true;
    const size = typeof payload === "string" ? payload.length : payload.byteLength;
    return this.admitSize(size);
  }

  private admitSize(size: number): boolean {
    if (
      this.config.maxBufferedAmount === 0 ||
      this.bufferedAmount + size <= this.config.maxBufferedAmount
    ) {
      return true;
    }
    if (this.config.backpressure === "drop") {
      if (this.config.stats !== undefined) this.config.stats.dropped++;
      this.needDrain = true;
      return false;
    }
    // "close": 1008, and the close timer destroys the stream if the close frame cannot get out.
    if (this.core.canSend) {
      this.stopStreams("maxBufferedAmount");
      this.core.close(CloseCode.Policy, "");
      this.armCloseTimer();
      this.withExtras().closeError ??= createError("ERR_WS_BUFFERED_AMOUNT");
    }
    return false;
  }

  private underHighWaterMark(): boolean {
    if (this.bufferedAmount < this.config.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  private onEndAfterDrain(): void {
    this.flush();
    if ((this.queue?.waiting ?? 0) === 0 && !this.streamEnded) {
      this.streamEnded = true;
      this.stream.end();
    }
  }

  private dispatch(message: Message): void {
    const fn = this.config.handler.onMessage;
    if (fn === undefined) {
      message.release();
      return;
    }
    let result: unknown;
    try {
      result = fn.call(this.config.handler, this, message);
    } catch (error) {
      message.done();
      this.handlerFailed(error);
      return;
    }
    if (isThenable(result)) {
      // Sync handlers never get here: no slot, no promise callback, nothing allocated. The
      // message outlives the input it may still be in.
      message.own();
      const slot = this.takeSlot();
      slot.message = message;
      this.inFlight++;
      result.then(slot.settled, slot.rejected);
      return;
    }
    message.done();
  }

  private dispatchStream(stream: MessageStream): void {
    // Counted before the call: the handler may destroy the stream at once.
    stream.dispatched = true;
    this.inFlight++;
    const fn = this.config.handler.onStream;
    if (fn === undefined) {
      stream.destroy();
      return;
    }
    let result: unknown;
    try {
      result = fn.call(this.config.handler, this, stream);
    } catch (error) {
      this.handlerFailed(error);
      stream.destroy();
      return;
    }
    if (isThenable(result)) {
      // One closure per stream (a stream is a heavy object anyway; plain messages have none).
      result.then(undefined, (error: unknown) => {
        this.handlerFailed(error);
        stream.destroy();
      });
    }
  }

  /** A free slot for an async onMessage call; at most `concurrency` are ever made. */
  private takeSlot(): HandlerSlot {
    const extras = this.withExtras();
    const free = extras.freeSlot;
    if (free !== undefined) {
      extras.freeSlot = free.next;
      free.next = undefined;
      return free;
    }
    const slot = new HandlerSlot();
    slot.settled = () => this.slotSettled(slot);
    slot.rejected = (error) => {
      this.handlerFailed(error);
      this.slotSettled(slot);
    };
    extras.slots.push(slot);
    return slot;
  }

  /** An async onMessage call settled: its message is done, its slot free for the next one. */
  private slotSettled(slot: HandlerSlot): void {
    const message = slot.message;
    slot.message = undefined;
    message?.done();
    const extras = this.withExtras();
    slot.next = extras.freeSlot;
    extras.freeSlot = slot;
    this.inFlight--;
    this.pump();
  }

  /** Queues a message that found no free slot; false (pause parsing) past the backlog bound. */
  private enqueue(message: Message): boolean {
    if (this.backlog === NO_BACKLOG) this.backlog = [];
    this.backlog.push(message);
    if (!this.overBacklog()) return true;
    this.pauseInput(PAUSE_BACKLOG);
    return false;
  }

  private overBacklog(): boolean {
    return (
      (this.extras?.backlogBytes ?? 0) > this.config.maxBacklogBytes ||
      this.backlog.length > this.config.maxBacklogMessages
    );
  }

  /** Starts waiting messages, in order, while slots are free; resumes reading once below half. */
  private pump(): void {
    while (this.inFlight < this.config.concurrency && this.backlog.length > 0 && !this.closed) {
      const item = this.backlog.shift() as Message | MessageStream;
      if (item instanceof Message) {
        this.withExtras().backlogBytes -= item.length;
        this.dispatch(item);
      } else {
        this.dispatchStream(item);
      }
    }
    if (
      (this.pauseReasons & PAUSE_BACKLOG) !== 0 &&
      (this.extras?.backlogBytes ?? 0) <= this.config.maxBacklogBytes / 2 &&
      this.backlog.length <= this.config.maxBacklogMessages / 2
    ) {
      this.releaseSinkPause(PAUSE_BACKLOG);
    }
  }

  /** Pauses reading from the stream for `reason` (one of PAUSE_*). */
  private pauseInput(reason: number): void {
    this.pauseReasons |= reason;
    if (!this.inputPaused) {
      this.inputPaused = true;
      this.stream.pause();
    }
  }

  /**
   * Clears a reason that paused the core's parser through the sink; once no such reason is left,
   * parsing goes on (synchronously, and may pause again), then reading if nothing else holds it.
   */
  private releaseSinkPause(reason: number): void {
    if ((this.pauseReasons & reason) === 0) return;
    this.pauseReasons &= ~reason;
    if ((this.pauseReasons & SINK_PAUSES) !== 0 || this.closed) return;
    this.core.resumeSink();
    this.parserMoved();
  }

  /** The parser may have resumed: resume reading and handle a pending end when it did. */
  private parserMoved(): void {
    if (this.core.paused) return;
    this.pauseReasons &= ~PAUSE_INFLATE;
    if (this.pauseReasons === 0 && this.inputPaused && !this.closed) {
      this.inputPaused = false;
      this.stream.resume();
    }
    if (this.endPending) {
      this.endPending = false;
      this.handleEnd();
    }
  }

  private handlerFailed(error: unknown): void {
    this.report(error);
    if (this.config.recovery === "close" && this.core.canSend) {
      this.close(CloseCode.Internal, "");
    }
  }

  private report(error: unknown): void {
    if (channels.error.hasSubscribers) channels.error.publish({ connection: this, error });
    const fn = this.config.handler.onError;
    if (fn !== undefined) {
      try {
        fn.call(this.config.handler, this, error);
        return;
      } catch {
        // fall through to the default report
      }
    }
    console.error("tidews: handler error:", error);
  }

  /** The write queue, made on first use with the connection's one write callback. */
  private writes(): WriteQueue {
    if (this.queue === undefined) {
      // One write callback per connection, none per message.
      const onWritten = (error?: Error | null) => this.written(error);
      this.queue = new WriteQueue(this.stream, this.config.pool, onWritten, this);
    }
    return this.queue;
  }

  private written(error?: Error | null): void {
    this.queue?.written();
    if (error) return;
    this.maybeDrain();
  }

  private maybeDrain(): void {
    this.activeStream?.writable();
    if (!this.needDrain || this.bufferedAmount >= this.config.highWaterMark) return;
    this.needDrain = false;
    const fn = this.config.handler.onDrain;
    if (fn !== undefined) {
      try {
        fn.call(this.config.handler, this);
      } catch (error) {
        this.handlerFailed(error);
      }
    }
  }

  private armCloseTimer(): void {
    if (this.closed || this.extras?.closeTimer !== undefined) return;
    const timer = setTimeout(destroyStream, this.config.closeTimeout, this.stream);
    timer.unref?.();
    this.withExtras().closeTimer = timer;
  }

  /** The occasional state, made on first use. */
  private withExtras(): ConnectionExtras {
    this.extras ??= new ConnectionExtras();
    return this.extras;
  }
}

defineFlags(Connection.prototype as unknown as HasBits, [
  "corked",
  "parsing",
  "needDrain",
  "quietCapable",
  "closed",
  "opened",
  "streamEnded",
  "inputPaused",
  "endPending",
  "pinged",
  "discarding",
]);
