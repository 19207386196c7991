/**
 * A small, dependency-free SVG writer for benchmark charts: grouped bars, histograms and lines.
 *
 * Every function returns the document as a string, one element per line, so the output diffs well
 * and can be read by hand. Values that are not finite are skipped, as are values `<= 0` on a log
 * scale.
 */

import { formatNumber } from "./report.js";

/** One named series of values, one value per category, bin or x position. */
export interface ChartSeries {
  readonly name: string;
  readonly values: readonly number[];
}

/** Options shared by every chart. */
export interface ChartFrame {
  /** The heading printed above the plot. */
  readonly title: string;
  /** The label of the vertical axis. */
  readonly yLabel: string;
  /** The label of the horizontal axis; none by default. */
  readonly xLabel?: string;
  /** A logarithmic vertical axis (powers of ten). Default: linear from zero. */
  readonly log?: boolean;
  /** Width of the document in pixels. Default 760. */
  readonly width?: number;
  /** Height of the document in pixels. Default 420. */
  readonly height?: number;
  /** Formats tick and value labels of the vertical axis. Default {@link formatNumber}. */
  readonly formatValue?: (v: number) => string;
  /**
   * Linear ticks at multiples of a power of two instead of 1, 2 or 5 times a power of ten: round
   * labels for byte counts formatted with binary units. Default false.
   */
  readonly binaryTicks?: boolean;
}

/** Options of {@link barChart}. */
export interface BarChartOptions extends ChartFrame {
  /** The groups along the horizontal axis. */
  readonly categories: readonly string[];
  /** One bar per category in each series; series are drawn side by side within a group. */
  readonly series: readonly ChartSeries[];
  /** Print each bar's value above it. Default false. */
  readonly valueLabels?: boolean;
}

/** Options of {@link histogram}. */
export interface HistogramOptions extends ChartFrame {
  /**
   * The bin edges, ascending: bin `i` holds values in `[edges[i], edges[i + 1])`, so there is one
   * more edge than bins. Bins are drawn with equal widths: power-of-two edges read as a log2 axis.
   */
  readonly edges: readonly number[];
  /** One count per bin in each series; series are drawn side by side within a bin. */
  readonly series: readonly ChartSeries[];
  /** Formats the edge labels. Default {@link formatNumber}. */
  readonly formatEdge?: (v: number) => string;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartFrame {
  /** The x position of each point, ascending; shared by every series. */
  readonly x: readonly number[];
  /** One y value per x position in each series. */
  readonly series: readonly ChartSeries[];
  /** A logarithmic horizontal axis. Default linear. */
  readonly logX?: boolean;
  /** Formats the x tick labels. Default {@link formatNumber}. */
  readonly formatX?: (v: number) => string;
}

/** The Okabe–Ito palette: distinguishable with the common colour-vision deficiencies. */
const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#000000",
] as const;

/** The colour of series `i`. */
function color(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Escapes text for an XML text node or attribute value. */
export function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** Rounds a coordinate to two decimals so the output stays short. */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A rough text width at `size` px in a sans-serif font, enough to avoid label overlaps. */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.6;
}

/** Maps a data value to a position along an axis, and gives the axis ticks. */
interface Scale {
  map(v: number): number;
  readonly ticks: readonly number[];
}

/**
 * A step of about `range / count`: 1, 2 or 5 times a power of ten, or with `binary` the next
 * power of two.
 */
function niceStep(range: number, count: number, binary: boolean): number {
  const raw = range / count;
  if (binary) return 2 ** Math.ceil(Math.log2(raw));
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** A linear scale over `[lo, hi]` widened to nice ticks, onto `[from, to]`. */
function linearScale(lo: number, hi: number, from: number, to: number, binary = false): Scale {
  if (!(hi > lo)) hi = lo + 1;
  const step = niceStep(hi - lo, 5, binary);
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) {
    ticks.push(Number((min + i * step).toPrecision(12)));
  }
  return { map: (v) => from + ((v - min) / (max - min)) * (to - from), ticks };
}

