/**
 * SHA-1 (FIPS 180-4), in plain TypeScript so the sans-I/O core needs no `node:crypto`.
 *
 * The opening handshake only hashes a 60-byte string per connection (RFC 6455 section 4.2.2,
 * item 5.4), so this favours being small and obviously correct over speed. SHA-1 is used here as
 * the RFC requires, not as a security primitive.
 *
 * @module
 */

/** Rotates a 32-bit word left by `n` bits. */
function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/**
 * The SHA-1 digest of `data`.
 *
 * @param data - the message; any view, a non-zero `byteOffset` is fine (it is read by index)
 * @returns a new 20-byte array
 */
export function sha1(data: Uint8Array): Uint8Array {
  const len = data.byteLength;
  // Padding (FIPS 180-4 section 5.1.1): a 1 bit, zeros, then the 64-bit big-endian bit length,
  // so that the total is a multiple of 512 bits.
  const blocks = ((len + 8) >>> 6) + 1;
  const words = new Int32Array(blocks * 16);
  for (let i = 0; i < len; i++) {
    words[i >>> 2]! |= data[i]! << (24 - (i & 3) * 8);
  }
  words[len >>> 2]! |= 0x80 << (24 - (len & 3) * 8);
  const bitsHigh = Math.floor(len / 0x20000000);
  const bitsLow = (len * 8) >>> 0;
  words[blocks * 16 - 2] = bitsHigh;
  words[blocks * 16 - 1] = bitsLow;

  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const w = new Int32Array(80);
  for (let block = 0; block < blocks; block++) {
    const base = block * 16;
    for (let t = 0; t < 16; t++) w[t] = words[base + t]!;
    for (let t = 16; t < 80; t++) {
      w[t] = rotl(w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!, 1);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const temp = (rotl(a, 5) + f + e + k + w[t]!) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }

  const out = new Uint8Array(20);
  const hs = [h0, h1, h2, h3, h4];
  for (let i = 0; i < 5; i++) {
    const h = hs[i]!;
    out[i * 4] = h >>> 24;
    out[i * 4 + 1] = (h >>> 16) & 0xff;
    out[i * 4 + 2] = (h >>> 8) & 0xff;
    out[i * 4 + 3] = h & 0xff;
  }
  return out;
}
