import type { ByteBuffer } from "../buffer/byte-buffer.js";
import { createError, TidewsError } from "../errors.js";
import { defineFlags, type HasBits } from "./bit-flags.js";
import {
  CloseCode,
  closePayloadLength,
  isValidCloseCode,
  parseClosePayload,
} from "./close-codes.js";
import {
  appendFrame,
  appendFrameRange,
  encodeCloseFrame,
  encodeControlFrame,
  encodeFrame,
  encodeFrameParts,
  encodeTextFrame,
  frameSize,
  MAX_HEADER_SIZE,
  writeHeaderBefore,
} from "./frame-encoder.js";
import { FrameParser, type FrameSink } from "./frame-parser.js";
import { applyMask, type XorRange } from "./mask.js";
import { Opcode } from "./opcodes.js";
import { ProtocolConfig, type ProtocolOptions } from "./protocol-config.js";
import { Utf8Validator } from "./utf8-validator.js";

export {
  DEFAULT_MAX_MESSAGE_SIZE,
  ProtocolConfig,
  type ProtocolOptions,
} from "./protocol-config.js";

/** The connection states, numbered as the browser's `WebSocket.readyState`. */
export const ReadyState = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Closed: 3,
} as const;

/** One of the {@link ReadyState} values. */
export type ReadyStateValue = (typeof ReadyState)[keyof typeof ReadyState];

/** The default maximum message size of the protocol core: 16 MiB. */
/** First buffer size for a fragmented message whose total size is not known yet. */
const FRAGMENTED_HINT = 4096;
/** The most a frame header alone makes the core reserve; larger payloads grow as they arrive. */
const MAX_RESERVE = 256 * 1024;
/**
 * Messages declared at least this large get {@link MAX_HEADER_SIZE} bytes of room in front of
 * their payload, so the application can send them on as a frame built in place (no copy).
 */
export const HEADROOM_MIN = 16 * 1024;
/**
 * Payloads up to this size may be built straight into the sink's batch (see frameRoom); larger
 * byte payloads only into room the sink has already.
 */
const APPEND_MAX = 4096;
/**
 * The most room reserved after a frame for the answers to the rest of the same input (see
 * {@link ProtocolConnection.sendRangeOf} and {@link ProtocolConnection.echoesInput}): the size of
 * one socket read (`ReadBuffer`).
 */
const ANSWER_ROOM_MAX = 64 * 1024;

/** Options of a {@link ProtocolConnection}. */
export interface ProtocolSink {
  /**
   * A complete message. The sink owns `data` (pooled) and puts it back when done. Returning
   * `false` pauses parsing after this message (the sink's queue is full) until
   * {@link ProtocolConnection.resumeSink}; `true` or nothing goes on.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a sink that returns nothing goes on.
  onMessage(opcode: number, data: ByteBuffer): boolean | void;
  /**
   * Optional: a complete message that arrived in one frame, all in one input chunk (within the
   * size limit and under the stream threshold), handed over where it lies instead of through
   * {@link onMessage}: its payload is `chunk[start, end)`, still masked with `key` (byte `start`
   * takes key byte 0; `key` is 0 when it is not masked; text is unmasked and validated first).
   * `chunk` is valid only during the call: the sink copies what it keeps, or forwards it with
   * {@link ProtocolConnection.sendRangeOf} (one pass from input to output). Returning `false`
   * pauses parsing as for {@link onMessage}.
   */
  onMessageView?(
    opcode: number,
    chunk: Buffer,
    start: number,
    end: number,
    key: number,
    // biome-ignore lint/suspicious/noConfusingVoidType: a sink that returns nothing goes on.
  ): boolean | void;
  /**
   * A streamed message begins (only with {@link ProtocolOptions.streamThreshold}): its payload
   * follows through {@link onMessageChunk}, then {@link onMessageEnd}, or {@link onMessageAbort}
   * when the connection ends first.
   */
  onMessageStart?(opcode: number): void;
  /**
   * A piece of the streamed message's payload, a view valid only during the call (UTF-8 of text
   * validated so far). Return `false` to pause parsing after it until
   * {@link ProtocolConnection.resumeSink}.
   */
  onMessageChunk?(data: Buffer): boolean;
  /**
   * The streamed message is complete (and, for text, valid UTF-8). Returning `false` pauses
   * parsing after it, as for {@link onMessage}.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a sink that returns nothing goes on.
  onMessageEnd?(): boolean | void;
  /**
   * The connection failed or closed before the streamed message ended. Called before the close
   * frame goes out and before {@link onEnd}; {@link ProtocolConnection.closeInfo} tells why.
   */
  onMessageAbort?(): void;
  /**
   * A complete compressed message (RSV1, RFC 7692 section 6). The sink owns `data`, inflates it and
   * calls {@link ProtocolConnection.deliverInflated} or {@link ProtocolConnection.failInflate};
   * parsing is paused until then, so messages stay in order.
   */
  onCompressedMessage(opcode: number, data: ByteBuffer): void;
  /** A ping arrived; `payload` is valid only during the call. */
  onPing(payload: Buffer): void;
  /** A pong arrived; `payload` is valid only during the call. */
  onPong(payload: Buffer): void;
  /** A frame to write. The sink owns `frame` and puts it back once it has been written. */
  onOutput(frame: ByteBuffer): void;
  /**
   * Optional: a buffer with at least `size` free bytes at its end, where the core may append one
   * whole small data frame (the sink's batch of this tick), or undefined for the usual
   * {@link onOutput}. With `existing`, only room the sink has without taking a new buffer (the
   * core asks so for larger frames). After appending, the core calls {@link onOutputAppended}.
   */
  frameRoom?(size: number, existing?: boolean): ByteBuffer | undefined;
  /** Optional: `size` bytes of frame were appended to the buffer {@link frameRoom} gave. */
  onOutputAppended?(size: number): void;
  /** The peer's close frame arrived (the reply, if any, follows through onOutput). */
  onPeerClose(code: number, reason: string): void;
  /**
   * The stream should end: the close handshake is complete, or the connection failed. Called once.
   * A server ends the TCP stream at once (RFC 6455 section 7.1.1); a client waits a moment for
   * the server to do it.
   */
  onEnd(): void;
}

