/**
 * Family 5, fragmentation (RFC 6455 section 5.4): control frames must not be fragmented,
 * control frames may be interleaved with the fragments of a message, continuation frames need
 * a message to continue, and a message's later frames carry opcode 0.
 *
 * @module
 */

import type { CaseContext, ConformanceCase, FrameSpec } from "../types.js";
import { CLOSE_NORMALLY, defineCase, message, PEER_FAILS, pong } from "./define.js";

type How = "" | "sync" | "chop";

function style(how: How): string {
  return how === "sync"
    ? ", each frame in its own write"
    : how === "chop"
      ? ", one byte per write"
      : "";
}

function send(c: CaseContext, how: How, frames: readonly FrameSpec[]): void {
  const extra = how === "sync" ? { sync: true } : how === "chop" ? { chop: 1 } : {};
  for (const f of frames) c.sendFrame({ ...f, ...extra });
}

function fragmentedControl(id: string, opcode: 9 | 10): ConformanceCase {
  return defineCase(
    id,
    `Send a ${opcode === 9 ? "ping" : "pong"} fragmented into 2 frames.`,
    "The peer fails the connection (1002): control frames must not be fragmented.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame({ opcode, fin: false, payload: "fragment1" });
      c.sendFrame({ opcode: 0, payload: "fragment2" });
      c.killAfter(1000);
      return undefined;
    },
  );
}

function twoFragments(id: string, how: How): ConformanceCase {
  return defineCase(
    id,
    `Send a text message in 2 fragments${style(how)}.`,
    "The whole message is echoed.",
    (c) => {
      c.expect("OK", [message("fragment1fragment2")]);
      c.expectClose(CLOSE_NORMALLY);
      send(c, how, [
        { opcode: 1, fin: false, payload: "fragment1" },
        { opcode: 0, payload: "fragment2" },
      ]);
      c.closeAfter(1000);
      return undefined;
    },
  );
}

function pingBetween(id: string, how: How): ConformanceCase {
  return defineCase(
    id,
    `Send a text message in 2 fragments with a ping between them${style(how)}.`,
    "The pong comes first, then the echoed message.",
    (c) => {
      c.expect("OK", [pong("ping payload"), message("fragment1fragment2")]);
      c.expectClose(CLOSE_NORMALLY);
      send(c, how, [
        { opcode: 1, fin: false, payload: "fragment1" },
        { opcode: 9, payload: "ping payload" },
        { opcode: 0, payload: "fragment2" },
      ]);
      c.closeAfter(1000);
      return undefined;
    },
  );
}

function nothingToContinue(id: string, fin: boolean, how: How): ConformanceCase {
  return defineCase(
    id,
    `Send a continuation frame with FIN = ${fin} that has no message to continue, then a text message${style(how) || ", all in one write"}.`,
    "The peer fails the connection (1002): there is no message to continue.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      send(c, how, [
        { opcode: 0, fin, payload: "non-continuation payload" },
        { opcode: 1, payload: "Hello, world!" },
      ]);
      c.killAfter(1000);
      return undefined;
    },
  );
}

function repeatedOrphan(id: string, fin: boolean): ConformanceCase {
  return defineCase(
    id,
    `Twice: a continuation frame with FIN = ${fin} that has nothing to continue, then a text message in 2 fragments.`,
    "The peer fails the connection (1002) at the first frame.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      for (let i = 0; i < 2; i++) {
        c.sendFrame({ opcode: 0, fin, payload: "fragment1" });
        c.sendFrame({ opcode: 1, fin: false, payload: "fragment2" });
        c.sendFrame({ opcode: 0, payload: "fragment3" });
      }
      c.killAfter(1000);
      return undefined;
    },
  );
}

function pingsWhileFragmented(id: string, sync: boolean): ConformanceCase {
  return defineCase(
    id,
    `A text message in 5 fragments: 2 fragments and a ping, a 1 s pause, 2 fragments, a ping and the last fragment${sync ? "; each frame in its own write" : ""}.`,
    "Each ping is answered at once, before the message is complete; then the whole message is echoed.",
    (c) => {
      const fragments = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"];
      c.expect("OK", [pong("pongme 1!"), pong("pongme 2!"), message(fragments.join(""))]);
      c.expectClose(CLOSE_NORMALLY);
      const extra = sync ? { sync: true } : {};
      c.sendFrame({ opcode: 1, fin: false, payload: fragments[0], ...extra });
      c.sendFrame({ opcode: 0, fin: false, payload: fragments[1], ...extra });
      c.sendFrame({ opcode: 9, payload: "pongme 1!", ...extra });
      c.later(1000, () => {
        c.sendFrame({ opcode: 0, fin: false, payload: fragments[2], ...extra });
        c.sendFrame({ opcode: 0, fin: false, payload: fragments[3], ...extra });
        c.sendFrame({ opcode: 9, payload: "pongme 2!", ...extra });
        c.sendFrame({ opcode: 0, payload: fragments[4], ...extra });
        c.closeAfter(1000);
      });
      return undefined;
    },
  );
}

/** The cases of family 5. */
export const FRAGMENTATION_CASES: readonly ConformanceCase[] = [
  fragmentedControl("5.1", 9),
  fragmentedControl("5.2", 10),
  twoFragments("5.3", ""),
  twoFragments("5.4", "sync"),
  twoFragments("5.5", "chop"),
  pingBetween("5.6", ""),
  pingBetween("5.7", "sync"),
  pingBetween("5.8", "chop"),
  nothingToContinue("5.9", true, ""),
  nothingToContinue("5.10", true, "sync"),
  nothingToContinue("5.11", true, "chop"),
  nothingToContinue("5.12", false, ""),
  nothingToContinue("5.13", false, "sync"),
  nothingToContinue("5.14", false, "chop"),
  defineCase(
    "5.15",
    "Send a text message in 2 fragments, then a continuation frame with FIN = false that has nothing to continue, then a text message, all in one write.",
    "The first message is echoed, then the peer fails the connection (1002).",
    (c) => {
      c.expect("OK", [message("fragment1fragment2")]);
      c.expect("NON-STRICT", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame({ opcode: 1, fin: false, payload: "fragment1" });
      c.sendFrame({ opcode: 0, payload: "fragment2" });
      c.sendFrame({ opcode: 0, fin: false, payload: "fragment3" });
      c.sendFrame({ opcode: 1, payload: "fragment4" });
      c.killAfter(1000);
      return undefined;
    },
  ),
  repeatedOrphan("5.16", false),
  repeatedOrphan("5.17", true),
  defineCase(
    "5.18",
    "Send a text message in 2 frames that both carry the text opcode.",
    "The peer fails the connection (1002): the frames after the first must have opcode 0.",
    (c) => {
      c.expect("OK", []);
      c.expectClose(PEER_FAILS);
      c.sendFrame({ opcode: 1, fin: false, payload: "fragment1" });
      c.sendFrame({ opcode: 1, payload: "fragment2" });
      c.killAfter(1000);
      return undefined;
    },
  ),
  pingsWhileFragmented("5.19", false),
  pingsWhileFragmented("5.20", true),
];
