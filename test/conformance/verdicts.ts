// The verdicts the Autobahn|Testsuite gives `ws` 8.23 (as a server; as a client the same):
// everything OK except these.
import type { CaseResult } from "../../src/conformance/types.js";

export const WS_EXCEPTIONS: Readonly<Record<string, string>> = {
  // ws validates UTF-8 only once a message (6.4.1, 6.4.2) or a frame (6.4.3, 6.4.4) is complete.
  "6.4.1": "NON-STRICT",
  "6.4.2": "NON-STRICT",
  "6.4.3": "NON-STRICT",
  "6.4.4": "NON-STRICT",
  "7.1.6": "INFORMATIONAL",
  "7.13.1": "INFORMATIONAL",
  "7.13.2": "INFORMATIONAL",
  // ws closes with 1008 above 16384 fragments per message (its maxFragments default); Autobahn's
  // fragmentation sends an empty final frame when the length is a multiple of the fragment size.
  "9.3.1": "FAILED",
  "9.3.2": "FAILED",
  "9.4.1": "FAILED",
  "9.4.2": "FAILED",
};

/** The cases whose verdict is not what `expected` (default OK) says, as "id: verdict (result)". */
export function mismatches(
  results: readonly CaseResult[],
  expected: Readonly<Record<string, string>>,
  otherwise: (id: string) => string = () => "OK",
): string[] {
  return results
    .filter((r) => r.behavior !== (expected[r.id] ?? otherwise(r.id)))
    .map((r) => `${r.id}: ${r.behavior} (${r.result} | ${r.behaviorClose}: ${r.resultClose})`);
}

/** Verdict counts. */
export function tally(results: readonly CaseResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.behavior] = (out[r.behavior] ?? 0) + 1;
  return out;
}