/** How a connection ended. */
export interface CloseInfo {
  /**
   * The peer's close code (1005 if its close frame had none); without a close frame from the
   * peer, the code of the error that failed the connection, else 1006.
   */
  readonly code: number;
  /** The peer's close reason. */
  readonly reason: string;
  /** True when both close frames were exchanged (RFC 6455 section 7.1.4). */
  readonly wasClean: boolean;
  /** The error that failed the connection, if one did. */
  readonly error: TidewsError | undefined;
}

/**
 * Where the next `n` bytes of a message being assembled go: at its end, growing it only when they
 * do not fit. Not through ByteBuffer's Go-style growth when they fit: that resets the offset of
 * an empty buffer to 0 and would take away the header room in front of the payload (see
 * HEADROOM_MIN).
 */
function roomFor(message: ByteBuffer, n: number): number {
  if (message.storage.length - message.end < n) message.grow(n);
  return message.end;
}

/**
 * The size below which a message that arrives whole goes to {@link ProtocolSink.onMessageView}:
 * any size within the limit and under the stream threshold; 0 (never) for a sink without the
 * method. Whatever its size, such a message is copied once at most: into the output when it is
 * forwarded (unmasked on the way), or into a buffer of its own when the application keeps it.
 */
function wholeMessageMax(config: ProtocolConfig, sink: ProtocolSink): number {
  if (sink.onMessageView === undefined) return 0;
  let max = config.maxMessageSize + 1;
  if (config.streamThreshold >= 0 && sink.onMessageStart !== undefined) {
    max = Math.min(max, config.streamThreshold);
  }
  return max;
}

/**
 * The sans-I/O WebSocket connection (RFC 6455 sections 5 to 7): bytes in through
 * {@link receive}, messages and frames out through a {@link ProtocolSink}. It owns the frame
 * parser, assembles messages into pooled buffers, validates UTF-8, answers pings and runs the
 * close handshake. It has no sockets, timers or promises: keepalive, close timeouts and
 * compression belong to the I/O layer above it.
 */
export class ProtocolConnection implements FrameSink {
  /** The current state; see {@link ReadyState}. */
  state: ReadyStateValue = ReadyState.Open;
  /** The shared settings (see {@link ProtocolConfig}). */
  private readonly config: ProtocolConfig;
  private readonly sink: ProtocolSink;
  /**
   * Made with the first bytes from the peer: a connection that only listens (a push or feed
   * client, which never sends unless pinged) holds none.
   */
  private parser: FrameParser | undefined = undefined;
  /**
   * @internal Set by the I/O layer once this connection forwards its own received messages in
   * place while their input is parsed (an echo, see sendBuffer). A message that spans reads then
   * gets room after it for the answers to the rest of the read that completes it, up to a read's
   * size: they are built into that room, and the read is answered with one write. Only such a
   * connection pays for the room; a message an application keeps has none. (A bit, see
   * bit-flags.ts.)
   */
  declare echoesInput: boolean;
  /** Validates text that arrives in pieces; made for the first text message. */
  private validator: Utf8Validator | undefined = undefined;

  // Incoming message in progress.
  private message: ByteBuffer | undefined;
  private messageOpcode = 0;
  private messageLength = 0;
  /** The boolean fields below, one bit each (see bit-flags.ts). */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read and written by the accessors bit-flags.ts defines.
  private bits = 0;
  declare private compressed: boolean;
  /** Text to validate incrementally (not compressed, validation on). */
  declare private streaming: boolean;
  /** The message is one frame that arrived in one piece: validate it whole at the end. */
  declare private wholeFrame: boolean;
  private frameLength = 0;
  declare private frameFirstPiece: boolean;
  declare private inflating: boolean;
  /** The parser was paused for an inflate that did not finish synchronously. */
  declare private awaitingInflate: boolean;
  /** The message in progress goes to the sink piece by piece (not assembled). */
  declare private streamingMessage: boolean;
  /** The message in progress had more than one frame. */
  declare private fragmented: boolean;
  /** The sink asked to pause (onMessage or onMessageChunk returned false). */
  declare private sinkPaused: boolean;

