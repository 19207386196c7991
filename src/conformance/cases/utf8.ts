/**
 * Family 6, UTF-8 handling (RFC 6455 section 8.1): a text message must be valid UTF-8, in one
 * frame or split across fragments anywhere, even inside a code point; invalid UTF-8 fails the
 * connection with 1007.
 *
 * Fail-fast (6.4): an endpoint that validates incrementally fails at the first invalid
 * fragment or chop (OK); one that validates only the whole message fails at its end
 * (NON-STRICT).
 *
 * @module
 */

import type { CaseContext, ConformanceCase } from "../types.js";
import { CLOSE_NORMALLY, defineCase, message, PEER_FAILS_UTF8 } from "./define.js";
import { KOSME, UTF8_GROUPS } from "./utf8-sequences.js";

const hex = (b: Buffer) => b.toString("hex");

const HELLO_UTF8 = Buffer.from("Hello-µ@ßöäüàá-UTF-8!!", "utf8");
/** κόσμε, a surrogate (invalid), then "edited". */
const INVALID = Buffer.concat([KOSME, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("edited")]);
/** κόσμε, the 4-byte form of 0x110000 (beyond Unicode: invalid at its 2nd byte), "edited". */
const PART1 = KOSME;
const PART2 = Buffer.from([0xf4, 0x90, 0x80, 0x80]);
const FAIL_FAST = Buffer.concat([PART1, PART2, Buffer.from("edited")]);

function echoCase(
  id: string,
  description: string,
  send: (c: CaseContext) => void,
  payload: Buffer,
): ConformanceCase {
  return defineCase(id, description, "The message is echoed.", (c) => {
    c.expect("OK", [message(payload)]);
    c.expectClose(CLOSE_NORMALLY);
    send(c);
    c.closeAfter(1000);
    return undefined;
  });
}

/**
 * The fail-fast cases: three parts with a 1 s wait after the first and the second. An endpoint
 * that fails during the second wait gets OK, one that fails only after the third part gets
 * NON-STRICT.
 */
function failFast(id: string, atInvalidByte: boolean, oneFrame: boolean): ConformanceCase {
  // Split around the 4-byte form, or so that the second part is just the byte that makes the
  // text invalid (0x90, at offset 12).
  const cuts = atInvalidByte ? [12, 13] : [PART1.length, PART1.length + PART2.length];
  const parts = [
    FAIL_FAST.subarray(0, cuts[0]),
    FAIL_FAST.subarray(cuts[0], cuts[1]),
    FAIL_FAST.subarray(cuts[1]),
  ];
  const how = oneFrame ? "as 3 writes of one frame" : "in 3 frames";
  return defineCase(
    id,
    `Send an invalid text message ${how}: ${hex(parts[0]!)}, wait 1 s, ${hex(parts[1]!)} (this part makes it invalid), wait 1 s, ${hex(parts[2]!)}.`,
    "The first part is accepted (the first wait passes); the second part is rejected at once with 1007 (fail fast: OK). Failing only after the whole message: NON-STRICT.",
    (c) => {
      c.expect("OK", [{ kind: "timeout", tag: "A" }]);
      c.expect("NON-STRICT", [
        { kind: "timeout", tag: "A" },
        { kind: "timeout", tag: "B" },
      ]);
      c.expectClose(PEER_FAILS_UTF8);
      if (oneFrame) {
        c.beginFrame(1, FAIL_FAST.length);
        c.sendFrameData(parts[0]!);
      } else {
        c.sendFrame({ opcode: 1, fin: false, payload: parts[0]! });
      }
      c.later(
        1000,
        () => {
          if (!c.isOpen) return;
          c.record({ kind: "timeout", tag: "A" });
          if (oneFrame) c.sendFrameData(parts[1]!);
          else c.sendFrame({ opcode: 0, fin: false, payload: parts[1]! });
          c.later(
            1000,
            () => {
              if (!c.isOpen) return;
              c.record({ kind: "timeout", tag: "B" });
              if (oneFrame) c.sendFrameData(parts[2]!);
              else c.sendFrame({ opcode: 0, payload: parts[2]! });
              c.killAfter(1000);
            },
            "B",
          );
        },
        "A",
      );
      return undefined;
    },
  );
}