/** A log10 scale over the decades that contain `[lo, hi]` (both > 0), onto `[from, to]`. */
function logScale(lo: number, hi: number, from: number, to: number): Scale {
  // A lowest value on a power of ten still gets a visible bar: start one decade lower.
  const a = Math.floor(Math.log10(lo) - 1e-9);
  let b = Math.ceil(Math.log10(hi));
  if (b <= a) b = a + 1;
  // Keep about eight ticks at most: every k-th decade.
  const every = Math.max(1, Math.ceil((b - a) / 8));
  const ticks: number[] = [];
  for (let e = a; e <= b; e += every) ticks.push(10 ** e);
  const span = b - a;
  return { map: (v) => from + ((Math.log10(v) - a) / span) * (to - from), ticks };
}

/** The extent of the finite values (positive ones only when `log`). */
function extent(series: readonly ChartSeries[], log: boolean): { lo: number; hi: number } {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (const v of s.values) {
      if (!Number.isFinite(v) || (log && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo > hi) return log ? { lo: 1, hi: 10 } : { lo: 0, hi: 1 };
  return { lo, hi };
}

/** The y scale of a chart: log over the positive values, or linear from zero (or below). */
function valueScale(
  series: readonly ChartSeries[],
  log: boolean,
  bottom: number,
  top: number,
  binary = false,
): Scale {
  const { lo, hi } = extent(series, log);
  return log
    ? logScale(lo, hi, bottom, top)
    : linearScale(Math.min(0, lo), hi, bottom, top, binary);
}

/** The plot area inside the margins. */
interface Plot {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Lays out the plot area; `xLabelSpace` is the room the x tick labels need below the axis. */
function layout(frame: ChartFrame, yLabels: readonly string[], xLabelSpace: number): Plot {
  const width = frame.width ?? 760;
  const height = frame.height ?? 420;
  const yTickWidth = Math.max(0, ...yLabels.map((l) => textWidth(l, 11)));
  return {
    width,
    height,
    left: Math.ceil(28 + yTickWidth + 8),
    right: width - 20,
    top: 64,
    bottom: height - (xLabelSpace + (frame.xLabel === undefined ? 12 : 30)),
  };
}

/** The document header, title, legend and axis labels. */
function frameOpen(frame: ChartFrame, plot: Plot, series: readonly ChartSeries[]): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${plot.width}" height="${plot.height}" viewBox="0 0 ${plot.width} ${plot.height}" font-family="sans-serif" font-size="11">`,
    `  <rect width="${plot.width}" height="${plot.height}" fill="#ffffff"/>`,
    `  <text x="${px(plot.width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(frame.title)}</text>`,
  ];
  // Legend: one row of swatches under the title, centred.
  const items = series.map((s) => ({ name: s.name, w: 18 + textWidth(s.name, 11) + 16 }));
  let x = plot.width / 2 - items.reduce((sum, it) => sum + it.w, 0) / 2;
  out.push('  <g class="legend">');
  items.forEach((it, i) => {
    out.push(
      `    <rect x="${px(x)}" y="34" width="12" height="12" fill="${color(i)}"/>`,
      `    <text x="${px(x + 16)}" y="44">${escapeXml(it.name)}</text>`,
    );
    x += it.w;
  });
  out.push("  </g>");
  const midY = (plot.top + plot.bottom) / 2;
  out.push(
    `  <text x="14" y="${px(midY)}" text-anchor="middle" transform="rotate(-90 14 ${px(midY)})">${escapeXml(frame.yLabel)}</text>`,
  );
  if (frame.xLabel !== undefined) {
    out.push(
      `  <text x="${px((plot.left + plot.right) / 2)}" y="${plot.height - 10}" text-anchor="middle">${escapeXml(frame.xLabel)}</text>`,
    );
  }
  return out;
}

/** Horizontal grid lines and labels of the y ticks, and the two axis lines. */
function yAxis(plot: Plot, scale: Scale, fmt: (v: number) => string): string[] {
  const out = ['  <g class="y-axis">'];
  for (const t of scale.ticks) {
    const y = px(scale.map(t));
    out.push(
      `    <line x1="${plot.left}" y1="${y}" x2="${plot.right}" y2="${y}" stroke="#e0e0e0"/>`,
      `    <text x="${plot.left - 6}" y="${y}" dy="0.35em" text-anchor="end">${escapeXml(fmt(t))}</text>`,
    );
  }
  out.push(
    `    <line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`,
    `    <line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`,
    "  </g>",
  );
  return out;
}

/** One x tick label at `x`, rotated when labels would overlap. */
function xTickLabel(plot: Plot, x: number, label: string, rotate: boolean): string {
  const y = plot.bottom + 16;
  return rotate
    ? `    <text x="${px(x)}" y="${y}" text-anchor="end" transform="rotate(-35 ${px(x)} ${y})">${escapeXml(label)}</text>`
    : `    <text x="${px(x)}" y="${y}" text-anchor="middle">${escapeXml(label)}</text>`;
}

/** Room below the axis for labels `spacing` px apart: rotated labels need more. */
function xLabelRoom(labels: readonly string[], spacing: number): { rotate: boolean; room: number } {
  const widest = Math.max(0, ...labels.map((l) => textWidth(l, 11)));
  const rotate = widest + 6 > spacing;
  return { rotate, room: rotate ? Math.ceil(widest * 0.6) + 24 : 24 };
}

/** Groups of side-by-side bars in `slots` equal slots; shared by bar charts and histograms. */
function groupedBars(
  plot: Plot,
  scale: Scale,
  slots: number,
  series: readonly ChartSeries[],
  names: readonly string[],
  log: boolean,
  fmt: (v: number) => string,
  gap: number,
  valueLabels: boolean,
): string[] {
  const slot = (plot.right - plot.left) / Math.max(1, slots);
  const inner = slot * (1 - gap);
  const barW = inner / Math.max(1, series.length);
  const base = log ? plot.bottom : scale.map(0);
  const out = ['  <g class="bars">'];
  series.forEach((s, si) => {
    for (let i = 0; i < slots; i++) {
      const v = s.values[i];
      if (v === undefined || !Number.isFinite(v) || (log && v <= 0)) continue;
      const x = plot.left + i * slot + (slot - inner) / 2 + si * barW;
      const y = scale.map(v);
      const top = Math.min(y, base);
      const h = Math.abs(base - y);
      out.push(
        `    <rect x="${px(x)}" y="${px(top)}" width="${px(barW)}" height="${px(h)}" fill="${color(si)}"><title>${escapeXml(`${s.name}, ${names[i] ?? ""}: ${fmt(v)}`)}</title></rect>`,
      );
      if (valueLabels) {
        out.push(
          `    <text x="${px(x + barW / 2)}" y="${px(top - 3)}" text-anchor="middle" font-size="9">${escapeXml(fmt(v))}</text>`,
        );
      }
    }
  });
  out.push("  </g>");
  return out;
}

/**
 * A grouped bar chart: one group per category, one bar per series in each group, with a y axis
 * (linear from zero, or log10 with `log`), grid lines, ticks and a legend.
 *
 * @returns the SVG document
 */
export function barChart(opts: BarChartOptions): string {
  const log = opts.log === true;
  const fmt = opts.formatValue ?? ((v: number) => formatNumber(v));
  const probe = valueScale(opts.series, log, 1, 0, opts.binaryTicks === true);
  const width = opts.width ?? 760;
  const { rotate, room } = xLabelRoom(
    opts.categories,
    (width - 120) / Math.max(1, opts.categories.length),
  );
  const plot = layout(opts, probe.ticks.map(fmt), room);
  const scale = valueScale(opts.series, log, plot.bottom, plot.top, opts.binaryTicks === true);
  const slot = (plot.right - plot.left) / Math.max(1, opts.categories.length);
  const out = frameOpen(opts, plot, opts.series);
  out.push(...yAxis(plot, scale, fmt));
  out.push(
    ...groupedBars(
      plot,
      scale,
      opts.categories.length,
      opts.series,
      opts.categories,
      log,
      fmt,
      0.25,
      opts.valueLabels === true,
    ),
  );
  out.push('  <g class="x-axis">');
  opts.categories.forEach((c, i) => {
    out.push(xTickLabel(plot, plot.left + (i + 0.5) * slot, c, rotate));
  });
  out.push("  </g>", "</svg>", "");
  return out.join("\n");
}

/**
 * A histogram of several series over the same bins: in each bin the series' bars stand side by
 * side; the edges are labelled at the bin boundaries.
 *
 * @returns the SVG document
 */
export function histogram(opts: HistogramOptions): string {
  const log = opts.log === true;
  const fmt = opts.formatValue ?? ((v: number) => formatNumber(v));
  const fmtEdge = opts.formatEdge ?? ((v: number) => formatNumber(v));
  const bins = Math.max(0, opts.edges.length - 1);
  const edgeLabels = opts.edges.map(fmtEdge);
  const width = opts.width ?? 760;
  const { rotate, room } = xLabelRoom(edgeLabels, (width - 120) / Math.max(1, bins));
  const probe = valueScale(opts.series, log, 1, 0, opts.binaryTicks === true);
  const plot = layout(opts, probe.ticks.map(fmt), room);
  const scale = valueScale(opts.series, log, plot.bottom, plot.top, opts.binaryTicks === true);
  const names = opts.edges
    .slice(0, bins)
    .map((e, i) => `[${fmtEdge(e)}, ${fmtEdge(opts.edges[i + 1] ?? e)})`);
  const out = frameOpen(opts, plot, opts.series);
  out.push(...yAxis(plot, scale, fmt));
  out.push(...groupedBars(plot, scale, bins, opts.series, names, log, fmt, 0.2, false));
  const slot = (plot.right - plot.left) / Math.max(1, bins);
  out.push('  <g class="x-axis">');
  edgeLabels.forEach((label, i) => {
    const x = plot.left + i * slot;
    out.push(
      // A faint line at each edge keeps every bin's bars visibly together.
      `    <line x1="${px(x)}" y1="${plot.top}" x2="${px(x)}" y2="${plot.bottom + 4}" stroke="#bbb"/>`,
      xTickLabel(plot, x, label, rotate),
    );
  });
  out.push("  </g>", "</svg>", "");
  return out.join("\n");
}

/**
 * A line chart: one polyline with point markers per series over shared numeric x positions, with
 * linear or log axes, grid lines, ticks and a legend.
 *
 * @returns the SVG document
 */
export function lineChart(opts: LineChartOptions): string {
  const log = opts.log === true;
  const logX = opts.logX === true;
  const fmt = opts.formatValue ?? ((v: number) => formatNumber(v));
  const fmtX = opts.formatX ?? ((v: number) => formatNumber(v));
  const xs = opts.x.filter((v) => Number.isFinite(v) && (!logX || v > 0));
  const xlo = xs.length > 0 ? Math.min(...xs) : logX ? 1 : 0;
  const xhi = xs.length > 0 ? Math.max(...xs) : logX ? 10 : 1;
  const probe = valueScale(opts.series, log, 1, 0, opts.binaryTicks === true);
  const plot = layout(opts, probe.ticks.map(fmt), 24);
  const scale = valueScale(opts.series, log, plot.bottom, plot.top, opts.binaryTicks === true);
  const xScale = logX
    ? logScale(xlo, xhi, plot.left, plot.right)
    : linearScale(xlo, xhi, plot.left, plot.right);
  const out = frameOpen(opts, plot, opts.series);
  out.push(...yAxis(plot, scale, fmt));
  out.push('  <g class="x-axis">');
  for (const t of xScale.ticks) {
    const x = px(xScale.map(t));
    out.push(
      `    <line x1="${x}" y1="${plot.top}" x2="${x}" y2="${plot.bottom}" stroke="#f0f0f0"/>`,
      xTickLabel(plot, xScale.map(t), fmtX(t), false),
    );
  }
  out.push("  </g>", '  <g class="lines">');
  opts.series.forEach((s, si) => {
    const points: string[] = [];
    const marks: string[] = [];
    opts.x.forEach((xv, i) => {
      const v = s.values[i];
      if (v === undefined || !Number.isFinite(v) || !Number.isFinite(xv)) return;
      if ((log && v <= 0) || (logX && xv <= 0)) return;
      const x = px(xScale.map(xv));
      const y = px(scale.map(v));
      points.push(`${x},${y}`);
      marks.push(
        `    <circle cx="${x}" cy="${y}" r="2.5" fill="${color(si)}"><title>${escapeXml(`${s.name}, ${fmtX(xv)}: ${fmt(v)}`)}</title></circle>`,
      );
    });
    out.push(
      `    <polyline points="${points.join(" ")}" fill="none" stroke="${color(si)}" stroke-width="2"/>`,
      ...marks,
    );
  });
  out.push("  </g>", "</svg>", "");
  return out.join("\n");
}
