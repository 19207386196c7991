/**
 * What a connection needs only at times, kept apart so that the usual connection (open, idle or
 * echoing with a synchronous handler, by the ten thousand) carries one empty field for all of
 * it instead of ten. Made on first use by {@link Connection} and kept for the connection's life.
 *
 * Measured in issue 7: the ten fields cost 80 B on every connection; in this object they cost
 * 8 B on a connection that never needs them.
 *
 * @module
 */

import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { TidewsError } from "../errors.js";
import type { SendOptions } from "./connection.js";
import type { Message } from "./message.js";
import type { MessageStream } from "./message-stream.js";
import type { SharedFrame } from "./shared-frame.js";
import type { StreamSender } from "./stream-sender.js";

function noop(): void {}

/**
 * One in-flight async `onMessage` call. A connection makes at most `concurrency` of them, each
 * with its two promise callbacks, and reuses them: no closure or promise per message.
 */
export class HandlerSlot {
  message: Message | undefined = undefined;
  /** The next free slot. */
  next: HandlerSlot | undefined = undefined;
  settled: () => void = noop;
  rejected: (error: unknown) => void = noop;
}

/**
 * A send held back while a stream message is on the wire (RFC 6455 section 5.4: the fragments of
 * one message must not be interleaved with another): a copied message, a shared frame, or a
 * queued stream. Sent in order right after the stream's last frame.
 */
export class HeldSend {
  constructor(
    readonly opcode: number,
    readonly fin: boolean,
    readonly options: SendOptions | undefined,
    /** The copied payload (owned), for a message. */
    public payload: ByteBuffer | undefined,
    /** One reference of a shared frame, for a broadcast. */
    public shared: SharedFrame | undefined,
    /** A stream waiting for its turn. */
    readonly stream: StreamSender | undefined,
    /** Bytes counted in `bufferedAmount`. */
    readonly size: number,
  ) {}
}

/** The occasional state of one connection (see the module comment). */
export class ConnectionExtras {
  /** Destroys the stream if the close handshake does not end in time. */
  closeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Why the library closed the connection on its own (reported in onClose when no other). */
  closeError: TidewsError | undefined = undefined;
  /** The latest pong, held while the stream is full. */
  deferredPong: ByteBuffer | undefined = undefined;
  /** Payload bytes of the messages in the connection's backlog. */
  backlogBytes = 0;
  /** Every handler slot made so far (at most `concurrency`), and the free ones. */
  readonly slots: HandlerSlot[] = [];
  freeSlot: HandlerSlot | undefined = undefined;
  /** The message stream whose frames are arriving. */
  receiving: MessageStream | undefined = undefined;
  /** Sends held back while a stream message runs, in order, from {@link heldHead}. */
  held: HeldSend[] = [];
  heldHead = 0;
  /** Bytes of held messages and frames (part of `bufferedAmount`). */
  heldBytes = 0;
}
