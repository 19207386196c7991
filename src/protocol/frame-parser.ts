/**
 * The frame parser (RFC 6455 section 5): bytes in, frame events out, no I/O.
 *
 * An integer-state machine that accepts its input in any chunking, down to one byte at a time,
 * and reports the same events whatever the chunking. Data payloads are never copied: the sink gets
 * views into the received chunk, unmasked in place (or ranges of it, still masked, for a sink that
 * unmasks as it copies; and, with `wholeMax`, a small message that is all in the chunk as one
 * event). Control payloads (at most 125 bytes) are handed out as views too, and gathered in a
 * small scratch buffer only when they arrive split.
 *
 * The parser checks framing only. Message size limits, UTF-8, permessage-deflate and the close
 * handshake belong to the connection on top of it.
 *
 * @module
 */

import { createError, type ErrorCode, type ProtocolError } from "../errors.js";
import { type XorRange, xorRange } from "./mask.js";

/** Options of a {@link FrameParser}. */
export interface FrameParserOptions {
  /**
   * Which end of the connection parses. A server expects every frame masked, a client expects
   * none masked (RFC 6455 section 5.1).
   */
  readonly role: "server" | "client";
  /**
   * Whether RSV1 may be set on the first frame of a data message (permessage-deflate, RFC 7692
   * section 6). Default false; settable later through {@link FrameParser.allowRsv1}.
   */
  readonly allowRsv1?: boolean;
  /** How masked payloads are unmasked (RFC 6455 section 5.3). Default: {@link xorRange}. */
  readonly xor?: XorRange;
  /**
   * Whole messages shorter than this go to {@link FrameSink.onWholeMessage} (see there). Default
   * 0: never; the sink must have that method otherwise.
   */
  readonly wholeMax?: number;
}

/**
 * Receives the events of a {@link FrameParser}, in stream order. Each method but
 * {@link FrameSink.onFrameError} may return false to pause the parser right after the event.
 */
export interface FrameSink {
  /** A validated data frame header (opcode 0 for continuation). Return false to pause. */
  onDataFrameStart(opcode: number, fin: boolean, rsv1: boolean, length: number): boolean;
  /** Unmasked payload piece of the current data frame, a view into the received chunk valid only during the call. */
  onDataFrameChunk(data: Buffer): boolean;
  /**
   * The same piece as `chunk[start, end)`, without a view made for it; when a sink has this
   * method the parser calls it instead of {@link FrameSink.onDataFrameChunk}. `chunk` is valid
   * only during the call.
   */
  onDataFrameBytes?(chunk: Buffer, start: number, end: number): boolean;
  /**
   * A masked piece `chunk[start, end)`, still masked, with what unmasks it: byte `start` takes
   * key byte `phase` of `key` (see {@link XorRange}), `xor` is the parser's. A sink with this
   * method unmasks the piece itself, straight into where it keeps it (one pass instead of an
   * in-place XOR and a copy); the parser calls it instead of the two others for masked frames.
   * `chunk` is valid only during the call; the sink must not rely on its content afterwards.
   */
  onMaskedDataFrameBytes?(
    chunk: Buffer,
    start: number,
    end: number,
    key: number,
    phase: number,
    xor: XorRange,
  ): boolean;
  /** End of the current data frame (also for zero-length frames). */
  onDataFrameEnd(fin: boolean): boolean;
  /**
   * A whole message in one frame (FIN set, text or binary, RSV1 clear), shorter than the parser's
   * `wholeMax`, whose payload `chunk[start, end)` is all in the chunk being parsed. It is still
   * masked with `key` (byte `start` takes key byte 0; `key` is 0 for an unmasked frame). The
   * parser reports no other event for such a frame. `chunk` is valid only during the call.
   */
  onWholeMessage?(opcode: number, chunk: Buffer, start: number, end: number, key: number): boolean;
  /** A whole control frame (close, ping, pong), payload unmasked, view valid only during the call. */
  onControlFrame(opcode: number, payload: Buffer): boolean;
  /** A framing violation; the parser has stopped for good. */
  onFrameError(error: ProtocolError): void;
}

