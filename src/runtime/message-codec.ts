import type { ByteBuffer } from "../buffer/byte-buffer.js";
import type { Pool } from "../buffer/pool.js";
import { type CodecListener, type Deflater, type Inflater, PENDING } from "../deflate/codec.js";
import type { TidewsError } from "../errors.js";
import type { ProtocolConnection } from "../protocol/connection.js";
import { MAX_HEADER_SIZE } from "../protocol/frame-encoder.js";
import type { SharedFrame } from "./shared-frame.js";

/** What the codec needs from the connection it serves. */
export interface CodecHost {
  /** Reading may resume: the inflate that paused it is done. */
  resumeInput(): void;
  /** Writes a shared (broadcast) frame; takes over one reference. */
  writeShared(frame: SharedFrame): void;
  /** The queue of messages waiting for compression became empty. */
  codecIdle(): void;
  /** A message of `input` bytes was compressed to `output` bytes (for the statistics). */
  recordDeflate(input: number, output: number): void;
}

/**
 * permessage-deflate for one connection, between the protocol core and the zlib codecs: decides
 * what to compress (threshold, per-message override), keeps outgoing messages in order while
 * compressions are pending, and hands inflated messages back to the core.
 */
export interface MessageCodec {
  /** @internal Binds the codec to its connection. */
  attach(core: ProtocolConnection, host: CodecHost): void;
  /** Whether this message should be compressed. */
  shouldCompress(
    payload: string | Uint8Array,
    compress: boolean | undefined,
    fin: boolean,
  ): boolean;
  /** Compresses and sends a whole message (in order with everything sent before). */
  compress(opcode: number, payload: string | Uint8Array, fin: boolean): void;
  /** Sends an uncompressed frame behind the messages still being compressed. */
  enqueuePlain(opcode: number, payload: string | Uint8Array, fin: boolean): void;
  /** Sends a shared frame behind the messages still being compressed; takes one reference. */
  enqueueShared(frame: SharedFrame): void;
  /**
   * The window a message compressed once for many recipients must fit for this connection, or
   * `undefined` when this connection must get broadcasts uncompressed: with server context
   * takeover, the peer's window would include a message our compressor never saw.
   */
  readonly sharedWindowBits: number | undefined;
  /** True while outgoing messages wait for a compression. */
  readonly busy: boolean;
  /** Bytes of outgoing messages waiting for compression. */
  readonly pendingBytes: number;
  /** Inflates a compressed message for the core. Owns `data`. */
  decompress(opcode: number, data: ByteBuffer, maxSize: number): void;
  /** Releases the zlib contexts and every queued buffer. */
  close(): void;
}

/** An outgoing message waiting in order. */
class OutgoingJob {
  constructor(
    readonly opcode: number,
    readonly fin: boolean,
    readonly compressed: boolean,
    /** The frame payload with header room in front: set when ready to send. */
    public payload: ByteBuffer | undefined,
    readonly size: number,
    /** A pre-encoded shared frame instead of a payload. */
    public shared: SharedFrame | undefined = undefined,
  ) {}
}

/**
 * The {@link MessageCodec} over an {@link Inflater} and a {@link Deflater}. It is the one
 * {@link CodecListener} of its connection, so asynchronous results need no closure per message.
 */
export class DeflateMessageCodec implements MessageCodec, CodecListener {
  private core: ProtocolConnection | undefined;
  private host: CodecHost | undefined;
  private readonly queue: OutgoingJob[] = [];
  private queued = 0;
  private closed = false;
  private readonly pieces: Uint8Array[] = [];
  /** A fragmented message is open in the queue (its last fragment not queued yet). */
  private fragmentQueued = false;

  /**
   * @param inflater - decompresses the peer's messages
   * @param deflater - compresses ours; its output has room for a frame header in front
   * @param pool - where payload copies and frames come from
   * @param threshold - messages shorter than this are sent uncompressed
   * @param sharedWindowBits - see {@link MessageCodec.sharedWindowBits}
   */
  constructor(
    private readonly inflater: Inflater,
    private readonly deflater: Deflater,
    private readonly pool: Pool,
    private readonly threshold: number,
    readonly sharedWindowBits: number | undefined = undefined,
  ) {}

