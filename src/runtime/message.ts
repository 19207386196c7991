import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import { Opcode } from "../protocol/opcodes.js";

/**
 * A received message. Its payload lives in a pooled buffer that the message owns.
 *
 * Ownership: when the `onMessage` handler returns (or, for an async handler, when its promise
 * settles) the buffer goes back to the pool, unless the handler called {@link retain}; a retained
 * message is the caller's until it calls {@link release}. After release, {@link data} must not be
 * used (its bytes will be overwritten by later messages); strings from {@link text} and objects
 * from {@link json} stay valid forever, as do copies made with `Buffer.from(message.data)`.
 * With the `concurrency` option, several async handlers run at once: each message is released
 * when its own handler's promise settles, whatever the others do. When the connection closes,
 * the messages of handlers still running are released too (unless retained).
 */
export class Message {
  /** The message's opcode: 1 for text, 2 for binary. */
  readonly opcode: number;
  private buffer: ByteBuffer | undefined;
  private readonly pool: Pool;
  private retained = false;

  /** @internal Messages are created by the connection. */
  constructor(opcode: number, buffer: ByteBuffer, pool: Pool) {
    this.opcode = opcode;
    this.buffer = buffer;
    this.pool = pool;
  }

  /** True for a text message. */
  get isText(): boolean {
    return this.opcode === Opcode.Text;
  }

  /** True for a binary message. */
  get isBinary(): boolean {
    return this.opcode === Opcode.Binary;
  }

  /**
   * A view of the payload inside the pooled buffer, valid until the message is released.
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after release
   */
  get data(): Buffer {
    if (this.buffer === undefined) {
      throw createError("ERR_WS_INVALID_STATE", "message.data used after release()");
    }
    return this.buffer.bytes();
  }

  /** The payload length in bytes (0 after release). */
  get length(): number {
    return this.buffer?.len ?? 0;
  }

  /** The payload decoded as UTF-8 (text messages were validated on receipt). */
  text(): string {
    return this.data.toString("utf8");
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Keeps the payload after the handler returns; the caller must {@link release} it later. */
  retain(): this {
    this.retained = true;
    return this;
  }

  /** True when {@link retain} was called and {@link release} not yet. */
  get isRetained(): boolean {
    return this.retained;
  }

  /** Returns the buffer to the pool. Idempotent. */
  release(): void {
    const buffer = this.buffer;
    if (buffer === undefined) return;
    this.buffer = undefined;
    this.retained = false;
    this.pool.put(buffer);
  }

  /**
   * @internal Hands the buffer over (to `conn.send(message)`): the message is released as far as
   * its user is concerned, and the caller owns the buffer.
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after release
   */
  take(): ByteBuffer {
    const buffer = this.buffer;
    if (buffer === undefined) {
      throw createError("ERR_WS_INVALID_STATE", "the message was released (or sent) already");
    }
    this.buffer = undefined;
    this.retained = false;
    return buffer;
  }

  /** @internal Called by the connection after the handler: releases unless retained. */
  done(): void {
    if (!this.retained) this.release();
  }
}
