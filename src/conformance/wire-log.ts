/**
 * The per-case wire log: frames and octets in both directions, timers and notes, with
 * timestamps, bounded in size so that bulk cases stay readable.
 *
 * @module
 */

import type { WireEntry } from "./types.js";

/** Bytes of a payload shown in a log line. */
const EXCERPT = 48;

/** Opcode names for log lines. */
const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0: "CONT",
  1: "TEXT",
  2: "BINARY",
  8: "CLOSE",
  9: "PING",
  10: "PONG",
};

/** The name of an opcode, `OP3`... for reserved ones. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `OP${opcode}`;
}

/** A short printable excerpt of `data`: text when it is printable ASCII, else hex. */
export function excerpt(data: Buffer, max = EXCERPT): string {
  const part = data.subarray(0, max);
  const more = data.length > max ? ` ... (${data.length} bytes)` : "";
  let printable = true;
  for (const b of part) {
    if (b < 0x20 || b > 0x7e) {
      printable = false;
      break;
    }
  }
  return printable
    ? JSON.stringify(part.toString("latin1")) + more
    : `0x${part.toString("hex")}${more}`;
}

/** A bounded, timestamped log. */
export class WireLog {
  readonly entries: WireEntry[] = [];
  dropped = 0;
  enabled = true;
  private readonly start = performance.now();

  constructor(private readonly limit = 600) {}

  /** Appends an entry when logging is on and the log has room. */
  add(kind: WireEntry["kind"], text: string): void {
    if (!this.enabled) return;
    if (this.entries.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.entries.push({ t: Math.round((performance.now() - this.start) * 10) / 10, kind, text });
  }

  /** Appends a note even when logging is off (notes explain verdicts). */
  note(text: string): void {
    const was = this.enabled;
    this.enabled = true;
    this.add("note", text);
    this.enabled = was;
  }

  /** Logs a frame in either direction. */
  frame(
    dir: "tx" | "rx",
    f: { opcode: number; fin: boolean; rsv: number; masked: boolean; payload: Buffer },
    extra = "",
  ): void {
    if (!this.enabled || this.entries.length >= this.limit) {
      if (this.enabled) this.dropped++;
      return;
    }
    const bits = `${f.fin ? "FIN" : "fin=0"}${f.rsv !== 0 ? ` rsv=${f.rsv}` : ""}${f.masked ? " masked" : ""}`;
    this.add(
      dir === "tx" ? "tx-frame" : "rx-frame",
      `${opcodeName(f.opcode)} ${bits} len=${f.payload.length} ${excerpt(f.payload)}${extra}`,
    );
  }

  /** Logs raw octets in either direction. */
  octets(dir: "tx" | "rx", data: Buffer, extra = ""): void {
    if (!this.enabled || this.entries.length >= this.limit) {
      if (this.enabled) this.dropped++;
      return;
    }
    const hex = data.subarray(0, 32).toString("hex");
    this.add(
      dir === "tx" ? "tx-octets" : "rx-octets",
      `${data.length} bytes ${hex}${data.length > 32 ? " ..." : ""}${extra}`,
    );
  }
}
