/**
 * Payload masking (RFC 6455 section 5.3).
 *
 * "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet i of the original
 * data ("original-octet-i") with octet at index i modulo 4 of the masking key
 * ("masking-key-octet-j")". Masking and unmasking are the same operation.
 *
 * Long runs are XORed a 32-bit word at a time through an aligned `Int32Array` over the
 * underlying `ArrayBuffer`, at `byteOffset`-relative positions, with the key rotated to the
 * alignment; the few bytes before the first aligned address and after the last whole word, and
 * short runs, go through a byte loop unrolled by four.
 *
 * @module
 */

import { createError } from "../errors.js";

/** Where masking keys come from: writes 4 fresh bytes at `target[at, at + 4)`. */
export interface MaskSource {
  /** Writes the next 4-byte masking key into `target` at `at`. */
  nextMask(target: Buffer, at: number): void;
}

/**
 * XORs `data[start, end)` in place with a masking key given as one integer (first key byte
 * highest, see {@link readMaskKey}); byte `start` takes key byte `phase` (0-3). The core's own is
 * {@link xorRange}; the runtime may inject a native one (see `ProtocolOptions.xor`).
 */
export interface XorRange {
  (data: Uint8Array, start: number, end: number, key: number, phase: number): void;
  /**
   * The same XOR from `src[start, end)` into `dst` at `dstAt` in one pass, `src` unchanged.
   * Optional: without it the core uses {@link copyXorRange}.
   */
  readonly into?: XorInto;
}

/** XORs `src[start, end)` into `dst` at `dstAt` (byte `start` takes key byte `phase`). */
export type XorInto = (
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstAt: number,
  key: number,
  phase: number,
) => void;

/** Below this many bytes the unrolled byte loop beats building a word view. */
const WORD_MIN = 128;

/** Whether this machine stores the low byte of a word first. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * @internal The 4 mask bytes at `src[at, at + 4)` as one unsigned integer, first byte highest.
 */
