/**
 * UTF-8 validation for text messages and close reasons (RFC 6455 sections 5.6 and 8.1).
 *
 * The validator is a deterministic finite automaton over byte classes, in the style Bjoern
 * Hoehrmann made popular: one table lookup classifies a byte, a second one moves the state. The
 * automaton encodes the well-formed byte sequences of RFC 3629 section 4 (the `UTF8-octets`
 * grammar), so it rejects overlong forms, the surrogates U+D800-DFFF and anything above U+10FFFF at
 * the first byte that rules them out. Runs of ASCII are skipped a 32-bit word at a time.
 *
 * No `node:` imports: the runtime may inject Node's `buffer.isUtf8` as a {@link Utf8Check}.
 *
 * @module
 */

/** A whole-buffer UTF-8 check, e.g. {@link isValidUtf8} or Node's `buffer.isUtf8`. */
export type Utf8Check = (data: Uint8Array) => boolean;

// Byte classes. RFC 3629 section 4:
//   UTF8-1 = %x00-7F                 UTF8-tail = %x80-BF
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//            %xF4 %x80-8F 2( UTF8-tail )
// C0, C1 and F5-FF never appear in UTF-8.
const C_ASCII = 0; // 00-7F
const C_TAIL_LOW = 1; // 80-8F
const C_TAIL_MID = 2; // 90-9F
const C_TAIL_HIGH = 3; // A0-BF
const C_INVALID = 4; // C0-C1, F5-FF
const C_LEAD2 = 5; // C2-DF
const C_E0 = 6; // E0: second byte A0-BF (no overlong three-byte forms)
const C_LEAD3 = 7; // E1-EC, EE-EF
const C_ED = 8; // ED: second byte 80-9F (no surrogates)
const C_F0 = 9; // F0: second byte 90-BF (no overlong four-byte forms)
const C_LEAD4 = 10; // F1-F3
const C_F4 = 11; // F4: second byte 80-8F (nothing above U+10FFFF)
const CLASS_COUNT = 12;

// States, pre-multiplied by CLASS_COUNT so that `state + class` indexes the transition table.
const ACCEPT = 0;
const REJECT = 1 * CLASS_COUNT;
const NEED1 = 2 * CLASS_COUNT; // one tail byte to go
const NEED2 = 3 * CLASS_COUNT;
const NEED3 = 4 * CLASS_COUNT;
const AFTER_E0 = 5 * CLASS_COUNT;
const AFTER_ED = 6 * CLASS_COUNT;
const AFTER_F0 = 7 * CLASS_COUNT;
const AFTER_F4 = 8 * CLASS_COUNT;
const STATE_COUNT = 9;

function buildClasses(): Uint8Array {
  const classes = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let c: number;
    if (b < 0x80) c = C_ASCII;
    else if (b < 0x90) c = C_TAIL_LOW;
    else if (b < 0xa0) c = C_TAIL_MID;
    else if (b < 0xc0) c = C_TAIL_HIGH;
    else if (b < 0xc2) c = C_INVALID;
    else if (b < 0xe0) c = C_LEAD2;
    else if (b === 0xe0) c = C_E0;
    else if (b === 0xed) c = C_ED;
    else if (b < 0xf0) c = C_LEAD3;
    else if (b === 0xf0) c = C_F0;
    else if (b < 0xf4) c = C_LEAD4;
    else if (b === 0xf4) c = C_F4;
    else c = C_INVALID;
    classes[b] = c;
  }
  return classes;
}

function buildTransitions(): Uint8Array {
  const t = new Uint8Array(STATE_COUNT * CLASS_COUNT).fill(REJECT);
  const on = (state: number, classes: readonly number[], next: number): void => {
    for (const c of classes) t[state + c] = next;
  };
  const tail = [C_TAIL_LOW, C_TAIL_MID, C_TAIL_HIGH];
  on(ACCEPT, [C_ASCII], ACCEPT);
  on(ACCEPT, [C_LEAD2], NEED1);
  on(ACCEPT, [C_E0], AFTER_E0);
  on(ACCEPT, [C_LEAD3], NEED2);
  on(ACCEPT, [C_ED], AFTER_ED);
  on(ACCEPT, [C_F0], AFTER_F0);
  on(ACCEPT, [C_LEAD4], NEED3);
  on(ACCEPT, [C_F4], AFTER_F4);
  on(NEED1, tail, ACCEPT);
  on(NEED2, tail, NEED1);
  on(NEED3, tail, NEED2);
  on(AFTER_E0, [C_TAIL_HIGH], NEED1);
  on(AFTER_ED, [C_TAIL_LOW, C_TAIL_MID], NEED1);
  on(AFTER_F0, [C_TAIL_MID, C_TAIL_HIGH], NEED2);
  on(AFTER_F4, [C_TAIL_LOW], NEED2);
  return t;
}

