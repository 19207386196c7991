// Frame fuzzing, shared by test/hardening/fuzz-frames.test.ts and scripts/fuzz.ts: client frame
// streams that start valid (messages, fragments, control frames, a close), their mutations
// (flipped bits, cut lengths, spliced, dropped and duplicated frames), and an independent
// reference model of what a server must make of any byte stream (RFC 6455 sections 5 to 8).
//
// The model is written for clarity, not speed: it walks the whole stream at once and decodes
// UTF-8 with the platform's TextDecoder, so it shares no code with the streaming parser it judges.
import { TextDecoder } from "node:util";
import fc from "fast-check";

/** One client frame to encode. `lengthForm` may force a non-minimal length encoding. */
export interface FrameSpec {
  readonly fin: boolean;
  /** RSV1-3 as the bits 0x40, 0x20, 0x10 of byte 0. */
  readonly rsv: number;
  readonly opcode: number;
  readonly payload: Uint8Array;
  readonly mask: Uint8Array | null;
  readonly lengthForm?: "minimal" | 16 | 64;
}

/** Encodes one frame, masking the payload with `spec.mask` when there is one. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const n = spec.payload.length;
  const form = spec.lengthForm ?? "minimal";
  const use = form === "minimal" ? (n < 126 ? 7 : n < 65536 ? 16 : 64) : form;
  const head: number[] = [(spec.fin ? 0x80 : 0) | (spec.rsv & 0x70) | (spec.opcode & 0x0f)];
  const m = spec.mask !== null ? 0x80 : 0;
  if (use === 7) head.push(m | n);
  else if (use === 16) head.push(m | 126, (n >> 8) & 0xff, n & 0xff);
  else {
    head.push(m | 127, 0, 0);
    const hi = Math.floor(n / 0x100000000);
    head.push((hi >> 8) & 0xff, hi & 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff);
    head.push((n >>> 8) & 0xff, n & 0xff);
  }
  const body = Buffer.from(spec.payload);
  if (spec.mask !== null) {
    for (const b of spec.mask) head.push(b);
    for (let i = 0; i < n; i++) body[i] = (body[i] as number) ^ (spec.mask[i & 3] as number);
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** A byte stream with the offsets where its frames start (mutations aim at headers). */
export interface Stream {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
}

export function streamOf(frames: readonly FrameSpec[]): Stream {
  const parts: Buffer[] = [];
  const starts: number[] = [];
  let at = 0;
  for (const f of frames) {
    const b = encodeFrame(f);
    starts.push(at);
    parts.push(b);
    at += b.length;
  }
  return { bytes: Buffer.concat(parts), starts };
}

// --- Generation -----------------------------------------------------------------------------

const maskArb = fc.uint8Array({ minLength: 4, maxLength: 4 });

/** Text payloads: mostly valid UTF-8 (ASCII to astral), sometimes arbitrary bytes. */
const textPayload = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength }).map((s) => Buffer.from(s)) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength }) },
  );

/** Binary payloads, sometimes long enough for 16-bit lengths and, rarely, 64-bit ones. */
const binaryPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 126, maxLength: 1500 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 65536, max: 70000 }), fc.nat(255))
      .map(([n, b]) => new Uint8Array(n).fill(b)),
  },
);

const controlPayload = fc.uint8Array({ maxLength: 125 });

const controlFrame: fc.Arbitrary<FrameSpec> = fc.record({
  fin: fc.constant(true),
  rsv: fc.constant(0),
  opcode: fc.constantFrom(0x9, 0xa),
  payload: controlPayload,
  mask: maskArb,
});

