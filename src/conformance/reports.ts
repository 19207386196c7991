/**
 * Writes every report of a run: JSON (Autobahn's shape) and HTML.
 *
 * @module
 */

import type { ResultsByAgent } from "./report-files.js";
import { writeHtmlReports } from "./report-html.js";
import { writeJsonReports } from "./report-json.js";

/** Writes `index.json`, `index.html` and the per-case files into `dir`. */
export async function writeReports(dir: string, results: ResultsByAgent): Promise<void> {
  await writeJsonReports(dir, results);
  await writeHtmlReports(dir, results);
}