  // Outgoing.
  declare private sendingFragmented: boolean;
  /** Scratch for the key of a masked frame: a client's only (a server never masks). */
  private readonly maskKey: Buffer | null;

  // Close handshake.
  declare private closeSent: boolean;
  declare private closeReceived: boolean;
  private peerCode: number = CloseCode.Abnormal;
  private peerReason = "";
  private failure: TidewsError | undefined;
  declare private ended: boolean;

  /**
   * @param sink - receives messages, frames to write and the end of the stream
   * @param options - see {@link ProtocolOptions}
   */
  constructor(sink: ProtocolSink, options: ProtocolOptions | ProtocolConfig) {
    this.config = ProtocolConfig.of(options);
    this.sink = sink;
    // RFC 6455 section 5.3: a client masks every frame it sends; a server never does.
    this.maskKey = this.config.mask === null ? null : Buffer.alloc(4);
  }

  /** The frame parser, made on first use (see {@link parser}). */
  private frameParser(): FrameParser {
    this.parser ??= new FrameParser(this, {
      role: this.config.role,
      allowRsv1: this.config.compression,
      xor: this.config.xorInPlace,
      wholeMax: wholeMessageMax(this.config, this.sink),
    });
    return this.parser;
  }

  /** The streaming UTF-8 validator, made on first use: an idle connection holds none. */
  private textValidator(): Utf8Validator {
    if (this.validator === undefined) this.validator = new Utf8Validator();
    return this.validator;
  }

  /** Largest message accepted (bytes). */
  get maxMessageSize(): number {
    return this.config.maxMessageSize;
  }

  // --- Input ------------------------------------------------------------------------------------

  /**
   * Parses bytes from the peer, in any chunking. The core may unmask `chunk` in place: it must be
   * a buffer the caller owns. After the close handshake or a failure, input is ignored.
   *
   * With `transient`, `chunk` is valid only during the call (a read buffer the caller reuses):
   * the core copies what it keeps past the call. What it hands the sink is valid during the sink
   * call either way (a streamed message's pieces included: the sink copies what it keeps).
   */
  receive(chunk: Buffer, transient = false): void {
    if (this.parser !== undefined) this.parser.receive(chunk, transient);
    // Closed before the first byte: ignored, as a stopped parser ignores it.
    else if (this.state !== ReadyState.Closed) this.frameParser().receive(chunk, transient);
  }

  /**
   * The peer ended the stream. Without a close frame first, the connection closes abnormally
   * (1006, RFC 6455 section 7.1.5).
   */
  receiveEof(): void {
    this.parser?.stop();
    if (!this.closeReceived && this.failure === undefined) {
      this.failure = createError("ERR_WS_UNEXPECTED_EOF");
    }
    this.releaseMessage();
    this.state = ReadyState.Closed;
    this.end();
  }

  /**
   * True while parsing is paused: a compressed message is being inflated, or the sink asked to
   * pause (input is queued meanwhile).
   */
  get paused(): boolean {
    return this.parser?.paused ?? false;
  }

  /** True while the pause the sink asked for (a `false` return) lasts. */
  get pausedBySink(): boolean {
    return this.sinkPaused;
  }

  /**
   * Ends the pause the sink asked for by returning `false` from {@link ProtocolSink.onMessage} or
   * {@link ProtocolSink.onMessageChunk}: parsing goes on synchronously with the queued input (and
   * the sink may pause again). Does nothing without such a pause.
   */
  resumeSink(): void {
    if (!this.sinkPaused) return;
    this.sinkPaused = false;
    if (this.state !== ReadyState.Closed) this.parser?.resume();
  }

  /** Bytes received but not parsed yet because a compressed message is being inflated. */
  get bufferedInput(): number {
    return this.parser?.bufferedBytes ?? 0;
  }

  /** True once the close handshake completed or the connection failed: end the stream. */
  closeExpected(): boolean {
    return this.ended;
  }

  /** How the connection ended (meaningful once {@link state} is CLOSED). */
  get closeInfo(): CloseInfo {
    return {
      code: this.closeReceived ? this.peerCode : (this.failure?.closeCode ?? CloseCode.Abnormal),
      reason: this.closeReceived ? this.peerReason : "",
      wasClean: this.closeReceived && this.closeSent && this.failure === undefined,
      error: this.failure,
    };
  }