/** A data message, fragmented at random points, with control frames between fragments. */
const message: fc.Arbitrary<FrameSpec[]> = fc
  .record({
    opcode: fc.constantFrom(0x1, 0x2),
    text: textPayload(300),
    binary: binaryPayload,
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    between: fc.array(fc.option(controlFrame, { nil: undefined, freq: 3 }), { maxLength: 5 }),
    masks: fc.array(maskArb, { minLength: 6, maxLength: 6 }),
  })
  .map(({ opcode, text, binary, cuts, between, masks }) => {
    const payload = opcode === 0x1 ? text : binary;
    const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
    const bounds = [0, ...points, payload.length];
    const frames: FrameSpec[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const last = i + 2 === bounds.length;
      frames.push({
        fin: last,
        rsv: 0,
        opcode: i === 0 ? opcode : 0x0,
        payload: payload.subarray(bounds[i], bounds[i + 1]),
        mask: masks[i % masks.length] as Uint8Array,
      });
      const ctl = between[i];
      if (!last && ctl !== undefined) frames.push(ctl);
    }
    return frames;
  });

/** Close codes: the valid ones, the edges of the invalid ranges, anything. */
const closeCode = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 3000, 4999, 5000, 65535),
  fc.integer({ min: 0, max: 65535 }),
);

const closeFrame: fc.Arbitrary<FrameSpec> = fc
  .record({
    kind: fc.constantFrom("empty", "code", "reason", "one-byte"),
    code: closeCode,
    reason: textPayload(60),
    mask: maskArb,
  })
  .map(({ kind, code, reason, mask }) => {
    let payload: Uint8Array;
    if (kind === "empty") payload = new Uint8Array(0);
    else if (kind === "one-byte") payload = new Uint8Array([code & 0xff]);
    else {
      const body = kind === "reason" ? reason.subarray(0, 123) : new Uint8Array(0);
      payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), body]);
    }
    return { fin: true, rsv: 0, opcode: 0x8, payload, mask };
  });

/** A valid stream of messages and control frames, optionally ended by a close frame. */
export const validStream: fc.Arbitrary<Stream> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: message },
        { weight: 1, arbitrary: controlFrame.map((f) => [f]) },
      ),
      {
        maxLength: 6,
      },
    ),
    fc.option(closeFrame, { nil: undefined }),
  )
  .map(([groups, close]) => {
    const frames = groups.flat();
    if (close !== undefined) frames.push(close);
    return streamOf(frames);
  });

/** One mutation, with positions as raw numbers taken modulo the stream length when applied. */
export type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number; readonly header: boolean }
  | { readonly kind: "cut"; readonly at: number }
  | { readonly kind: "splice"; readonly from: number; readonly length: number; readonly at: number }
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | {
      readonly kind: "set";
      readonly frame: number;
      readonly offset: number;
      readonly value: number;
    }
  | { readonly kind: "dup" | "drop"; readonly frame: number }
  | { readonly kind: "swap"; readonly a: number; readonly b: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bit: fc.nat(7),
    header: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("splice" as const),
    from: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
    at: fc.nat(),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 20 }),
  }),
  fc.record({
    kind: fc.constant("set" as const),
    frame: fc.nat(),
    offset: fc.nat(9),
    value: fc.oneof(fc.nat(255), fc.constantFrom(0x00, 0x7e, 0x7f, 0x80, 0xfe, 0xff)),
  }),
  fc.record({ kind: fc.constantFrom("dup" as const, "drop" as const), frame: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), a: fc.nat(), b: fc.nat() }),
);

/** The frames of `s` as slices, by its start offsets. */
function framesOf(s: Stream): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < s.starts.length; i++) {
    out.push(s.bytes.subarray(s.starts[i], s.starts[i + 1] ?? s.bytes.length));
  }
  return out;
}

function rebuild(frames: readonly Buffer[]): Stream {
  const starts: number[] = [];
  let at = 0;
  for (const f of frames) {
    starts.push(at);
    at += f.length;
  }
  return { bytes: Buffer.concat(frames), starts };
}

