/**
 * The few pieces of RFC 6455 the load generator and the raw ceiling server need, written here on
 * purpose: the load generator must not use any WebSocket library (tidews' own included), so that
 * what it measures is the server and nothing it shares with the server.
 *
 * - {@link acceptKey}: the `Sec-WebSocket-Accept` value (RFC 6455 section 4.2.2, step 5.4);
 * - {@link buildFrame}: one whole frame, masked or not (section 5.2);
 * - {@link FrameReader}: an integer-state reader of unmasked frames (server to client) that hands
 *   out payload pieces as views into the chunks it is fed, never copying them;
 * - {@link maskInto}: XOR-copy with a 4-byte key, native through `bufferutil` when installed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createRequire } from "node:module";

/** The GUID of RFC 6455 section 1.3, appended to the key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Frame opcodes (RFC 6455 section 5.2). */
export const OP_CONTINUATION = 0x0;
/** @see OP_CONTINUATION */
export const OP_TEXT = 0x1;
/** @see OP_CONTINUATION */
export const OP_BINARY = 0x2;
/** @see OP_CONTINUATION */
export const OP_CLOSE = 0x8;
/** @see OP_CONTINUATION */
export const OP_PING = 0x9;
/** @see OP_CONTINUATION */
export const OP_PONG = 0xa;

/** The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2). */
export function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

/** The 4 bytes that end a deflate block flushed with Z_SYNC_FLUSH (RFC 7692 section 7.2.1). */
export const DEFLATE_TAIL: Buffer = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** `bufferutil`'s native XOR-copy, when the package is installed (it is a devDependency). */
type MaskFn = (
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
) => void;

function loadNativeMask(): MaskFn | undefined {
  try {
    const req = createRequire(import.meta.url);
    return (req("bufferutil") as { mask: MaskFn }).mask;
  } catch {
    return undefined;
  }
}

const nativeMask = loadNativeMask();

/** Whether {@link maskInto} runs natively (`bufferutil`) rather than as a JavaScript loop. */
export const NATIVE_MASK: boolean = nativeMask !== undefined;

/**
 * Writes `source[0..length) XOR mask[(phase + i) & 3]` to `output` at `offset`. `phase` is the
 * position of `source[0]` within the payload, so a payload can be unmasked piece by piece.
 */
export function maskInto(
  source: Uint8Array,
  mask: Uint8Array,
  phase: number,
  output: Uint8Array,
  offset: number,
  length: number,
): void {
  let key = mask;
  if ((phase & 3) !== 0) {
    key = ROTATED;
    for (let i = 0; i < 4; i++) ROTATED[i] = mask[(phase + i) & 3] as number;
  }
  if (nativeMask !== undefined && length >= 16) {
    nativeMask(source, key, output, offset, length);
    return;
  }
  for (let i = 0; i < length; i++) {
    output[offset + i] = (source[i] as number) ^ (key[i & 3] as number);
  }
}
const ROTATED = new Uint8Array(4);

/** Options of {@link buildFrame}. */
export interface FrameOptions {
  /** The masking key (a client frame); none for a server frame. */
  readonly mask?: Uint8Array;
  /** RSV1, the "compressed" bit of permessage-deflate (RFC 7692 section 6). */
  readonly rsv1?: boolean;
  /** FIN; default true. */
  readonly fin?: boolean;
}

