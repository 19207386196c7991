/**
 * The frame encoder (RFC 6455 section 5.2): pure functions that build frames in place.
 *
 * A whole frame is built in one pooled {@link ByteBuffer}: {@link MAX_HEADER_SIZE} bytes are
 * reserved at the front, the payload is written (and masked) after them, and the header is then
 * written right-aligned into the reserved room, so that it ends where the payload starts. The
 * buffer's read offset is moved to the header start: `buf.bytes()` is exactly the frame.
 *
 * Unmasked server frames may instead go out as `[header, payload]` in one corked write, with
 * {@link writeHeader} filling a small header buffer.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * ```
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import {
  CloseCode,
  closePayloadLength,
  isValidCloseCode,
  writeClosePayload,
} from "./close-codes.js";
import {
  copyXor,
  copyXorRange,
  type MaskSource,
  readMaskKey,
  type XorInto,
  xorRange,
} from "./mask.js";

/** The largest header: 2 bytes, a 64-bit extended length and a 4-byte masking key. */
export const MAX_HEADER_SIZE = 14;

/** RFC 6455 section 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
const MAX_CONTROL_PAYLOAD = 125;

/** Payloads shorter than this are copied by a loop: `set` costs more for a few bytes. */
const SMALL_COPY = 32;

/**
 * The size of a frame header.
 *
 * RFC 6455 section 5.2: lengths 0-125 fit the 7-bit field, 126-65535 take a 16-bit extended
 * length, larger ones a 64-bit one; a masked frame adds the 4-byte masking key.
 */
export function headerSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength <= 0xffff ? 4 : 10;
  return masked ? base + 4 : base;
}

/** Throws a {@link UsageError} for a frame RFC 6455 does not allow us to send. */
function checkFrame(opcode: number, fin: boolean, payloadLength: number): void {
  // Section 5.2: the opcode is 4 bits.
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) {
    throw createError("ERR_INVALID_ARGUMENT", `opcode ${opcode} is not 4 bits`);
  }
  if (!Number.isInteger(payloadLength) || payloadLength < 0 || payloadLength > 2 ** 53 - 1) {
    throw createError("ERR_OUT_OF_RANGE", `payload length ${payloadLength}`);
  }
  // Section 5.5: control frames "MUST have a payload length of 125 bytes or less and MUST NOT be
  // fragmented".
  if (opcode >= 8 && (!fin || payloadLength > MAX_CONTROL_PAYLOAD)) {
    throw createError(
      "ERR_INVALID_ARGUMENT",
      `a control frame must be final and carry at most ${MAX_CONTROL_PAYLOAD} bytes`,
    );
  }
}

/**
 * Writes byte 0, byte 1 and the extended length at `at`; returns the offset after them (where a
 * masking key goes). No checks: callers validated the arguments.
 */
function putHeader(
  t: Buffer,
  at: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  length: number,
  masked: boolean,
): number {
  t[at] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    t[at + 1] = maskBit | length;
    return at + 2;
  }
  if (length <= 0xffff) {
    t[at + 1] = maskBit | 126;
    t[at + 2] = length >>> 8;
    t[at + 3] = length & 0xff;
    return at + 4;
  }
  // Section 5.2: a 64-bit unsigned integer in network byte order, most significant bit 0; the
  // length is below 2^53 so the high word is below 2^21.
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  t[at + 1] = maskBit | 127;
  t[at + 2] = 0;
  t[at + 3] = 0;
  t[at + 4] = high >>> 8;
  t[at + 5] = high & 0xff;
  t[at + 6] = low >>> 24;
  t[at + 7] = (low >>> 16) & 0xff;
  t[at + 8] = (low >>> 8) & 0xff;
  t[at + 9] = low & 0xff;
  return at + 10;
}

/**
 * Writes just a frame header into `target` at `at`: for unmasked server frames sent as
 * `[header, payload]`, or wherever the caller places the payload itself.
 *
 * @param mask - the 4-byte masking key to put in the header, or null for an unmasked frame (the
 *   caller masks the payload)
 * @returns the header's length, {@link headerSize}
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for an opcode that is not 4 bits, or a
 *   control frame (opcode 8-15) that is fragmented or longer than 125 bytes; `ERR_OUT_OF_RANGE`
 *   for a bad length or too little room in `target`
 */
