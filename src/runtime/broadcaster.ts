import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { deflateStandalone } from "../deflate/standalone.js";
import { createError } from "../errors.js";
import {
  encodeFrame,
  encodeTextFrame,
  MAX_HEADER_SIZE,
  writeHeaderBefore,
} from "../protocol/frame-encoder.js";
import { Opcode } from "../protocol/opcodes.js";
import type { Connection } from "./connection.js";
import { SharedFrame } from "./shared-frame.js";

/** Options of a {@link Broadcaster}. */
/** Payloads of this many bytes and more are compressed for the recipients that negotiated it. */
const DEFAULT_BROADCAST_THRESHOLD = 1024;

/** @internal The opcode of a broadcast: text for a string, binary for bytes, unless `binary` says. */
export function broadcastOpcode(data: string | Uint8Array, binary: boolean | undefined): number {
  const text = typeof data === "string" ? binary !== true : binary === false;
  return text ? Opcode.Text : Opcode.Binary;
}

/** @internal Whether a broadcast of `size` payload bytes is compressed for those that can take it. */
export function broadcastCompresses(
  size: number,
  options: { readonly compress?: boolean; readonly threshold?: number } | undefined,
): boolean {
  return options?.compress ?? size >= (options?.threshold ?? DEFAULT_BROADCAST_THRESHOLD);
}

export interface BroadcastOptions {
  /** Send as binary (default for buffers) or text (default for strings). */
  readonly binary?: boolean;
  /**
   * Compress for recipients that negotiated permessage-deflate with server_no_context_takeover
   * (the others get the plain frame). Default: when the payload is at least `threshold` bytes.
   */
  readonly compress?: boolean;
  /** Default 1024 bytes. */
  readonly threshold?: number;
  /** zlib level of the shared compressed frame. Default 6. */
  readonly level?: number;
  /** Where the frames come from; pass the server's pool (`server.pool`). */
  readonly pool: Pool;
}

/**
 * One message for many connections, encoded once per variant: a plain frame, and a compressed
 * frame per deflate window in use (without context takeover), built on first need and shared by
 * every recipient. Each frame goes back to the pool after its last write has completed and
 * {@link release} was called.
 *
 * ```ts
 * const b = new Broadcaster(data, { pool: server.pool });
 * for (const conn of room) b.broadcast(conn);
 * b.release();
 * ```
 */
export class Broadcaster {
  private readonly payload: Uint8Array;
  private readonly opcode: number;
  private readonly pool: Pool;
  private readonly compress: boolean;
  private readonly level: number;
  private plain: SharedFrame | undefined;
  private readonly compressed = new Map<number, SharedFrame>();
  private released = false;
  /** Recipients the frame was queued for. */
  delivered = 0;
  /** Recipients skipped: closing, or refused by their backpressure policy. */
  skipped = 0;

  /**
   * @param data - the message; it is copied (or encoded) before the constructor returns, so the
   *   caller may reuse it
   * @param options - see {@link BroadcastOptions}
   */
  constructor(data: string | Uint8Array, options: BroadcastOptions) {
    this.pool = options.pool;
    this.opcode = broadcastOpcode(data, options.binary);
    const text = this.opcode === Opcode.Text;
    if (typeof data === "string") {
      this.plain = new SharedFrame(encodeTextFrame(this.pool, data), this.pool);
      if (!text) this.setOpcode(this.plain.buf, Opcode.Binary);
      this.payload = this.plain.buf.bytes().subarray(this.plain.len - Buffer.byteLength(data));
    } else {
      this.plain = new SharedFrame(encodeFrame(this.pool, this.opcode, data), this.pool);
      this.payload = this.plain.buf.bytes().subarray(this.plain.len - data.byteLength);
    }
    const size = this.payload.byteLength;
    this.compress = broadcastCompresses(size, options);
    this.level = options.level ?? 6;
  }

  /**
   * @internal The uncompressed frame, with one more reference for the caller (unref it), when
   * no recipient got a compressed one; else undefined.
   */
  takePlainFrame(): SharedFrame | undefined {
    const plain = this.plain;
    if (plain === undefined || this.compressed.size > 0 || this.released) return undefined;
    plain.ref();
    return plain;
  }

  /** The payload size in bytes. */
  get size(): number {
    return this.payload.byteLength;
  }

  /**
   * Queues the message on `conn` (a server connection), in order with what it sent before.
   *
   * @returns true when queued; false when skipped (closing, or refused by its backpressure
   *   policy, which for `"close"` also starts closing it with 1008)
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after {@link release}
   */
  broadcast(
    conn: Connection<never> | Connection<Record<string, unknown>> | Connection<unknown>,
  ): boolean {
    if (this.released) throw createError("ERR_WS_INVALID_STATE", "broadcast after release()");
    const c = conn as Connection<unknown>;
    const bits = this.compress ? c.sharedDeflateWindowBits : undefined;
    const frame = bits === undefined ? (this.plain as SharedFrame) : this.compressedFrame(bits);
    const queued = c.sendShared(frame, this.size);
    if (queued) this.delivered++;
    else this.skipped++;
    return queued;
  }

  /** Gives up the creator's reference of every frame; each returns to the pool after its last write. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.plain?.unref();
    this.plain = undefined;
    for (const f of this.compressed.values()) f.unref();
    this.compressed.clear();
  }

  private compressedFrame(bits: number): SharedFrame {
    let frame = this.compressed.get(bits);
    if (frame === undefined) {
      const buf = deflateStandalone(this.payload, bits, this.level, this.pool, MAX_HEADER_SIZE);
      // RFC 7692 section 6: RSV1 marks the (first frame of a) compressed message.
      buf.off = writeHeaderBefore(buf.storage, buf.off, this.opcode, true, true, buf.len, null);
      frame = new SharedFrame(buf, this.pool);
      this.compressed.set(bits, frame);
    }
    return frame;
  }

  private setOpcode(buf: ByteBuffer, opcode: number): void {
    const at = buf.off;
    buf.storage[at] = ((buf.storage[at] as number) & 0xf0) | opcode;
  }
}