// Parser states.
/** Expecting byte 0 of a header: FIN, RSV1-3, opcode. */
const HEADER = 0;
/** Expecting byte 1 of a header: MASK, payload len. */
const HEADER2 = 1;
/** Gathering a 16-bit extended payload length. */
const LENGTH16 = 2;
/** Gathering a 64-bit extended payload length. */
const LENGTH64 = 3;
/** Gathering the 4-byte masking key. */
const MASK = 4;
/** Inside the payload of a data frame. */
const DATA = 5;
/** Inside the payload of a control frame. */
const CONTROL_DATA = 6;
/** Stopped for good, by an error or by {@link FrameParser.stop}. */
const STOPPED = 7;

/** RFC 6455 section 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
const MAX_CONTROL_PAYLOAD = 125;
/** 2^53 / 2^32: the high word of a 64-bit length must stay below it to be a safe integer. */
const MAX_SAFE_HIGH_WORD = 0x200000;

const EMPTY: Buffer = Buffer.alloc(0);
/** The input queue of every parser that never queued (most): replaced by an array at first use. */
const NO_CHUNKS: Buffer[] = Object.freeze([]) as unknown as Buffer[];

/**
 * Parses WebSocket frames from a byte stream and reports them to a {@link FrameSink}.
 *
 * Bad input never throws: it is reported once through {@link FrameSink.onFrameError} with a
 * {@link ProtocolError} (close code 1002), after which the parser ignores all input.
 *
 * Ownership: {@link receive} unmasks masked payloads in place, so it modifies the chunk it is
 * given; and it keeps a reference to the unparsed part of a chunk while paused. The caller must
 * neither reuse nor change a chunk after passing it in.
 *
 * Allocation: no payload is ever copied or buffered anew. Per frame, the only objects are the
 * payload views handed to the sink (a piece that spans the whole chunk is the chunk itself) and,
 * for a masked piece of 128 bytes or more, the `Int32Array` view that unmasks it a word at a time.
 * A 125-byte scratch buffer is allocated once, the first time a control payload arrives split.
 */
export class FrameParser {
  /**
   * Whether RSV1 may be set on the first frame of a data message. Set it once permessage-deflate
   * is negotiated (RFC 7692 section 6); RSV1 on a continuation or control frame always fails.
   */
  allowRsv1: boolean;

  private readonly sink: FrameSink;
  /** RFC 6455 section 5.1: a server expects masked frames, a client unmasked ones. */
  private readonly expectMask: boolean;
  private readonly xor: XorRange;
  /** See {@link FrameParserOptions.wholeMax}. */
  private readonly wholeMax: number;
  private state = HEADER;
  private isPaused = false;
  /** True while {@link drain} runs: a nested receive or resume only queues or flags. */
  private parsing = false;

  // The frame being parsed.
  private fin = false;
  private rsv1 = false;
  private opcode = 0;
  private masked = false;
  /** The payload length; while gathering LENGTH16/LENGTH64, the low bytes gathered so far. */
  private length = 0;
  /** While gathering LENGTH64, the high 32 bits gathered so far. */
  private lengthHigh = 0;
  /** Bytes still missing: of the field being gathered, or of the payload. */
  private remaining = 0;
  /** The masking key, first byte highest (see `readMaskKey` in mask.ts). */
  private key = 0;
  /** The key position of the next payload byte. */
  private phase = 0;
  /** RFC 6455 section 5.4: a fragmented message is in progress (its last frame not yet seen). */
  private inMessage = false;

  /** Scratch for a control payload that arrives split, allocated on first use. */
  private control: Buffer | null = null;
  private controlHave = 0;

  // Input: the chunk being parsed and the chunks that arrived while paused.
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private queue: Buffer[] = NO_CHUNKS;
  private queueHead = 0;
  private queuedBytes = 0;

