/**
 * The live progress line on stderr: rewritten in place on a terminal, one line per finished
 * family otherwise (CI logs).
 *
 * @module
 */

import { familyOf } from "./summary.js";
import type { CaseResult } from "./types.js";

/** Reports progress of a run of `total` cases to `out`. */
export class Progress {
  private done = 0;
  private failed = 0;
  private readonly familyStart = new Map<string, number>();
  private readonly familyCounts = new Map<string, Record<string, number>>();
  private readonly t0 = performance.now();

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly label = "",
  ) {}

  /** Records a finished case and updates the display. */
  update(r: CaseResult, next?: string): void {
    this.done++;
    if (r.behavior === "FAILED") this.failed++;
    const family = familyOf(r.id);
    const counts = this.familyCounts.get(family) ?? {};
    counts[r.behavior] = (counts[r.behavior] ?? 0) + 1;
    this.familyCounts.set(family, counts);
    if (!this.familyStart.has(family)) this.familyStart.set(family, performance.now() - r.duration);
    const seconds = ((performance.now() - this.t0) / 1000).toFixed(1);
    if (this.out.isTTY) {
      const line = `${this.label}[${this.done}/${this.total}] ${r.id} ${r.behavior}  failed ${this.failed}  ${seconds} s${next ? `  next ${next}` : ""}`;
      this.out.write(`\r\x1b[2K${line}`);
      if (this.done === this.total) this.out.write("\n");
      return;
    }
    const nextFamily = next === undefined ? undefined : familyOf(next);
    if (nextFamily !== family) {
      const took = ((performance.now() - this.familyStart.get(family)!) / 1000).toFixed(1);
      const parts = Object.entries(counts)
        .map(([v, n]) => `${v} ${n}`)
        .join(", ");
      this.out.write(
        `${this.label}[${this.done}/${this.total}] family ${family} done in ${took} s: ${parts}\n`,
      );
    }
  }
}