export function writeHeader(
  target: Buffer,
  at: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  payloadLength: number,
  mask: Buffer | null,
): number {
  checkFrame(opcode, fin, payloadLength);
  const size = headerSize(payloadLength, mask !== null);
  if (!Number.isInteger(at) || at < 0 || at + size > target.length) {
    throw createError("ERR_OUT_OF_RANGE", `a ${size}-byte header does not fit at ${at}`);
  }
  const keyAt = putHeader(target, at, opcode, fin, rsv1, payloadLength, mask !== null);
  if (mask !== null) {
    if (mask.length < 4) {
      throw createError("ERR_INVALID_ARGUMENT", `a masking key has 4 bytes, got ${mask.length}`);
    }
    target[keyAt] = mask[0]!;
    target[keyAt + 1] = mask[1]!;
    target[keyAt + 2] = mask[2]!;
    target[keyAt + 3] = mask[3]!;
  }
  return size;
}

/**
 * Writes the header so that it ENDS at `end` (right-aligned), returns the header's start offset.
 *
 * This is how a frame is built in place: the payload starts at `end`, the header fills the room
 * reserved before it.
 *
 * @throws {@link UsageError} as {@link writeHeader}; `ERR_OUT_OF_RANGE` when the header does not
 *   fit before `end`
 */
export function writeHeaderBefore(
  target: Buffer,
  end: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  payloadLength: number,
  mask: Buffer | null,
): number {
  const start = end - headerSize(payloadLength, mask !== null);
  if (!(start >= 0) || end > target.length) {
    throw createError("ERR_OUT_OF_RANGE", `no room for the header before ${end}`);
  }
  writeHeader(target, start, opcode, fin, rsv1, payloadLength, mask);
  return start;
}

/** Options of the `encode*` functions. */
export interface EncodeOptions {
  /** FIN: this is the final frame of its message. Default true. */
  readonly fin?: boolean;
  /** RSV1: the message is compressed (RFC 7692); only on the first frame of a message. Default false. */
  readonly rsv1?: boolean;
  /**
   * Where masking keys come from; a client masks every frame (RFC 6455 section 5.3), a server
   * none (null or absent, the default).
   */
  readonly mask?: MaskSource | null;
}

/**
 * Appends `MAX_HEADER_SIZE + payloadLength` bytes to the (empty) pooled buffer and returns the
 * storage offset where the payload goes. Works with pools that hand out smaller buffers too.
 */
function reserve(buf: ByteBuffer, payloadLength: number): number {
  const total = MAX_HEADER_SIZE + payloadLength;
  if (buf.end === 0 && total <= buf.storage.length) {
    // The usual case: an empty pooled buffer that is big enough.
    buf.off = 0;
    buf.end = total;
    return MAX_HEADER_SIZE;
  }
  buf.grow(total);
  const at = buf.end;
  buf.end = at + total;
  return at + MAX_HEADER_SIZE;
}

/** Copies `src[start, start + n)` to `dst` at `at`, without a view of a Buffer source. */
function copyPayload(dst: Buffer, at: number, src: Uint8Array, start = 0, n = src.length): void {
  if (n < SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i]!;
  } else if (start === 0 && n === src.length) {
    dst.set(src, at);
  } else if (Buffer.isBuffer(src)) {
    src.copy(dst, at, start, start + n);
  } else {
    dst.set(src.subarray(start, start + n), at);
  }
}

/**
 * Writes the header right-aligned before the payload at `payloadAt` and moves the read offset to
 * it. For a masked frame the key is already in the 4 bytes before the payload (see `drawKey`).
 */
function finish(
  buf: ByteBuffer,
  payloadAt: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  length: number,
  mask: MaskSource | null,
): void {
  const start = payloadAt - headerSize(length, mask !== null);
  putHeader(buf.storage, start, opcode, fin, rsv1, length, mask !== null);
  buf.off = start;
}

/** Draws a masking key into the 4 bytes before `payloadAt` and returns it (see `readMaskKey`). */
function drawKey(buf: ByteBuffer, payloadAt: number, mask: MaskSource): number {
  mask.nextMask(buf.storage, payloadAt - 4);
  return readMaskKey(buf.storage, payloadAt - 4);
}

