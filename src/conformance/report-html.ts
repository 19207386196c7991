/**
 * The HTML report: `index.html` with a table of every case (a column per agent, colour-coded
 * verdicts and close codes, family and subcategory rows) and a page per case with its
 * description, expectation, the expected and observed events, the closing behaviour, the
 * opening handshake and the wire log.
 *
 * @module
 */

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CATEGORIES, compareIds, SUBCATEGORIES } from "./cases/index.js";
import { caseReportFile, eventJson, type ResultsByAgent } from "./report-files.js";
import { countVerdicts, familyOf } from "./summary.js";
import type { CaseResult, Verdict } from "./types.js";
import { VERDICTS } from "./types.js";

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CLASS: Readonly<Record<string, string>> = {
  OK: "ok",
  "NON-STRICT": "nonstrict",
  INFORMATIONAL: "info",
  UNIMPLEMENTED: "unimpl",
  FAILED: "failed",
  UNCLEAN: "failed",
  "WRONG CODE": "nonstrict",
  "FAILED BY CLIENT": "almost",
};

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; text-align: left; }
th { background: #eee; }
tr.family td { background: #333; color: #fff; font-weight: bold; }
tr.sub td { background: #ddd; font-style: italic; }
.ok { background: #0a0; color: #fff; } .nonstrict { background: #9c0; color: #000; }
.info { background: #69c; color: #fff; } .unimpl { background: #999; color: #fff; }
.failed { background: #c00; color: #fff; } .almost { background: #fc0; color: #000; }
td a { color: inherit; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.wire td { font-family: ui-monospace, monospace; font-size: 12px; }
.tx { color: #06c; } .rx { color: #080; } .timer { color: #a60; } .note { color: #a0a; }
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>\n${body}\n</body></html>\n`;
}

function verdictCell(r: CaseResult): string {
  const link = caseReportFile(r.agent, r.id, "html");
  const time = r.reportTime ? `<br><small>${r.duration} ms</small>` : "";
  const code = r.remoteCloseCode === null ? "-" : String(r.remoteCloseCode);
  return (
    `<td class="${CLASS[r.behavior]}"><a href="${escapeHtml(link)}">${r.behavior}</a>${time}</td>` +
    `<td class="${CLASS[r.behaviorClose] ?? "info"}" title="${escapeHtml(r.behaviorClose)}">${code}</td>`
  );
}

/** The `index.html` content. */
export function indexHtml(results: ResultsByAgent, generated: Date): string {
  const agents = [...results.keys()].sort();
  const ids = [...new Set(agents.flatMap((a) => [...results.get(a)!.keys()]))].sort(compareIds);
  const summary = agents
    .map((a) => {
      const counts = countVerdicts([...results.get(a)!.values()]);
      const cells = VERDICTS.map(
        (v: Verdict) => `<td class="${counts[v] > 0 ? CLASS[v] : ""}">${counts[v]}</td>`,
      ).join("");
      return `<tr><td>${escapeHtml(a)}</td>${cells}</tr>`;
    })
    .join("\n");
  const rows: string[] = [];
  let family = "";
  let sub = "";
  for (const id of ids) {
    const f = familyOf(id);
    const s = id.split(".").slice(0, 2).join(".");
    if (f !== family) {
      family = f;
      const heads = agents.map((a) => `<td colspan="2">${escapeHtml(a)}</td>`).join("");
      rows.push(`<tr class="family"><td>${f} ${escapeHtml(CATEGORIES[f] ?? "")}</td>${heads}</tr>`);
    }
    if (s !== sub && s !== id) {
      sub = s;
      const title = SUBCATEGORIES[s];
      if (title !== undefined) {
        rows.push(
          `<tr class="sub"><td colspan="${1 + 2 * agents.length}">${s} ${escapeHtml(title)}</td></tr>`,
        );
      }
    }
    const cells = agents
      .map((a) => {
        const r = results.get(a)!.get(id);
        return r === undefined ? `<td colspan="2">missing</td>` : verdictCell(r);
      })
      .join("");
    rows.push(`<tr><td>Case ${id}</td>${cells}</tr>`);
  }
  const body = `<h1>tidews conformance report</h1>
<p>Generated ${generated.toISOString()}. Cases follow the Autobahn|Testsuite's ids and verdicts.
OK: passed. NON-STRICT: passed, but not as the RFC recommends (SHOULD). INFORMATIONAL: behaviour the
RFC leaves open. UNIMPLEMENTED: the peer does not implement the feature tested (permessage-deflate).
FAILED: the peer broke a MUST of the RFC (performance cases: did not finish in time). The second
column of each agent is the peer's close code, coloured by the close behaviour.</p>
<table><tr><th>agent</th>${VERDICTS.map((v) => `<th>${v}</th>`).join("")}</tr>
${summary}</table>
<table>
${rows.join("\n")}
</table>`;
  return page("tidews conformance report", body);
}

function eventsHtml(events: readonly unknown[]): string {
  return escapeHtml(events.length === 0 ? "[]" : events.map((e) => JSON.stringify(e)).join("\n"));
}

/** A case's detail page. */
export function caseHtml(r: CaseResult): string {
  const expected = Object.entries(r.expected)
    .map(([v, events]) => `${v}:\n${eventsHtml(events.map(eventJson))}`)
    .join("\n\n");
  const closeRows: [string, unknown][] = [
    ["isServer (the tester was the server)", r.isServer],
    ["closedByMe (the tester sent the first close frame)", r.closedByMe],
    ["failedByMe (the tester failed the connection)", r.failedByMe],
    ["droppedByMe (the tester dropped the TCP connection)", r.droppedByMe],
    ["wasClean (closing handshake done, TCP closed by the server)", r.wasClean],
    ["wasNotCleanReason", r.wasNotCleanReason],
    ["wasServerConnectionDropTimeout", r.wasServerConnectionDropTimeout],
    ["wasCloseHandshakeTimeout", r.wasCloseHandshakeTimeout],
    ["localCloseCode", r.localCloseCode],
    ["localCloseReason", r.localCloseReason],
    ["remoteCloseCode", r.remoteCloseCode],
    ["remoteCloseReason", r.remoteCloseReason],
  ];
  const wire = r.wirelog
    .map((e) => {
      const cls = e.kind.startsWith("tx")
        ? "tx"
        : e.kind.startsWith("rx")
          ? "rx"
          : e.kind.startsWith("timer")
            ? "timer"
            : "note";
      return `<tr class="${cls}"><td>${e.t.toFixed(1)}</td><td>${e.kind}</td><td>${escapeHtml(e.text)}</td></tr>`;
    })
    .join("\n");
  const dropped =
    r.wirelogDropped > 0 ? `<p>${r.wirelogDropped} entries were left out of the log.</p>` : "";
  const body = `<p><a href="index.html">&larr; all cases</a></p>
<h1 class="${CLASS[r.behavior]}">${escapeHtml(r.agent)} &mdash; Case ${r.id}: ${r.behavior}</h1>
<p>${r.duration} ms, started ${r.started}</p>
<h2>Description</h2><p>${escapeHtml(r.description)}</p>
<h2>Expectation</h2><p>${escapeHtml(r.expectation)}</p>
<h2>Outcome</h2><p>${escapeHtml(r.result)}</p>
<h3>Expected</h3><pre>${expected === "" ? "(judged by the case itself)" : expected}</pre>
<h3>Observed</h3><pre>${eventsHtml(r.received.map(eventJson))}</pre>
<h2>Closing behaviour: ${escapeHtml(r.behaviorClose)}</h2><p>${escapeHtml(r.resultClose)}</p>
<p>Expected: ${escapeHtml(JSON.stringify(r.expectedClose))}</p>
<table>${closeRows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`).join("")}</table>
<h2>Opening handshake</h2><pre>${escapeHtml(r.httpRequest)}</pre><pre>${escapeHtml(r.httpResponse)}</pre>
<h2>Frames</h2><p>sent per opcode ${escapeHtml(JSON.stringify(r.txFrameStats))}, received per opcode ${escapeHtml(JSON.stringify(r.rxFrameStats))}</p>
<h2>Wire log</h2>${dropped}
<table class="wire"><tr><th>ms</th><th>what</th><th>detail</th></tr>
${wire}
</table>`;
  return page(`Case ${r.id} (${r.agent})`, body);
}

/** Writes `index.html` and one HTML page per case into `dir`. */
export async function writeHtmlReports(dir: string, results: ResultsByAgent): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "index.html"), indexHtml(results, new Date()));
  for (const [agent, cases] of results) {
    for (const [id, r] of cases) {
      await writeFile(join(dir, caseReportFile(agent, id, "html")), caseHtml(r));
    }
  }
}