  /**
   * Hands over the inflated form of the message passed to
   * {@link ProtocolSink.onCompressedMessage}; ownership of `data` moves to the core. Parsing
   * resumes.
   */
  deliverInflated(data: ByteBuffer): void {
    this.inflating = false;
    if (this.state === ReadyState.Closed) {
      this.config.pool.put(data);
      return;
    }
    // RFC 6455 section 8.1: text must be valid UTF-8, checked on the decompressed payload.
    if (
      this.messageOpcode === Opcode.Text &&
      this.config.validateUtf8 &&
      !this.config.utf8Check(data.bytes())
    ) {
      this.config.pool.put(data);
      this.fail(createError("ERR_WS_INVALID_UTF8"));
      return;
    }
    let more = true;
    if (
      this.config.streamThreshold >= 0 &&
      (this.fragmented || data.len >= this.config.streamThreshold) &&
      this.sink.onMessageStart !== undefined
    ) {
      // Inflated whole (the inflater works on whole messages), then streamed as one chunk.
      more = this.deliverWholeAsStream(data);
    } else {
      more = this.sink.onMessage(this.messageOpcode, data) !== false;
    }
    // The sink may have failed the connection during the call.
    if (!more && (this.state as ReadyStateValue) !== ReadyState.Closed) {
      this.sinkPaused = true;
      this.parser?.pause();
    }
    if (this.awaitingInflate) {
      this.awaitingInflate = false;
      if (!this.sinkPaused) this.parser?.resume();
    }
  }

  /** Inflating the compressed message failed: the connection fails with the error's close code. */
  failInflate(error: TidewsError): void {
    this.inflating = false;
    this.fail(error);
  }

  // --- FrameSink: called by the parser ----------------------------------------------------------

  /** @internal */
  onDataFrameStart(opcode: number, fin: boolean, rsv1: boolean, length: number): boolean {
    if (opcode !== Opcode.Continuation) {
      this.messageOpcode = opcode;
      this.messageLength = 0;
      this.compressed = rsv1;
      this.fragmented = !fin;
      this.streaming = opcode === Opcode.Text && this.config.validateUtf8 && !rsv1;
      this.wholeFrame = fin;
      if (this.streaming) this.textValidator().reset();
      if (
        this.config.streamThreshold >= 0 &&
        !rsv1 &&
        (!fin || length >= this.config.streamThreshold) &&
        this.sink.onMessageStart !== undefined
      ) {
        return this.startStream(opcode, length);
      }
    } else {
      this.wholeFrame = false;
      if (this.streamingMessage) return this.continueStream(length);
    }
    // The limit applies across fragments. For a compressed message the inflater enforces it on
    // the output; the compressed bytes get the room deflate may need for incompressible data
    // (5 bytes per 16 KiB stored block, plus a little).
    const limit = this.compressed ? this.config.compressedLimit : this.config.maxMessageSize;
    if (this.messageLength + length > limit) {
      this.fail(createError("ERR_WS_MESSAGE_TOO_BIG", `${this.messageLength + length} > ${limit}`));
      return false;
    }
    if (this.message === undefined) {
      // Reserve what the header declares only up to a bound: the bytes must arrive before they
      // cost memory, so a header alone cannot make the server allocate the whole limit.
      const hint = fin ? length : Math.max(length, FRAGMENTED_HINT);
      if (hint >= HEADROOM_MIN) {
        // Room for a header in front: `conn.send(message)` can then forward the message as a
        // frame built in place, where it is (see sendBuffer).
        // An echo also gets room after it for the answers to the rest of the read that
        // completes it, so that they leave in this buffer, one write (see echoesInput).
        const after = this.echoesInput
          ? Math.min((this.parser as FrameParser).chunkLength, ANSWER_ROOM_MAX)
          : 0;
        const m = this.config.pool.get(Math.min(hint + MAX_HEADER_SIZE + after, MAX_RESERVE));
        m.off = MAX_HEADER_SIZE;
        m.end = MAX_HEADER_SIZE;
        this.message = m;
      } else {
        this.message = this.config.pool.get(Math.min(hint, MAX_RESERVE));
      }
    }
    this.frameLength = length;
    this.frameFirstPiece = true;
    return true;
  }

  /** @internal */
  onDataFrameChunk(data: Buffer): boolean {
    return this.onDataFrameBytes(data, 0, data.length);
  }

  /**
   * @internal A masked piece: unmasked straight into the message buffer in one pass (RFC 6455
   * section 5.3), then checked there. A streamed message's piece is unmasked in place and
   * handed on as a view, as an unmasked one is.
   */
  onMaskedDataFrameBytes(
    chunk: Buffer,
    start: number,
    end: number,
    key: number,
    phase: number,
    xor: XorRange,
  ): boolean {
    if (this.streamingMessage) {
      xor(chunk, start, end, key, phase);
      return this.streamChunk(chunk.subarray(start, end));
    }
    const n = end - start;
    const message = this.message as ByteBuffer;
    const at = roomFor(message, n);
    this.config.xorInto(chunk, start, end, message.storage, at, key, phase);
    message.end = at + n;
    return this.pieceAppended(message, at, n);
  }

  /** @internal The parser's piece as a range: assembled without a view made per piece. */
  onDataFrameBytes(chunk: Buffer, start: number, end: number): boolean {
    if (this.streamingMessage) return this.streamChunk(chunk.subarray(start, end));
    const n = end - start;
    const message = this.message as ByteBuffer;
    const at = roomFor(message, n);
    chunk.copy(message.storage, at, start, end);
    message.end = at + n;
    return this.pieceAppended(message, at, n);
  }

