/**
 * Counting verdicts and printing the summary table: verdicts per family, then the cases that
 * were not OK, by id.
 *
 * @module
 */

import { CATEGORIES, compareIds } from "./cases/index.js";
import type { CaseResult, Verdict } from "./types.js";
import { VERDICTS } from "./types.js";

/** Verdict counts. */
export type VerdictCounts = Record<Verdict, number>;

/** Counts verdicts. */
export function countVerdicts(results: readonly CaseResult[]): VerdictCounts {
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as VerdictCounts;
  for (const r of results) counts[r.behavior]++;
  return counts;
}

/** The family number of a case id. */
export function familyOf(id: string): string {
  return id.slice(0, id.indexOf("."));
}

/** Ids of the results with `verdict`, in order. */
export function idsWith(results: readonly CaseResult[], verdict: Verdict): string[] {
  return results
    .filter((r) => r.behavior === verdict)
    .map((r) => r.id)
    .sort(compareIds);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function listIds(ids: readonly string[], max = 40): string {
  return ids.length <= max ? ids.join(" ") : `${ids.slice(0, max).join(" ")} ... (${ids.length})`;
}

/**
 * The summary as text: a table of verdicts per family, totals, the non-OK cases by verdict, and
 * the cases whose close behaviour was not OK.
 */
export function formatSummary(results: readonly CaseResult[], title: string): string {
  const families = [...new Set(results.map((r) => familyOf(r.id)))].sort(
    (a, b) => Number(a) - Number(b),
  );
  const heads = ["family", ...VERDICTS];
  const rows: string[][] = families.map((f) => {
    const counts = countVerdicts(results.filter((r) => familyOf(r.id) === f));
    return [`${f.padStart(2)} ${CATEGORIES[f] ?? ""}`, ...VERDICTS.map((v) => String(counts[v]))];
  });
  const total = countVerdicts(results);
  rows.push(["   total", ...VERDICTS.map((v) => String(total[v]))]);
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => pad(c, widths[i]!, i > 0)).join("  ");
  const out = [title, line(heads), line(widths.map((w) => "-".repeat(w)))];
  for (const [i, r] of rows.entries()) {
    if (i === rows.length - 1) out.push(line(widths.map((w) => "-".repeat(w))));
    out.push(line(r));
  }
  for (const v of VERDICTS) {
    if (v === "OK") continue;
    const ids = idsWith(results, v);
    if (ids.length > 0) out.push(`${v}: ${listIds(ids)}`);
  }
  const closeIssues = results
    .filter((r) => r.behaviorClose !== "OK" && r.behaviorClose !== "INFORMATIONAL")
    .map((r) => `${r.id} (${r.behaviorClose})`);
  if (closeIssues.length > 0) out.push(`close behaviour not OK: ${listIds(closeIssues, 20)}`);
  return `${out.join("\n")}\n`;
}
