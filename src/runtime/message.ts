import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import { HEADROOM_MIN } from "../protocol/connection.js";
import { MAX_HEADER_SIZE } from "../protocol/frame-encoder.js";
import type { XorInto } from "../protocol/mask.js";
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
 *
 * A message that arrived whole (all of it in one read) is first left where it was received, in
 * the connection's input: it moves into a pooled buffer only when something needs it to outlive
 * that input (its {@link data}, {@link retain}, an async handler, a queue). Forwarded with
 * `conn.send(message)`, it goes from the input to the output in one pass; a handler that reads
 * only {@link text} or {@link json} never has it copied. Nothing of this is visible in the API.
 */
export class Message {
  /** The message's opcode: 1 for text, 2 for binary. */
  readonly opcode: number;
  private buffer: ByteBuffer | undefined;
  private readonly pool: Pool;
  private retained = false;
  /** @internal While the payload is still in the input: `input[inputStart, inputEnd)`. */
  input: Buffer | undefined = undefined;
  /** @internal See {@link input}. */
  inputStart = 0;
  /** @internal See {@link input}. */
  inputEnd = 0;
  /** @internal The key the payload in the input is still masked with (0: none). */
  inputKey = 0;
  /** How a masked payload in the input is unmasked into a buffer. */
  private readonly unmask: XorInto | undefined;

  /**
   * @internal Messages are created by the connection: with their pooled buffer, or (`buffer`
   * undefined) then given their place in the input through {@link inInput}.
   */
  constructor(opcode: number, buffer: ByteBuffer | undefined, pool: Pool, unmask?: XorInto) {
    this.opcode = opcode;
    this.buffer = buffer;
    this.pool = pool;
    this.unmask = unmask;
  }

  /**
   * @internal A message whose payload is `input[start, end)`, masked with `key` (0: none), valid
   * only until the connection's input handler returns: the connection calls {@link own} before
   * then if the message lives on.
   */
  static inInput(
    opcode: number,
    input: Buffer,
    start: number,
    end: number,
    key: number,
    pool: Pool,
    unmask: XorInto,
  ): Message {
    const m = new Message(opcode, undefined, pool, unmask);
    m.input = input;
    m.inputStart = start;
    m.inputEnd = end;
    m.inputKey = key;
    return m;
  }

  /**
   * @internal Moves a payload still in the input into a pooled buffer of its own (unmasked on
   * the way). Does nothing for a message that has one, or was released.
   */
  own(): void {
    const input = this.input;
    if (input === undefined) return;
    this.input = undefined;
    const n = this.inputEnd - this.inputStart;
    // A large one gets room for a frame header in front, as an assembled message has: sent on
    // later, it goes as a frame built in place (see Connection.send), with no second copy.
    const head = n >= HEADROOM_MIN ? MAX_HEADER_SIZE : 0;
    const buffer = this.pool.get(n + head);
    if (this.inputKey !== 0) {
      (this.unmask as XorInto)(
        input,
        this.inputStart,
        this.inputEnd,
        buffer.storage,
        head,
        this.inputKey,
        0,
      );
    } else {
      input.copy(buffer.storage, head, this.inputStart, this.inputEnd);
    }
    buffer.off = head;
    buffer.end = head + n;
    this.buffer = buffer;
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
    if (this.input !== undefined) this.own();
    if (this.buffer === undefined) {
      throw createError("ERR_WS_INVALID_STATE", "message.data used after release()");
    }
    return this.buffer.bytes();
  }

  /** The payload length in bytes (0 after release). */
  get length(): number {
    if (this.input !== undefined) return this.inputEnd - this.inputStart;
    return this.buffer?.len ?? 0;
  }

  /**
   * The payload decoded as UTF-8 (text messages were validated on receipt).
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` after release
   */
  text(): string {
    const input = this.input;
    if (input !== undefined && this.inputKey === 0) {
      return input.toString("utf8", this.inputStart, this.inputEnd);
    }
    return this.data.toString("utf8");
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Keeps the payload after the handler returns; the caller must {@link release} it later. */
  retain(): this {
    this.own();
    this.retained = true;
    return this;
  }

  /** True when {@link retain} was called and {@link release} not yet. */
  get isRetained(): boolean {
    return this.retained;
  }

  /** Returns the buffer to the pool. Idempotent. */
  release(): void {
    this.input = undefined;
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
    this.own();
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