  /** A piece of `n` bytes was appended at `at` of the message: text checks and counters. */
  private pieceAppended(message: ByteBuffer, at: number, n: number): boolean {
    if (this.streaming) {
      if (this.wholeFrame && this.frameFirstPiece && n === this.frameLength) {
        // The whole message is here: the faster whole-buffer check runs at the end.
      } else {
        this.wholeFrame = false;
        // RFC 6455 section 8.1 and Autobahn 6.4: fail as soon as the text can no longer be valid.
        if (!this.textValidator().pushRange(message.storage, at, at + n)) {
          this.fail(createError("ERR_WS_INVALID_UTF8"));
          return false;
        }
      }
    }
    this.frameFirstPiece = false;
    this.messageLength += n;
    return true;
  }

  /** @internal */
  onDataFrameEnd(fin: boolean): boolean {
    if (!fin) return true;
    if (this.streamingMessage) return this.endStream();
    const data = this.message as ByteBuffer;
    this.message = undefined;
    if (this.compressed) {
      this.inflating = true;
      this.sink.onCompressedMessage(this.messageOpcode, data);
      if (this.inflating) {
        // Pause until the inflated message is delivered; a synchronous codec delivered already.
        this.awaitingInflate = true;
        return false;
      }
      return this.state !== ReadyState.Closed && !this.sinkPaused;
    }
    if (this.streaming) {
      const valid = this.wholeFrame
        ? this.config.utf8Check(data.bytes())
        : this.textValidator().end();
      if (!valid) {
        this.config.pool.put(data);
        this.fail(createError("ERR_WS_INVALID_UTF8"));
        return false;
      }
    }
    if (
      this.sink.onMessage(this.messageOpcode, data) === false &&
      this.state !== ReadyState.Closed
    ) {
      this.sinkPaused = true;
      return false;
    }
    return this.state !== ReadyState.Closed;
  }

  /**
   * @internal A whole message, still in the input (see {@link ProtocolSink.onMessageView}).
   * Binary stays masked: the sink unmasks it as it copies it, if it copies it at all.
   */
  onWholeMessage(opcode: number, chunk: Buffer, start: number, end: number, key: number): boolean {
    let k = key;
    if (opcode === Opcode.Text && this.config.validateUtf8) {
      if (k !== 0) {
        // RFC 6455 section 5.3, in place: the text is checked as it is.
        this.config.xorInPlace(chunk, start, end, k, 0);
        k = 0;
      }
      // RFC 6455 section 8.1: text must be valid UTF-8, checked before it is delivered.
      if (!this.config.utf8Check(chunk.subarray(start, end))) {
        this.fail(createError("ERR_WS_INVALID_UTF8"));
        return false;
      }
    }
    const sink = this.sink as Required<Pick<ProtocolSink, "onMessageView">>;
    if (
      sink.onMessageView(opcode, chunk, start, end, k) === false &&
      this.state !== ReadyState.Closed
    ) {
      this.sinkPaused = true;
      return false;
    }
    return this.state !== ReadyState.Closed;
  }

  /** @internal */
  onControlFrame(opcode: number, payload: Buffer): boolean {
    if (opcode === Opcode.Ping) {
      // RFC 6455 section 5.5.2: answer with a pong carrying the same application data, unless a
      // close frame was already sent.
      if (this.config.autoPong && !this.closeSent) this.writeControl(Opcode.Pong, payload);
      this.sink.onPing(payload);
      return this.state !== ReadyState.Closed;
    }
    if (opcode === Opcode.Pong) {
      this.sink.onPong(payload);
      return this.state !== ReadyState.Closed;
    }
    return this.receiveClose(payload);
  }

  /** @internal */
  onFrameError(error: TidewsError): void {
    this.fail(error);
  }

  // --- Output -----------------------------------------------------------------------------------

  /**
   * Sends a data frame: a whole message (`fin` true, the default) or one fragment of it. Pass the
   * message's opcode (text or binary) for every fragment; the core writes continuation frames
   * after the first. `rsv1` marks a message compressed by the caller (RFC 7692 section 6).
   *
   * @throws {@link UsageError} `ERR_WS_NOT_OPEN` after a close frame was sent or received
   */
  send(opcode: number, payload: Uint8Array | string, fin = true, rsv1 = false): void {
    this.checkCanSend();
    const first = !this.sendingFragmented;
    const op = first ? opcode : Opcode.Continuation;
    if (this.sink.frameRoom !== undefined && this.append(op, payload, fin, first && rsv1)) {
      this.sendingFragmented = !fin;
      return;
    }
    const options = { fin, rsv1: first && rsv1, mask: this.config.mask };
    const frame =
      typeof payload === "string"
        ? encodeTextFrame(this.config.pool, payload, options)
        : encodeFrame(this.config.pool, op, payload, options);
    if (typeof payload === "string" && op !== Opcode.Text) {
      // encodeTextFrame writes a text opcode: patch it for continuations and binary sends.
      const bytes = frame.bytes();
      bytes[0] = ((bytes[0] as number) & 0xf0) | op;
    }
    this.sendingFragmented = !fin;
    this.sink.onOutput(frame);
  }