  attach(core: ProtocolConnection, host: CodecHost): void {
    this.core = core;
    this.host = host;
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  get pendingBytes(): number {
    return this.queued;
  }

  shouldCompress(
    payload: string | Uint8Array,
    compress: boolean | undefined,
    fin: boolean,
  ): boolean {
    // Fragmented sends go out uncompressed: RSV1 belongs to a message's first frame and the
    // fragments of one compressed message would share one deflate stream.
    if (!fin || this.fragmentQueued || this.core?.sendingFragments === true) return false;
    if (compress !== undefined) return compress;
    const size = typeof payload === "string" ? payload.length : payload.byteLength;
    return size >= this.threshold;
  }

  compress(opcode: number, payload: string | Uint8Array, fin: boolean): void {
    const core = this.core as ProtocolConnection;
    let input: Uint8Array = payload as Uint8Array;
    let scratch: ByteBuffer | undefined;
    if (typeof payload === "string") {
      scratch = this.pool.get(Buffer.byteLength(payload));
      scratch.writeString(payload);
      input = scratch.bytes();
    }
    const job = new OutgoingJob(opcode, fin, true, undefined, input.byteLength);
    const r = this.deflater.deflate(input, this, 0);
    if (scratch !== undefined) this.pool.put(scratch);
    if (r === PENDING) {
      this.queue.push(job);
      this.queued += job.size;
      return;
    }
    if (r instanceof Error) {
      core.fail(r);
      return;
    }
    if (this.queue.length === 0) {
      this.host?.recordDeflate(job.size, r.len);
      core.sendBuffer(opcode, r, fin, true);
    } else {
      this.host?.recordDeflate(job.size, r.len);
      job.payload = r;
      this.queue.push(job);
    }
  }

  enqueuePlain(opcode: number, payload: string | Uint8Array, fin: boolean): void {
    const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
    const buf = this.pool.get(MAX_HEADER_SIZE + size);
    // Room for the header, then the payload; the read offset skips the room.
    const view = buf.extend(MAX_HEADER_SIZE + size);
    if (typeof payload === "string") view.write(payload, MAX_HEADER_SIZE, size, "utf8");
    else view.set(payload, MAX_HEADER_SIZE);
    buf.off += MAX_HEADER_SIZE;
    this.queue.push(new OutgoingJob(opcode, fin, false, buf, size));
    // Until its last fragment is queued, nothing may be compressed in between.
    this.fragmentQueued = !fin;
    this.queued += size;
  }

  enqueueShared(frame: SharedFrame): void {
    this.queue.push(new OutgoingJob(0, true, false, undefined, 0, frame));
  }

  decompress(opcode: number, data: ByteBuffer, maxSize: number): void {
    const core = this.core as ProtocolConnection;
    void opcode;
    this.pieces[0] = data.bytes();
    const r = this.inflater.inflate(this.pieces, maxSize, this, 1);
    this.pieces.length = 0;
    this.pool.put(data);
    if (r === PENDING) return;
    if (r instanceof Error) core.failInflate(r);
    else core.deliverInflated(r);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inflater.close();
    this.deflater.close();
    for (const job of this.queue) {
      if (job.payload !== undefined) this.pool.put(job.payload);
      job.shared?.unref();
    }
    this.queue.length = 0;
    this.queued = 0;
  }

  /** @internal CodecListener */
  onInflated(data: ByteBuffer, _token: number): void {
    if (this.closed) {
      this.pool.put(data);
      return;
    }
    (this.core as ProtocolConnection).deliverInflated(data);
    this.host?.resumeInput();
  }

  /** @internal CodecListener */
  onDeflated(data: ByteBuffer, _token: number): void {
    if (this.closed) {
      this.pool.put(data);
      return;
    }
    // Results arrive in submission order: the first compressed job without a payload is this one.
    for (const job of this.queue) {
      if (job.compressed && job.payload === undefined) {
        this.host?.recordDeflate(job.size, data.len);
        job.payload = data;
        this.queued -= job.size;
        break;
      }
    }
    this.flushQueue();
  }

  /** @internal CodecListener */
  onCodecError(error: TidewsError, _token: number): void {
    if (this.closed) return;
    (this.core as ProtocolConnection).fail(error);
  }

  private flushQueue(): void {
    const core = this.core as ProtocolConnection;
    let sent = 0;
    for (const job of this.queue) {
      if (job.shared !== undefined) {
        sent++;
        const frame = job.shared;
        job.shared = undefined;
        (this.host as CodecHost).writeShared(frame);
        continue;
      }
      const payload = job.payload;
      if (payload === undefined) break;
      sent++;
      job.payload = undefined;
      if (!job.compressed) this.queued -= job.size;
      try {
        core.sendBuffer(job.opcode, payload, job.fin, job.compressed);
      } catch {
        // The connection closed meanwhile: sendBuffer took the buffer back.
      }
    }
    if (sent > 0) this.queue.splice(0, sent);
    if (this.queue.length === 0) {
      // An open fragmented message is now the core's to track (sendingFragments).
      this.fragmentQueued = false;
      this.host?.codecIdle();
    }
  }
}

/** Builds the codec of one connection; created by the server or client per connection. */
export type MessageCodecFactory = (pool: Pool) => MessageCodec;
