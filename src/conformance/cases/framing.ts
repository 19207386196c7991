/**
 * Family 1, framing: text (1.1) and binary (1.2) messages at every payload length class of
 * RFC 6455 section 5.2 (7-bit, 16-bit and 64-bit lengths and their edges), sent in one write,
 * and once chopped into 997-byte writes.
 *
 * @module
 */

import type { ConformanceCase } from "../types.js";
import { CLOSE_NORMALLY, defineCase, message } from "./define.js";

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

function family(sub: 1 | 2): ConformanceCase[] {
  const binary = sub === 2;
  const kind = binary ? "binary" : "text";
  const fill = binary ? 0xfe : 0x2a; // 0xfe is never valid UTF-8, "*" always is
  const out = LENGTHS.map((n, i) =>
    defineCase(
      `1.${sub}.${i + 1}`,
      `Send one ${kind} message with a payload of ${n} bytes.`,
      `The same ${kind} message is echoed; clean close with 1000.`,
      (c) => {
        const payload = Buffer.alloc(n, fill);
        c.expect("OK", [message(payload, binary)]);
        c.expectClose(CLOSE_NORMALLY);
        c.sendFrame({ opcode: binary ? 2 : 1, payload });
        c.killAfter(n > 1000 ? 2000 : 1000);
        return undefined;
      },
    ),
  );
  out.push(
    defineCase(
      `1.${sub}.8`,
      `Send one ${kind} message of 65536 bytes, writing the frame in pieces of 997 bytes.`,
      `The same ${kind} message is echoed; clean close with 1000.`,
      (c) => {
        const payload = Buffer.alloc(65536, fill);
        c.expect("OK", [message(payload, binary)]);
        c.expectClose(CLOSE_NORMALLY);
        c.sendFrame({ opcode: binary ? 2 : 1, payload, chop: 997 });
        c.killAfter(10_000);
        return undefined;
      },
    ),
  );
  return out;
}

/** The cases of family 1. */
export const FRAMING_CASES: readonly ConformanceCase[] = [...family(1), ...family(2)];
