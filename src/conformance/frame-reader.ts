/**
 * The tester's own frame reader: it parses whatever the peer sends (any opcode, any bits, masked
 * or not) and leaves every judgement to its caller. Input may arrive in any chunking.
 *
 * @module
 */

import { applyMask } from "./raw-frame.js";

/** One frame as it arrived, payload unmasked. */
export interface ReadFrame {
  readonly fin: boolean;
  /** RSV1..RSV3 as a number 0..7 (RSV1 is 4). */
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** Incremental frame parser. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Set when the stream cannot be parsed any further. */
  error: string | null = null;

  /**
   * Feeds bytes and returns the frames completed by them.
   *
   * After an unparsable header (a 64-bit length with its top bit set, or one beyond what this
   * process can hold), {@link FrameReader.error} is set and nothing more is returned.
   */
  push(chunk: Buffer): ReadFrame[] {
    if (this.error !== null) return [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: ReadFrame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) return out;
      out.push(frame);
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks);
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    this.buffered -= n;
    return joined.subarray(0, n);
  }

  private next(): ReadFrame | null {
    if (this.buffered < 2) return null;
    const head = this.peek(Math.min(this.buffered, 14));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let at = 2;
    if (length === 126) {
      if (this.buffered < 4) return null;
      length = head.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (this.buffered < 10) return null;
      const high = head.readUInt32BE(2);
      // RFC 6455 section 5.2: the most significant bit MUST be 0.
      if (high >= 0x80000000) {
        this.error = "64-bit payload length with the most significant bit set";
        return null;
      }
      if (high > 0x1fffff) {
        this.error = `payload length ${high} * 2^32 is beyond what the tester can hold`;
        return null;
      }
      length = high * 0x100000000 + head.readUInt32BE(6);
      at = 10;
    }
    const headerLength = at + (masked ? 4 : 0);
    if (this.buffered < headerLength + length) return null;
    const header = this.take(headerLength);
    const key = masked ? Buffer.from(header.subarray(at, at + 4)) : null;
    // Copy: the chunk may be a view of a larger socket buffer, and we unmask in place.
    const payload = Buffer.from(this.take(length));
    if (key !== null) applyMask(payload, key);
    return {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked,
      payload,
    };
  }
}
