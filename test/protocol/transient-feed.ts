// Test helper (not a test file): client frame streams as a server reads them through a shared
// read buffer. Random, valid sequences of data messages (text and binary, 0..70000 bytes, often
// fragmented, control frames between the fragments) and pings/pongs, masked as a client sends
// them; cut like socket reads (at most 64 KiB each, sometimes inside a header); and a buffer that
// every read is copied into and that is overwritten with garbage once the read was handed over,
// as the transport's ReadBuffer is by the next read of any connection.
import fc from "fast-check";
import { prng as unitPrng } from "../../src/conformance/cases/corpus.js";
import { type FrameSpec, streamOf } from "../hardening/lib/frame-model.js";

/** Node's read size, and so the largest chunk a ReadBuffer hands over. */
export const READ_SIZE = 64 * 1024;

/** The conformance corpus's deterministic generator (mulberry32), as 32-bit integers. */
export function prng(seed: number): () => number {
  const next = unitPrng(seed);
  // Exact: the corpus divides the same integer by 2^32.
  return () => next() * 4294967296;
}

/** `size` random bytes from `seed`. */
export function randomBytes(size: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) out.writeUInt32LE(next(), i);
  for (; i < size; i++) out[i] = next() & 0xff;
  return out;
}

/** Exactly `size` bytes of valid UTF-8 from `seed`: ASCII mixed with 2-, 3- and 4-byte forms. */
export function randomUtf8(size: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  while (i < size) {
    const left = size - i;
    const r = next();
    const kind = r & 7;
    if (kind === 7 && left >= 4) {
      const cp = 0x10000 + ((r >>> 3) % 0x100000);
      out[i++] = 0xf0 | (cp >> 18);
      out[i++] = 0x80 | ((cp >> 12) & 0x3f);
      out[i++] = 0x80 | ((cp >> 6) & 0x3f);
      out[i++] = 0x80 | (cp & 0x3f);
    } else if (kind === 6 && left >= 3) {
      let cp = 0x800 + ((r >>> 3) % 0xf800);
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800; // no surrogates
      out[i++] = 0xe0 | (cp >> 12);
      out[i++] = 0x80 | ((cp >> 6) & 0x3f);
      out[i++] = 0x80 | (cp & 0x3f);
    } else if (kind >= 4 && left >= 2) {
      const cp = 0x80 + ((r >>> 3) % 0x780);
      out[i++] = 0xc0 | (cp >> 6);
      out[i++] = 0x80 | (cp & 0x3f);
    } else {
      out[i++] = 0x20 + ((r >>> 3) % 0x5f);
    }
  }
  return out;
}

/** A control frame to send: ping (9) or pong (10). */
export interface ControlItem {
  readonly kind: "control";
  readonly opcode: 9 | 10;
  readonly size: number;
  readonly seed: number;
}

/** A data message to send, cut into frames at `cuts`, with control frames between fragments. */
export interface MessageItem {
  readonly kind: "message";
  readonly opcode: 1 | 2;
  readonly size: number;
  readonly seed: number;
  readonly cuts: readonly number[];
  readonly controls: readonly ControlItem[];
}

export type WireItem = MessageItem | ControlItem;

/** What the peer meant: messages (with how they were framed) and control frames, in order. */
export type Sent =
  | {
      readonly type: "message";
      readonly opcode: number;
      readonly data: Buffer;
      readonly fragments: number;
      readonly firstLength: number;
    }
  | { readonly type: "ping" | "pong"; readonly data: Buffer };

/** The serialized stream, where its frames start, its frames, and what it means. */
export interface Wire {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
  readonly frames: readonly FrameSpec[];
  readonly sent: readonly Sent[];
}

const controlItem: fc.Arbitrary<ControlItem> = fc.record({
  kind: fc.constant("control" as const),
  opcode: fc.constantFrom(9 as const, 10 as const),
  size: fc.oneof(fc.nat(125), fc.constantFrom(0, 125)),
  seed: fc.nat(),
});

/** Mostly small payloads; some with 16-bit lengths; a few past 65535 (64-bit lengths). */
const payloadSize: fc.Arbitrary<number> = fc.oneof(
  { weight: 5, arbitrary: fc.nat(200) },
  { weight: 3, arbitrary: fc.integer({ min: 126, max: 8000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }) },
);

const messageItem: fc.Arbitrary<MessageItem> = fc.record({
  kind: fc.constant("message" as const),
  opcode: fc.constantFrom(1 as const, 2 as const),
  size: payloadSize,
  seed: fc.nat(),
  cuts: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.array(fc.nat(70_000), { minLength: 1, maxLength: 4 }) },
  ),
  controls: fc.array(controlItem, { maxLength: 2 }),
});

/** A valid client stream: 1 to 8 messages and control frames. */
export const wireItems: fc.Arbitrary<WireItem[]> = fc.array(
  fc.oneof({ weight: 4, arbitrary: messageItem }, { weight: 1, arbitrary: controlItem }),
  { minLength: 1, maxLength: 8 },
);

function maskOf(next: () => number): Uint8Array {
  const m = Buffer.allocUnsafe(4);
  m.writeUInt32LE(next(), 0);
  return m;
}

function controlSpec(c: ControlItem, next: () => number, sent: Sent[]): FrameSpec {
  const data = randomBytes(c.size, c.seed);
  sent.push({ type: c.opcode === 9 ? "ping" : "pong", data });
  return { fin: true, rsv: 0, opcode: c.opcode, payload: data, mask: maskOf(next) };
}

