/**
 * Optional native unmasking: when the `bufferutil` package (the native helper `ws` uses too) is
 * installed, a server unmasks received payloads with it instead of the core's TypeScript loop.
 * tidews does not depend on it; without it, or with only its JavaScript fallback, nothing changes.
 *
 * Measured on the 2-core development machine (`node --import tsx bench/mask.ts`): the
 * TypeScript word loop unmasks 2 to 6 GB/s, bufferutil 12 to 22 GB/s from 16 KiB up and about
 * 1.8x at 1 KiB; below about 512 bytes the call costs more than it saves, so short pieces stay
 * in TypeScript.
 *
 * @module
 */

// Imported rather than the global: Node defines the global `Buffer` as an accessor, which the
// optimizing compiler does not fold, so each use in a hot function costs a getter call.
import { Buffer } from "node:buffer";
import { copyXorRange, rotate, type XorInto, type XorRange, xorRange } from "../protocol/mask.js";

/** Pieces shorter than this stay in TypeScript: the native call costs more than it saves. */
export const NATIVE_XOR_MIN = 512;

/** The part of bufferutil's API used here. */
interface BufferUtil {
  unmask(buffer: Uint8Array, mask: Buffer): void;
  /** XORs `source[0, length)` with `mask` into `output` at `offset` (bufferutil 4). */
  mask?(source: Uint8Array, mask: Buffer, output: Buffer, offset: number, length: number): void;
}

function isBufferUtil(v: unknown): v is BufferUtil {
  return typeof v === "object" && v !== null && typeof (v as BufferUtil).unmask === "function";
}

/** The CommonJS exports of a module loaded through `import()` (ESM wraps them in `default`). */
function exportsOf(mod: unknown): unknown {
  const m = mod as { default?: unknown; unmask?: unknown };
  return typeof m.unmask === "function" ? m : m.default;
}

/**
 * A {@link XorRange} over bufferutil's `unmask`. The returned function owns a 4-byte key buffer:
 * make one per server (it is used synchronously, so the connections of one server share it).
 */
export function nativeXor(util: BufferUtil, min = NATIVE_XOR_MIN): XorRange {
  const key = Buffer.alloc(4);
  // The ArrayBuffer of the last chunk seen. Reading `.buffer` is a call into C++ in this V8 (3.7%
  // of the server's user time in echo-1k, one call per message), and the parser hands over the
  // same chunk for every message of a read. Holds one chunk alive at most.
  let lastData: Uint8Array | undefined;
  let lastBuffer: ArrayBufferLike = new ArrayBuffer(0);
  let lastOffset = 0;
  // A plain Uint8Array: cheaper to make than a Buffer view (no Buffer constructor), and Node-API
  // takes it wherever it takes a Buffer (napi_get_buffer_info documents both since nodejs/node#48742).
  const view = (data: Uint8Array, start: number, end: number): Uint8Array => {
    if (data !== lastData) {
      lastData = data;
      lastBuffer = data.buffer;
      lastOffset = data.byteOffset;
    }
    return new Uint8Array(lastBuffer, lastOffset + start, end - start);
  };
  const xor = (data: Uint8Array, start: number, end: number, k: number, phase: number): void => {
    if (end - start < min) {
      xorRange(data, start, end, k, phase);
      return;
    }
    // Key byte `phase` goes first (RFC 6455 section 5.3: octet i takes key octet i mod 4).
    key.writeUInt32BE(rotate(k, phase), 0);
    util.unmask(view(data, start, end), key);
  };
  const mask = util.mask;
  if (mask === undefined) return xor;
  const into: XorInto = (src, start, end, dst, dstAt, k, phase) => {
    if (end - start < min || !Buffer.isBuffer(dst)) {
      copyXorRange(src, start, end, dst, dstAt, k, phase);
      return;
    }
    key.writeUInt32BE(rotate(k, phase), 0);
    mask.call(util, view(src, start, end), key, dst, dstAt, end - start);
  };
  return Object.assign(xor, { into });
}

/**
 * Loads bufferutil if it is installed and native, and returns a fresh {@link XorRange} over it;
 * `undefined` when it is missing or only its JavaScript fallback loads (slower than the core's).
 * Never throws.
 *
 * @param specifier - the package to load; for tests
 */
export async function loadNativeXor(specifier = "bufferutil"): Promise<XorRange | undefined> {
  let util: unknown;
  let fallback: unknown;
  try {
    util = exportsOf(await import(specifier));
  } catch {
    return undefined;
  }
  try {
    fallback = exportsOf(await import(`${specifier}/fallback.js`));
  } catch {
    fallback = undefined;
  }
  if (!isBufferUtil(util)) return undefined;
  if (isBufferUtil(fallback) && fallback.unmask === util.unmask) return undefined;
  return nativeXor(util);
}
