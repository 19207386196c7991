/**
 * The data sets the compression cases slice their messages from. Autobahn ships five files
 * (JSON, HTML, German prose, a bitmap, a PDF); the suite generates five synthetic stand-ins of
 * the same kinds and similar sizes from a fixed seed, so that every run sends the same bytes
 * and no third-party file is needed.
 *
 * @module
 */

/** One data set. */
export interface Corpus {
  readonly name: string;
  readonly description: string;
  /** Messages from it are sent as binary (else as text: the data is UTF-8). */
  readonly binary: boolean;
  readonly data: () => Buffer;
}

/** A small deterministic generator (mulberry32): numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = [
  "ge",
  "der",
  "ich",
  "ein",
  "und",
  "sch",
  "ten",
  "ver",
  "nicht",
  "be",
  "mir",
  "au",
  "ber",
  "ach",
  "zu",
  "den",
  "lich",
  "ung",
  "en",
  "es",
  "wie",
  "gen",
  "mei",
  "ne",
  "ist",
  "ha",
  "ben",
  "so",
  "sel",
  "ig",
  "keit",
  "welt",
  "geist",
  "herz",
  "nacht",
];
/** Prose may hold non-ASCII letters; the text data sets stay ASCII, so that any slice is UTF-8. */
const UMLAUTS = [...SYLLABLES, "ö", "ä", "ü", "ß", "schö", "grü"];

function words(rand: () => number, n: number, set = SYLLABLES): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = "";
    const parts = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < parts; p++) w += set[Math.floor(rand() * set.length)];
    out.push(w);
  }
  return out;
}

function sentence(rand: () => number, set = SYLLABLES): string {
  const w = words(rand, 4 + Math.floor(rand() * 10), set);
  const s = w.join(" ");
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}${rand() < 0.2 ? "!" : rand() < 0.3 ? "?" : "."}`;
}

function memo(make: () => Buffer): () => Buffer {
  let cached: Buffer | null = null;
  return () => {
    cached ??= make();
    return cached;
  };
}

function prose(target: number): Buffer {
  const rand = prng(2229);
  const lines: string[] = [];
  let size = 0;
  while (size < target) {
    const speaker = words(rand, 1)[0]!.toUpperCase();
    const verse = [sentence(rand, UMLAUTS), sentence(rand, UMLAUTS)].join(" ");
    const text = `${speaker}:\n${verse}\n\n`;
    lines.push(text);
    size += Buffer.byteLength(text);
  }
  return Buffer.from(lines.join(""), "utf8");
}

function json(target: number): Buffer {
  const rand = prng(194237);
  const items: string[] = [];
  let size = 2;
  for (let id = 1; size < target; id++) {
    const item = JSON.stringify(
      {
        id,
        name: words(rand, 2).join(" "),
        active: rand() < 0.5,
        score: Math.round(rand() * 100000) / 100,
        tags: words(rand, 1 + Math.floor(rand() * 4)),
        address: { street: words(rand, 2).join(" "), number: Math.floor(rand() * 300) },
        note: sentence(rand),
      },
      null,
      2,
    );
    items.push(item);
    size += Buffer.byteLength(item) + 2;
  }
  return Buffer.from(`[${items.join(",\n")}]`, "utf8");
}

function html(target: number): Buffer {
  const rand = prng(263369);
  const parts = ["<!DOCTYPE html>\n<html>\n<head><title>Data</title></head>\n<body>\n"];
  let size = parts[0]!.length;
  for (let i = 0; size < target; i++) {
    const block =
      `<div class="section" id="s${i}">\n  <h2>${words(rand, 3).join(" ")}</h2>\n` +
      `  <p>${sentence(rand)} <a href="/page/${i}">${words(rand, 2).join(" ")}</a> ${sentence(rand)}</p>\n` +
      `  <ul><li>${words(rand, 2).join(" ")}</li><li>${words(rand, 3).join(" ")}</li></ul>\n</div>\n`;
    parts.push(block);
    size += Buffer.byteLength(block);
  }
  parts.push("</body>\n</html>\n");
  return Buffer.from(parts.join(""), "utf8");
}

function bitmap(): Buffer {
  // A 512x512 8-bit grey BMP: header, palette, then smooth shapes with a little noise.
  const rand = prng(512);
  const w = 512;
  const h = 512;
  const offset = 54 + 1024;
  const out = Buffer.alloc(offset + w * h);
  out.write("BM", 0, "latin1");
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(w, 18);
  out.writeInt32LE(h, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(8, 28);
  out.writeUInt32LE(w * h, 34);
  for (let i = 0; i < 256; i++) out.writeUInt32LE(i * 0x010101, 54 + i * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v =
        128 +
        60 * Math.sin(x / 37) * Math.cos(y / 23) +
        40 * Math.sin((x + y) / 71) +
        (rand() - 0.5) * 16;
      out[offset + y * w + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

function document(target: number): Buffer {
  // PDF-like: text objects between streams of nearly incompressible bytes.
  const rand = prng(105);
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let size = parts[0]!.length;
  for (let obj = 1; size < target; obj++) {
    const text = Buffer.from(
      `${obj} 0 obj\n<< /Type /Page /Length ${1024} /Filter /FlateDecode >>\nstream\n`,
      "latin1",
    );
    const stream = Buffer.alloc(1024);
    for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rand() * 256);
    const tail = Buffer.from(`\nendstream\nendobj\n% ${sentence(rand)}\n`, "latin1");
    parts.push(text, stream, tail);
    size += text.length + stream.length + tail.length;
  }
  return Buffer.concat(parts);
}

/** The data sets of 12.1 to 12.5, in that order. */
export const CORPORA: readonly Corpus[] = [
  {
    name: "json",
    description: "Generated JSON records (text, about 190 KiB)",
    binary: false,
    data: memo(() => json(194_000)),
  },
  {
    name: "bitmap",
    description: "Generated 512x512 greyscale bitmap (binary, 257 KiB)",
    binary: true,
    data: memo(bitmap),
  },
  {
    name: "prose",
    description: "Generated German-like verse (binary, about 217 KiB)",
    binary: true,
    data: memo(() => prose(222_000)),
  },
  {
    name: "html",
    description: "Generated HTML document (text, about 257 KiB)",
    binary: false,
    data: memo(() => html(263_000)),
  },
  {
    name: "document",
    description: "Generated PDF-like document with incompressible streams (binary, about 1 MiB)",
    binary: true,
    data: memo(() => document(1_040_000)),
  },
];
