// Test helper (not a test file): a FrameSink that records a normalised event log, and drivers that
// feed a stream in different chunkings. Data pieces of one frame are merged into one "data" event,
// so logs compare equal whatever the chunking.
import type { ProtocolError } from "../../src/errors.js";
import {
  FrameParser,
  type FrameParserOptions,
  type FrameSink,
} from "../../src/protocol/frame-parser.js";
import { xorRange } from "../../src/protocol/mask.js";

export type FrameEvent =
  | {
      readonly type: "start";
      readonly opcode: number;
      readonly fin: boolean;
      readonly rsv1: boolean;
      readonly length: number;
    }
  | { readonly type: "data"; readonly data: Buffer }
  | { readonly type: "end"; readonly fin: boolean }
  | { readonly type: "control"; readonly opcode: number; readonly payload: Buffer }
  | { readonly type: "error"; readonly code: string; readonly closeCode: number | undefined };

/** Records events; `pauseAt(call)` may ask to return false after sink call number `call`. */
export class RecordingSink implements FrameSink {
  private readonly log: FrameEvent[] = [];
  /** Pieces of the data event being built (merged lazily: one-byte feeding stays linear). */
  private pieces: Buffer[] = [];
  /** Raw number of sink calls, chunk pieces included. */
  calls = 0;
  errors: ProtocolError[] = [];
  pauseAt: (call: number) => boolean = () => false;
  /** Called on every event, e.g. to pause or stop the parser from inside a callback. */
  hook: ((type: string) => void) | null = null;

  /** The log so far, with the pieces of each frame merged into one "data" event. */
  get events(): FrameEvent[] {
    this.flush();
    return this.log;
  }

  private flush(): void {
    if (this.pieces.length === 0) return;
    this.log.push({ type: "data", data: Buffer.concat(this.pieces) });
    this.pieces = [];
  }

  protected push(event: FrameEvent): void {
    this.flush();
    this.log.push(event);
  }

  protected answer(type: string): boolean {
    const call = this.calls++;
    this.hook?.(type);
    return !this.pauseAt(call);
  }

  onDataFrameStart(opcode: number, fin: boolean, rsv1: boolean, length: number): boolean {
    this.push({ type: "start", opcode, fin, rsv1, length });
    return this.answer("start");
  }

  onDataFrameChunk(data: Buffer): boolean {
    // Copy: the view is only valid during the call.
    this.pieces.push(Buffer.from(data));
    return this.answer("data");
  }

  onDataFrameEnd(fin: boolean): boolean {
    this.push({ type: "end", fin });
    return this.answer("end");
  }

  onControlFrame(opcode: number, payload: Buffer): boolean {
    this.push({ type: "control", opcode, payload: Buffer.from(payload) });
    return this.answer("control");
  }

  onFrameError(error: ProtocolError): void {
    this.errors.push(error);
    this.push({ type: "error", code: error.code, closeCode: error.closeCode });
    this.calls++;
  }
}

/**
 * A {@link RecordingSink} that also takes whole messages (`onWholeMessage`): it unmasks a copy and
 * logs the same start, data and end events, so its log compares equal with the piecewise one.
 * Counts the whole messages, and those whose payload was still masked in the chunk.
 */
export class WholeRecordingSink extends RecordingSink {
  wholes = 0;
  stillMasked = 0;

  onWholeMessage(opcode: number, chunk: Buffer, start: number, end: number, key: number): boolean {
    this.wholes++;
    const payload = Buffer.from(chunk.subarray(start, end));
    if (key !== 0) {
      this.stillMasked++;
      xorRange(payload, 0, payload.length, key, 0);
    }
    this.push({ type: "start", opcode, fin: true, rsv1: false, length: payload.length });
    if (payload.length > 0) this.push({ type: "data", data: payload });
    this.push({ type: "end", fin: true });
    return this.answer("whole");
  }
}

/** Copies `bytes` into a fresh buffer whose view starts `offset` bytes into its ArrayBuffer. */
export function withOffset(bytes: Uint8Array, offset: number): Buffer {
  const big = Buffer.alloc(bytes.length + offset + 8, 0xee);
  const view = big.subarray(offset, offset + bytes.length);
  view.set(bytes);
  return view;
}

/** Splits `bytes` at the given cut points (any order, out-of-range ignored), as copies. */
export function split(bytes: Uint8Array, cuts: readonly number[], offset = 0): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(withOffset(bytes.subarray(from, p), offset));
    from = p;
  }
  return chunks;
}

/** One-byte chunks. */
export function bytewise(bytes: Uint8Array): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(withOffset(bytes.subarray(i, i + 1), i & 3));
  return chunks;
}

/**
 * Feeds `chunks` to a new parser, resuming whenever the sink paused it; returns the log. With a
 * `wholeMax` the sink is a {@link WholeRecordingSink}.
 */
export function parseChunks(
  chunks: readonly Buffer[],
  options: FrameParserOptions,
  pauseAt?: (call: number) => boolean,
): { events: FrameEvent[]; sink: RecordingSink; parser: FrameParser } {
  const sink = (options.wholeMax ?? 0) > 0 ? new WholeRecordingSink() : new RecordingSink();
  if (pauseAt !== undefined) sink.pauseAt = pauseAt;
  const parser = new FrameParser(sink, options);
  for (const chunk of chunks) {
    parser.receive(chunk);
    while (parser.paused) parser.resume();
  }
  return { events: sink.events, sink, parser };
}

/** The log of `bytes` fed whole (as a copy, since masked payloads are unmasked in place). */
export function parseWhole(bytes: Uint8Array, options: FrameParserOptions): FrameEvent[] {
  return parseChunks([Buffer.from(bytes)], options).events;
}

/** Hex string to Buffer, ignoring spaces. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}
