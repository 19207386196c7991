/**
 * The SVG charts of the end-to-end benchmark: throughput by payload size and shape, latency
 * distributions (histogram and percentile curve) and memory per connection.
 *
 * @module
 */

import { formatBytes } from "../lib/report.js";
import { barChart, type ChartSeries, histogram, lineChart } from "../lib/svg.js";
import { bucketLow, type LatencyHistogram } from "./histogram.js";
import { mergedLatency } from "./runner.js";
import { SERVER_NAMES, type ServerName } from "./scenarios.js";
import { formatLatency, type ScenarioSummary } from "./summary.js";

const SERIES_NAMES: Record<ServerName, string> = {
  tidews: "tidews",
  ws: "ws + bufferutil",
  raw: "raw node:net ceiling",
  twin: "ceiling twin (A/A)",
};

/** The echo scenarios of the throughput chart, smallest payload first. */
const THROUGHPUT_ORDER = ["small-16", "echo-1k", "echo-1k-1000", "deflate-4k", "random-64k"];

/** The servers charted: the ceiling's twin only measures the noise, and stays off the charts. */
function present(summaries: readonly ScenarioSummary[]): ServerName[] {
  return SERVER_NAMES.filter(
    (n) => n !== "twin" && summaries.some((s) => s.servers[n] !== undefined),
  );
}

/** Messages per second and MB/s by payload size, one bar per server. */
function throughputCharts(summaries: readonly ScenarioSummary[]): Record<string, string> {
  const chosen = THROUGHPUT_ORDER.map((n) => summaries.find((s) => s.scenario.name === n)).filter(
    (s): s is ScenarioSummary => s !== undefined,
  );
  if (chosen.length === 0) return {};
  const servers = present(chosen);
  const categories = chosen.map((s) => s.scenario.label);
  const series = (f: "rate" | "mbps"): ChartSeries[] =>
    servers.map((n) => ({
      name: SERIES_NAMES[n],
      values: chosen.map((s) => {
        const v = s.servers[n];
        return v === undefined || v.errors > 0 || v.loadBound === true
          ? Number.NaN
          : (v[f] ?? Number.NaN);
      }),
    }));
  return {
    "e2e-throughput.svg": barChart({
      title: "Echo throughput by payload size (higher is better)",
      yLabel: "messages per second (log)",
      log: true,
      categories,
      series: series("rate"),
      valueLabels: true,
    }),
    "e2e-mbps.svg": barChart({
      title: "Echo payload throughput by payload size (higher is better)",
      yLabel: "MB/s of payload, one direction (log)",
      log: true,
      categories,
      series: series("mbps"),
      valueLabels: true,
    }),
  };
}

/** Power-of-two bins in µs covering the histograms, as percentages of messages. */
function latencyHistogram(s: ScenarioSummary, file: string): Record<string, string> {
  const servers = present([s]);
  const hists = servers.map((n) => mergedLatency(s.runs[n] ?? []));
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const h of hists) {
    if (h.total === 0) continue;
    lo = Math.min(lo, h.quantile(0.0001));
    hi = Math.max(hi, h.quantile(0.9999));
  }
  if (!Number.isFinite(lo)) return {};
  const first = Math.max(1, 2 ** Math.floor(Math.log2(Math.max(1, lo))));
  const edges: number[] = [first];
  while ((edges[edges.length - 1] as number) <= hi)
    edges.push((edges[edges.length - 1] as number) * 2);
  const series = servers.map((n, k) => {
    const h = hists[k] as LatencyHistogram;
    const values = new Array<number>(edges.length - 1).fill(0);
    for (let i = 0; i < h.counts.length; i++) {
      const c = h.counts[i] as number;
      if (c === 0) continue;
      const v = bucketLow(i);
      let bin = edges.findIndex((e, j) => v >= e && v < (edges[j + 1] ?? Number.POSITIVE_INFINITY));
      if (bin < 0) bin = v < first ? 0 : edges.length - 2;
      const at = Math.min(bin, values.length - 1);
      values[at] = (values[at] as number) + (c / h.total) * 100;
    }
    return { name: SERIES_NAMES[n], values };
  });
  return {
    [file]: histogram({
      title: `Latency distribution: ${s.scenario.title}`,
      yLabel: "% of messages",
      xLabel: "round-trip latency (power-of-two bins)",
      edges,
      series,
      formatEdge: (v) => formatLatency(v),
      formatValue: (v) => `${Number(v.toPrecision(3))}%`,
    }),
  };
}

const QUANTILES = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999];

/** Latency by percentile, x in "nines" (p90 at 1, p99 at 2, ...). */
function percentileChart(summaries: readonly ScenarioSummary[], names: readonly string[]): string {
  const series: ChartSeries[] = [];
  for (const name of names) {
    const s = summaries.find((x) => x.scenario.name === name);
    if (s === undefined) continue;
    for (const n of present([s])) {
      const h = mergedLatency(s.runs[n] ?? []);
      if (h.total === 0) continue;
      series.push({
        name: `${n} ${name}`,
        values: QUANTILES.map((q) => h.quantile(q)),
      });
    }
  }
  const nines = QUANTILES.map((q) => -Math.log10(1 - q));
  return lineChart({
    title: "Round-trip latency by percentile (lower is better)",
    yLabel: "latency (log)",
    xLabel: "percentile",
    log: true,
    x: nines,
    series,
    formatValue: (v) => formatLatency(v),
    formatX: (v) => (v <= 0 ? "p0" : `p${Number((100 * (1 - 10 ** -v)).toPrecision(6))}`),
    width: 980,
    height: 460,
  });
}

/** Server memory per connection, idle and after one compressed message. */
function memoryChart(summaries: readonly ScenarioSummary[]): Record<string, string> {
  const chosen = summaries.filter((s) => s.scenario.measure === "memory");
  if (chosen.length === 0) return {};
  const servers = present(chosen);
  return {
    "e2e-memory.svg": barChart({
      title: "Server memory per connection (lower is better)",
      yLabel: "RSS growth per connection (log)",
      log: true,
      categories: chosen.map((s) => `${s.scenario.label} (${s.servers.tidews?.connections ?? ""})`),
      series: servers.map((n) => ({
        name: SERIES_NAMES[n],
        values: chosen.map((s) => s.servers[n]?.rssPerConn ?? Number.NaN),
      })),
      formatValue: (v) => formatBytes(v),
      valueLabels: true,
    }),
  };
}

/** Every chart that the summaries allow, by file name. */
export function charts(summaries: readonly ScenarioSummary[]): Record<string, string> {
  const out: Record<string, string> = { ...throughputCharts(summaries), ...memoryChart(summaries) };
  const pipelined = summaries.find((s) => s.scenario.name === "echo-1k");
  if (pipelined !== undefined)
    Object.assign(out, latencyHistogram(pipelined, "e2e-latency-echo-1k.svg"));
  const many = summaries.find((s) => s.scenario.name === "echo-1k-1000");
  if (many !== undefined)
    Object.assign(out, latencyHistogram(many, "e2e-latency-echo-1k-1000.svg"));
  const names = ["echo-1k", "echo-1k-1000"].filter((n) =>
    summaries.some((s) => s.scenario.name === n),
  );
  if (names.length > 0) out["e2e-latency-percentiles.svg"] = percentileChart(summaries, names);
  return out;
}
