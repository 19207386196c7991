/**
 * Every case of the suite, in Autobahn's order, with the family and subcategory titles the
 * reports use, and case selection by id patterns (`1.*`, `6.4.1`, `12.1.*`...).
 *
 * @module
 */

import { createError } from "../../errors.js";
import type { ConformanceCase } from "../types.js";
import { AUTO_FRAGMENTATION_CASES } from "./auto-fragmentation.js";
import { CLOSE_CASES } from "./close.js";
import {
  COMPRESSION_CASES,
  COMPRESSION_PARAMETER_CASES,
  COMPRESSION_SUBCATEGORIES,
} from "./compression.js";
import { FRAGMENTATION_CASES } from "./fragmentation.js";
import { FRAMING_CASES } from "./framing.js";
import { LIMIT_CASES } from "./limits.js";
import { OPCODE_CASES } from "./opcodes.js";
import { PING_CASES } from "./pings.js";
import { RESERVED_BIT_CASES } from "./reserved-bits.js";
import { UTF8_CASES, UTF8_SUBCATEGORIES } from "./utf8.js";

/** Family titles, by family number. */
export const CATEGORIES: Readonly<Record<string, string>> = {
  "1": "Framing",
  "2": "Pings/Pongs",
  "3": "Reserved Bits",
  "4": "Opcodes",
  "5": "Fragmentation",
  "6": "UTF-8 Handling",
  "7": "Close Handling",
  "9": "Limits/Performance",
  "10": "Auto-Fragmentation",
  "12": "WebSocket Compression (different payloads)",
  "13": "WebSocket Compression (different parameters)",
};

/** Subcategory titles, by `family.sub`. */
export const SUBCATEGORIES: Readonly<Record<string, string>> = {
  "1.1": "Text messages",
  "1.2": "Binary messages",
  "4.1": "Non-control opcodes",
  "4.2": "Control opcodes",
  "6.1": "Valid UTF-8 with empty fragments",
  "6.2": "Valid UTF-8, unfragmented, fragmented on and within code points",
  "6.3": "Invalid UTF-8, differently fragmented",
  "6.4": "Fail fast on invalid UTF-8",
  ...UTF8_SUBCATEGORIES,
  "7.1": "Basic close behaviour",
  "7.3": "Close frame structure: payload length",
  "7.5": "Close frame structure: payload value",
  "7.7": "Close frame structure: valid close codes",
  "7.9": "Close frame structure: invalid close codes",
  "7.13": "Close codes outside the defined ranges (informational)",
  "9.1": "Text message (increasing size)",
  "9.2": "Binary message (increasing size)",
  "9.3": "Fragmented text message (fixed size, increasing fragment size)",
  "9.4": "Fragmented binary message (fixed size, increasing fragment size)",
  "9.5": "Text message (fixed size, increasing write size)",
  "9.6": "Binary message (fixed size, increasing write size)",
  "9.7": "Text message round trip time (fixed number, increasing size)",
  "9.8": "Binary message round trip time (fixed number, increasing size)",
  "10.1": "Auto-fragmentation",
  ...COMPRESSION_SUBCATEGORIES,
};

/** Case id as numbers, for sorting. */
export function idTuple(id: string): number[] {
  return id.split(".").map(Number);
}

/** Orders case ids numerically (1.1.2 before 1.1.10, 9.x before 10.x). */
export function compareIds(a: string, b: string): number {
  const x = idTuple(a);
  const y = idTuple(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Every case, in order. */
export const ALL_CASES: readonly ConformanceCase[] = [
  ...FRAMING_CASES,
  ...PING_CASES,
  ...RESERVED_BIT_CASES,
  ...OPCODE_CASES,
  ...FRAGMENTATION_CASES,
  ...UTF8_CASES,
  ...CLOSE_CASES,
  ...LIMIT_CASES,
  ...AUTO_FRAGMENTATION_CASES,
  ...COMPRESSION_CASES,
  ...COMPRESSION_PARAMETER_CASES,
].sort((a, b) => compareIds(a.id, b.id));

/** One pattern as a test: `*` matches anything, every other character itself, whole id. */
function matcher(pattern: string): (id: string) => boolean {
  const p = pattern.trim();
  if (!p.includes("*")) return (id) => id === p;
  const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return (id) => re.test(id);
}

/**
 * The cases matching any of `include` (all when empty) and none of `exclude`, in order.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when a pattern matches no case
 */
export function selectCases(
  include: readonly string[] = [],
  exclude: readonly string[] = [],
  cases: readonly ConformanceCase[] = ALL_CASES,
): ConformanceCase[] {
  const check = (patterns: readonly string[]) =>
    patterns.map((p) => {
      const m = matcher(p);
      if (!cases.some((c) => m(c.id))) {
        throw createError("ERR_INVALID_ARGUMENT", `case pattern "${p}" matches no case`);
      }
      return m;
    });
  const inc = check(include);
  const exc = check(exclude);
  return cases.filter(
    (c) => (inc.length === 0 || inc.some((m) => m(c.id))) && !exc.some((m) => m(c.id)),
  );
}
