/**
 * Family 9, limits and performance: large messages (up to 16 MiB), large messages in many
 * fragments or written in small pieces, and many small messages one after the other. The cases
 * are timed; each checks that the echo has the type, length and content sent.
 *
 * @module
 */

import type { CaseContext, ConformanceCase } from "../types.js";
import { CLOSE_NORMALLY, defineCase, NORMAL } from "./define.js";

const KiB = 1024;
const MiB = 1024 * 1024;
const TEXT_PATTERN = Buffer.from("BAsd7&jh23");
const BINARY_PATTERN = Buffer.from([0x00, 0xfe, 0x23, 0xfa, 0xf0]);

function size(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} bytes`;
}

/** Judges the one echo of a single-message case. */
function judgeEcho(c: CaseContext, sent: Buffer, binary: boolean) {
  return {
    onMessage(data: Buffer, isBinary: boolean) {
      if (isBinary !== binary) {
        c.setResult(
          `Expected a ${binary ? "binary" : "text"} message, got ${isBinary ? "binary" : "text"}.`,
        );
      } else if (data.length !== sent.length) {
        c.setResult(`Expected a message of ${sent.length} bytes, got ${data.length}.`);
      } else if (!data.equals(sent)) {
        c.setResult(`The echoed ${data.length} bytes differ from those sent.`);
      } else {
        c.setBehavior("OK", `Received the message of ${data.length} bytes.`);
      }
      c.wirelog(true);
      c.sendClose(NORMAL);
    },
  };
}

function start(c: CaseContext, waitSeconds: number): void {
  c.wirelog(false);
  c.expectClose(CLOSE_NORMALLY);
  c.setBehavior("FAILED", `No echo arrived (the case waits at most ${waitSeconds} s).`);
  c.closeAfter(waitSeconds * 1000);
}

function bigMessage(id: string, binary: boolean, length: number, wait: number): ConformanceCase {
  const kind = binary ? "binary" : "text";
  return defineCase(
    id,
    `Send a ${kind} message of ${size(length)} in one frame.`,
    `The same ${kind} message is echoed.`,
    (c) => {
      start(c, wait);
      const payload = Buffer.from(binary ? BINARY_PATTERN : TEXT_PATTERN);
      const sent = Buffer.alloc(length);
      for (let i = 0; i < length; i += payload.length) payload.copy(sent, i);
      c.sendFrame({ opcode: binary ? 2 : 1, payload: sent });
      return judgeEcho(c, sent, binary);
    },
    { reportTime: true },
  );
}

function fragmented(id: string, binary: boolean, fragment: number): ConformanceCase {
  const kind = binary ? "binary" : "text";
  const length = 4 * MiB;
  return defineCase(
    id,
    `Send a ${kind} message of 4 MiB in fragments of ${size(fragment)}.`,
    `The same ${kind} message is echoed.`,
    (c) => {
      start(c, 100);
      const sent = Buffer.alloc(length, binary ? 0xfe : 0x2a);
      c.sendMessage(sent, { binary, fragmentSize: fragment });
      return judgeEcho(c, sent, binary);
    },
    { reportTime: true },
  );
}

function chopped(id: string, binary: boolean, chop: number): ConformanceCase {
  const kind = binary ? "binary" : "text";
  return defineCase(
    id,
    `Send a ${kind} message of 1 MiB in one frame, written in pieces of ${chop} bytes.`,
    `The same ${kind} message is echoed.`,
    (c) => {
      start(c, 1000);
      const payload = binary ? BINARY_PATTERN : TEXT_PATTERN;
      const sent = Buffer.alloc(MiB);
      for (let i = 0; i < MiB; i += payload.length) payload.copy(sent, i);
      c.sendFrame({ opcode: binary ? 2 : 1, payload: sent, chop });
      return judgeEcho(c, sent, binary);
    },
    { reportTime: true },
  );
}

/** Round trips: in quick mode 100 messages instead of 1000. */
function roundTrips(id: string, binary: boolean, length: number, wait: number): ConformanceCase {
  const kind = binary ? "binary" : "text";
  return defineCase(
    id,
    `Send 1000 ${kind} messages of ${size(length)}, each after the echo of the previous one, to measure the round trip time.`,
    `Every ${kind} message is echoed with the payload sent.`,
    (c, settings) => {
      const count = settings.quick ? 100 : 1000;
      start(c, wait);
      c.setResult(`Not all ${count} echoes arrived (the case waits at most ${wait} s).`);
      const payload = Buffer.alloc(length, binary ? 0xfe : 0x2a);
      let sent = 0;
      const sendOne = () => {
        c.sendFrame({ opcode: binary ? 2 : 1, payload });
        sent++;
      };
      sendOne();
      return {
        onMessage(data: Buffer, isBinary: boolean) {
          if (isBinary !== binary || !data.equals(payload)) {
            c.setBehavior(
              "FAILED",
              `Echo ${sent} differs from what was sent (binary ${isBinary}, ${data.length} bytes).`,
            );
            c.wirelog(true);
            c.sendClose(NORMAL);
          } else if (sent < count) {
            sendOne();
          } else {
            c.setBehavior("OK", `Received all ${count} echoes in time.`);
            c.wirelog(true);
            c.sendClose(NORMAL);
          }
        },
      };
    },
    { reportTime: true },
  );
}

const SIZES: readonly [number, number][] = [
  [64 * KiB, 10],
  [256 * KiB, 10],
  [MiB, 20],
  [4 * MiB, 60],
  [8 * MiB, 100],
  [16 * MiB, 100],
];
const FRAGMENTS = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
const CHOPS = [64, 128, 256, 512, 1024, 2048];
const ROUND_TRIPS: readonly [number, number][] = [
  [0, 60],
  [16, 60],
  [64, 60],
  [256, 120],
  [KiB, 240],
  [4 * KiB, 480],
];

/** The cases of family 9. */
export const LIMIT_CASES: readonly ConformanceCase[] = [
  ...SIZES.map(([n, wait], i) => bigMessage(`9.1.${i + 1}`, false, n, wait)),
  ...SIZES.map(([n, wait], i) => bigMessage(`9.2.${i + 1}`, true, n, wait)),
  ...FRAGMENTS.map((f, i) => fragmented(`9.3.${i + 1}`, false, f)),
  ...FRAGMENTS.map((f, i) => fragmented(`9.4.${i + 1}`, true, f)),
  ...CHOPS.map((chop, i) => chopped(`9.5.${i + 1}`, false, chop)),
  ...CHOPS.map((chop, i) => chopped(`9.6.${i + 1}`, true, chop)),
  ...ROUND_TRIPS.map(([n, wait], i) => roundTrips(`9.7.${i + 1}`, false, n, wait)),
  ...ROUND_TRIPS.map(([n, wait], i) => roundTrips(`9.8.${i + 1}`, true, n, wait)),
];
