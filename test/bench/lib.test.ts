import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Mulberry32 } from "../../bench/lib/random.js";
import {
  flagValue,
  formatBytes,
  formatNumber,
  formatTable,
  hasFlag,
  ProgressLine,
  ratio,
} from "../../bench/lib/report.js";
import { median } from "../../bench/lib/stats.js";
import { barChart, escapeXml, histogram, lineChart } from "../../bench/lib/svg.js";

describe("bench/lib/report", () => {
  it("formats numbers with suffixes from 10,000 up", () => {
    assert.equal(formatNumber(9999), "9999");
    assert.equal(formatNumber(12.345), "12.3");
    assert.equal(formatNumber(12_345), "12.3k");
    assert.equal(formatNumber(999_999), "1.00M");
    assert.equal(formatNumber(-45_678), "-45.7k");
    assert.equal(formatNumber(Number.NaN), "n/a");
  });

  it("formats bytes with binary units", () => {
    assert.equal(formatBytes(1023), "1023 B");
    assert.equal(formatBytes(1024), "1.00 KiB");
    assert.equal(formatBytes(65536), "64.0 KiB");
    assert.equal(formatBytes(1048575), "1.00 MiB");
  });

  it("formats ratios", () => {
    assert.equal(ratio(2.314, 1), "2.31x");
    assert.equal(ratio(50, 2), "25.0x");
    assert.equal(ratio(1, 1000), "0.00100x");
    assert.equal(ratio(0, 0), "1.00x");
    assert.equal(ratio(1, 0), "∞");
  });

  it("aligns tables, numbers to the right", () => {
    const text = formatTable(
      "T",
      ["name", "n"],
      [
        ["a", 5],
        ["long", 12_345],
      ],
    );
    assert.equal(text, "T\nname      n\n----  -----\na         5\nlong  12.3k\n");
  });

  it("parses flags", () => {
    assert.equal(hasFlag("json", ["--json"]), true);
    assert.equal(hasFlag("--json", ["--jsonx"]), false);
    assert.equal(flagValue("rounds", ["--rounds", "5"]), "5");
    assert.equal(flagValue("rounds", ["--rounds=7"]), "7");
    assert.equal(flagValue("rounds", ["--rounds", "--quick"]), undefined);
  });

  it("rewrites one line on a TTY and prints lines otherwise", () => {
    let tty = "";
    const line = new ProgressLine({ isTTY: true, columns: 80, write: (s: string) => (tty += s) });
    line.update("a");
    line.update("b");
    line.done();
    assert.equal(tty, "\ra\x1b[K\rb\x1b[K\n");
    let log = "";
    const plain = new ProgressLine({ write: (s: string) => (log += s) });
    plain.update("a");
    plain.done();
    assert.equal(log, "a\n");
  });
});

describe("bench/lib/random and stats", () => {
  it("repeats a sequence for a seed and stays in range", () => {
    const a = new Mulberry32(42);
    const b = new Mulberry32(42);
    for (let i = 0; i < 1000; i++) {
      const v = a.int(1, 6);
      assert.equal(v, b.int(1, 6));
      assert.ok(v >= 1 && v <= 6);
      const w = a.logInt(512, 1 << 20);
      b.logInt(512, 1 << 20);
      assert.ok(w >= 512 && w <= 1 << 20);
    }
  });

  it("takes medians", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe("bench/lib/svg", () => {
  const series = [
    { name: "a<b", values: [1, 10, 100] },
    { name: "c", values: [0, 5, Number.NaN] },
  ];

  it("writes well-formed documents with escaped text", () => {
    const docs = [
      barChart({ title: "t&", categories: ["x", "y", "z"], series, yLabel: "v", log: true }),
      histogram({ title: "h", edges: [1, 2, 4, 8], series, yLabel: "n" }),
      lineChart({ title: "l", x: [1, 2, 3], series, yLabel: "y", xLabel: "x" }),
    ];
    for (const svg of docs) {
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<\/svg>\n$/);
      assert.doesNotMatch(svg, /NaN|Infinity/);
      assert.ok(svg.includes("a&lt;b"));
    }
    assert.ok(docs[0]?.includes("t&amp;"));
  });

  it("escapes XML", () => {
    assert.equal(escapeXml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  });
});
