/**
 * Masking keys from the operating system's CSPRNG, for client frames (RFC 6455 section 5.3).
 *
 * @module
 */

import { randomFillSync } from "node:crypto";
import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import type { MaskSource } from "../protocol/mask.js";

/** The default number of random bytes fetched at once: 1024 masking keys. */
export const DEFAULT_MASK_BLOCK_SIZE = 4096;

/** Options of a {@link CryptoMaskSource}. */
export interface CryptoMaskSourceOptions {
  /**
   * Random bytes fetched per `randomFillSync` call; a multiple of 4, at least 4. Default
   * {@link DEFAULT_MASK_BLOCK_SIZE}.
   */
  readonly blockSize?: number;
  /**
   * A pool to take the block from, given back by {@link CryptoMaskSource.release}. Without one the
   * block is allocated once, for the life of the source.
   */
  readonly pool?: Pool;
}

/**
 * A {@link MaskSource} that hands out 4 bytes at a time from a block refilled with
 * `crypto.randomFillSync`, so that a small frame does not pay for a system call.
 *
 * RFC 6455 section 5.3: "The masking key MUST be derived from a strong source of entropy, and the
 * masking key for a given frame MUST NOT make it simple for a server or other third party to
 * predict the masking key for a subsequent frame." Each key is 4 fresh bytes of the CSPRNG, handed
 * out once. One source per client (or one shared by the caller); there is no module-level state.
 */
export class CryptoMaskSource implements MaskSource {
  private readonly block: Buffer;
  private readonly owner: ByteBuffer | null;
  private readonly pool: Pool | null;
  private pos: number;
  private released = false;

  /**
   * @param options - block size and pool, see {@link CryptoMaskSourceOptions}
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a block size that is not a positive
   *   multiple of 4
   */
  constructor(options: CryptoMaskSourceOptions = {}) {
    const size = options.blockSize ?? DEFAULT_MASK_BLOCK_SIZE;
    if (!Number.isInteger(size) || size < 4 || size % 4 !== 0) {
      throw createError(
        "ERR_INVALID_ARGUMENT",
        `blockSize must be a positive multiple of 4, got ${size}`,
      );
    }
    if (options.pool !== undefined) {
      const buf = options.pool.get(size);
      this.block = buf.extend(size);
      this.owner = buf;
      this.pool = options.pool;
    } else {
      this.block = Buffer.allocUnsafeSlow(size);
      this.owner = null;
      this.pool = null;
    }
    // Empty: the first key triggers the first fill.
    this.pos = size;
  }

  /**
   * Writes the next 4 random bytes into `target` at `at`.
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after {@link release}
   */
  nextMask(target: Buffer, at: number): void {
    const block = this.block;
    let pos = this.pos;
    if (pos === block.length) {
      if (this.released) {
        throw createError("ERR_WS_INVALID_STATE", "the mask source was released");
      }
      randomFillSync(block);
      pos = 0;
    }
    target[at] = block[pos]!;
    target[at + 1] = block[pos + 1]!;
    target[at + 2] = block[pos + 2]!;
    target[at + 3] = block[pos + 3]!;
    this.pos = pos + 4;
  }

  /**
   * Gives the block back to the pool it came from (if any). The source cannot be used afterwards.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pos = this.block.length;
    if (this.owner !== null && this.pool !== null) this.pool.put(this.owner);
  }
}