export function readMaskKey(src: Uint8Array, at: number): number {
  return ((src[at]! << 24) | (src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!) >>> 0;
}

/** @internal `key` rotated so that its highest byte is key byte `phase` (0-3). */
export function rotate(key: number, phase: number): number {
  const s = (phase & 3) << 3;
  return s === 0 ? key : ((key << s) | (key >>> (32 - s))) >>> 0;
}

/** The signed 32-bit word to XOR with memory whose first byte takes key byte `phase`. */
function wordMask(key: number, phase: number): number {
  const be = rotate(key, phase);
  if (!LITTLE_ENDIAN) return be | 0;
  return ((be & 0xff) << 24) | ((be & 0xff00) << 8) | ((be >>> 8) & 0xff00) | (be >>> 24);
}

/** XORs `view[0, words)` with `m`, four words per step. */
function xorWords(view: Int32Array, words: number, m: number): void {
  let w = 0;
  for (; w + 4 <= words; w += 4) {
    view[w] = view[w]! ^ m;
    view[w + 1] = view[w + 1]! ^ m;
    view[w + 2] = view[w + 2]! ^ m;
    view[w + 3] = view[w + 3]! ^ m;
  }
  for (; w < words; w++) view[w] = view[w]! ^ m;
}

/**
 * Byte loop over `data[i, end)`, unrolled by four; `k` is the key rotated to byte `i`.
 * Returns nothing; `data` is changed in place.
 */
function xorBytes(data: Uint8Array, i: number, end: number, k: number): void {
  const m0 = k >>> 24;
  const m1 = (k >>> 16) & 0xff;
  const m2 = (k >>> 8) & 0xff;
  const m3 = k & 0xff;
  for (; i + 4 <= end; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  if (i < end) data[i] = data[i]! ^ m0;
  if (i + 1 < end) data[i + 1] = data[i + 1]! ^ m1;
  if (i + 2 < end) data[i + 2] = data[i + 2]! ^ m2;
}

/** Copying byte loop: `dst[d + j] = src[s + j] ^ key` for `j < n`; `k` as in {@link xorBytes}. */
function copyXorBytes(
  dst: Uint8Array,
  d: number,
  src: Uint8Array,
  s: number,
  n: number,
  k: number,
): void {
  const m0 = k >>> 24;
  const m1 = (k >>> 16) & 0xff;
  const m2 = (k >>> 8) & 0xff;
  const m3 = k & 0xff;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    dst[d + j] = src[s + j]! ^ m0;
    dst[d + j + 1] = src[s + j + 1]! ^ m1;
    dst[d + j + 2] = src[s + j + 2]! ^ m2;
    dst[d + j + 3] = src[s + j + 3]! ^ m3;
  }
  if (j < n) dst[d + j] = src[s + j]! ^ m0;
  if (j + 1 < n) dst[d + j + 1] = src[s + j + 1]! ^ m1;
  if (j + 2 < n) dst[d + j + 2] = src[s + j + 2]! ^ m2;
}

/**
 * @internal XORs `data[start, end)` in place with `key` (see {@link readMaskKey}); byte `start`
 * takes key byte `phase` (0-3).
 */
export function xorRange(
  data: Uint8Array,
  start: number,
  end: number,
  key: number,
  phase: number,
): void {
  const n = end - start;
  if (n < WORD_MIN) {
    xorBytes(data, start, end, rotate(key, phase));
    return;
  }
  // Bytes up to the first 4-byte aligned address (relative to the ArrayBuffer, so byteOffset
  // counts), then whole words, then the tail.
  const base = data.byteOffset;
  const head = (4 - ((base + start) & 3)) & 3;
  xorBytes(data, start, start + head, rotate(key, phase));
  const p = phase + head;
  const words = (n - head) >>> 2;
  xorWords(new Int32Array(data.buffer, base + start + head, words), words, wordMask(key, p));
  const tail = start + head + (words << 2);
  xorBytes(data, tail, end, rotate(key, p));
}

/**
 * @internal Copies `src` into `dst` at `dstAt`, masked with `key` from key phase `phase`.
 * One pass when both sides reach a word boundary together; otherwise a copy, then an in-place
 * XOR of the copy.
 */
export function copyXor(
  dst: Uint8Array,
  dstAt: number,
  src: Uint8Array,
  key: number,
  phase: number,
): void {
  copyXorRange(src, 0, src.length, dst, dstAt, key, phase);
}

/**
 * @internal {@link copyXor} of `src[start, end)`: the core's way to unmask a received piece
 * straight into its message buffer (see {@link XorInto}).
 */
export function copyXorRange(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstAt: number,
  key: number,
  phase: number,
): void {
  const n = end - start;
  if (n < WORD_MIN) {
    copyXorBytes(dst, dstAt, src, start, n, rotate(key, phase));
    return;
  }
  const dstBase = dst.byteOffset + dstAt;
  const srcBase = src.byteOffset + start;
  if (((dstBase - srcBase) & 3) !== 0 || dst.buffer === src.buffer) {
    dst.set(src.subarray(start, end), dstAt);
    xorRange(dst, dstAt, dstAt + n, key, phase);
    return;
  }
  const head = (4 - (srcBase & 3)) & 3;
  copyXorBytes(dst, dstAt, src, start, head, rotate(key, phase));
  const p = phase + head;
  const words = (n - head) >>> 2;
  const from = new Int32Array(src.buffer, srcBase + head, words);
  const to = new Int32Array(dst.buffer, dstBase + head, words);
  const m = wordMask(key, p);
  let w = 0;
  for (; w + 4 <= words; w += 4) {
    to[w] = from[w]! ^ m;
    to[w + 1] = from[w + 1]! ^ m;
    to[w + 2] = from[w + 2]! ^ m;
    to[w + 3] = from[w + 3]! ^ m;
  }
  for (; w < words; w++) to[w] = from[w]! ^ m;
  const tail = head + (words << 2);
  copyXorBytes(dst, dstAt + tail, src, start + tail, n - tail, rotate(key, p));
}

function checkMask(mask: Uint8Array): void {
  if (mask.length < 4) {
    throw createError("ERR_INVALID_ARGUMENT", `a masking key has 4 bytes, got ${mask.length}`);
  }
}

/**
 * XORs `data` in place with the 4-byte `mask`, byte 0 of `data` taking mask byte `maskOffset`.
 *
 * A payload split across chunks is unmasked piece by piece: pass the running offset
 * `(bytesSoFar & 3)` for each piece. `data` may be a view with any `byteOffset`.
 *
 * @param data - the bytes to (un)mask, modified in place
 * @param mask - the masking key (its first 4 bytes are used)
 * @param maskOffset - the mask position of `data[0]`, 0-3 (taken modulo 4)
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when `mask` has fewer than 4 bytes
 */
export function applyMask(data: Buffer, mask: Buffer, maskOffset: number): void {
  checkMask(mask);
  xorRange(data, 0, data.length, readMaskKey(mask, 0), maskOffset);
}

/**
 * Copies `src` into `dst` at `dstAt` and masks the copy in the same step; `src` is not modified.
 *
 * @param dst - the target, with room for `src.length` bytes at `dstAt`
 * @param dstAt - where the masked bytes go
 * @param src - the original bytes
 * @param mask - the masking key (its first 4 bytes are used)
 * @param maskOffset - the mask position of `src[0]`, 0-3 (default 0), for payloads built in parts
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when `mask` has fewer than 4 bytes;
 *   `ERR_OUT_OF_RANGE` when `dst` has no room
 */
export function maskInto(
  dst: Buffer,
  dstAt: number,
  src: Uint8Array,
  mask: Buffer,
  maskOffset = 0,
): void {
  checkMask(mask);
  if (!Number.isInteger(dstAt) || dstAt < 0 || dstAt + src.length > dst.length) {
    throw createError("ERR_OUT_OF_RANGE", `${src.length} bytes do not fit at ${dstAt}`);
  }
  copyXor(dst, dstAt, src, readMaskKey(mask, 0), maskOffset);
}

/**
 * A {@link MaskSource} that hands out the same key every time. For tests and fixtures only:
 * RFC 6455 section 5.3 requires each key to be unpredictable ("derived from a strong source of
 * entropy"); use the runtime's `CryptoMaskSource` on real connections.
 */
export class FixedMaskSource implements MaskSource {
  private readonly key: Uint8Array;

  /**
   * @param mask - the 4 key bytes, e.g. `[0x37, 0xfa, 0x21, 0x3d]`
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` unless `mask` holds exactly 4 bytes
   */
  constructor(mask: ArrayLike<number>) {
    if (mask.length !== 4) {
      throw createError("ERR_INVALID_ARGUMENT", `a masking key has 4 bytes, got ${mask.length}`);
    }
    this.key = Uint8Array.from(mask, (b) => b & 0xff);
  }

  /** Writes the fixed key into `target` at `at`. */
  nextMask(target: Buffer, at: number): void {
    target.set(this.key, at);
  }
}
