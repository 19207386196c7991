// Inflater fuzzing: permessage-deflate payloads (RFC 7692 section 7.2.1) compressed by zlib at
// several levels and windows, some ending with a BFINAL block, then mutated (flipped bits, cuts,
// splices of another stream, concatenations); and the reference outcome computed with
// zlib.inflateRawSync, one call per DEFLATE stream.
import zlib from "node:zlib";
import fc from "fast-check";

export interface InflateCase {
  /** The compressed payload, without the 00 00 ff ff tail. */
  readonly payload: Buffer;
  /** How the payload is split into pieces (a message of several frames). */
  readonly cuts: readonly number[];
  readonly maxSize: number;
  /** Small inputs inflate on the calling thread (true) or all go to the thread pool. */
  readonly sync: boolean;
  readonly syncOutputLimit: number | undefined;
  readonly chunkSize: number | undefined;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Output past the limit within which corrupt data may still be reported first (4 chunks). */
const SLACK = 64 * 1024;

/** Compresses `data` as a permessage-deflate sender does: sync flush, tail removed. */
export function compressMessage(
  data: Uint8Array,
  level: number,
  windowBits: number,
  final: boolean,
): Buffer {
  const out = zlib.deflateRawSync(data, {
    level,
    windowBits,
    finishFlush: final ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
  });
  return final || !out.subarray(-4).equals(TAIL) ? out : out.subarray(0, -4);
}

const plain = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  // Compressible: a short pattern repeated, up to a few hundred KiB of output.
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 40_000 }))
    .map(([p, n]) => Buffer.alloc(p.length * n).fill(Buffer.from(p))),
);

const compressed = fc
  .record({
    data: plain,
    level: fc.constantFrom(0, 1, 6, 9),
    windowBits: fc.constantFrom(9, 12, 15),
    final: fc.boolean(),
  })
  .map(({ data, level, windowBits, final }) => compressMessage(data, level, windowBits, final));

type Edit =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "cut"; at: number }
  | { kind: "splice"; at: number; piece: Buffer }
  | { kind: "append"; piece: Buffer }
  | { kind: "set"; at: number; value: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("splice" as const),
    at: fc.nat(),
    piece: fc.oneof(
      compressed,
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    ),
  }),
  fc.record({ kind: fc.constant("append" as const), piece: compressed }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.nat(255) }),
);

function applyEdit(b: Buffer, e: Edit): Buffer {
  const n = b.length;
  switch (e.kind) {
    case "flip": {
      if (n === 0) return b;
      const c = Buffer.from(b);
      c[e.at % n] = (c[e.at % n] as number) ^ (1 << e.bit);
      return c;
    }
    case "cut":
      return b.subarray(0, e.at % (n + 1));
    case "splice": {
      const at = e.at % (n + 1);
      return Buffer.concat([b.subarray(0, at), e.piece, b.subarray(at)]);
    }
    case "append":
      return Buffer.concat([b, e.piece]);
    case "set": {
      if (n === 0) return b;
      const c = Buffer.from(b);
      c[e.at % n] = e.value;
      return c;
    }
  }
}

export const inflateCase: fc.Arbitrary<InflateCase> = fc.record({
  payload: fc
    .tuple(compressed, fc.array(edit, { maxLength: 3 }))
    .map(([p, edits]) => edits.reduce(applyEdit, p)),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  maxSize: fc.constantFrom(100, 4096, 65536, 1 << 20),
  sync: fc.boolean(),
  syncOutputLimit: fc.constantFrom(undefined, 1024),
  chunkSize: fc.constantFrom(undefined, 64),
});

/** The smallest output chunk zlib may be given (the granularity of what it reports). */
const GRAIN = 64;

/**
 * Inflates `bytes` with output chunks of `chunkSize`: the output length, "too-big" once more than
 * `limit` bytes came out in whole chunks, or "corrupt" (zlib drops the output of the failing
 * call, at most one chunk).
 */
function tryInflate(
  bytes: Buffer,
  limit: number,
  chunkSize = 16 * 1024,
): number | "too-big" | "corrupt" {
  if (limit < 1) return "too-big";
  try {
    return zlib.inflateRawSync(bytes, {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      maxOutputLength: limit,
      chunkSize,
    }).length;
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too-big" : "corrupt";
  }
}

export type InflateOutcome =
  | { readonly kind: "ok"; readonly data: Buffer }
  | { readonly kind: "too-big" }
  | { readonly kind: "corrupt" }
  /** Corrupt data after more than the limit of output: which is seen first depends on chunking. */
  | { readonly kind: "too-big-or-corrupt" };

/**
 * What inflating `payload` must give under a limit of `maxSize` bytes: the payload and the
 * 00 00 ff ff tail inflated as RFC 7692 section 7.2.2 says; a block with BFINAL ends a DEFLATE
 * stream and what follows it is a new stream (section 7.2.3.4), except the tail alone; a stream
 * that makes no progress is corrupt. Corrupt data is 1007 and output beyond the limit 1009; when
 * corrupt data comes after about the limit of output, either may be seen first (zlib drops the
 * output of the call that fails, and a bad symbol may share its byte with a long match, so it
 * depends on where the output chunks end).
 */
export function expectedInflate(payload: Buffer, maxSize: number): InflateOutcome {
  if (payload.length === 0) return { kind: "ok", data: Buffer.alloc(0) };
  const input = Buffer.concat([payload, TAIL]);
  const out: Buffer[] = [];
  let total = 0;
  let pos = 0;
  for (;;) {
    let r: { buffer: Buffer; engine: zlib.InflateRaw };
    try {
      r = zlib.inflateRawSync(input.subarray(pos), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: maxSize + 1 - total,
        info: true,
      }) as unknown as { buffer: Buffer; engine: zlib.InflateRaw };
    } catch (error) {
      const rest = input.subarray(pos);
      if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
        // Past the limit. Corrupt data soon after it may be seen first: zlib drops the output of
        // the call that fails, and one call writes up to a chunk (16 KiB) of output.
        const slack = tryInflate(rest, maxSize + 1 - total + SLACK);
        return slack === "corrupt" ? { kind: "too-big-or-corrupt" } : { kind: "too-big" };
      }
      // Corrupt. Strictly 1007 only when the output before the bad symbol cannot pass the limit:
      // in chunks of 64 bytes, no more than the limit less one chunk came out before the error.
      const before = tryInflate(rest, maxSize - total - GRAIN, GRAIN);
      return before === "corrupt" ? { kind: "corrupt" } : { kind: "too-big-or-corrupt" };
    }
    out.push(r.buffer);
    total += r.buffer.length;
    if (total > maxSize) return { kind: "too-big" };
    const consumed = r.engine.bytesWritten;
    if (pos + consumed >= payload.length) return { kind: "ok", data: Buffer.concat(out) };
    if (consumed === 0) return { kind: "corrupt" };
    pos += consumed;
  }
}
