// The fuzz targets, shared by the test files (a fixed seed and a bounded number of runs) and by
// `npm run fuzz` (scripts/fuzz.ts: new seeds until the time is up). Each target has an
// arbitrary that builds mutated inputs and a check that throws when a property fails: the parser
// threw at its caller, the outcome differs from the reference model (message by message, down to
// the close code or HTTP status), or memory was not bounded or not given back.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { ByteBuffer } from "../../../src/buffer/byte-buffer.js";
import type { CodecListener } from "../../../src/deflate/codec.js";
import { CodecPool } from "../../../src/deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../../../src/deflate/concurrency-limiter.js";
import { negotiateServer } from "../../../src/deflate/negotiation.js";
import { ZlibCodecFactory } from "../../../src/deflate/zlib-codec.js";
import { HandshakeError, TidewsError } from "../../../src/errors.js";
import { ProtocolConnection, type ProtocolSink } from "../../../src/protocol/connection.js";
import { parseExtensions } from "../../../src/protocol/extension-header.js";
import { validateRequest } from "../../../src/protocol/handshake.js";
import { CountingPool } from "./counting-pool.js";
import { type ExtensionCase, expectedExtensions, extensionCase } from "./extension-model.js";
import { chunk, expectedOutcome, type FrameCase, frameCase } from "./frame-model.js";
import { expectedStatus, type HandshakeCase, handshakeCase, headersOf } from "./handshake-model.js";
import { expectedInflate, type InflateCase, inflateCase } from "./inflate-model.js";
import { parseFrames } from "./server-frames.js";

/** A fuzz target: an input generator and a property that throws on failure. */
export interface FuzzTarget<T> {
  readonly name: string;
  /** What a failure of this target maps to, for the summary. */
  readonly maps: string;
  readonly arbitrary: fc.Arbitrary<T>;
  check(input: T): void | Promise<void>;
}

// --- Frames, through ProtocolConnection ------------------------------------------------------

/** The part of the first parser buffer that may come from a header alone (see below). */
const FRAGMENTED_HINT = 4096;

class RecordingSink implements ProtocolSink {
  readonly messages: { opcode: number; hex: string }[] = [];
  readonly controls: string[] = [];
  readonly output: Buffer[] = [];
  ends = 0;
  compressed = 0;
  constructor(private readonly pool: CountingPool) {}
  onMessage(opcode: number, data: ByteBuffer): void {
    this.messages.push({ opcode, hex: data.toString("hex") });
    this.pool.put(data);
  }
  onCompressedMessage(_opcode: number, data: ByteBuffer): void {
    this.compressed++;
    this.pool.put(data);
  }
  onPing(payload: Buffer): void {
    this.controls.push(`ping:${payload.toString("hex")}`);
  }
  onPong(payload: Buffer): void {
    this.controls.push(`pong:${payload.toString("hex")}`);
  }
  onOutput(frame: ByteBuffer): void {
    this.output.push(Buffer.from(frame.bytes()));
    this.pool.put(frame);
  }
  onPeerClose(): void {}
  onEnd(): void {
    this.ends++;
  }
}