  /**
   * @param sink - receives the frame events
   * @param options - the role, and whether RSV1 is allowed
   */
  constructor(sink: FrameSink, options: FrameParserOptions) {
    this.sink = sink;
    this.expectMask = options.role === "server";
    this.allowRsv1 = options.allowRsv1 === true;
    this.xor = options.xor ?? xorRange;
    this.wholeMax = options.wholeMax ?? 0;
  }

  /** The length of the chunk being parsed: what one read of this connection's input brings. */
  get chunkLength(): number {
    return this.chunk.length;
  }

  /** True while paused (by {@link pause} or a sink method that returned false). */
  get paused(): boolean {
    return this.isPaused;
  }

  /** True once the parser stopped for good (a framing error or {@link stop}). */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  /** Bytes buffered: the kept rest of the current chunk plus the chunks queued while paused. */
  get bufferedBytes(): number {
    return this.chunk.length - this.pos + this.queuedBytes;
  }

  /**
   * Parses `chunk`, reporting events to the sink synchronously. While paused (or when called from
   * inside a sink method) the chunk is queued and parsed, in order, on {@link resume}. Ignored
   * once stopped.
   *
   * Masked payload bytes in `chunk` are unmasked in place.
   *
   * A `transient` chunk is valid only during the call (the caller reads into the same memory
   * again): whatever the parser keeps of it past the call (the rest after a pause, a queued
   * chunk) is copied first. The views handed to the sink are valid during their call either way.
   */
  receive(chunk: Buffer, transient = false): void {
    if (this.state === STOPPED) return;
    if (
      this.isPaused ||
      this.parsing ||
      this.pos < this.chunk.length ||
      this.queueHead < this.queue.length
    ) {
      // A kept rest and queued chunks (left by a sink that threw) go first: order holds in every
      // case.
      if (chunk.length === 0) return;
      if (this.queue === NO_CHUNKS) this.queue = [];
      this.queue.push(transient ? Buffer.from(chunk) : chunk);
      this.queuedBytes += chunk.length;
      if (this.isPaused || this.parsing) return;
    } else {
      this.chunk = chunk;
      this.pos = 0;
    }
    if (!transient) {
      this.drain();
      return;
    }
    try {
      this.drain();
    } finally {
      // Paused (or thrown out of) in the middle of the caller's memory: keep a copy of the rest.
      if (this.chunk === chunk) {
        this.chunk = this.pos < chunk.length ? Buffer.from(chunk.subarray(this.pos)) : EMPTY;
        this.pos = 0;
      }
    }
  }

  /**
   * Stops parsing after the current event (when called from a sink method) and keeps the rest of
   * the input. A sink method that returns false has the same effect.
   */
  pause(): void {
    if (this.state !== STOPPED) this.isPaused = true;
  }

  /**
   * Continues, synchronously, with the kept rest of the input and then the queued chunks. Events
   * that were due when the parser paused (such as the end of a zero-length frame) come first.
   */
  resume(): void {
    if (!this.isPaused || this.state === STOPPED) return;
    this.isPaused = false;
    if (!this.parsing) this.drain();
  }

  /** Stops for good and drops all buffered input. No event follows. */
  stop(): void {
    this.state = STOPPED;
    this.isPaused = false;
    this.chunk = EMPTY;
    this.pos = 0;
    this.queue = NO_CHUNKS;
    this.queueHead = 0;
    this.queuedBytes = 0;
  }

  /** Parses the current chunk, then the queued ones, until input runs out, a pause or a stop. */
  private drain(): void {
    this.parsing = true;
    try {
      for (;;) {
        this.parse();
        if (this.isPaused || this.state === STOPPED) return;
        if (this.queueHead === this.queue.length) {
          // Do not keep a parsed chunk alive.
          this.chunk = EMPTY;
          this.pos = 0;
          if (this.queueHead !== 0) {
            this.queue.length = 0;
            this.queueHead = 0;
          }
          return;
        }
        const next = this.queue[this.queueHead] as Buffer;
        this.queue[this.queueHead++] = EMPTY;
        this.queuedBytes -= next.length;
        this.chunk = next;
        this.pos = 0;
      }
    } finally {
      this.parsing = false;
    }
  }

