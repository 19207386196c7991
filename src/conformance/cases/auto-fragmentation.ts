/**
 * Family 10, automatic fragmentation: a message split by the sender into frames of 1300 bytes
 * is reassembled by the peer.
 *
 * @module
 */

import type { ConformanceCase } from "../types.js";
import { CLOSE_NORMALLY, defineCase, message } from "./define.js";

/** The cases of family 10. */
export const AUTO_FRAGMENTATION_CASES: readonly ConformanceCase[] = [
  defineCase(
    "10.1.1",
    "Send a text message of 65536 bytes split into frames of 1300 bytes (50 full frames and one of 536).",
    "The whole message is echoed; clean close with 1000.",
    (c) => {
      const payload = Buffer.alloc(65536, 0x2a);
      c.expect("OK", [message(payload)]);
      c.expectClose(CLOSE_NORMALLY);
      c.sendMessage(payload, { fragmentSize: 1300 });
      c.killAfter(10_000);
      return undefined;
    },
  ),
];
