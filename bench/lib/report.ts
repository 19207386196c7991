/**
 * Console reporting for benchmarks: a progress line on stderr, aligned tables on stdout, number
 * formatting and command-line flags.
 *
 * Progress never goes to stdout, so a benchmark run with `--json` can print one JSON document there
 * and nothing else.
 */

/** A writable text stream, as `process.stderr` or `process.stdout`. */
export interface TextSink {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * One progress line on a stream. On a TTY each message overwrites the previous one (`\r` and
 * erase-to-end-of-line) and is cut to the terminal width so it never wraps; otherwise each message
 * is printed on its own line, which keeps CI logs readable.
 */
export class ProgressLine {
  private pending = false;

  /** @param sink - where the line goes; the process's stderr by default */
  constructor(private readonly sink: TextSink = process.stderr) {}

  /** Shows `message`, replacing the previous message on a TTY. */
  update(message: string): void {
    if (this.sink.isTTY === true) {
      const width = Math.max(10, (this.sink.columns ?? 80) - 1);
      const line = message.length > width ? `${message.slice(0, width - 1)}…` : message;
      this.sink.write(`\r${line}\x1b[K`);
      this.pending = true;
    } else {
      this.sink.write(`${message}\n`);
    }
  }

  /** Ends the current line on a TTY, so what follows starts on a fresh line. */
  done(): void {
    if (this.pending) {
      this.sink.write("\n");
      this.pending = false;
    }
  }
}

const stderrProgress = new ProgressLine();

/** Shows a progress message on stderr (one rewritten line on a TTY, one line each otherwise). */
export function progress(message: string): void {
  stderrProgress.update(message);
}

/** Ends the progress line started by {@link progress}, if one is showing. */
export function progressDone(): void {
  stderrProgress.done();
}

/** `x` with `digits` significant digits, never in exponent notation for `|x| >= 1`. */
function significant(x: number, digits: number): string {
  if (x === 0) return "0";
  if (Math.abs(x) >= 10 ** digits) return String(Math.round(x));
  return x.toPrecision(digits);
}

const SUFFIXES = [
  { at: 1e12, suffix: "T" },
  { at: 1e9, suffix: "G" },
  { at: 1e6, suffix: "M" },
  { at: 1e3, suffix: "k" },
] as const;

/**
 * Formats a count or a rate for a table.
 *
 * - `|n| < 10,000`: integers exactly (`"9999"`), fractions with `digits` significant digits
 *   (`"12.3"`, `"0.0457"`), or rounded to an integer when that needs more digits (`"1235"`);
 * - from 10,000 up: `digits` significant digits and a decimal suffix `k` (10^3), `M` (10^6),
 *   `G` (10^9) or `T` (10^12): `"12.3k"`, `"4.56M"`, `"789M"`. A value that would round up to
 *   `"1000k"` moves on to `"1.00M"`.
 * - `NaN` is `"n/a"`, infinities are `"∞"` and `"-∞"`.
 *
 * @param n - the value
 * @param digits - significant digits (1 to 21), 3 by default
 */
export function formatNumber(n: number, digits = 3): string {
  if (Number.isNaN(n)) return "n/a";
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "-∞";
  const abs = Math.abs(n);
  if (abs < 1e4) return Number.isInteger(n) ? String(n) : significant(n, digits);
  const sign = n < 0 ? "-" : "";
  for (let i = 0; i < SUFFIXES.length; i++) {
    const { at, suffix } = SUFFIXES[i] as (typeof SUFFIXES)[number];
    if (abs < at) continue;
    const scaled = Number((abs / at).toPrecision(digits));
    const bigger = SUFFIXES[i - 1];
    if (scaled >= 1000 && bigger !== undefined) {
      return `${sign}${significant(abs / bigger.at, digits)}${bigger.suffix}`;
    }
    return `${sign}${significant(abs / at, digits)}${suffix}`;
  }
  return String(n);
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB"] as const;

/**
 * Formats a byte count with binary units and three significant digits: `"512 B"`, `"1.00 KiB"`,
 * `"64.0 KiB"`, `"1.50 MiB"`. Below 1 KiB the exact integer is shown. `NaN` is `"n/a"`.
 */
export function formatBytes(n: number): string {
  if (Number.isNaN(n)) return "n/a";
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "-∞";
  const sign = n < 0 ? "-" : "";
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${Number.isInteger(v) ? v : significant(v, 3)} B`;
  let unit = -1;
  // Divide until the value, as it will be printed, is below 1024 (1023.9 KiB prints as 1.00 MiB).
  do {
    v /= 1024;
    unit++;
  } while (unit < BYTE_UNITS.length - 1 && Number(significant(v, 3)) >= 1024);
  return `${sign}${significant(v, 3)} ${BYTE_UNITS[unit] ?? "B"}`;
}

/**
 * `a / b` as a factor: two decimals between 0.1 and 10 (`"2.31x"`, `"0.43x"`), one decimal up to
 * 100 (`"12.5x"`), an integer above (`"340x"`), three significant digits below 0.1
 * (`"0.00123x"`). `0 / 0` is `"1.00x"` (both sides equal), `a / 0` is `"∞"` (or `"-∞"`), and
 * `"n/a"` stands for a value that is not finite.
 */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return "n/a";
  if (a === 0 && b === 0) return "1.00x";
  if (b === 0) return a > 0 ? "∞" : "-∞";
  const r = a / b;
  const abs = Math.abs(r);
  if (abs === 0) return "0.00x";
  if (abs < 0.1) return `${r.toPrecision(3)}x`;
  if (abs < 10) return `${r.toFixed(2)}x`;
  if (abs < 100) return `${r.toFixed(1)}x`;
  return `${Math.round(r)}x`;
}

/** A cell of {@link printTable}: numbers are formatted with {@link formatNumber}. */
export type Cell = string | number;

// Strings that read as numbers ("12.3k", "2.31x", "1.00 MiB", "-4%") are right-aligned too.
const NUMERIC = /^[-+]?(\d|\.\d)|^n\/a$|^-?∞$/;

/**
 * Lays out a table as plain text: a title line, a header, a rule and one line per row, columns
 * separated by two spaces. Number cells are formatted with {@link formatNumber}; a column whose
 * cells are all numbers or numeric-looking strings (`"2.31x"`, `"1.00 MiB"`) is right-aligned,
 * any other column left-aligned. Missing cells are blank.
 *
 * @returns the table, ending with a newline
 */
export function formatTable(
  title: string,
  columns: readonly string[],
  rows: readonly (readonly Cell[])[],
): string {
  const text = rows.map((row) =>
    columns.map((_, i) => {
      const cell = row[i];
      return cell === undefined ? "" : typeof cell === "number" ? formatNumber(cell) : cell;
    }),
  );
  const right = columns.map((_, i) =>
    text.every((row) => {
      const cell = row[i] ?? "";
      return cell === "" || NUMERIC.test(cell);
    }),
  );
  const widths = columns.map((name, i) =>
    Math.max(name.length, ...text.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const w = widths[i] ?? 0;
        return right[i] === true ? cell.padStart(w) : cell.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return `${[title, line(columns), rule, ...text.map(line)].join("\n")}\n`;
}

/**
 * Prints {@link formatTable}'s layout of the table on stdout, followed by a blank line.
 *
 * @param title - a line printed above the table
 * @param columns - the header of each column
 * @param rows - the cells, one array per row, in column order
 */
export function printTable(
  title: string,
  columns: readonly string[],
  rows: readonly (readonly Cell[])[],
): void {
  process.stdout.write(`${formatTable(title, columns, rows)}\n`);
}

/** `name` as a long option: `"json"` and `"--json"` both give `"--json"`. */
function optionName(name: string): string {
  return name.startsWith("-") ? name : `--${name}`;
}

/**
 * Whether the flag `name` is on the command line, as `--name` or `--name=value`.
 *
 * @param name - the flag, with or without its leading `--`
 * @param argv - the arguments to search; the process's arguments after the script by default
 */
export function hasFlag(name: string, argv: readonly string[] = process.argv.slice(2)): boolean {
  const flag = optionName(name);
  return argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

/**
 * The value of option `name`, given as `--name=value` or `--name value` (the next argument, when it
 * does not start with `--`). The last occurrence wins; `undefined` when the option is absent or has
 * no value.
 *
 * @param name - the option, with or without its leading `--`
 * @param argv - the arguments to search; the process's arguments after the script by default
 */
export function flagValue(
  name: string,
  argv: readonly string[] = process.argv.slice(2),
): string | undefined {
  const flag = optionName(name);
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg.startsWith(`${flag}=`)) {
      value = arg.slice(flag.length + 1);
    } else if (arg === flag) {
      const next = argv[i + 1];
      value = next !== undefined && !next.startsWith("--") ? next : undefined;
    }
  }
  return value;
}