  /** Fails the connection: stops for good and reports `code`. Returns false for the caller. */
  private fail(code: ErrorCode, detail?: string): false {
    this.stop();
    this.sink.onFrameError(createError(code, detail) as ProtocolError);
    return false;
  }

  /** After a sink call: pauses on false; true when parsing may go on. */
  private proceed(ok: boolean): boolean {
    if (!ok) this.pause();
    return !this.isPaused && this.state !== STOPPED;
  }

  /** The state loop over `this.chunk` from `this.pos`. `this.pos` is current at each sink call. */
  private parse(): void {
    const chunk = this.chunk;
    const len = chunk.length;
    let pos = this.pos;
    for (;;) {
      switch (this.state) {
        case HEADER: {
          if (pos === len) {
            this.pos = pos;
            return;
          }
          if (!this.readByte0(chunk[pos]!)) return;
          pos++;
          this.state = HEADER2;
          break;
        }
        case HEADER2: {
          if (pos === len) {
            this.pos = pos;
            return;
          }
          const b = chunk[pos++]!;
          this.pos = pos;
          if (!this.readByte1(b)) return;
          // A whole message may have been consumed (see beginPayload).
          pos = this.pos;
          break;
        }
        case LENGTH16: {
          if (this.remaining === 2 && len - pos >= 2) {
            this.length = (chunk[pos]! << 8) | chunk[pos + 1]!;
            pos += 2;
          } else {
            if (pos === len) {
              this.pos = pos;
              return;
            }
            this.length = (this.length << 8) | chunk[pos++]!;
            if (--this.remaining !== 0) break;
          }
          // RFC 6455 section 5.2: "the minimal number of bytes MUST be used to encode the length".
          if (this.length < 126) {
            this.fail("ERR_WS_NON_MINIMAL_LENGTH", `${this.length} in a 16-bit length`);
            return;
          }
          this.pos = pos;
          if (!this.afterLength()) return;
          pos = this.pos;
          break;
        }
        case LENGTH64: {
          if (this.remaining === 8 && len - pos >= 8) {
            this.lengthHigh =
              ((chunk[pos]! << 24) |
                (chunk[pos + 1]! << 16) |
                (chunk[pos + 2]! << 8) |
                chunk[pos + 3]!) >>>
              0;
            this.length =
              ((chunk[pos + 4]! << 24) |
                (chunk[pos + 5]! << 16) |
                (chunk[pos + 6]! << 8) |
                chunk[pos + 7]!) >>>
              0;
            pos += 8;
          } else {
            if (pos === len) {
              this.pos = pos;
              return;
            }
            const b = chunk[pos++]!;
            if (this.remaining > 4) this.lengthHigh = ((this.lengthHigh << 8) | b) >>> 0;
            else this.length = ((this.length << 8) | b) >>> 0;
            if (--this.remaining !== 0) break;
          }
          if (!this.checkLength64()) return;
          this.pos = pos;
          if (!this.afterLength()) return;
          pos = this.pos;
          break;
        }
        case MASK: {
          if (this.remaining === 4 && len - pos >= 4) {
            this.key =
              ((chunk[pos]! << 24) |
                (chunk[pos + 1]! << 16) |
                (chunk[pos + 2]! << 8) |
                chunk[pos + 3]!) >>>
              0;
            pos += 4;
          } else {
            if (pos === len) {
              this.pos = pos;
              return;
            }
            this.key = ((this.key << 8) | chunk[pos++]!) >>> 0;
            if (--this.remaining !== 0) break;
          }
          this.pos = pos;
          if (!this.beginPayload()) return;
          pos = this.pos;
          break;
        }
        case DATA: {
          if (this.remaining === 0) {
            this.state = HEADER;
            this.pos = pos;
            if (!this.proceed(this.sink.onDataFrameEnd(this.fin))) return;
            break;
          }
          if (pos === len) {
            this.pos = pos;
            return;
          }
          let n = len - pos;
          if (n > this.remaining) n = this.remaining;
          const sink = this.sink;
          const start = pos;
          const phase = this.phase;
          this.phase = (phase + n) & 3;
          this.remaining -= n;
          pos += n;
          this.pos = pos;
          let more: boolean;
          if (this.masked && sink.onMaskedDataFrameBytes !== undefined) {
            // RFC 6455 section 5.3, done by the sink as it copies the piece.
            more = sink.onMaskedDataFrameBytes(chunk, start, pos, this.key, phase, this.xor);
          } else {
            // RFC 6455 section 5.3: unmask octet i with masking-key octet (i modulo 4).
            if (this.masked) this.xor(chunk, start, pos, this.key, phase);
            more =
              sink.onDataFrameBytes !== undefined
                ? sink.onDataFrameBytes(chunk, start, pos)
                : sink.onDataFrameChunk(n === len ? chunk : chunk.subarray(start, pos));
          }
          if (!this.proceed(more)) return;
          break;
        }
        case CONTROL_DATA: {
          let payload: Buffer;
          const need = this.remaining;
          if (this.controlHave === 0 && len - pos >= need) {
            // The whole payload is in this chunk: hand out a view.
            if (need === 0) {
              payload = EMPTY;
            } else {
              if (this.masked) this.xor(chunk, pos, pos + need, this.key, 0);
              payload = chunk.subarray(pos, pos + need);
              pos += need;
            }
          } else {
            if (pos === len) {
              this.pos = pos;
              return;
            }
            if (this.control === null) this.control = Buffer.allocUnsafe(MAX_CONTROL_PAYLOAD);
            const n = Math.min(len - pos, need);
            chunk.copy(this.control, this.controlHave, pos, pos + n);
            this.controlHave += n;
            this.remaining -= n;
            pos += n;
            if (this.remaining !== 0) {
              this.pos = pos;
              return;
            }
            const total = this.controlHave;
            this.controlHave = 0;
            if (this.masked) xorRange(this.control, 0, total, this.key, 0);
            payload = this.control.subarray(0, total);
          }
          this.state = HEADER;
          this.pos = pos;
          if (!this.proceed(this.sink.onControlFrame(this.opcode, payload))) return;
          break;
        }
        default:
          // STOPPED
          this.pos = pos;
          return;
      }
    }
  }