/** Applies one mutation. Frame offsets stay meaningful for frame-level mutations only. */
export function mutate(s: Stream, m: Mutation): Stream {
  const bytes = Buffer.from(s.bytes);
  const n = bytes.length;
  switch (m.kind) {
    case "flip": {
      if (n === 0) return s;
      // Half the flips land in the first bytes of a frame, where the header is.
      const frame = s.starts.length > 0 ? (s.starts[m.at % s.starts.length] as number) : 0;
      const at = m.header ? Math.min(n - 1, frame + (m.at % 14)) : m.at % n;
      bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
      return { bytes, starts: s.starts };
    }
    case "cut":
      return {
        bytes: bytes.subarray(0, m.at % (n + 1)),
        starts: s.starts.filter((x) => x < m.at % (n + 1)),
      };
    case "splice": {
      if (n === 0) return s;
      const from = m.from % n;
      const piece = bytes.subarray(from, Math.min(n, from + m.length));
      const at = m.at % (n + 1);
      return {
        bytes: Buffer.concat([bytes.subarray(0, at), piece, bytes.subarray(at)]),
        starts: [],
      };
    }
    case "delete": {
      const at = m.at % (n + 1);
      return {
        bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]),
        starts: [],
      };
    }
    case "set": {
      if (s.starts.length === 0) return s;
      const at = (s.starts[m.frame % s.starts.length] as number) + m.offset;
      if (at < n) bytes[at] = m.value;
      return { bytes, starts: s.starts };
    }
    case "dup":
    case "drop": {
      const frames = framesOf(s);
      if (frames.length === 0) return s;
      const i = m.frame % frames.length;
      if (m.kind === "dup") frames.splice(i, 0, frames[i] as Buffer);
      else frames.splice(i, 1);
      return rebuild(frames);
    }
    case "swap": {
      const frames = framesOf(s);
      if (frames.length < 2) return s;
      const a = m.a % frames.length;
      const b = m.b % frames.length;
      const t = frames[a] as Buffer;
      frames[a] = frames[b] as Buffer;
      frames[b] = t;
      return rebuild(frames);
    }
  }
}

/** A fuzz case: a mutated stream, the chunking it is fed in, and the message size limit. */
export interface FrameCase {
  readonly bytes: Buffer;
  readonly cuts: readonly number[];
  readonly maxMessageSize: number;
}

export const frameCase: fc.Arbitrary<FrameCase> = fc
  .record({
    stream: validStream,
    mutations: fc.array(mutation, { maxLength: 3 }),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
    maxMessageSize: fc.constantFrom(64, 1000, 100_000),
  })
  .map(({ stream, mutations, cuts, maxMessageSize }) => {
    let s = stream;
    for (const m of mutations) s = mutate(s, m);
    return { bytes: s.bytes, cuts, maxMessageSize };
  });

/** Splits `bytes` at the cut points (taken modulo its length), in order. */
export function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(Buffer.from(bytes.subarray(prev, p)));
    prev = p;
  }
  return out;
}

// --- The reference model ---------------------------------------------------------------------

/** How the stream ends for the server. */
export type Ending =
  /** The server fails the connection with this close code. */
  | { readonly kind: "fail"; readonly code: 1002 | 1007 | 1009 }
  /** The peer's close frame arrives (code 1005 for an empty one); the server echoes it. */
  | { readonly kind: "close"; readonly code: number; readonly reason: string }
  /** The input ends first (the connection then ends with 1006). */
  | { readonly kind: "eof" };

export interface Expected {
  /** Messages delivered, in order: opcode and payload as hex. */
  readonly messages: { readonly opcode: number; readonly hex: string }[];
  /** Ping and pong payloads received, in order, as hex ("ping:..", "pong:.."). */
  readonly controls: string[];
  readonly ending: Ending;
}

function validCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * What a server (masked frames expected, no extension, UTF-8 validated) must do with `bytes`:
 * the messages it delivers and how the connection ends. Checks run in the order of the wire,
 * the first violation wins: RSV2/3, opcode, a fragmented or compressed control frame,
 * continuation order (byte 0); the mask bit and a control frame longer than 125 (byte 1); a
 * non-minimal or out-of-range length; the message limit, which counts the frame's declared length
 * before its payload arrives; then UTF-8, which fails at the first byte that cannot continue
 * valid text, even before the frame is complete.
 */
