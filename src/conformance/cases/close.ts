/**
 * Family 7, close handling (RFC 6455 sections 5.5.1, 7 and 7.4): the peer answers a close
 * frame, ignores what follows it, checks the close frame's structure (no body, or a 2-byte code
 * and a UTF-8 reason of at most 123 bytes) and its code (1000-1003, 1007-1011, 3000-4999 here;
 * 0-999, 1004-1006, 1016 and up to 2999 are invalid).
 *
 * @module
 */

import type { ConformanceCase, Judgement } from "../types.js";
import {
  CLOSE_NORMALLY,
  defineCase,
  INVALID_PAYLOAD,
  informational,
  message,
  NORMAL,
  PROTOCOL_ERROR,
  WRONG_CODE_FAILS,
} from "./define.js";
import { KOSME } from "./utf8-sequences.js";

/** Valid close codes of 7.7: the peer answers with 1000 or the same code. */
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
/** Invalid close codes of 7.9: the peer fails with 1002. */
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

/** κόσμε, a surrogate, then "edited": not UTF-8. */
const BAD_UTF8 = Buffer.concat([KOSME, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("edited")]);

const PEER_CLOSE_FAILS = {
  closedByMe: true,
  codes: [PROTOCOL_ERROR],
  requireClean: false,
} as const;

function closeCase(
  id: string,
  description: string,
  expectation: string,
  send: Parameters<typeof defineCase>[3],
): ConformanceCase {
  return defineCase(id, description, expectation, (c, s) => {
    send(c, s);
    return WRONG_CODE_FAILS;
  });
}

const BASIC: ConformanceCase[] = [
  closeCase(
    "7.1.1",
    "Send a text message, then close when it is echoed.",
    "The message is echoed, then a clean close with 1000.",
    (c) => {
      c.expect("OK", [message("Hello World!")]);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 1, payload: "Hello World!" });
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.1.2",
    "Send two close frames.",
    "A clean close with 1000; the second close frame is ignored.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL);
      c.sendFrame({ opcode: 8 });
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.1.3",
    "Send a close frame, then a ping.",
    "A clean close with 1000 and no pong.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL);
      c.sendFrame({ opcode: 9 });
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.1.4",
    "Send a close frame, then a text message.",
    "A clean close with 1000; the message is not echoed.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL);
      c.sendFrame({ opcode: 1, payload: "Hello World!" });
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.1.5",
    "Send the first fragment of a text message, a close frame, then the last fragment.",
    "A clean close with 1000; nothing is echoed.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 1, fin: false, payload: "fragment1" });
      c.sendClose(NORMAL);
      c.sendFrame({ opcode: 0, payload: "fragment2" });
      c.killAfter(1000);
      return undefined;
    },
  ),
  defineCase(
    "7.1.6",
    "Send a 256 KiB text message, a short text message, a close frame and a ping, back to back.",
    "Left to the implementation: the close may be processed before the messages are echoed, so the messages may be missing or partial.",
    (c) => {
      c.expect("OK", [message("Hello World!")]);
      c.expect("NON-STRICT", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendFrame({ opcode: 1, payload: "BAsd7&jh23", repeatTo: 256 * 1024 });
      c.sendFrame({ opcode: 1, payload: "Hello World!" });
      c.sendClose(NORMAL);
      c.sendFrame({ opcode: 9 });
      c.killAfter(1000);
      return informational((j: Judgement) =>
        j.behavior === "OK"
          ? "The messages were processed before the close."
          : j.behavior === "NON-STRICT"
            ? "The close was processed before the messages could be echoed."
            : "The messages were echoed before the close.",
      );
    },
  ),
];

const STRUCTURE: ConformanceCase[] = [
  closeCase(
    "7.3.1",
    "Send a close frame with an empty payload (no code, no reason).",
    "A clean close with 1000 (or no code).",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose();
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.3.2",
    "Send a close frame with a 1-byte payload.",
    "The peer answers with 1002 or drops the TCP connection.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_CLOSE_FAILS);
      c.sendClose(undefined, "a");
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.3.3",
    "Send a close frame with a code and no reason.",
    "A clean close with 1000.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL);
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.3.4",
    "Send a close frame with a code and a reason.",
    "A clean close with 1000.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL, "Hello World!");
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.3.5",
    "Send a close frame with a code and a reason of 123 bytes (the maximum).",
    "A clean close with 1000.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(CLOSE_NORMALLY);
      c.sendClose(NORMAL, "*".repeat(123));
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.3.6",
    "Send a close frame with a code and a reason of 124 bytes: a 126-byte control frame.",
    "The peer answers with 1002 or drops the TCP connection.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_CLOSE_FAILS);
      c.sendClose(NORMAL, "*".repeat(124));
      c.killAfter(1000);
      return undefined;
    },
  ),
  closeCase(
    "7.5.1",
    `Send a close frame whose reason is not UTF-8 (0x${BAD_UTF8.toString("hex")}).`,
    "The peer answers with 1002 or 1007, or drops the TCP connection.",
    (c) => {
      c.expect("OK", []);
      c.expectClose({
        closedByMe: true,
        codes: [PROTOCOL_ERROR, INVALID_PAYLOAD],
        requireClean: false,
      });
      c.sendClose(NORMAL, BAD_UTF8);
      c.killAfter(1000);
      return undefined;
    },
  ),
];

const CODES: ConformanceCase[] = [
  ...VALID_CODES.map((code, i) =>
    closeCase(
      `7.7.${i + 1}`,
      `Send a close frame with the valid code ${code}.`,
      "A clean close with 1000 or the same code.",
      (c) => {
        c.expect("OK", []);
        c.expectClose({ closedByMe: true, codes: [NORMAL, code], requireClean: true });
        c.sendClose(code);
        c.killAfter(1000);
        return undefined;
      },
    ),
  ),
  ...INVALID_CODES.map((code, i) =>
    closeCase(
      `7.9.${i + 1}`,
      `Send a close frame with the invalid code ${code}.`,
      "The peer answers with 1002 or drops the TCP connection.",
      (c) => {
        c.expect("OK", []);
        c.expectClose(PEER_CLOSE_FAILS);
        c.sendClose(code);
        c.killAfter(1000);
        return undefined;
      },
    ),
  ),
  ...[5000, 65535].map((code, i) =>
    defineCase(
      `7.13.${i + 1}`,
      `Send a close frame with the code ${code}, outside every range RFC 6455 defines.`,
      "Left open by the RFC: reported for information.",
      (c) => {
        c.expect("OK", []);
        c.expectClose({
          closedByMe: true,
          codes: [NORMAL, code, PROTOCOL_ERROR],
          requireClean: false,
        });
        c.sendClose(code);
        c.killAfter(1000);
        return informational(() => "What happens is left open by the RFC.");
      },
    ),
  ),
];

/** The cases of family 7. */
export const CLOSE_CASES: readonly ConformanceCase[] = [...BASIC, ...STRUCTURE, ...CODES];
