import { isUtf8 } from "node:buffer";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError, isTidewsError, type TidewsError } from "../errors.js";
import { CloseCode } from "../protocol/close-codes.js";
import {
  type CloseInfo,
  ProtocolConnection,
  type ProtocolSink,
  ReadyState,
  type ReadyStateValue,
} from "../protocol/connection.js";
import type { MaskSource } from "../protocol/mask.js";
import { Opcode } from "../protocol/opcodes.js";
import { Message } from "./message.js";
import type { MessageCodec } from "./message-codec.js";

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
  /** A message arrived. See {@link Message} for who owns its buffer and for how long. */
  onMessage?(conn: Connection<S>, message: Message): void | Promise<void>;
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

/** Options of a {@link Connection}, set by the server or client that creates it. */
export interface ConnectionOptions {
  readonly role: "server" | "client";
  readonly pool: Pool;
  readonly maxMessageSize?: number;
  readonly autoPong?: boolean;
  readonly validateUtf8?: boolean;
  readonly maskSource?: MaskSource;
  /** The negotiated permessage-deflate codec, if any. */
  readonly codec?: MessageCodec;
  /** Milliseconds to wait for the peer to finish the close handshake. Default 5000. */
  readonly closeTimeout?: number;
  /** What a throwing handler does: `"log"` (default) reports and goes on, `"close"` closes with 1011. */
  readonly recovery?: "log" | "close";
  /** Negotiated subprotocol. */
  readonly protocol?: string;
  /** Negotiated extensions header value. */
  readonly extensions?: string;
  /** The peer's address. */
  readonly remoteAddress?: string;
  /** `send` returns false once this many bytes are queued. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** The registry the connection removes itself from when it closes. */
  readonly registry?: Set<Connection<never>>;
}

/** Options of {@link Connection.send}. */
export interface SendOptions {
  /** Send as binary (default for buffers) or text (default for strings). */
  readonly binary?: boolean;
  /** Compress this message (when permessage-deflate was negotiated); default by threshold. */
  readonly compress?: boolean;
  /** `false` sends a fragment; the message continues with the next `send`. Default `true`. */
  readonly fin?: boolean;
}

const DEFAULT_CLOSE_TIMEOUT = 5000;
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Pause reading while a compressed message inflates and this much input is queued. */
const PAUSE_INPUT_BYTES = 256 * 1024;

function uncorkStream(conn: Connection<never>): void {
  conn.flush();
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function"
  );
}

/**
 * One WebSocket connection over a byte stream: the protocol core plus the I/O-neutral logic every
 * transport shares (write batching, release of written frames, handler dispatch, close timer).
 * The transport feeds it through the `handle*` methods.
 */
export class Connection<S = Record<string, unknown>> implements ProtocolSink {
  /** Per-connection storage for the application. */
  session: S = {} as S;
  /** The negotiated subprotocol, or "". */
  readonly protocol: string;
  /** The negotiated extensions (the Sec-WebSocket-Extensions value), or "". */
  readonly extensions: string;
  /** The peer's address, if known. */
  readonly remoteAddress: string | undefined;

  private readonly stream: ByteStream;
  private readonly core: ProtocolConnection;
  private readonly handler: Handler<S>;
  private readonly pool: Pool;
  private readonly codec: MessageCodec | undefined;
  private readonly closeTimeout: number;
  private readonly recovery: "log" | "close";
  private readonly role: "server" | "client";
  private readonly highWaterMark: number;
  private readonly registry: Set<Connection<never>> | undefined;

  /** Frames written to the stream whose write callbacks are still pending, oldest first. */
  private readonly inflight: ByteBuffer[] = [];
  private inflightHead = 0;
  private inflightBytes = 0;
  private corked = false;
  private needDrain = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private streamEnded = false;
  private inputPaused = false;
  /** Messages waiting while an async onMessage handler runs (in order). */
  private readonly backlog: Message[] = [];
  private handlerBusy = false;
  private readonly onWritten: (error?: Error | null) => void;
  private readonly onHandlerSettled: () => void;
  private readonly onHandlerRejected: (error: unknown) => void;

  /** @internal Created by the server or client. */
  constructor(stream: ByteStream, handler: Handler<S>, options: ConnectionOptions) {
    this.stream = stream;
    this.handler = handler;
    this.pool = options.pool;
    this.codec = options.codec;
    this.role = options.role;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.recovery = options.recovery ?? "log";
    this.protocol = options.protocol ?? "";
    this.extensions = options.extensions ?? "";
    this.remoteAddress = options.remoteAddress;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.registry = options.registry;
    this.core = new ProtocolConnection(this, {
      role: options.role,
      pool: options.pool,
      maxMessageSize: options.maxMessageSize,
      autoPong: options.autoPong,
      validateUtf8: options.validateUtf8,
      utf8Check: isUtf8,
      maskSource: options.maskSource,
      compression: options.codec !== undefined,
    });
    // One callback of each kind per connection, none per message.
    this.onWritten = (error) => this.written(error);
    this.onHandlerSettled = () => this.handlerSettled();
    this.onHandlerRejected = (error) => {
      this.handlerFailed(error);
      this.handlerSettled();
    };
    this.codec?.attach(this.core, this);
  }