/** Feeds a mutated client stream to a server-side ProtocolConnection and judges the result. */
export function checkFrames(c: FrameCase): void {
  const pool = new CountingPool();
  const sink = new RecordingSink(pool);
  const core = new ProtocolConnection(sink, {
    role: "server",
    pool,
    maxMessageSize: c.maxMessageSize,
  });
  for (const piece of chunk(c.bytes, c.cuts)) core.receive(piece);
  if (!core.closeExpected()) core.receiveEof();
  const want = expectedOutcome(c.bytes, c.maxMessageSize);
  assert.deepEqual(sink.messages, want.messages, "messages");
  assert.deepEqual(sink.controls, want.controls, "pings and pongs");
  assert.equal(sink.compressed, 0, "no compressed message without the extension");
  assert.equal(sink.ends, 1, "onEnd exactly once");
  const { frames, rest } = parseFrames(Buffer.concat(sink.output));
  assert.equal(rest.length, 0, "whole frames out");
  const pongs = frames
    .filter((f) => f.opcode === 0xa)
    .map((f) => `ping:${f.payload.toString("hex")}`);
  assert.deepEqual(
    pongs,
    want.controls.filter((x) => x.startsWith("ping:")),
    "one pong per ping, same payload",
  );
  const closes = frames.filter((f) => f.opcode === 0x8);
  const info = core.closeInfo;
  const ending = want.ending;
  if (ending.kind === "eof") {
    assert.equal(closes.length, 0, "no close frame at EOF");
    assert.equal(info.code, 1006);
    assert.equal(info.error?.code, "ERR_WS_UNEXPECTED_EOF");
  } else if (ending.kind === "fail") {
    assert.equal(closes.length, 1, "one close frame");
    assert.equal(closes[0]?.payload.readUInt16BE(0), ending.code, "close code on the wire");
    assert.equal(info.code, ending.code, "closeInfo code");
    assert.ok(info.error instanceof TidewsError);
    assert.equal(info.error.closeCode, ending.code);
  } else {
    assert.equal(closes.length, 1, "the close is echoed");
    const echoed = closes[0]?.payload ?? Buffer.alloc(0);
    if (ending.code === 1005) assert.equal(echoed.length, 0, "an empty close is echoed empty");
    else assert.equal(echoed.readUInt16BE(0), ending.code, "the peer's code echoed");
    assert.equal(info.code, ending.code);
    assert.equal(info.reason, ending.reason);
    assert.equal(info.wasClean, true);
  }
  if (closes.length > 0) assert.equal(frames.at(-1)?.opcode, 0x8, "nothing after the close frame");
  // Memory: every buffer given back, and no buffer sized by a length the peer only declared
  // beyond the message limit (a data frame's buffer is taken when its header arrives).
  assert.equal(pool.outstanding, 0, "every pooled buffer given back");
  assert.ok(
    pool.largestRequest <= Math.max(c.maxMessageSize, FRAGMENTED_HINT) + 14,
    `largest buffer ${pool.largestRequest} for a limit of ${c.maxMessageSize}`,
  );
}

export const framesTarget: FuzzTarget<FrameCase> = {
  name: "frames",
  maps: "1002 / 1007 / 1009 / echo / 1006",
  arbitrary: frameCase,
  check: checkFrames,
};

// --- Handshake ---------------------------------------------------------------------------------

export function checkHandshake(c: HandshakeCase): void {
  const want = expectedStatus(c);
  let got = 101;
  try {
    validateRequest({ method: c.method, httpVersion: c.httpVersion, headers: headersOf(c) });
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `threw ${String(error)}`);
    got = error.status;
  }
  assert.equal(got, want, "status");
}

export const handshakeTarget: FuzzTarget<HandshakeCase> = {
  name: "handshake",
  maps: "400 / 405 / 426 / 101",
  arbitrary: handshakeCase,
  check: checkHandshake,
};

// --- Sec-WebSocket-Extensions ------------------------------------------------------------------

export function checkExtensions(c: ExtensionCase): void {
  const want = expectedExtensions(c.header);
  let got: ReturnType<typeof parseExtensions> | number;
  try {
    got = parseExtensions(c.header);
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `threw ${String(error)}`);
    assert.equal(error.code, "ERR_HANDSHAKE_EXTENSIONS");
    got = error.status;
  }
  if (want === null) {
    assert.equal(got, 400, "a malformed header is refused with 400");
    return;
  }
  assert.ok(typeof got !== "number", "a well-formed header is accepted");
  assert.deepEqual(
    got.map((o) => ({ name: o.name, params: [...o.params], duplicates: [...o.duplicates] })),
    want,
    "offers",
  );
  // The negotiation never throws on what the parser accepted, and answers a valid element.
  const answer = negotiateServer(got, {});
  if (answer !== null) {
    const back = parseExtensions(answer.response);
    assert.equal(back.length, 1);
    assert.equal(back[0]?.name, "permessage-deflate");
  }
}