  /** Checks byte 0 of a header (FIN, RSV1-3, opcode) against the stream so far. */
  private readByte0(b: number): boolean {
    const fin = (b & 0x80) !== 0;
    const rsv1 = (b & 0x40) !== 0;
    const opcode = b & 0x0f;
    // RFC 6455 section 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values". No extension tidews knows uses RSV2 or RSV3.
    if ((b & 0x20) !== 0) return this.fail("ERR_WS_UNEXPECTED_RSV2");
    if ((b & 0x10) !== 0) return this.fail("ERR_WS_UNEXPECTED_RSV3");
    if (opcode >= 8) {
      // Section 5.2: %xB-F "are reserved for further control frames".
      if (opcode > 10) return this.fail("ERR_WS_INVALID_OPCODE", `opcode ${opcode}`);
      // Section 5.5: "Control frames themselves MUST NOT be fragmented."
      if (!fin) return this.fail("ERR_WS_FRAGMENTED_CONTROL", `opcode ${opcode}`);
      // RFC 7692 section 6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
      // control frames".
      if (rsv1) return this.fail("ERR_WS_UNEXPECTED_RSV1", "on a control frame");
    } else if (opcode === 0) {
      // Section 5.4: continuation frames only follow a first frame with FIN clear.
      if (!this.inMessage) return this.fail("ERR_WS_UNEXPECTED_CONTINUATION");
      // RFC 7692 section 6.1: nor "non-first fragments of a data message".
      if (rsv1) return this.fail("ERR_WS_UNEXPECTED_RSV1", "on a continuation frame");
      this.inMessage = !fin;
    } else if (opcode <= 2) {
      // Section 5.4: the fragments of one message are not interleaved with another message.
      if (this.inMessage) return this.fail("ERR_WS_EXPECTED_CONTINUATION", `opcode ${opcode}`);
      if (rsv1 && !this.allowRsv1) return this.fail("ERR_WS_UNEXPECTED_RSV1");
      this.inMessage = !fin;
    } else {
      // Section 5.2: %x3-7 "are reserved for further non-control frames".
      return this.fail("ERR_WS_INVALID_OPCODE", `opcode ${opcode}`);
    }
    this.fin = fin;
    this.rsv1 = rsv1;
    this.opcode = opcode;
    return true;
  }

