// Deterministic payloads that every peer can rebuild from (kind, size, seed): the same generator
// exists in test/interop/peers/payloads.py and test/interop/peers/browser/peer.js, so large
// messages never cross a process boundary as data, only as a digest. The server's digest of what
// it received proves the generators agree; each block carries its index, so a reordered or
// repeated chunk changes the bytes.
import { createHash } from "node:crypto";

export type Kind = "text" | "binary";

/** One message to send: its type, its exact length in bytes, and a seed. */
export interface PayloadSpec {
  readonly kind: Kind;
  readonly size: number;
  readonly seed: number;
}

/** The sizes the issue lists: each length-encoding boundary, and large messages. */
export const SIZES: readonly number[] = [0, 1, 125, 126, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024];

const BLOCK = 256;
const TEXT_BLOCK = 64;
/** 56 bytes of UTF-8 with characters of 1, 2, 3 and 4 bytes (an astral one included). */
export const TEXT_BODY = `${"aé€😀".repeat(5)}ж中!`;

/**
 * Binary: 256-byte blocks, each a 4-byte big-endian `index ^ seed` and then 252 bytes
 * `(j * 131 + index) & 0xff`; cut to `size`.
 */
export function binaryPayload(size: number, seed: number): Buffer {
  const blocks = Math.ceil(size / BLOCK);
  const out = Buffer.allocUnsafe(blocks * BLOCK);
  const bodies: Buffer[] = [];
  for (let r = 0; r < 256; r++) {
    const body = Buffer.allocUnsafe(BLOCK - 4);
    for (let j = 0; j < body.length; j++) body[j] = (j * 131 + r) & 0xff;
    bodies.push(body);
  }
  for (let k = 0; k < blocks; k++) {
    out.writeUInt32BE((k ^ seed) >>> 0, k * BLOCK);
    (bodies[k & 0xff] as Buffer).copy(out, k * BLOCK + 4);
  }
  return out.subarray(0, size);
}

/**
 * Text: 64-byte blocks, each the 8 hex digits of `index ^ seed` and then {@link TEXT_BODY}; the
 * `size % 64` bytes left over are `x`, so the UTF-8 length is exactly `size`.
 */
export function textPayload(size: number, seed: number): string {
  const blocks = Math.floor(size / TEXT_BLOCK);
  const parts: string[] = [];
  for (let k = 0; k < blocks; k++) {
    parts.push(((k ^ seed) >>> 0).toString(16).padStart(8, "0"), TEXT_BODY);
  }
  parts.push("x".repeat(size % TEXT_BLOCK));
  return parts.join("");
}

/** The payload's bytes (text as UTF-8). */
export function payloadBytes(spec: PayloadSpec): Buffer {
  return spec.kind === "binary"
    ? binaryPayload(spec.size, spec.seed)
    : Buffer.from(textPayload(spec.size, spec.seed), "utf8");
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Every size of {@link SIZES}, text then binary, each with its own seed. */
export function sizeMatrix(sizes: readonly number[] = SIZES): PayloadSpec[] {
  const specs: PayloadSpec[] = [];
  sizes.forEach((size, i) => {
    specs.push(
      { kind: "text", size, seed: 0x1000 + i },
      { kind: "binary", size, seed: 0x2000 + i },
    );
  });
  return specs;
}

/** Unicode text that exercises every UTF-8 length, astral planes and combining sequences. */
export const UNICODE_SAMPLES: readonly string[] = [
  "héllo wörld",
  "日本語のテキスト",
  "€ ₹ ₿ ∑ ∞ ≠",
  "𝄞 𝕋𝕚𝕕𝕖 𐍈",
  "😀👍🏽👩‍👩‍👧‍👦🏳️‍🌈",
  "\u0000\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}",
  "e\u0301 a\u030a",
  "ℵ".repeat(2000),
  "🎉".repeat(40000),
];
