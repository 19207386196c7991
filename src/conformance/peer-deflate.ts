/**
 * The tester's side of permessage-deflate (RFC 7692), on node:zlib directly, so that the suite
 * never judges the library's codec with the library's codec.
 *
 * A message is compressed with a sync flush and the trailing `00 00 ff ff` removed (section
 * 7.2.1); received messages get the trailer back before inflating (section 7.2.2). The inflater
 * keeps a 15-bit window, which decodes every smaller window the peer may use.
 *
 * @module
 */

import zlib from "node:zlib";
import type { NegotiatedDeflate } from "./types.js";

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The largest inflated message the tester accepts. */
const MAX_INFLATED = 64 * 1024 * 1024;

type Stream = zlib.DeflateRaw | zlib.InflateRaw;

/** Runs one write + sync flush through a zlib stream and collects what came out. */
function pump(stream: Stream, parts: readonly Buffer[], limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new Error(`inflated message exceeds ${limit} bytes`));
        return;
      }
      out.push(chunk);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      stream.off("data", onData);
      stream.off("error", onError);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    for (const p of parts) stream.write(p);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      cleanup();
      resolve(Buffer.concat(out, size));
    });
  });
}

/** One connection's compressor and decompressor. */
export class PeerDeflate {
  private deflater: zlib.DeflateRaw;
  private inflater: zlib.InflateRaw;

  constructor(private readonly params: NegotiatedDeflate) {
    this.deflater = this.newDeflater();
    this.inflater = zlib.createInflateRaw({ windowBits: 15 });
  }

  private newDeflater(): zlib.DeflateRaw {
    // zlib cannot produce an 8-bit raw window; a 9-bit one never references more than 250
    // bytes back (zlib's MAX_DIST), so an 8-bit peer decodes it.
    return zlib.createDeflateRaw({ windowBits: Math.max(9, this.params.localWindowBits) });
  }

  /** Compresses one message payload (RFC 7692 section 7.2.1). */
  async compress(data: Buffer): Promise<Buffer> {
    let out = await pump(this.deflater, [data], Number.MAX_SAFE_INTEGER);
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER)) {
      out = out.subarray(0, out.length - 4);
    }
    if (this.params.localNoContextTakeover) this.deflater.reset();
    return out;
  }

  /** Inflates one compressed message payload (RFC 7692 section 7.2.2). */
  async decompress(data: Buffer): Promise<Buffer> {
    try {
      const out = await pump(this.inflater, [data, TRAILER], MAX_INFLATED);
      if (this.params.remoteNoContextTakeover) this.inflater.reset();
      return out;
    } catch (error) {
      this.inflater.destroy();
      this.inflater = zlib.createInflateRaw({ windowBits: 15 });
      throw error;
    }
  }

  /** Frees both zlib streams. */
  close(): void {
    this.deflater.destroy();
    this.inflater.destroy();
  }
}