/** Serializes `items` as masked client frames. */
export function buildWire(items: readonly WireItem[]): Wire {
  const next = prng(items.length);
  const frames: FrameSpec[] = [];
  const sent: Sent[] = [];
  for (const item of items) {
    if (item.kind === "control") {
      frames.push(controlSpec(item, next, sent));
      continue;
    }
    const data =
      item.opcode === 1 ? randomUtf8(item.size, item.seed) : randomBytes(item.size, item.seed);
    const points = [...new Set(item.cuts.map((c) => c % (data.length + 1)))]
      .filter((c) => c > 0 && c < data.length)
      .sort((a, b) => a - b);
    // A zero-length fragment now and then: a cut at 0 when there are cuts at all.
    if (item.cuts.length > 0 && item.cuts[0]! % 7 === 0) points.unshift(0);
    const bounds = [...points, data.length];
    const controls: Sent[] = [];
    let at = 0;
    for (const [j, end] of bounds.entries()) {
      const fin = j === bounds.length - 1;
      frames.push({
        fin,
        rsv: 0,
        opcode: j === 0 ? item.opcode : 0,
        payload: data.subarray(at, end),
        mask: maskOf(next),
      });
      at = end;
      // RFC 6455 section 5.4: control frames may be injected between the fragments.
      if (!fin && j < item.controls.length) {
        frames.push(controlSpec(item.controls[j]!, next, controls));
      }
    }
    // The control frames come before the message: it ends after them.
    sent.push(...controls);
    sent.push({
      type: "message",
      opcode: item.opcode,
      data,
      fragments: bounds.length,
      firstLength: bounds[0]!,
    });
    // Controls that found no gap follow the message.
    for (const c of item.controls.slice(Math.max(0, bounds.length - 1))) {
      frames.push(controlSpec(c, next, sent));
    }
  }
  const { bytes, starts } = streamOf(frames);
  return { bytes, starts, frames, sent };
}

/** Where to cut the stream: anywhere, and close to frame starts (inside headers). */
export interface Cuts {
  readonly anywhere: readonly number[];
  readonly nearHeaders: readonly { readonly frame: number; readonly delta: number }[];
}

export const cuts: fc.Arbitrary<Cuts> = fc.record({
  anywhere: fc.array(fc.nat(), { maxLength: 24 }),
  nearHeaders: fc.array(fc.record({ frame: fc.nat(40), delta: fc.integer({ min: -2, max: 15 }) }), {
    maxLength: 12,
  }),
});

/** The reads of `wire` (views of its bytes: copy before parsing), none over {@link READ_SIZE}. */
export function readsOf(wire: Wire, c: Cuts): Buffer[] {
  const total = wire.bytes.length;
  const points = new Set<number>();
  for (const p of c.anywhere) points.add(p % (total + 1));
  for (const { frame, delta } of c.nearHeaders) {
    const start = wire.starts[frame % Math.max(1, wire.starts.length)] ?? 0;
    points.add(start + delta);
  }
  const sorted = [...points].filter((p) => p > 0 && p < total).sort((a, b) => a - b);
  const reads: Buffer[] = [];
  let from = 0;
  for (const p of [...sorted, total]) {
    for (let at = from; at < p; at += READ_SIZE) {
      reads.push(wire.bytes.subarray(at, Math.min(p, at + READ_SIZE)));
    }
    from = p;
  }
  return reads;
}

/** The garbage a reused buffer holds once the next read overwrote it. */
export const GARBAGE = 0xaa;

/**
 * One buffer every read is copied into, as a ReadBuffer is: {@link load} hands out a view of the
 * read (at a varying offset, so views have a non-zero byteOffset), {@link clobber} overwrites
 * everything, as the next read (of this or another socket) does.
 */
export class ReusedBuffer {
  readonly memory = Buffer.allocUnsafe(READ_SIZE + 16);
  private loads = 0;

  load(read: Buffer): Buffer {
    const offset = (this.loads++ * 3) & 15;
    read.copy(this.memory, offset);
    return this.memory.subarray(offset, offset + read.length);
  }

  clobber(): void {
    this.memory.fill(GARBAGE);
  }

  /** True when `view` shares memory with this buffer. */
  owns(view: Uint8Array): boolean {
    return view.buffer === this.memory.buffer;
  }
}

/** When the sink pauses and when the driver resumes. */
export interface Schedule {
  /** Sink calls (counted from 0) after which the sink asks to pause. */
  readonly pauses: readonly number[];
  /** Pause after every n-th call too (0: never). */
  readonly pauseEvery: number;
  /** Resume calls after read i returned (default 1; 0 leaves the parser paused, so the next read queues). */
  readonly resumes: readonly number[];
  /** The sink call that throws, once (parser-level tests only). */
  readonly throwAt: number | undefined;
}

export const schedule: fc.Arbitrary<Schedule> = fc.record({
  pauses: fc.uniqueArray(fc.nat(300), { maxLength: 60 }),
  pauseEvery: fc.constantFrom(0, 0, 0, 1, 2, 5),
  resumes: fc.array(fc.nat(2), { maxLength: 80 }),
  throwAt: fc.option(fc.nat(300), { nil: undefined }),
});

/** Whether the sink pauses after call `call` under `s`. */
export function pausesAt(s: Schedule, call: number): boolean {
  return (s.pauseEvery > 0 && call % s.pauseEvery === 0) || s.pauses.includes(call);
}
