import zlib from "node:zlib";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";

const EMPTY_TAIL = 4;

/**
 * Compresses one message on a fresh raw deflate context (no context takeover), as RFC 7692
 * section 7.2.1 asks: a sync flush, then the `00 00 ff ff` tail removed. The result is decodable
 * by any peer whose negotiated window is at least `windowBits` (8 runs as zlib's 9, whose
 * matches stay within 256 bytes), whatever its own context state, because it references nothing
 * before itself.
 *
 * @returns a pooled ByteBuffer whose unread bytes are the compressed payload, with `headroom`
 *   bytes free in front for a frame header
 */
export function deflateStandalone(
  data: Uint8Array,
  windowBits: number,
  level: number,
  pool: Pool,
  headroom: number,
): ByteBuffer {
  const out = zlib.deflateRawSync(data, {
    windowBits: windowBits === 8 ? 9 : windowBits,
    level,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const n = out.length - EMPTY_TAIL;
  const buf = pool.get(headroom + n);
  // Room for the header, then the payload; the read offset skips the room.
  buf.extend(headroom + n).set(out.subarray(0, n), headroom);
  buf.off += headroom;
  return buf;
}
