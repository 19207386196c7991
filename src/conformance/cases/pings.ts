/**
 * Family 2, pings and pongs (RFC 6455 sections 5.5.2 and 5.5.3): a ping is answered by a pong
 * with the same payload, up to the 125-byte control frame limit; an unsolicited pong is not
 * answered.
 *
 * @module
 */

import type { ConformanceCase } from "../types.js";
import { CLOSE_NORMALLY, defineCase, NORMAL, PEER_FAILS, pong } from "./define.js";

function pingCase(
  id: string,
  what: string,
  payload: Buffer,
  options: { chop?: number; closeAfter?: number } = {},
): ConformanceCase {
  return defineCase(
    id,
    `Send a ping with ${what}${options.chop === 1 ? ", one byte per write" : ""}.`,
    "A pong with the same payload answers it; clean close with 1000.",
    (c) => {
      c.expect("OK", [pong(payload)]);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 9, payload, ...(options.chop ? { chop: options.chop } : {}) });
      c.closeAfter(options.closeAfter ?? 1000);
      return undefined;
    },
  );
}

function tenPings(id: string, chop: number | undefined): ConformanceCase {
  return defineCase(
    id,
    `Send ten pings with payloads payload-0 .. payload-9${chop ? ", one byte per write" : ""}.`,
    "Ten pongs with those payloads, in order (the RFC does not require a pong per ping, the suite checks for it); clean close with 1000.",
    (c) => {
      const pongs = [];
      for (let i = 0; i < 10; i++) {
        const payload = Buffer.from(`payload-${i}`);
        pongs.push(pong(payload));
        c.sendFrame({ opcode: 9, payload, ...(chop ? { chop } : {}) });
      }
      c.expect("OK", pongs);
      c.expectClose(CLOSE_NORMALLY);
      c.closeAfter(3000);
      return undefined;
    },
  );
}

/** The cases of family 2. */
export const PING_CASES: readonly ConformanceCase[] = [
  pingCase("2.1", "no payload", Buffer.alloc(0)),
  pingCase("2.2", "a short text payload", Buffer.from("Hello, world!")),
  pingCase(
    "2.3",
    "a short binary payload",
    Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff]),
  ),
  pingCase("2.4", "a binary payload of 125 bytes (the maximum)", Buffer.alloc(125, 0xfe)),
  defineCase(
    "2.5",
    "Send a ping with a binary payload of 126 bytes.",
    "The peer fails the connection (1002): control frames carry at most 125 bytes.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame({ opcode: 9, payload: Buffer.alloc(126, 0xfe) });
      c.killAfter(1000);
      return undefined;
    },
  ),
  pingCase("2.6", "a binary payload of 125 bytes", Buffer.alloc(125, 0xfe), {
    chop: 1,
    closeAfter: 2000,
  }),
  defineCase(
    "2.7",
    "Send an unsolicited pong without payload, then a close frame.",
    "Nothing is sent back before the close; clean close with 1000.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 10 });
      c.sendClose(NORMAL);
      c.closeAfter(1000);
      return undefined;
    },
  ),
  defineCase(
    "2.8",
    "Send an unsolicited pong with a payload, then a close frame.",
    "Nothing is sent back before the close; clean close with 1000.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 10, payload: "unsolicited pong payload" });
      c.sendClose(NORMAL);
      c.closeAfter(1000);
      return undefined;
    },
  ),
  defineCase(
    "2.9",
    "Send an unsolicited pong with a payload, then a ping with a payload.",
    "Only the ping is answered, by a pong with its payload; clean close with 1000.",
    (c) => {
      c.expect("OK", [pong("ping payload")]);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 10, payload: "unsolicited pong payload" });
      c.sendFrame({ opcode: 9, payload: "ping payload" });
      c.closeAfter(1000);
      return undefined;
    },
  ),
  tenPings("2.10", undefined),
  tenPings("2.11", 1),
];
