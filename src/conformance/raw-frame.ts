/**
 * The tester's own frame writer. Unlike the library's encoder it refuses nothing: reserved
 * opcodes, reserved bits, fragmented or oversized control frames, a declared length that the
 * payload does not match; a conformance test must be able to put any octets on the wire.
 *
 * Layout (RFC 6455 section 5.2): byte 0 is FIN, RSV1-3 and the opcode; byte 1 the MASK bit and
 * a 7-bit length, 126 for a 16-bit extended length, 127 for a 64-bit one; then the 4-byte
 * masking key of a masked frame.
 *
 * @module
 */

import { randomFillSync } from "node:crypto";

/** Fields of a raw frame header. */
export interface RawHeader {
  readonly opcode: number;
  readonly fin: boolean;
  /** RSV1..RSV3 as a number 0..7 (RSV1 is 4, RSV3 is 1). */
  readonly rsv: number;
  /** The payload length to declare. */
  readonly length: number;
  /** The 4-byte masking key, or null for an unmasked frame. */
  readonly mask: Buffer | null;
}

/** Encodes a frame header exactly as given (only the field widths are enforced). */
export function encodeHeader(h: RawHeader): Buffer {
  const base = h.length < 126 ? 2 : h.length <= 0xffff ? 4 : 10;
  const out = Buffer.allocUnsafe(base + (h.mask === null ? 0 : 4));
  out[0] = (h.fin ? 0x80 : 0) | ((h.rsv & 7) << 4) | (h.opcode & 0x0f);
  const maskBit = h.mask === null ? 0 : 0x80;
  if (h.length < 126) {
    out[1] = maskBit | h.length;
  } else if (h.length <= 0xffff) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(h.length, 2);
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(h.length / 0x100000000), 2);
    out.writeUInt32BE(h.length >>> 0, 6);
  }
  if (h.mask !== null) h.mask.copy(out, base, 0, 4);
  return out;
}

/** A fresh random masking key (RFC 6455 section 5.3: unpredictable). */
export function newMaskKey(): Buffer {
  return randomFillSync(Buffer.allocUnsafe(4));
}

/**
 * XORs `data` with `mask` in place, starting at key position `offset` (a payload masked in
 * pieces continues where the previous piece ended).
 */
export function applyMask(data: Buffer, mask: Buffer, offset = 0): void {
  const k0 = mask[0]!;
  const k1 = mask[1]!;
  const k2 = mask[2]!;
  const k3 = mask[3]!;
  const keys = [k0, k1, k2, k3];
  let i = 0;
  // Align to the key, then four bytes at a time.
  while (i < data.length && (offset + i) % 4 !== 0) {
    data[i] = data[i]! ^ keys[(offset + i) % 4]!;
    i++;
  }
  for (; i + 4 <= data.length; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < data.length; i++) data[i] = data[i]! ^ keys[(offset + i) % 4]!;
}

/** `pattern` repeated (and cut) to exactly `length` bytes (Autobahn's `payload_len`). */
export function repeatPayload(pattern: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  if (length === 0) return out;
  if (pattern.length === 0) return out.fill(0);
  let filled = Math.min(pattern.length, length);
  pattern.copy(out, 0, 0, filled);
  while (filled < length) {
    const n = Math.min(filled, length - filled);
    out.copy(out, filled, 0, n);
    filled += n;
  }
  return out;
}

/** Options of {@link encodeFrame}. */
export interface RawFrame {
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv: number;
  readonly payload: Buffer;
  /** Masking key, or null. The payload is copied before masking. */
  readonly mask: Buffer | null;
}

/** Encodes a whole frame: header, then the (masked) payload. */
export function encodeFrame(f: RawFrame): Buffer {
  const header = encodeHeader({ ...f, length: f.payload.length });
  const out = Buffer.allocUnsafe(header.length + f.payload.length);
  header.copy(out, 0);
  f.payload.copy(out, header.length);
  if (f.mask !== null) applyMask(out.subarray(header.length), f.mask);
  return out;
}

/**
 * A close frame payload: the 2-byte code and the reason (RFC 6455 section 5.5.1). Any code and
 * any bytes are allowed, cases send invalid ones: without a code the payload is just `reason`
 * (usually nothing).
 */
export function closePayload(code?: number, reason?: Buffer | string): Buffer {
  const r = reason === undefined ? Buffer.alloc(0) : Buffer.from(reason);
  if (code === undefined) return r;
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code & 0xffff, 0);
  r.copy(out, 2);
  return out;
}

/**
 * Splits a payload into fragment payloads the way Autobahn does: pieces of `size` bytes, and
 * when the length is an exact multiple of `size` an empty final piece. A payload no longer
 * than `size` stays whole.
 */
export function fragmentPayload(payload: Buffer, size: number): Buffer[] {
  if (payload.length <= size) return [payload];
  const out: Buffer[] = [];
  for (let i = 0; ; i += size) {
    const end = i + size;
    if (end > payload.length) {
      out.push(payload.subarray(i));
      return out;
    }
    out.push(payload.subarray(i, end));
  }
}