/** The length of a frame header for `payloadLength` bytes, masked or not. */
export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `out` at `offset` and returns its length (RFC 6455 section 5.2).
 * With `mask`, the key is written after the length; the payload is not touched.
 */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
  options: FrameOptions = {},
): number {
  let b0 = opcode & 0x0f;
  if (options.fin !== false) b0 |= 0x80;
  if (options.rsv1 === true) b0 |= 0x40;
  const maskBit = options.mask !== undefined ? 0x80 : 0;
  out[offset] = b0;
  let p = offset + 2;
  if (payloadLength < 126) {
    out[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 65536) {
    out[offset + 1] = maskBit | 126;
    out[p++] = payloadLength >>> 8;
    out[p++] = payloadLength & 0xff;
  } else {
    out[offset + 1] = maskBit | 127;
    const hi = Math.floor(payloadLength / 2 ** 32);
    const lo = payloadLength >>> 0;
    out[p++] = hi >>> 24;
    out[p++] = (hi >>> 16) & 0xff;
    out[p++] = (hi >>> 8) & 0xff;
    out[p++] = hi & 0xff;
    out[p++] = lo >>> 24;
    out[p++] = (lo >>> 16) & 0xff;
    out[p++] = (lo >>> 8) & 0xff;
    out[p++] = lo & 0xff;
  }
  if (options.mask !== undefined) {
    for (let i = 0; i < 4; i++) out[p++] = options.mask[i] as number;
  }
  return p - offset;
}

/** One whole frame: header, then the payload (masked with `options.mask` when given). */
export function buildFrame(
  opcode: number,
  payload: Uint8Array,
  options: FrameOptions = {},
): Buffer {
  const masked = options.mask !== undefined;
  const hl = headerLength(payload.length, masked);
  const out = Buffer.allocUnsafe(hl + payload.length);
  writeHeader(out, 0, opcode, payload.length, options);
  if (options.mask !== undefined) {
    maskInto(payload, options.mask, 0, out, hl, payload.length);
  } else {
    out.set(payload, hl);
  }
  return out;
}

/** What a {@link FrameReader} reports. */
export interface FrameReaderSink {
  /** A frame header was read. */
  onFrameStart(fin: boolean, rsv1: boolean, opcode: number, length: number): void;
  /** The next piece of the current frame's payload: `chunk[start..end)`, valid during the call. */
  onPayload(chunk: Buffer, start: number, end: number): void;
  /** The current frame's payload is complete. */
  onFrameEnd(): void;
}

const READ_HEADER = 0;
const READ_PAYLOAD = 1;

/**
 * Reads unmasked frames (the server-to-client direction) from a byte stream fed in chunks. An
 * integer-state loop: header bytes that straddle two chunks are gathered in 14 bytes of its own,
 * payload bytes are reported as views into the chunk. A masked frame, a 64-bit length above
 * 2^53 or reserved bits other than RSV1 are reported through `onError` once and end the reading.
 */
export class FrameReader {
  private state = READ_HEADER;
  private readonly head = Buffer.alloc(14);
  private headLen = 0;
  private remaining = 0;
  private failed = false;

  /**
   * @param sink - receives the frames
   * @param onError - called once with a description when the stream is not what a server sends
   */
  constructor(
    private readonly sink: FrameReaderSink,
    private readonly onError: (message: string) => void,
  ) {}

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && !this.failed) {
      if (this.state === READ_PAYLOAD) {
        const take = Math.min(this.remaining, n - off);
        this.sink.onPayload(chunk, off, off + take);
        off += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = READ_HEADER;
          this.sink.onFrameEnd();
        }
        continue;
      }
      // READ_HEADER. Fast path: the whole header is in this chunk and nothing is gathered yet.
      let src: Buffer = chunk;
      let at = off;
      const avail = this.headLen === 0 ? n - off : 0;
      let need = avail >= 2 ? this.needed(chunk[off + 1] as number) : 14;
      if (this.headLen > 0 || avail < need) {
        // Gather header bytes until the header is complete.
        while (off < n) {
          this.head[this.headLen++] = chunk[off++] as number;
          if (this.headLen >= 2) need = this.needed(this.head[1] as number);
          if (this.headLen === need) break;
        }
        if (this.headLen < 2 || this.headLen < need) return;
        src = this.head;
        at = 0;
        this.headLen = 0;
      } else {
        off += need;
      }
      this.header(src, at);
    }
  }

  /** The header length announced by the second header byte (a server frame has no mask). */
  private needed(b1: number): number {
    const len7 = b1 & 0x7f;
    return len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  }

  private header(b: Buffer, at: number): void {
    const b0 = b[at] as number;
    const b1 = b[at + 1] as number;
    if ((b1 & 0x80) !== 0) {
      this.fail("masked frame from the server");
      return;
    }
    if ((b0 & 0x30) !== 0) {
      this.fail("RSV2 or RSV3 set");
      return;
    }
    const len7 = b1 & 0x7f;
    let length = len7;
    if (len7 === 126) {
      length = b.readUInt16BE(at + 2);
    } else if (len7 === 127) {
      const hi = b.readUInt32BE(at + 2);
      if (hi > 0x1fffff) {
        this.fail("64-bit length above 2^53");
        return;
      }
      length = hi * 2 ** 32 + b.readUInt32BE(at + 6);
    }
    this.sink.onFrameStart((b0 & 0x80) !== 0, (b0 & 0x40) !== 0, b0 & 0x0f, length);
    if (length === 0) {
      this.sink.onFrameEnd();
    } else {
      this.remaining = length;
      this.state = READ_PAYLOAD;
    }
  }

  private fail(message: string): void {
    this.failed = true;
    this.onError(message);
  }
}
