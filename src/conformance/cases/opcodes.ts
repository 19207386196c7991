/**
 * Family 4, reserved opcodes (RFC 6455 section 5.2): opcodes 3-7 (data) and 11-15 (control)
 * are reserved, and receiving one fails the connection.
 *
 * @module
 */

import type { ConformanceCase } from "../types.js";
import { defineCase, message, PEER_FAILS } from "./define.js";

const HELLO = "Hello, world!";

/** A reserved-opcode frame alone. */
function alone(id: string, opcode: number, payload: string): ConformanceCase {
  const kind = opcode < 8 ? "non-control" : "control";
  return defineCase(
    id,
    `Send a frame with the reserved ${kind} opcode ${opcode}${payload ? " and a payload" : ""}.`,
    "The peer fails the connection (1002).",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame({ opcode, payload });
      c.killAfter(1000);
      return undefined;
    },
  );
}

/** A valid text message, a reserved-opcode frame, then a ping. */
function afterValid(id: string, opcode: number, payload: string, chop: boolean): ConformanceCase {
  const kind = opcode < 8 ? "non-control" : "control";
  return defineCase(
    id,
    `Send a short text message, a frame with the reserved ${kind} opcode ${opcode}${payload ? " and a payload" : ""}, then a ping${chop ? ", one byte per write" : ""}.`,
    "The message is echoed, then the peer fails the connection (1002) and sends no pong.",
    (c) => {
      c.expect("OK", [message(HELLO)]);
      c.expect("NON-STRICT", []);
      c.expectClose(PEER_FAILS);
      const extra = chop ? { chop: 1 } : {};
      c.sendFrame({ opcode: 1, payload: HELLO, ...extra });
      c.sendFrame({ opcode, payload, ...extra });
      c.sendFrame({ opcode: 9, ...extra });
      c.killAfter(1000);
      return undefined;
    },
  );
}

function family(sub: 1 | 2, base: number): ConformanceCase[] {
  return [
    alone(`4.${sub}.1`, base, ""),
    alone(`4.${sub}.2`, base + 1, "reserved opcode payload"),
    afterValid(`4.${sub}.3`, base + 2, "", false),
    afterValid(`4.${sub}.4`, base + 3, HELLO, false),
    afterValid(`4.${sub}.5`, base + 4, HELLO, true),
  ];
}

/** The cases of family 4. */
export const OPCODE_CASES: readonly ConformanceCase[] = [...family(1, 3), ...family(2, 11)];
