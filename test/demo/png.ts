// Just enough of PNG (ISO/IEC 15948) to tell a blank screenshot from a real one: 8-bit RGB or RGBA,
// not interlaced, as Chromium writes them.
import { inflateSync } from "node:zlib";

/** What a screenshot looks like, in numbers. */
export interface ImageSummary {
  readonly width: number;
  readonly height: number;
  /** Distinct colours among the pixels (alpha ignored). */
  readonly colours: number;
  /** Standard deviation of the luminance, 0..255. */
  readonly lumaDeviation: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Paeth predictor (PNG filter type 4). */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes `png` and summarises its pixels. */
export function summarisePng(png: Buffer): ImageSummary {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colourType = data[9];
      if (depth !== 8 || data[12] !== 0 || (colourType !== 2 && colourType !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}`);
      }
      channels = colourType === 6 ? 4 : 3;
    } else if (type === "IDAT") {
      idat.push(data);
    }
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? (pixels[row + x - channels] as number) : 0;
      const b = y > 0 ? (pixels[row - stride + x] as number) : 0;
      const c = x >= channels && y > 0 ? (pixels[row - stride + x - channels] as number) : 0;
      const v = raw[src + x] as number;
      const predicted =
        filter === 0
          ? 0
          : filter === 1
            ? a
            : filter === 2
              ? b
              : filter === 3
                ? (a + b) >> 1
                : filter === 4
                  ? paeth(a, b, c)
                  : Number.NaN;
      if (Number.isNaN(predicted)) throw new Error(`bad PNG filter ${filter}`);
      pixels[row + x] = (v + predicted) & 0xff;
    }
  }
  const colours = new Set<number>();
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < pixels.length; i += channels) {
    const r = pixels[i] as number;
    const g = pixels[i + 1] as number;
    const b = pixels[i + 2] as number;
    colours.add((r << 16) | (g << 8) | b);
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma;
    squares += luma * luma;
  }
  const n = width * height;
  const mean = sum / n;
  return {
    width,
    height,
    colours: colours.size,
    lumaDeviation: Math.sqrt(Math.max(0, squares / n - mean * mean)),
  };
}