  /**
   * Sends the unread bytes of `buf` as one frame, for a forwarded message: a small one is built
   * straight into the sink's batch from `buf`'s memory (no view of it, no frame buffer of its
   * own), a larger one as {@link send} does. The caller keeps `buf` and may reuse it at once.
   *
   * @throws {@link UsageError} as {@link send}
   */
  sendCopyOf(opcode: number, buf: ByteBuffer, fin = true): void {
    this.checkCanSend();
    const op = this.sendingFragmented ? Opcode.Continuation : opcode;
    if (
      this.sink.frameRoom !== undefined &&
      this.append(op, buf.storage, fin, false, buf.off, buf.end)
    ) {
      this.sendingFragmented = !fin;
      return;
    }
    this.send(opcode, buf.bytes(), fin, false);
  }

  /**
   * Sends `src[start, end)`, masked with `key` (0: not masked), as one frame, unmasked on the way:
   * how a message handed over by {@link ProtocolSink.onMessageView} is forwarded, in one pass from
   * the input to the output. A small one is built straight into the sink's batch, a larger one
   * into a pooled frame of its own (handed to {@link ProtocolSink.onOutput}). The caller keeps
   * `src`.
   *
   * @throws {@link UsageError} as {@link send}
   */
  sendRangeOf(
    opcode: number,
    src: Buffer,
    start: number,
    end: number,
    key: number,
    fin = true,
  ): void {
    this.checkCanSend();
    const op = this.sendingFragmented ? Opcode.Continuation : opcode;
    if (this.sink.frameRoom !== undefined && this.append(op, src, fin, false, start, end, key)) {
      this.sendingFragmented = !fin;
      return;
    }
    const n = end - start;
    // With room for the answers to the rest of `src` (an echo of the frames after this one in
    // the same read): they go into this buffer (see ProtocolSink.frameRoom), and the read is
    // answered with one write, not a writev of a buffer per message.
    const frame = this.config.pool.get(
      frameSize(n, this.config.mask !== null) + Math.min(src.length - end, ANSWER_ROOM_MAX),
    );
    try {
      appendFrameRange(
        frame,
        op,
        src,
        start,
        n,
        fin,
        false,
        this.config.mask,
        key,
        this.config.xorInto,
      );
    } catch (error) {
      this.config.pool.put(frame);
      throw error;
    }
    this.sendingFragmented = !fin;
    this.sink.onOutput(frame);
  }

  /**
   * Sends the unread bytes of `buf` as one frame built in place: the payload is masked where it
   * is (client role) and the header written into the room before it, so `buf` needs at least
   * {@link MAX_HEADER_SIZE} bytes free in front of its read offset (the deflater's output has
   * that headroom). Ownership of `buf` moves to the core, also when this throws.
   *
   * @throws {@link UsageError} `ERR_WS_NOT_OPEN` after a close frame was sent or received;
   *   `ERR_OUT_OF_RANGE` without the headroom
   */
  sendBuffer(opcode: number, buf: ByteBuffer, fin = true, rsv1 = false): void {
    if (this.closeSent || this.state !== ReadyState.Open || buf.off < MAX_HEADER_SIZE) {
      this.config.pool.put(buf);
      if (!this.canSend) throw createError("ERR_WS_NOT_OPEN");
      throw createError("ERR_OUT_OF_RANGE", "no headroom");
    }
    const first = !this.sendingFragmented;
    const payloadAt = buf.off;
    const length = buf.end - payloadAt;
    let key: Buffer | null = null;
    if (this.config.mask !== null) {
      key = this.maskKey as Buffer;
      this.config.mask.nextMask(key, 0);
      applyMask(buf.storage.subarray(payloadAt, buf.end), key, 0);
    }
    buf.off = writeHeaderBefore(
      buf.storage,
      payloadAt,
      first ? opcode : Opcode.Continuation,
      fin,
      first && rsv1,
      length,
      key,
    );
    this.sendingFragmented = !fin;
    this.sink.onOutput(buf);
  }

  /**
   * Builds a small frame straight into the sink's batch (of a byte payload, `[start, end)`;
   * `end` -1: to its end; masked with `key` when it is not 0); false when it must take onOutput.
   */
  private append(
    op: number,
    payload: Uint8Array | string,
    fin: boolean,
    rsv1: boolean,
    start = 0,
    end = -1,
    key = 0,
  ): boolean {
    let n: number;
    let existing = false;
    if (typeof payload === "string") {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only measure strings that may fit.
      if (payload.length > APPEND_MAX) return false;
      n = payload.length === 0 ? 0 : Buffer.byteLength(payload, "utf8");
      if (n > APPEND_MAX) return false;
    } else {
      n = (end < 0 ? payload.byteLength : end) - start;
      existing = n > APPEND_MAX;
    }
    const size = frameSize(n, this.config.mask !== null);
    const buf = (
      this.sink.frameRoom as (size: number, existing: boolean) => ByteBuffer | undefined
    ).call(this.sink, size, existing);
    if (buf === undefined) return false;
    if (typeof payload === "string") appendFrame(buf, op, payload, n, fin, rsv1, this.config.mask);
    else {
      appendFrameRange(
        buf,
        op,
        payload,
        start,
        n,
        fin,
        rsv1,
        this.config.mask,
        key,
        this.config.xorInto,
      );
    }
    this.sink.onOutputAppended?.(size);
    return true;
  }

