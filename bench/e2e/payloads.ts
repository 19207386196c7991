/**
 * The payloads of a load-generator job, drawn from a seeded generator so that every server sees
 * the same messages in every round.
 *
 * Each payload starts with its index (two bytes for binary, decimal digits for text), so no two
 * payloads of a ring are equal and an echo delivered out of order cannot pass the content check.
 *
 * @module
 */

import { Mulberry32 } from "../lib/random.js";
import type { PayloadSpec } from "./ipc.js";

const WORDS = [
  "socket",
  "frame",
  "message",
  "server",
  "client",
  "buffer",
  "pool",
  "deflate",
  "window",
  "context",
  "handshake",
  "upgrade",
  "latency",
  "throughput",
  "echo",
  "broadcast",
  "channel",
  "topic",
  "payload",
  "header",
  "mask",
  "opcode",
  "close",
  "ping",
  "pong",
  "stream",
  "chunk",
  "queue",
  "event",
  "handler",
  "session",
  "user",
  "price",
  "order",
  "quote",
  "update",
  "status",
  "active",
  "pending",
  "done",
  "true",
  "false",
  "null",
  "id",
  "name",
  "value",
  "time",
  "count",
] as const;

/** A text payload of exactly `size` bytes: JSON-like lines of words and numbers, ASCII only. */
function textPayload(index: number, size: number, rng: Mulberry32): Buffer {
  const parts: string[] = [`{"seq":${index},"items":[`];
  let length = parts[0]?.length ?? 0;
  while (length < size) {
    const w = WORDS[rng.int(0, WORDS.length - 1)] as string;
    const item = `{"${w}":${rng.int(0, 99999)},"tag":"${WORDS[rng.int(0, WORDS.length - 1)]}"},`;
    parts.push(item);
    length += item.length;
  }
  const text = parts.join("").slice(0, size);
  return Buffer.from(text, "latin1");
}

/** A binary payload of exactly `size` bytes, random after its two-byte index. */
function binaryPayload(index: number, size: number, rng: Mulberry32): Buffer {
  const b = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) b.writeUInt32LE(rng.nextUint32(), i);
  for (; i < size; i++) b[i] = rng.nextUint32() & 0xff;
  if (size >= 2) b.writeUInt16BE(index & 0xffff, 0);
  else if (size === 1) b[0] = index & 0xff;
  return b;
}

/** The ring of payloads of `spec`, in the order every connection sends them. */
export function buildPayloads(spec: PayloadSpec): Buffer[] {
  const rng = new Mulberry32(spec.seed);
  const out: Buffer[] = [];
  for (let i = 0; i < spec.count; i++) {
    const size = rng.int(spec.minSize, spec.maxSize);
    out.push(spec.text ? textPayload(i, size, rng) : binaryPayload(i, size, rng));
  }
  return out;
}
