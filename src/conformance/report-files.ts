/**
 * Where reports go: file names derived from the agent and case id the way Autobahn derives
 * them (`ws_case_6_4_1.json`), and the in-memory collection of results by agent.
 *
 * @module
 */

import type { CaseEvent, CaseResult } from "./types.js";
import { excerpt } from "./wire-log.js";

/** Results by agent, then by case id. */
export type ResultsByAgent = ReadonlyMap<string, ReadonlyMap<string, CaseResult>>;

/** Collects results by agent. */
export function groupByAgent(results: readonly CaseResult[]): Map<string, Map<string, CaseResult>> {
  const out = new Map<string, Map<string, CaseResult>>();
  for (const r of results) {
    let cases = out.get(r.agent);
    if (cases === undefined) {
      cases = new Map();
      out.set(r.agent, cases);
    }
    cases.set(r.id, r);
  }
  return out;
}

/** The agent name reduced to `[a-z0-9_]` (Autobahn's rule for file names). */
export function cleanForFilename(agent: string): string {
  const s = [...agent.trim().toLowerCase()]
    .map((c) => (/[a-z0-9]/.test(c) ? c : " "))
    .join("")
    .trim()
    .replace(/ +/g, "_");
  return s === "" ? "agent" : s;
}

/** The name of a case's detail report, e.g. `ws_case_6_4_1.html`. */
export function caseReportFile(agent: string, id: string, ext: "json" | "html"): string {
  return `${cleanForFilename(agent)}_case_${id.replace(/\./g, "_")}.${ext}`;
}

/** An event as a JSON tuple in Autobahn's style: `["message", "<data>", binary]`. */
export function eventJson(e: CaseEvent): unknown[] {
  switch (e.kind) {
    case "message":
      return ["message", excerpt(e.data, 64), e.binary];
    case "ping":
    case "pong":
      return [e.kind, excerpt(e.data, 64)];
    default:
      return ["timeout", e.tag];
  }
}