const BASIC: ConformanceCase[] = [
  echoCase("6.1.1", "Send an empty text message.", (c) => c.sendMessage(""), Buffer.alloc(0)),
  echoCase(
    "6.1.2",
    "Send a text message in 3 fragments, all empty.",
    (c) => {
      c.sendFrame({ opcode: 1, fin: false });
      c.sendFrame({ opcode: 0, fin: false });
      c.sendFrame({ opcode: 0 });
    },
    Buffer.alloc(0),
  ),
  echoCase(
    "6.1.3",
    "Send a text message in 3 fragments, the first and the last empty.",
    (c) => {
      c.sendFrame({ opcode: 1, fin: false });
      c.sendFrame({ opcode: 0, fin: false, payload: "middle frame payload" });
      c.sendFrame({ opcode: 0 });
    },
    Buffer.from("middle frame payload"),
  ),
  echoCase(
    "6.2.1",
    `Send valid UTF-8 text in one frame: ${hex(HELLO_UTF8)}.`,
    (c) => c.sendMessage(HELLO_UTF8),
    HELLO_UTF8,
  ),
  echoCase(
    "6.2.2",
    "Send valid UTF-8 text in 2 fragments split at a code point boundary.",
    (c) => {
      const first = Buffer.from("Hello-µ@ßöä", "utf8");
      c.sendFrame({ opcode: 1, fin: false, payload: first });
      c.sendFrame({ opcode: 0, payload: HELLO_UTF8.subarray(first.length) });
    },
    HELLO_UTF8,
  ),
  echoCase(
    "6.2.3",
    "Send valid UTF-8 text in fragments of 1 byte, so that frames end inside code points.",
    (c) => c.sendMessage(HELLO_UTF8, { fragmentSize: 1 }),
    HELLO_UTF8,
  ),
  echoCase(
    "6.2.4",
    `Send valid UTF-8 text (${hex(KOSME)}) in fragments of 1 byte.`,
    (c) => c.sendMessage(KOSME, { fragmentSize: 1 }),
    KOSME,
  ),
  defineCase(
    "6.3.1",
    `Send invalid UTF-8 text in one frame: ${hex(INVALID)}.`,
    "The peer fails the connection with 1007.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS_UTF8);
      c.sendMessage(INVALID);
      c.killAfter(1000);
      return undefined;
    },
  ),
  defineCase(
    "6.3.2",
    `Send invalid UTF-8 text (${hex(INVALID)}) in fragments of 1 byte.`,
    "The peer fails the connection with 1007.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS_UTF8);
      c.sendMessage(INVALID, { fragmentSize: 1 });
      c.killAfter(1000);
      return undefined;
    },
  ),
  failFast("6.4.1", false, false),
  failFast("6.4.2", true, false),
  failFast("6.4.3", false, true),
  failFast("6.4.4", true, true),
];

function sequenceCases(): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  UTF8_GROUPS.forEach((g, gi) => {
    g.sequences.forEach((s, si) => {
      const id = `6.${gi + 5}.${si + 1}`;
      out.push(
        defineCase(
          id,
          `Send a text message in one frame whose payload is ${s.valid ? "" : "not "}valid UTF-8: 0x${hex(s.bytes)}.`,
          s.valid ? "The message is echoed." : "The peer fails the connection with 1007.",
          (c) => {
            if (s.valid) {
              c.expect("OK", [message(s.bytes)]);
              c.expectClose(CLOSE_NORMALLY);
            } else {
              c.expect("OK", []);
              c.expectClose(PEER_FAILS_UTF8);
            }
            c.sendMessage(s.bytes);
            c.killAfter(500);
            return undefined;
          },
        ),
      );
    });
  });
  return out;
}

/** The subcategory titles of 6.5 to 6.23. */
export const UTF8_SUBCATEGORIES: Readonly<Record<string, string>> = Object.fromEntries(
  UTF8_GROUPS.map((g, i) => [`6.${i + 5}`, g.title]),
);

/** The cases of family 6. */
export const UTF8_CASES: readonly ConformanceCase[] = [...BASIC, ...sequenceCases()];