  /** The state, numbered as the browser's `readyState`: 1 open, 2 closing, 3 closed. */
  get readyState(): ReadyStateValue {
    return this.closed ? ReadyState.Closed : this.core.state;
  }

  /** Bytes queued for the peer: written to the stream but not yet flushed by it. */
  get bufferedAmount(): number {
    return this.inflightBytes + (this.codec?.pendingBytes ?? 0);
  }

  // --- Sending ----------------------------------------------------------------------------------

  /**
   * Sends a message: strings as text, buffers, typed arrays and ArrayBuffers as binary (override
   * with `options.binary`). Returns `false` when the caller should wait for `onDrain`.
   *
   * @throws {@link UsageError} `ERR_WS_NOT_OPEN` once the connection is closing or closed
   */
  send(data: string | Uint8Array | ArrayBuffer, options?: SendOptions): boolean {
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
    const codec = this.codec;
    if (codec === undefined) {
      this.core.send(opcode, payload, fin, false);
    } else if (codec.shouldCompress(payload, options?.compress, fin)) {
      codec.compress(opcode, payload, fin);
    } else if (codec.busy) {
      // Keep order behind messages still being compressed.
      codec.enqueuePlain(opcode, payload, fin);
    } else {
      this.core.send(opcode, payload, fin, false);
    }
    return this.bufferedAmount < this.highWaterMark;
  }

  /** Sends a text message. */
  sendText(text: string, options?: Omit<SendOptions, "binary">): boolean {
    return this.send(text, { ...options, binary: false });
  }

  /** Sends a binary message. */
  sendBinary(data: Uint8Array | ArrayBuffer, options?: Omit<SendOptions, "binary">): boolean {
    return this.send(data, { ...options, binary: true });
  }

