/**
 * The JSON reports, in Autobahn's shape so that tools written for Autobahn read them:
 * `index.json` maps agent, then case id, to `behavior`, `behaviorClose`, `duration`,
 * `remoteCloseCode` and `reportfile`; each `reportfile` holds the case's full record.
 *
 * @module
 */

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { caseReportFile, eventJson, type ResultsByAgent } from "./report-files.js";
import type { CaseResult } from "./types.js";

/** One entry of `index.json`. */
export interface IndexEntry {
  readonly behavior: string;
  readonly behaviorClose: string;
  readonly duration: number;
  readonly remoteCloseCode: number | null;
  readonly reportfile: string;
}

/** Serializes with object keys sorted, as Autobahn writes its index (3-space indent). */
function sortedJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
              a < b ? -1 : a > b ? 1 : 0,
            ),
          )
        : v,
    3,
  );
}

/** The content of `index.json`. */
export function buildIndex(results: ResultsByAgent): Record<string, Record<string, IndexEntry>> {
  const out: Record<string, Record<string, IndexEntry>> = {};
  for (const [agent, cases] of results) {
    const entries: Record<string, IndexEntry> = {};
    for (const [id, r] of cases) {
      entries[id] = {
        behavior: r.behavior,
        behaviorClose: r.behaviorClose,
        duration: r.duration,
        remoteCloseCode: r.remoteCloseCode,
        reportfile: caseReportFile(agent, id, "json"),
      };
    }
    out[agent] = entries;
  }
  return out;
}

/** A case record as JSON: events as `["message", data, binary]` tuples. */
export function caseJson(r: CaseResult): unknown {
  return {
    ...r,
    case: r.id,
    expected: Object.fromEntries(
      Object.entries(r.expected).map(([verdict, events]) => [verdict, events.map(eventJson)]),
    ),
    received: r.received.map(eventJson),
  };
}

/** Writes `index.json` and one JSON file per case into `dir`. */
export async function writeJsonReports(dir: string, results: ResultsByAgent): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "index.json"), `${sortedJson(buildIndex(results))}\n`);
  for (const [agent, cases] of results) {
    for (const [id, r] of cases) {
      await writeFile(
        join(dir, caseReportFile(agent, id, "json")),
        `${JSON.stringify(caseJson(r), null, 2)}\n`,
      );
    }
  }
}