const CLASSES = buildClasses();
const TRANSITIONS = buildTransitions();

/** ASCII bytes scanned one at a time before a run is deemed long enough for words. */
const SHORT_RUN = 16;
/** Below this many bytes left, a long ASCII run is still scanned byte by byte. */
const WORD_SCAN_MIN = 64;

/**
 * The index of the first byte at or after `i` that is not ASCII, or `end`.
 *
 * Short runs (text with a few ASCII bytes between other characters) stay bytewise; a long run is
 * read as 32-bit words from an aligned view of the underlying buffer, honouring `byteOffset`.
 */
function skipAscii(data: Uint8Array, i: number, end: number): number {
  const stop = end - i > SHORT_RUN ? i + SHORT_RUN : end;
  while (i < stop) {
    if (data[i]! >= 0x80) return i;
    i++;
  }
  if (end - i >= WORD_SCAN_MIN) {
    const base = data.byteOffset;
    // Bytes up to the first 4-byte aligned address.
    while (((base + i) & 3) !== 0) {
      if (data[i]! >= 0x80) return i;
      i++;
    }
    const words = (end - i) >>> 2;
    const view = new Uint32Array(data.buffer, base + i, words);
    let w = 0;
    // Two words per step: one branch for eight bytes.
    while (w + 1 < words && ((view[w]! | view[w + 1]!) & 0x80808080) === 0) w += 2;
    while (w < words && (view[w]! & 0x80808080) === 0) w++;
    i += w << 2;
  }
  while (i < end && data[i]! < 0x80) i++;
  return i;
}

/**
 * Runs the automaton from `state` over `data[i, end)`.
 *
 * @returns the final state; {@link REJECT} as soon as a byte rules the input out
 */
function run(state: number, data: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const b = data[i]!;
    if (b < 0x80 && state === ACCEPT) {
      i = skipAscii(data, i + 1, end);
      continue;
    }
    state = TRANSITIONS[state + CLASSES[b]!]!;
    if (state === REJECT) return REJECT;
    i++;
  }
  return state;
}

/**
 * A streaming UTF-8 validator for a message that arrives in pieces.
 *
 * It fails fast: {@link push} answers false as soon as the bytes seen so far can no longer be the
 * beginning of valid UTF-8, so a connection can fail a text message with 1007 (RFC 6455 section
 * 8.1) before the rest arrives. A code point may be split across pushes.
 */
export class Utf8Validator {
  private state = ACCEPT;

  /**
   * Feeds the next piece of the message.
   *
   * @returns false once the input seen so far is not a prefix of valid UTF-8 (and from then on,
   *   until {@link reset})
   */
  push(data: Uint8Array): boolean {
    return this.pushRange(data, 0, data.length);
  }

  /** Feeds `data[start, end)`, as {@link push} does a whole buffer. */
  pushRange(data: Uint8Array, start: number, end: number): boolean {
    if (this.state === REJECT) return false;
    this.state = run(this.state, data, start, end);
    return this.state !== REJECT;
  }

  /**
   * Ends the message.
   *
   * @returns true when everything pushed is complete, valid UTF-8 (no code point cut short)
   */
  end(): boolean {
    return this.state === ACCEPT;
  }

  /** Forgets everything pushed: ready for the next message. */
  reset(): void {
    this.state = ACCEPT;
  }

  /** True once the input can no longer become valid UTF-8. */
  get failed(): boolean {
    return this.state === REJECT;
  }
}

/**
 * True when all of `data` is well-formed UTF-8 (RFC 3629 section 4). Pure TypeScript; the runtime
 * may prefer Node's `buffer.isUtf8`, which gives the same answers faster.
 */
export function isValidUtf8(data: Uint8Array): boolean {
  return run(ACCEPT, data, 0, data.length) === ACCEPT;
}
