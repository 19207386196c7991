import { BufferPool } from "../../src/buffer/buffer-pool.js";
import { CodecPool } from "../../src/deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../../src/deflate/concurrency-limiter.js";
import { ZlibCodecFactory, type ZlibCodecOptions } from "../../src/deflate/zlib-codec.js";

export function factory(options: Partial<ZlibCodecOptions> = {}) {
  const bufferPool = new BufferPool(256, 1 << 22);
  const limiter = new ConcurrencyLimiter(Number(process.env.LIMIT ?? 8));
  const codecPool = new CodecPool();
  return {
    bufferPool,
    codecPool,
    f: new ZlibCodecFactory({
      bufferPool,
      limiter,
      codecPool,
      chunkSize: Number(process.env.CHUNK ?? 16384),
      deflate: { memLevel: Number(process.env.MEMLEVEL ?? 8) },
      ...options,
    }),
  };
}

const WORDS = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt " +
  'ut labore et dolore magna aliqua user_id timestamp "type":"message" payload 1234 5678 true false null'
).split(" ");
/** JSON-ish chat text, deterministic. */
export function text(n: number, seed: number): Buffer {
  let x = seed || 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  let s = "";
  while (s.length < n) {
    s += `{"id":${Math.floor(rnd() * 1e6)},"user":"${WORDS[Math.floor(rnd() * WORDS.length)]}${Math.floor(rnd() * 100)}","text":"`;
    const k = 3 + Math.floor(rnd() * 12);
    for (let i = 0; i < k; i++) s += `${WORDS[Math.floor(rnd() * WORDS.length)]} `;
    s += `"}\n`;
  }
  return Buffer.from(s.slice(0, n));
}
