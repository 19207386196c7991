// Sec-WebSocket-Extensions fuzzing: headers generated from the grammar of RFC 6455 section 9.1
// (with RFC 7230's tokens, quoted strings, lists and OWS), then mutated character by character,
// and a reference reading of the grammar written as regular expressions.
import fc from "fast-check";

export interface ExtensionCase {
  readonly header: string;
}

/** One offer as the reference reads it (params in order, first value kept). */
export interface ReferenceOffer {
  readonly name: string;
  readonly params: [string, string | true][];
  readonly duplicates: string[];
}

const OWS = "[ \\t]*";
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 section 3.2.6)
const QUOTED =
  '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
const PARAM = `${TOKEN}(?:${OWS}=${OWS}(?:${TOKEN}|${QUOTED}))?`;
const EXTENSION = `${TOKEN}(?:${OWS};${OWS}${PARAM})*`;
const ELEMENT = `${OWS}(?:${EXTENSION})?${OWS}`;
const WHOLE = new RegExp(`^(?:${ELEMENT},)*${ELEMENT}$`);
const ONE = new RegExp(`${OWS}(${EXTENSION})?${OWS}(?:,|$)`, "y");
const NAME = new RegExp(`^${TOKEN}`);
const PARAMS = new RegExp(`;${OWS}(${TOKEN})(?:${OWS}=${OWS}(${TOKEN}|${QUOTED}))?`, "g");
const IS_TOKEN = new RegExp(`^${TOKEN}$`);

/**
 * The offers a strict parser must read from `header`, or null when it must refuse it: the value
 * does not match `1#extension`, holds no extension, or has a quoted parameter value that is not a
 * token once unescaped (RFC 6455 section 9.1).
 */
export function expectedExtensions(header: string): ReferenceOffer[] | null {
  if (!WHOLE.test(header)) return null;
  const offers: ReferenceOffer[] = [];
  ONE.lastIndex = 0;
  while (ONE.lastIndex < header.length) {
    const m = ONE.exec(header);
    if (m === null) return null;
    const ext = m[1];
    if (ext !== undefined) {
      const name = (NAME.exec(ext) as RegExpExecArray)[0];
      const params: [string, string | true][] = [];
      const duplicates: string[] = [];
      for (const p of ext.slice(name.length).matchAll(PARAMS)) {
        const key = p[1] as string;
        let value: string | true = true;
        const raw = p[2];
        if (raw !== undefined) {
          value = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/gs, "$1") : raw;
          if (!IS_TOKEN.test(value)) return null;
        }
        if (params.some(([k]) => k === key)) {
          if (!duplicates.includes(key)) duplicates.push(key);
        } else {
          params.push([key, value]);
        }
      }
      offers.push({ name, params, duplicates });
    }
    if (m[0].length === 0) break;
  }
  return offers.length === 0 ? null : offers;
}

const ows = fc.constantFrom("", "", " ", "\t", "  ");
const name = fc.oneof(
  { weight: 6, arbitrary: fc.constant("permessage-deflate") },
  { weight: 2, arbitrary: fc.constantFrom("x-webkit-deflate-frame", "foo", "PerMessage-Deflate") },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z~!#$%&'*+.^_`|-]{1,8}$/) },
);
const paramName = fc.constantFrom(
  "client_max_window_bits",
  "server_max_window_bits",
  "client_no_context_takeover",
  "server_no_context_takeover",
  "x",
);
const paramValue = fc.oneof(
  fc.constantFrom("8", "9", "10", "15", "16", "7", "0", "010", "1e1"),
  fc.constantFrom('"10"', '"1\\0"', '"a b"', '""', '"15', '"\\"', '"x\\\\y"', '"\t9"'),
);
const param = fc
  .tuple(ows, paramName, fc.option(fc.tuple(ows, ows, paramValue), { nil: undefined }))
  .map(([w, n, v]) => (v === undefined ? `;${w}${n}` : `;${w}${n}${v[0]}=${v[1]}${v[2]}`));
const offer = fc
  .tuple(name, ows, fc.array(param, { maxLength: 4 }))
  .map(([n, w, ps]) => `${n}${w}${ps.join(w)}`);
const header = fc
  .array(fc.tuple(ows, fc.option(offer, { nil: undefined, freq: 6 }), ows), {
    minLength: 1,
    maxLength: 4,
  })
  .map((es) => es.map(([a, o, b]) => `${a}${o ?? ""}${b}`).join(","));

/** Characters that break the grammar in interesting ways. */
const special = fc.constantFrom(
  ",",
  ";",
  "=",
  '"',
  "\\",
  " ",
  "\t",
  "\x01",
  "\x7f",
  "{",
  "é",
  "\u0100",
  "0",
  "a",
);

type Edit = { kind: "delete" | "insert" | "replace"; at: number; ch: string };

const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom("delete" as const, "insert" as const, "replace" as const),
  at: fc.nat(),
  ch: special,
});

function applyEdit(s: string, e: Edit): string {
  const at = e.at % (s.length + 1);
  if (e.kind === "insert") return s.slice(0, at) + e.ch + s.slice(at);
  if (e.kind === "delete") return s.slice(0, at) + s.slice(at + 1);
  return s.slice(0, at) + e.ch + s.slice(at + 1);
}

export const extensionCase: fc.Arbitrary<ExtensionCase> = fc
  .tuple(header, fc.oneof(fc.constant([]), fc.array(edit, { minLength: 1, maxLength: 2 })))
  .map(([h, edits]) => ({ header: edits.reduce(applyEdit, h) }));