export const extensionsTarget: FuzzTarget<ExtensionCase> = {
  name: "extensions",
  maps: "400 / offers",
  arbitrary: extensionCase,
  check: checkExtensions,
};

// --- Inflater ---------------------------------------------------------------------------------

class Waiter implements CodecListener {
  result: Promise<ByteBuffer | TidewsError>;
  private resolve!: (v: ByteBuffer | TidewsError) => void;
  constructor() {
    this.result = new Promise((r) => {
      this.resolve = r;
    });
  }
  onInflated(data: ByteBuffer): void {
    this.resolve(data);
  }
  onDeflated(data: ByteBuffer): void {
    this.resolve(data);
  }
  onCodecError(error: TidewsError): void {
    this.resolve(error);
  }
}

/** Inflates a mutated payload with the connection's zlib inflater and judges it against zlib. */
export async function checkInflate(c: InflateCase): Promise<void> {
  const pool = new CountingPool();
  const factory = new ZlibCodecFactory({
    bufferPool: pool,
    limiter: new ConcurrencyLimiter(),
    codecPool: new CodecPool(),
    syncInflateLimit: c.sync ? undefined : 0,
    syncOutputLimit: c.syncOutputLimit,
    chunkSize: c.chunkSize,
  });
  const inflater = factory.createInflater(15, true);
  const waiter = new Waiter();
  const pieces = chunk(c.payload, c.cuts);
  let r = inflater.inflate(pieces, c.maxSize, waiter, 0);
  if (r === null) r = await waiter.result;
  const want = expectedInflate(c.payload, c.maxSize);
  if (want.kind === "ok") {
    assert.ok(!(r instanceof TidewsError), `failed with ${r instanceof TidewsError ? r.code : ""}`);
    assert.equal(r.toString("hex"), want.data.toString("hex"), "inflated bytes");
    pool.put(r);
  } else {
    assert.ok(
      r instanceof TidewsError,
      `expected ${want.kind}, inflated ${(r as ByteBuffer).len} bytes`,
    );
    const codes =
      want.kind === "too-big"
        ? ["ERR_WS_MESSAGE_TOO_BIG"]
        : want.kind === "corrupt"
          ? ["ERR_WS_INFLATE_FAILED"]
          : ["ERR_WS_MESSAGE_TOO_BIG", "ERR_WS_INFLATE_FAILED"];
    assert.ok(codes.includes(r.code), `${r.code} for ${want.kind}`);
    assert.equal(r.closeCode, r.code === "ERR_WS_MESSAGE_TOO_BIG" ? 1009 : 1007);
  }
  inflater.close();
  assert.equal(pool.outstanding, 0, "every pooled buffer given back");
  // The output stops at maxSize + 1 bytes, and so does its buffer: no request for more than the
  // limit, the input (copied with its tail for the thread pool) or the first 1 KiB.
  assert.ok(
    pool.largestRequest <= Math.max(c.maxSize + 1, c.payload.length + 4, 1024),
    `largest buffer ${pool.largestRequest} for a limit of ${c.maxSize}`,
  );
}

export const inflateTarget: FuzzTarget<InflateCase> = {
  name: "inflate",
  maps: "1007 / 1009 / bytes",
  arbitrary: inflateCase,
  check: checkInflate,
};

/** Every in-process target, in summary order. */
export const targets: readonly FuzzTarget<never>[] = [
  framesTarget,
  handshakeTarget,
  extensionsTarget,
  inflateTarget,
] as unknown as FuzzTarget<never>[];

/** Runs `target` for `numRuns` inputs from `seed`; resolves with fast-check's details. */
export async function runTarget<T>(
  target: FuzzTarget<T>,
  seed: number,
  numRuns: number,
): Promise<fc.RunDetails<[T]>> {
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    await target.check(input);
  });
  return fc.check(property, { seed, numRuns, endOnFailure: false });
}