  /** True while data may be sent: open, and no close frame sent yet. */
  get canSend(): boolean {
    return this.state === ReadyState.Open && !this.closeSent;
  }

  /** True while a fragmented message is being sent (the next frame is a continuation). */
  get sendingFragments(): boolean {
    return this.sendingFragmented;
  }

  /**
   * Sends `payload` as one message cut into frames of at most `fragmentSize` bytes (RFC 6455
   * section 5.4); the first carries the opcode, the rest are continuations.
   *
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a fragment size below 1;
   *   `ERR_WS_NOT_OPEN` after a close frame was sent or received
   */
  sendFragmented(opcode: number, payload: Uint8Array, fragmentSize: number): void {
    if (!Number.isInteger(fragmentSize) || fragmentSize < 1) {
      throw createError("ERR_INVALID_ARGUMENT", `fragmentSize must be >= 1, got ${fragmentSize}`);
    }
    const n = payload.byteLength;
    if (n <= fragmentSize) {
      this.send(opcode, payload, true, false);
      return;
    }
    for (let at = 0; at < n; at += fragmentSize) {
      const end = Math.min(n, at + fragmentSize);
      this.send(opcode, payload.subarray(at, end), end === n, false);
    }
  }

  /**
   * Sends several buffers as one message (or fragment) without concatenating them first.
   *
   * @throws {@link UsageError} `ERR_WS_NOT_OPEN` after a close frame was sent or received
   */
  sendParts(opcode: number, parts: readonly Uint8Array[], fin = true, rsv1 = false): void {
    this.checkCanSend();
    const first = !this.sendingFragmented;
    const op = first ? opcode : Opcode.Continuation;
    const frame = encodeFrameParts(this.config.pool, op, parts, {
      fin,
      rsv1: first && rsv1,
      mask: this.config.mask,
    });
    this.sendingFragmented = !fin;
    this.sink.onOutput(frame);
  }

  /**
   * Sends a ping (RFC 6455 section 5.5.2) with up to 125 bytes of payload.
   *
   * @throws {@link UsageError} for a longer payload or after a close frame was sent
   */
  ping(payload: Uint8Array = EMPTY): void {
    this.checkControl(payload);
    this.writeControl(Opcode.Ping, payload);
  }

  /**
   * Sends an unsolicited pong (RFC 6455 section 5.5.3), e.g. as a unidirectional heartbeat.
   *
   * @throws {@link UsageError} for a longer payload or after a close frame was sent
   */
  pong(payload: Uint8Array = EMPTY): void {
    this.checkControl(payload);
    this.writeControl(Opcode.Pong, payload);
  }

  /**
   * Starts the close handshake (RFC 6455 section 7.1.2), or completes it when the peer's close
   * frame already arrived. Does nothing when a close frame was already sent.
   *
   * @param code - a close code valid on the wire (1000 by default), or omit for no code
   * @param reason - at most 123 bytes of UTF-8
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a code or reason that may not be sent
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (!isValidCloseCode(code)) {
      throw createError("ERR_INVALID_ARGUMENT", `close code ${code} may not be sent`);
    }
    closePayloadLength(reason); // throws for a reason over 123 bytes
    if (this.closeSent || this.state === ReadyState.Closed) return;
    this.writeClose(code, reason);
    if (this.closeReceived) {
      this.state = ReadyState.Closed;
      this.end();
    } else {
      this.state = ReadyState.Closing;
    }
  }

  /**
   * Fails the connection (RFC 6455 section 7.1.7): sends a close frame with the error's close
   * code if none was sent yet, stops reading and asks the I/O layer to end the stream.
   */
  fail(error: TidewsError): void {
    if (this.state === ReadyState.Closed) return;
    this.failure ??= error;
    this.parser?.stop();
    this.releaseMessage();
    const code = error.closeCode;
    if (!this.closeSent && code !== undefined && isValidCloseCode(code)) {
      this.writeClose(code, "");
    }
    this.state = ReadyState.Closed;
    this.end();
  }

  /**
   * Stops the core at once, without a close frame (the I/O layer is tearing the stream down).
   */
  abort(error?: TidewsError): void {
    if (error !== undefined) this.failure ??= error;
    this.parser?.stop();
    this.releaseMessage();
    this.state = ReadyState.Closed;
    this.ended = true;
  }

  // --- Internals --------------------------------------------------------------------------------