/**
 * The whole frame in ONE pooled ByteBuffer: reserve MAX_HEADER_SIZE bytes, write (and mask) the
 * payload after them, write the header right-aligned into the reserved room, and set the buffer's
 * read offset to the header start, so `buf.bytes()` is exactly the frame. Caller owns the
 * ByteBuffer (pool.put when written).
 *
 * `payload` is copied, never modified; it may be a view with any `byteOffset`.
 *
 * @throws {@link UsageError} as {@link writeHeader}
 */
export function encodeFrame(
  pool: Pool,
  opcode: number,
  payload: Uint8Array,
  options?: EncodeOptions,
): ByteBuffer {
  const fin = options?.fin ?? true;
  const rsv1 = options?.rsv1 ?? false;
  const mask = options?.mask ?? null;
  const n = payload.length;
  checkFrame(opcode, fin, n);
  const buf = pool.get(MAX_HEADER_SIZE + n);
  const at = reserve(buf, n);
  if (mask !== null) {
    // RFC 6455 section 5.3: the payload is masked with a fresh key carried in the header.
    copyXor(buf.storage, at, payload, drawKey(buf, at, mask), 0);
  } else {
    copyPayload(buf.storage, at, payload);
  }
  finish(buf, at, opcode, fin, rsv1, n, mask);
  return buf;
}

/**
 * Same, with a string encoded straight into the frame (no temporary Buffer). The opcode is 1
 * (text); lone surrogates become U+FFFD, as `Buffer.write` encodes them.
 */
export function encodeTextFrame(pool: Pool, text: string, options?: EncodeOptions): ByteBuffer {
  const fin = options?.fin ?? true;
  const rsv1 = options?.rsv1 ?? false;
  const mask = options?.mask ?? null;
  const n = text.length === 0 ? 0 : Buffer.byteLength(text, "utf8");
  const buf = pool.get(MAX_HEADER_SIZE + n);
  const at = reserve(buf, n);
  if (n > 0) buf.storage.write(text, at, n, "utf8");
  if (mask !== null) xorRange(buf.storage, at, at + n, drawKey(buf, at, mask), 0);
  finish(buf, at, 1, fin, rsv1, n, mask);
  return buf;
}

/**
 * Appends one whole frame at the end of `buf` (which must have `headerSize(n, masked) + n` bytes
 * free, see {@link frameSize}): the header, a fresh masking key for a masked frame, and the
 * payload copied (and masked) after it. This is how small frames of one tick are built straight
 * into a shared batch buffer. `byteLength` is the payload's size in bytes (for a string, its
 * UTF-8 length). `payload` is never modified.
 *
 * @throws {@link UsageError} as {@link writeHeader}
 */
export function appendFrame(
  buf: ByteBuffer,
  opcode: number,
  payload: Uint8Array | string,
  byteLength: number,
  fin: boolean,
  rsv1: boolean,
  mask: MaskSource | null,
): void {
  if (typeof payload !== "string") {
    appendFrameRange(buf, opcode, payload, 0, byteLength, fin, rsv1, mask);
    return;
  }
  const n = byteLength;
  checkFrame(opcode, fin, n);
  const t = buf.storage;
  let at = putHeader(t, buf.end, opcode, fin, rsv1, n, mask !== null);
  let key = 0;
  if (mask !== null) {
    // RFC 6455 section 5.3: a fresh key for every frame, carried in the header.
    mask.nextMask(t, at);
    key = readMaskKey(t, at);
    at += 4;
  }
  if (n > 0) t.write(payload, at, n, "utf8");
  if (mask !== null) xorRange(t, at, at + n, key, 0);
  buf.end = at + n;
}

/**
 * {@link appendFrame} with the payload `src[start, start + n)`: a received message being
 * forwarded is copied from its buffer without a view of it. A payload still masked with
 * `srcKey` (not 0; byte `start` takes key byte 0) is unmasked on the way, through `into`; with a
 * mask of its own, the frame's key and `srcKey` are applied in the same pass (XOR is
 * associative: octet i takes both keys' octet i mod 4).
 *
 * @throws {@link UsageError} as {@link writeHeader}
 */