export function expectedOutcome(bytes: Uint8Array, maxMessageSize: number): Expected {
  const messages: { opcode: number; hex: string }[] = [];
  const controls: string[] = [];
  const fail = (code: 1002 | 1007 | 1009): Expected => ({
    messages,
    controls,
    ending: { kind: "fail", code },
  });
  const eof: Expected = { messages, controls, ending: { kind: "eof" } };
  let pos = 0;
  let inMessage = false;
  let opcode = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let decoder: TextDecoder | undefined;
  for (;;) {
    if (pos >= bytes.length) return eof;
    const b0 = bytes[pos] as number;
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    if ((b0 & 0x30) !== 0) return fail(1002);
    if (op >= 8) {
      if (op > 10 || !fin || (b0 & 0x40) !== 0) return fail(1002);
    } else if (op === 0) {
      if (!inMessage || (b0 & 0x40) !== 0) return fail(1002);
    } else if (op <= 2) {
      if (inMessage || (b0 & 0x40) !== 0) return fail(1002);
    } else {
      return fail(1002);
    }
    if (pos + 1 >= bytes.length) return eof;
    const b1 = bytes[pos + 1] as number;
    if ((b1 & 0x80) === 0) return fail(1002);
    let length = b1 & 0x7f;
    pos += 2;
    if (length >= 126 && op >= 8) return fail(1002);
    if (length === 126) {
      if (pos + 2 > bytes.length) return eof;
      length = ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number);
      pos += 2;
      if (length < 126) return fail(1002);
    } else if (length === 127) {
      if (pos + 8 > bytes.length) return eof;
      let big = 0n;
      for (let i = 0; i < 8; i++) big = (big << 8n) | BigInt(bytes[pos + i] as number);
      pos += 8;
      if (big >= 1n << 63n || big > BigInt(Number.MAX_SAFE_INTEGER) || big <= 0xffffn)
        return fail(1002);
      length = Number(big);
    }
    if (pos + 4 > bytes.length) return eof;
    const key = bytes.subarray(pos, pos + 4);
    pos += 4;
    const have = Math.min(length, bytes.length - pos);
    const payload = Buffer.alloc(have);
    for (let i = 0; i < have; i++) payload[i] = (bytes[pos + i] as number) ^ (key[i & 3] as number);
    if (op >= 8) {
      if (have < length) return eof;
      pos += length;
      if (op === 0x9) controls.push(`ping:${payload.toString("hex")}`);
      else if (op === 0xa) controls.push(`pong:${payload.toString("hex")}`);
      else {
        if (length === 0)
          return { messages, controls, ending: { kind: "close", code: 1005, reason: "" } };
        if (length === 1) return fail(1002);
        const code = payload.readUInt16BE(0);
        if (!validCode(code)) return fail(1002);
        let reason: string;
        try {
          reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
        } catch {
          return fail(1007);
        }
        return { messages, controls, ending: { kind: "close", code, reason } };
      }
      continue;
    }
    if (op !== 0) {
      opcode = op;
      parts = [];
      size = 0;
      decoder = op === 1 ? new TextDecoder("utf-8", { fatal: true }) : undefined;
    }
    inMessage = !fin;
    if (size + length > maxMessageSize) return fail(1009);
    if (decoder !== undefined) {
      try {
        decoder.decode(payload, { stream: true });
      } catch {
        return fail(1007);
      }
    }
    if (have < length) return eof;
    pos += length;
    parts.push(payload);
    size += length;
    if (fin) {
      if (decoder !== undefined) {
        try {
          decoder.decode();
        } catch {
          return fail(1007);
        }
      }
      messages.push({ opcode, hex: Buffer.concat(parts).toString("hex") });
    }
  }
}