  /** Sends several buffers as one binary message without concatenating them. */
  writev(parts: readonly Uint8Array[], options?: SendOptions): boolean {
    const opcode = options?.binary === false ? Opcode.Text : Opcode.Binary;
    const fin = options?.fin ?? true;
    if (this.codec?.busy) {
      for (let i = 0; i < parts.length; i++) {
        this.codec.enqueuePlain(opcode, parts[i] as Uint8Array, fin && i === parts.length - 1);
      }
    } else {
      this.core.sendParts(opcode, parts, fin, false);
    }
    return this.bufferedAmount < this.highWaterMark;
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
   * Starts the close handshake. If the peer does not complete it within the close timeout, the
   * stream is destroyed.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.closed) return;
    this.core.close(code, reason);
    this.armCloseTimer();
  }

  /** Destroys the stream at once, without a close handshake. */
  terminate(): void {
    if (this.closed) return;
    this.core.abort();
    this.stream.destroy();
  }

  // --- ProtocolSink -----------------------------------------------------------------------------

  /** @internal */
  onMessage(opcode: number, data: ByteBuffer): void {
    const message = new Message(opcode, data, this.pool);
    if (this.handlerBusy) {
      this.backlog.push(message);
      return;
    }
    this.dispatch(message);
  }

  /** @internal */
  onCompressedMessage(opcode: number, data: ByteBuffer): void {
    if (this.codec === undefined) {
      this.pool.put(data);
      this.core.failInflate(createError("ERR_WS_INTERNAL", "compressed message without a codec"));
      return;
    }
    this.codec.decompress(opcode, data, this.core.maxMessageSize);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    const fn = this.handler.onPing;
    if (fn === undefined) return;
    try {
      fn.call(this.handler, this, payload);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** @internal */
  onPong(payload: Buffer): void {
    const fn = this.handler.onPong;
    if (fn === undefined) return;
    try {
      fn.call(this.handler, this, payload);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** @internal */
  onOutput(frame: ByteBuffer): void {
    if (this.closed || this.streamEnded) {
      this.pool.put(frame);
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(uncorkStream, this);
    }
    this.inflight.push(frame);
    this.inflightBytes += frame.len;
    this.stream.write(frame.bytes(), this.onWritten);
  }

  /** @internal */
  onPeerClose(_code: number, _reason: string): void {}

  /** @internal */
  onEnd(): void {
    if (this.streamEnded) return;
    if (this.role === "server") {
      // RFC 6455 section 7.1.1: the server closes the TCP connection first. end() flushes what is
      // queued, then sends FIN.
      this.flush();
      this.streamEnded = true;
      this.stream.end();
    }
    // A client waits for the server's FIN; the close timer destroys the stream otherwise.
    this.armCloseTimer();
  }

  // --- Transport events ------------------------------------------------------------------------

  /** @internal The transport passes every chunk read from the stream. */
  handleData(chunk: Buffer): void {
    this.core.receive(chunk);
    if (this.core.paused && !this.inputPaused && this.core.bufferedInput >= PAUSE_INPUT_BYTES) {
      this.inputPaused = true;
      this.stream.pause();
    }
  }

  /** @internal Resumes reading once an inflate finished (called by the codec). */
  resumeInput(): void {
    if (this.inputPaused && !this.core.paused) {
      this.inputPaused = false;
      this.stream.resume();
    }
  }

  /** @internal The peer ended its side of the stream. */
  handleEnd(): void {
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
      this.core.abort(isTidewsError(error) ? error : createError("ERR_WS_INTERNAL", error.message));
    }
  }

  /** @internal The stream drained. */
  handleDrain(): void {
    this.maybeDrain();
  }

  /** @internal The stream is closed: release everything and tell the handler, once. */
  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.core.state !== ReadyState.Closed) this.core.abort();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.codec?.close();
    for (let i = this.inflightHead; i < this.inflight.length; i++) {
      this.pool.put(this.inflight[i] as ByteBuffer);
    }
    this.inflight.length = 0;
    this.inflightHead = 0;
    this.inflightBytes = 0;
    for (const m of this.backlog) m.release();
    this.backlog.length = 0;
    this.registry?.delete(this as unknown as Connection<never>);
    const fn = this.handler.onClose;
    if (fn !== undefined) {
      try {
        fn.call(this.handler, this, this.core.closeInfo);
      } catch (error) {
        this.report(error);
      }
    }
  }

  /** @internal Opens the connection: called by the server or client once the handshake is done. */
  open(head?: Buffer): void {
    this.registry?.add(this as unknown as Connection<never>);
    const fn = this.handler.onOpen;
    if (fn !== undefined) {
      try {
        const r = fn.call(this.handler, this);
        if (isThenable(r)) r.then(undefined, this.onHandlerRejected);
      } catch (error) {
        this.handlerFailed(error);
      }
    }
    if (head !== undefined && head.length > 0) this.handleData(head);
  }

  /** @internal Writes what was corked in this tick as one batch. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.stream.uncork();
  }

  // --- Internals --------------------------------------------------------------------------------

  private dispatch(message: Message): void {
    const fn = this.handler.onMessage;
    if (fn === undefined) {
      message.release();
      return;
    }
    let result: unknown;
    try {
      result = fn.call(this.handler, this, message);
    } catch (error) {
      message.done();
      this.handlerFailed(error);
      return;
    }
    if (isThenable(result)) {
      this.handlerBusy = true;
      this.backlog.unshift(message); // the head of the backlog is the message in progress
      result.then(this.onHandlerSettled, this.onHandlerRejected);
      return;
    }
    message.done();
  }

  private handlerSettled(): void {
    this.handlerBusy = false;
    const current = this.backlog.shift();
    current?.done();
    while (!this.handlerBusy && this.backlog.length > 0 && !this.closed) {
      this.dispatch(this.backlog.shift() as Message);
    }
  }

  private handlerFailed(error: unknown): void {
    this.report(error);
    if (this.recovery === "close" && this.core.state === ReadyState.Open) {
      this.close(CloseCode.Internal, "");
    }
  }

  private report(error: unknown): void {
    const fn = this.handler.onError;
    if (fn !== undefined) {
      try {
        fn.call(this.handler, this, error);
        return;
      } catch {
        // fall through to the default report
      }
    }
    console.error("tidews: handler error:", error);
  }

  private written(error?: Error | null): void {
    const frame = this.inflight[this.inflightHead];
    if (frame !== undefined) {
      this.inflight[this.inflightHead] = undefined as unknown as ByteBuffer;
      this.inflightHead++;
      this.inflightBytes -= frame.len;
      this.pool.put(frame);
      if (this.inflightHead === this.inflight.length) {
        this.inflight.length = 0;
        this.inflightHead = 0;
      } else if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflight.length) {
        this.inflight.splice(0, this.inflightHead);
        this.inflightHead = 0;
      }
    }
    if (error) return;
    this.maybeDrain();
  }

  private maybeDrain(): void {
    if (this.bufferedAmount >= this.highWaterMark) {
      this.needDrain = true;
      return;
    }
    if (!this.needDrain) return;
    this.needDrain = false;
    const fn = this.handler.onDrain;
    if (fn !== undefined) {
      try {
        fn.call(this.handler, this);
      } catch (error) {
        this.handlerFailed(error);
      }
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.closed) return;
    this.closeTimer = setTimeout(destroyStream, this.closeTimeout, this.stream);
    this.closeTimer.unref?.();
  }

  /** @internal The error that failed the connection, if any. */
  get error(): TidewsError | undefined {
    return this.core.closeInfo.error;
  }
}

function destroyStream(stream: ByteStream): void {
  stream.destroy();
}