export function appendFrameRange(
  buf: ByteBuffer,
  opcode: number,
  src: Uint8Array,
  start: number,
  n: number,
  fin: boolean,
  rsv1: boolean,
  mask: MaskSource | null,
  srcKey = 0,
  into: XorInto = copyXorRange,
): void {
  checkFrame(opcode, fin, n);
  const t = buf.storage;
  let at = putHeader(t, buf.end, opcode, fin, rsv1, n, mask !== null);
  let key = srcKey;
  if (mask !== null) {
    // RFC 6455 section 5.3: a fresh key for every frame, carried in the header.
    mask.nextMask(t, at);
    key = (readMaskKey(t, at) ^ srcKey) >>> 0;
    at += 4;
  }
  if (key !== 0) into(src, start, start + n, t, at, key, 0);
  else copyPayload(t, at, src, start, n);
  buf.end = at + n;
}

/** The size of a whole frame with an `n`-byte payload: header plus payload. */
export function frameSize(n: number, masked: boolean): number {
  return headerSize(n, masked) + n;
}

/**
 * Several parts as ONE frame payload without concatenating first (for writev(parts)).
 *
 * @throws {@link UsageError} as {@link writeHeader}
 */
export function encodeFrameParts(
  pool: Pool,
  opcode: number,
  parts: readonly Uint8Array[],
  options?: EncodeOptions,
): ByteBuffer {
  const fin = options?.fin ?? true;
  const rsv1 = options?.rsv1 ?? false;
  const mask = options?.mask ?? null;
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += (parts[i] as Uint8Array).length;
  checkFrame(opcode, fin, n);
  const buf = pool.get(MAX_HEADER_SIZE + n);
  const at = reserve(buf, n);
  const key = mask === null ? 0 : drawKey(buf, at, mask);
  let p = at;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Uint8Array;
    // Section 5.3: the key position runs on across the parts: octet i takes key octet i mod 4.
    if (mask !== null) copyXor(buf.storage, p, part, key, (p - at) & 3);
    else copyPayload(buf.storage, p, part);
    p += part.length;
  }
  finish(buf, at, opcode, fin, rsv1, n, mask);
  return buf;
}

/**
 * A close, ping or pong frame in one pooled buffer (see {@link encodeFrame}).
 *
 * @param opcode - 8 (close), 9 (ping) or 10 (pong)
 * @param payload - at most 125 bytes
 * @param mask - the mask source of a client, null for a server
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for another opcode or a longer payload
 */
export function encodeControlFrame(
  pool: Pool,
  opcode: number,
  payload: Uint8Array,
  mask: MaskSource | null,
): ByteBuffer {
  if (opcode !== 8 && opcode !== 9 && opcode !== 10) {
    throw createError("ERR_INVALID_ARGUMENT", `opcode ${opcode} is not a control opcode`);
  }
  return encodeFrame(pool, opcode, payload, { mask });
}

/**
 * A close frame (RFC 6455 section 5.5.1) in one pooled buffer: the code in network byte order and
 * the reason in UTF-8. {@link CloseCode.NoStatus} (1005) with an empty reason gives a close frame
 * without a body.
 *
 * @param mask - the mask source of a client, null for a server
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a code that may not be sent, a reason with
 *   1005, or a reason longer than 123 bytes
 */
export function encodeCloseFrame(
  pool: Pool,
  code: number,
  reason: string,
  mask: MaskSource | null,
): ByteBuffer {
  if (code === CloseCode.NoStatus) {
    if (reason.length !== 0) {
      throw createError("ERR_INVALID_ARGUMENT", "a close frame without a code has no reason");
    }
    const buf = pool.get(MAX_HEADER_SIZE);
    const at = reserve(buf, 0);
    if (mask !== null) drawKey(buf, at, mask);
    finish(buf, at, 8, true, false, 0, mask);
    return buf;
  }
  if (!isValidCloseCode(code)) {
    throw createError("ERR_INVALID_ARGUMENT", `close code ${code} may not be sent`);
  }
  const n = closePayloadLength(reason);
  const buf = pool.get(MAX_HEADER_SIZE + n);
  const at = reserve(buf, n);
  writeClosePayload(buf.storage, at, code, reason);
  if (mask !== null) xorRange(buf.storage, at, at + n, drawKey(buf, at, mask), 0);
  finish(buf, at, 8, true, false, n, mask);
  return buf;
}