  private receiveClose(payload: Buffer): boolean {
    const parsed = parseClosePayload(payload, this.config.validateUtf8);
    if (parsed instanceof TidewsError) {
      this.fail(parsed);
      return false;
    }
    this.closeReceived = true;
    this.peerCode = parsed.code;
    this.peerReason = parsed.reason;
    // RFC 6455 section 1.4 / 5.5.1: after a close frame, nothing more is read.
    this.parser?.stop();
    this.releaseMessage();
    this.sink.onPeerClose(parsed.code, parsed.reason);
    if (!this.closeSent) {
      // RFC 6455 section 5.5.1: reply with a close frame, typically echoing the status code.
      if (parsed.code === CloseCode.NoStatus) this.writeCloseEmpty();
      else this.writeClose(parsed.code, "");
    }
    this.state = ReadyState.Closed;
    this.end();
    return false;
  }

  private writeControl(opcode: number, payload: Uint8Array): void {
    this.sink.onOutput(encodeControlFrame(this.config.pool, opcode, payload, this.config.mask));
  }

  private writeClose(code: number, reason: string): void {
    this.closeSent = true;
    this.sink.onOutput(encodeCloseFrame(this.config.pool, code, reason, this.config.mask));
  }

  private writeCloseEmpty(): void {
    this.closeSent = true;
    this.sink.onOutput(encodeControlFrame(this.config.pool, Opcode.Close, EMPTY, this.config.mask));
  }

  private checkCanSend(): void {
    if (this.closeSent || this.state !== ReadyState.Open) {
      throw createError("ERR_WS_NOT_OPEN");
    }
  }

  private checkControl(payload: Uint8Array): void {
    this.checkCanSend();
    if (payload.byteLength > 125) {
      throw createError("ERR_INVALID_ARGUMENT", "control frame payloads are at most 125 bytes");
    }
  }

  private releaseMessage(): void {
    this.sinkPaused = false;
    if (this.message !== undefined) {
      this.config.pool.put(this.message);
      this.message = undefined;
    }
    if (this.streamingMessage) {
      this.streamingMessage = false;
      this.sink.onMessageAbort?.();
    }
  }

  // --- Streamed messages ------------------------------------------------------------------------

  /** The first frame of a message to stream: checks its size and tells the sink. */
  private startStream(opcode: number, length: number): boolean {
    // RFC 6455 section 7.4.1: 1009, "a message that is too big for it to process"; checked on
    // the declared frame length, before the payload arrives.
    if (length > this.config.maxStreamSize) {
      this.fail(createError("ERR_WS_MESSAGE_TOO_BIG", `${length} > ${this.config.maxStreamSize}`));
      return false;
    }
    this.streamingMessage = true;
    (this.sink.onMessageStart as (opcode: number) => void)(opcode);
    return this.state !== ReadyState.Closed;
  }

  /** A continuation frame of a streamed message: the limit applies across fragments. */
  private continueStream(length: number): boolean {
    if (this.messageLength + length > this.config.maxStreamSize) {
      const detail = `${this.messageLength + length} > ${this.config.maxStreamSize}`;
      this.fail(createError("ERR_WS_MESSAGE_TOO_BIG", detail));
      return false;
    }
    return true;
  }

  private streamChunk(data: Buffer): boolean {
    // RFC 6455 section 8.1: fail as soon as the text can no longer be valid UTF-8, before any
    // invalid byte reaches the sink.
    if (this.streaming && !this.textValidator().push(data)) {
      this.fail(createError("ERR_WS_INVALID_UTF8"));
      return false;
    }
    this.messageLength += data.length;
    const more = (this.sink.onMessageChunk as (data: Buffer) => boolean)(data);
    if (this.state === ReadyState.Closed) return false;
    if (!more) {
      this.sinkPaused = true;
      return false;
    }
    return true;
  }

  private endStream(): boolean {
    if (this.streaming && !this.textValidator().end()) {
      // A code point cut short at the end of the message.
      this.fail(createError("ERR_WS_INVALID_UTF8"));
      return false;
    }
    this.streamingMessage = false;
    const more = this.sink.onMessageEnd?.() !== false;
    if (this.state === ReadyState.Closed) return false;
    if (!more) this.sinkPaused = true;
    return more;
  }

  /** An inflated message to stream: one chunk, then the end; the core keeps `data`. */
  private deliverWholeAsStream(data: ByteBuffer): boolean {
    this.streamingMessage = true;
    (this.sink.onMessageStart as (opcode: number) => void)(this.messageOpcode);
    if (this.state !== ReadyState.Closed && data.len > 0) {
      // Backpressure does not apply: the whole message is in memory already.
      (this.sink.onMessageChunk as (data: Buffer) => boolean)(data.bytes());
    }
    this.config.pool.put(data);
    if (this.state === ReadyState.Closed) return false;
    this.streamingMessage = false;
    return this.sink.onMessageEnd?.() !== false;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.onEnd();
  }
}

const EMPTY = Buffer.alloc(0);

defineFlags(ProtocolConnection.prototype as unknown as HasBits, [
  "compressed",
  "streaming",
  "wholeFrame",
  "frameFirstPiece",
  "inflating",
  "awaitingInflate",
  "streamingMessage",
  "fragmented",
  "sinkPaused",
  "sendingFragmented",
  "closeSent",
  "closeReceived",
  "ended",
  "echoesInput",
]);
