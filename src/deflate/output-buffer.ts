/**
 * Growing a pooled output buffer while zlib writes into it.
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";

/**
 * Makes room for `need` bytes after `out.end`. When `out` is too small, the contents move to a
 * bigger buffer from `pool` at the same offsets (so the room in front of `off`, kept for a frame
 * header, survives) and `out` goes back to the pool. The storage doubles, but not past `limit`
 * (the most the caller will ever write there), unless `need` itself asks for more.
 *
 * @returns `out`, or its replacement; the caller must use the returned buffer from then on
 */
export function reserve(
  pool: Pool,
  out: ByteBuffer,
  need: number,
  limit = Number.POSITIVE_INFINITY,
): ByteBuffer {
  if (out.storage.length - out.end >= need) return out;
  const doubled = Math.min(out.storage.length * 2, limit);
  const bigger = pool.get(Math.max(doubled, out.end + need));
  out.storage.copy(bigger.storage, out.off, out.off, out.end);
  bigger.off = out.off;
  bigger.end = out.end;
  pool.put(out);
  return bigger;
}

/**
 * A buffer from `pool` for about `n` bytes whose contents start `headroom` bytes into its
 * storage.
 */
export function takeOutput(pool: Pool, headroom: number, n: number): ByteBuffer {
  const out = pool.get(headroom + n);
  out.off = headroom;
  out.end = headroom;
  return out;
}

/** Copies `pieces` (and then `tail`, when given) into one buffer from `pool`. */
export function copyInput(
  pool: Pool,
  pieces: Uint8Array | readonly Uint8Array[],
  from: number,
  fromOffset: number,
  tail: Uint8Array | undefined,
): ByteBuffer {
  let total = tail === undefined ? 0 : tail.byteLength;
  if (pieces instanceof Uint8Array) {
    total += pieces.byteLength - fromOffset;
  } else {
    for (let i = from; i < pieces.length; i++) total += pieces[i]!.byteLength;
    total -= fromOffset;
  }
  const buf = pool.get(total);
  if (pieces instanceof Uint8Array) {
    buf.write(fromOffset === 0 ? pieces : pieces.subarray(fromOffset));
  } else {
    for (let i = from; i < pieces.length; i++) {
      const piece = pieces[i]!;
      buf.write(i === from && fromOffset > 0 ? piece.subarray(fromOffset) : piece);
    }
  }
  if (tail !== undefined) buf.write(tail);
  return buf;
}