  /** Checks byte 1 of a header (MASK, payload len) and picks the next state. */
  private readByte1(b: number): boolean {
    const masked = (b & 0x80) !== 0;
    const len7 = b & 0x7f;
    // Section 5.1: "a client MUST mask all frames that it sends to the server" and "A server MUST
    // NOT mask any frames that it sends to the client"; the receiver closes the connection.
    if (masked !== this.expectMask) {
      return this.fail(masked ? "ERR_WS_UNEXPECTED_MASK" : "ERR_WS_EXPECTED_MASK");
    }
    this.masked = masked;
    if (len7 === 126) {
      this.state = LENGTH16;
      this.length = 0;
      this.remaining = 2;
    } else if (len7 === 127) {
      this.state = LENGTH64;
      this.length = 0;
      this.lengthHigh = 0;
      this.remaining = 8;
    } else {
      this.length = len7;
      return this.afterLength();
    }
    // Section 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    if (this.opcode >= 8) {
      return this.fail("ERR_WS_CONTROL_TOO_LONG", `length code ${len7}`);
    }
    return true;
  }

  /** Validates a gathered 64-bit length and stores it in `length`. */
  private checkLength64(): boolean {
    const high = this.lengthHigh;
    // Section 5.2: "the most significant bit MUST be 0".
    if (high >= 0x80000000) return this.fail("ERR_WS_INVALID_LENGTH");
    // JavaScript numbers hold integers exactly up to 2^53 - 1; nothing larger can be buffered.
    if (high >= MAX_SAFE_HIGH_WORD) {
      return this.fail("ERR_WS_INVALID_LENGTH", "the length exceeds 2^53 - 1");
    }
    const length = high * 0x100000000 + this.length;
    // Section 5.2: the minimal number of bytes MUST be used; 64 bits only for more than 65535.
    if (length <= 0xffff) {
      return this.fail("ERR_WS_NON_MINIMAL_LENGTH", `${length} in a 64-bit length`);
    }
    this.length = length;
    return true;
  }

  /** The length is known: gather the masking key, or start the payload. */
  private afterLength(): boolean {
    if (this.masked) {
      this.state = MASK;
      this.key = 0;
      this.remaining = 4;
      return true;
    }
    this.key = 0;
    return this.beginPayload();
  }

  /** The header is complete. For a data frame, reports its start. `this.pos` must be current. */
  private beginPayload(): boolean {
    this.remaining = this.length;
    this.phase = 0;
    if (this.opcode >= 8) {
      this.state = CONTROL_DATA;
      this.controlHave = 0;
      return true;
    }
    const length = this.length;
    const start = this.pos;
    if (
      length < this.wholeMax &&
      this.fin &&
      this.opcode !== 0 &&
      !this.rsv1 &&
      this.chunk.length - start >= length
    ) {
      // The whole message is here: one event, no pieces (the sink unmasks it, or not).
      this.state = HEADER;
      this.pos = start + length;
      const sink = this.sink as Required<Pick<FrameSink, "onWholeMessage">>;
      return this.proceed(
        sink.onWholeMessage(this.opcode, this.chunk, start, start + length, this.key),
      );
    }
    this.state = DATA;
    return this.proceed(this.sink.onDataFrameStart(this.opcode, this.fin, this.rsv1, length));
  }
}
