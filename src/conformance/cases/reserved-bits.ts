/**
 * Family 3, reserved bits (RFC 6455 section 5.2): without an extension that defines them, a
 * frame with RSV1, RSV2 or RSV3 set fails the connection. When a valid message precedes the bad
 * frame, echoing it first is the strict behaviour; failing before echoing it is NON-STRICT.
 *
 * @module
 */

import type { ConformanceCase, FrameSpec } from "../types.js";
import { defineCase, message, PEER_FAILS } from "./define.js";

const HELLO = "Hello, world!";

/** A frame alone with reserved bits set. */
function alone(id: string, what: string, frame: FrameSpec): ConformanceCase {
  return defineCase(
    id,
    `Send ${what} with RSV = ${frame.rsv}.`,
    "The peer fails the connection (1002): no extension defines the reserved bits.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame(frame);
      c.killAfter(1000);
      return undefined;
    },
  );
}

/** A valid text message, the same with reserved bits, then a ping. */
function afterValid(id: string, rsv: number, how: "" | "sync" | "chop"): ConformanceCase {
  const style =
    how === "sync" ? ", each frame in its own write" : how === "chop" ? ", one byte per write" : "";
  return defineCase(
    id,
    `Send a short text message, the same message with RSV = ${rsv}, then a ping${style}.`,
    "The first message is echoed, then the peer fails the connection (1002) and sends no pong.",
    (c) => {
      c.expect("OK", [message(HELLO)]);
      c.expect("NON-STRICT", []);
      c.expectClose(PEER_FAILS);
      const extra = how === "sync" ? { sync: true } : how === "chop" ? { chop: 1 } : {};
      c.sendFrame({ opcode: 1, payload: HELLO, ...extra });
      c.sendFrame({ opcode: 1, payload: HELLO, rsv, ...extra });
      c.sendFrame({ opcode: 9, ...extra });
      c.killAfter(1000);
      return undefined;
    },
  );
}

/** The cases of family 3. */
export const RESERVED_BIT_CASES: readonly ConformanceCase[] = [
  alone("3.1", "a short text message", { opcode: 1, payload: HELLO, rsv: 1 }),
  afterValid("3.2", 2, ""),
  afterValid("3.3", 3, "sync"),
  afterValid("3.4", 4, "chop"),
  alone("3.5", "a short binary message", {
    opcode: 2,
    payload: Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff]),
    rsv: 5,
  }),
  // Autobahn's 3.6 is titled as a ping but sends a binary frame; the same octets are sent here.
  alone("3.6", "a binary frame (Autobahn titles this case a ping)", {
    opcode: 2,
    payload: HELLO,
    rsv: 6,
  }),
  alone("3.7", "a close frame", { opcode: 8, rsv: 7 }),
];
