import { Readable } from "node:stream";
import { Opcode } from "../protocol/opcodes.js";

/** What a {@link MessageStream} tells the connection that feeds it. */
export interface MessageStreamHost {
  /** The consumer wants more: reading from the peer may resume. */
  streamRead(stream: MessageStream): void;
  /** The stream is finished: read to its end, or destroyed (by its consumer or the library). */
  streamClosed(stream: MessageStream): void;
}

/** The Readable buffer of a message stream: past it, reading from the peer pauses. */
export const MESSAGE_STREAM_HIGH_WATER_MARK = 64 * 1024;

/**
 * A message received as a stream (see the `streamMessages` option and `Handler.onStream`): a
 * `node:stream` Readable of the payload bytes, pushed frame by frame as they arrive, so a large
 * upload can be piped to a file or a hash with constant memory.
 *
 * - Chunks are plain `Buffer`s the stream's consumer owns (copies, not pooled buffers): nothing
 *   needs releasing, and they stay valid forever.
 * - Backpressure: when the stream's buffer is full (64 KiB), the connection stops reading from
 *   the peer until the consumer reads again. Pings, pongs and close frames behind the message
 *   wait too.
 * - Text: the bytes are UTF-8, validated as they arrive (RFC 6455 section 8.1); call
 *   `setEncoding("utf8")` for strings (Node's decoder keeps code points whole across chunks).
 *   Invalid text fails the connection with 1007 and destroys the stream with
 *   `ERR_WS_INVALID_UTF8` before any invalid byte is pushed.
 * - The stream ends (`"end"`) once the last frame of the message arrived. If the connection
 *   closes or fails first, it is destroyed with the error that failed the connection (e.g.
 *   `ERR_WS_MESSAGE_TOO_BIG`, 1009), else `ERR_WS_MESSAGE_INCOMPLETE`.
 * - Destroying the stream early is allowed: the rest of the message is read from the peer and
 *   discarded (still size-checked and UTF-8-validated), and the connection goes on. Close the
 *   connection yourself (e.g. `conn.close(1008)`) to refuse the rest instead.
 */
export class MessageStream extends Readable {
  /** The message's opcode: 1 for text, 2 for binary. */
  readonly opcode: number;
  /** @internal Handed to the handler (it counts as one of the connection's in-flight handlers). */
  dispatched = false;
  private host: MessageStreamHost | undefined;
  private received = 0;
  private complete = false;

  /** @internal Streams are created by the connection. */
  constructor(opcode: number, host: MessageStreamHost) {
    super({ highWaterMark: MESSAGE_STREAM_HIGH_WATER_MARK });
    this.opcode = opcode;
    this.host = host;
  }

  /** True for a text message. */
  get isText(): boolean {
    return this.opcode === Opcode.Text;
  }

  /** True for a binary message. */
  get isBinary(): boolean {
    return this.opcode === Opcode.Binary;
  }

  /** Payload bytes received from the peer so far (pushed into the stream, read or not). */
  get bytesReceived(): number {
    return this.received;
  }

  /** True once the whole message arrived (the stream's end is pushed). */
  get isComplete(): boolean {
    return this.complete;
  }

  /** @internal Copies a piece of payload (a view valid only during the call) into the stream. */
  pushChunk(data: Buffer): boolean {
    this.received += data.length;
    const copy = Buffer.allocUnsafe(data.length);
    data.copy(copy);
    return this.push(copy);
  }

  /** @internal The last frame arrived. */
  finish(): void {
    this.complete = true;
    this.push(null);
  }

  /** @internal */
  override _read(): void {
    this.host?.streamRead(this);
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const host = this.host;
    this.host = undefined;
    host?.streamClosed(this);
    callback(error);
  }
}
