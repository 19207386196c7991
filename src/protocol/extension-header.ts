/**
 * The `Sec-WebSocket-Extensions` header: a strict parser and a formatter.
 *
 * Grammar (RFC 6455 section 9.1, with the list and token rules of RFC 7230 sections 3.2.6 and 7):
 * ```
 * Sec-WebSocket-Extensions = extension-list
 * extension-list = 1#extension
 * extension = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 * Optional whitespace (SP / HTAB) is allowed around `,`, `;` and `=`.
 *
 * @module
 */

import { createError, createHandshakeError, type HandshakeError } from "../errors.js";

/** One extension offer (request) or one accepted extension (response). */
export interface ExtensionOffer {
  /** The extension token, as written (names are compared case-sensitively). */
  readonly name: string;
  /**
   * Parameters in the order written: the value, or `true` for a parameter without a value.
   * A parameter written twice keeps its first value here and its name in {@link duplicates}.
   */
  readonly params: ReadonlyMap<string, string | true>;
  /**
   * Names of parameters that appeared more than once in this offer. They are kept, not
   * rejected, so that a negotiation can decline that one offer (RFC 7692 section 5) while
   * still considering the others.
   */
  readonly duplicates: readonly string[];
}

/** Parameters as accepted by {@link formatExtension}. */
export type ExtensionParams =
  | ReadonlyMap<string, string | number | true>
  | Iterable<readonly [string, string | number | true]>
  | Readonly<Record<string, string | number | true>>;

// tchar (RFC 7230 section 3.2.6): "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** True when `c` (a UTF-16 code unit) is a tchar of RFC 7230 section 3.2.6. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** True when `s` is a non-empty RFC 7230 token (section 3.2.6). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTokenChar(s.charCodeAt(i))) return false;
  }
  return true;
}

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function malformed(detail: string): HandshakeError {
  return createHandshakeError("ERR_HANDSHAKE_EXTENSIONS", 400, detail);
}

/** A cursor over one header value. */
class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /** OWS = *( SP / HTAB ) (RFC 7230 section 3.2.3). */
  skipOws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== SP && c !== HTAB) break;
      this.pos++;
    }
  }

  token(): string {
    const start = this.pos;
    const s = this.s;
    while (this.pos < s.length && isTokenChar(s.charCodeAt(this.pos))) this.pos++;
    return s.slice(start, this.pos);
  }

  /**
   * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 section 3.2.6), starting
   * at the opening quote. Returns the unescaped content.
   */
  quoted(): string {
    const s = this.s;
    let out = "";
    this.pos++;
    let start = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === DQUOTE) {
        out += s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c === BACKSLASH) {
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        out += s.slice(start, this.pos);
        const next = this.pos + 1 < s.length ? s.charCodeAt(this.pos + 1) : -1;
        if (next !== HTAB && !(next >= SP && next !== 0x7f && next <= 0xff)) {
          throw malformed(`bad escape at offset ${this.pos}`);
        }
        out += s[this.pos + 1];
        this.pos += 2;
        start = this.pos;
        continue;
      }
      // qdtext = HTAB / SP / "!" / %x23-5B / %x5D-7E / obs-text
      if (c !== HTAB && !(c >= SP && c !== 0x7f && c <= 0xff)) {
        throw malformed(`bad character in a quoted string at offset ${this.pos}`);
      }
      this.pos++;
    }
    throw malformed("unterminated quoted string");
  }
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into its offers, in order.
 *
 * Several header lines (an array, or Node's comma-joined value) form one list. The same extension
 * may appear several times (a client's offers in order of preference, RFC 6455 section 9.1);
 * empty list elements are ignored as RFC 7230 section 7 requires. A quoted parameter value must
 * still be a token once unquoted (RFC 6455 section 9.1).
 *
 * @param header - the header value(s); `undefined` means no header, which gives `[]`
 * @throws {@link HandshakeError} `ERR_HANDSHAKE_EXTENSIONS` with status 400 for a malformed value,
 *   including a header that holds no extension at all (`1#extension`)
 */
export function parseExtensions(header: string | readonly string[] | undefined): ExtensionOffer[] {
  if (header === undefined) return [];
  const value = typeof header === "string" ? header : header.join(",");
  const sc = new Scanner(value);
  const offers: ExtensionOffer[] = [];
  for (;;) {
    sc.skipOws();
    if (sc.done) break;
    if (sc.peek() === COMMA) {
      sc.pos++;
      continue;
    }
    const name = sc.token();
    if (name.length === 0) throw malformed(`expected an extension name at offset ${sc.pos}`);
    const params = new Map<string, string | true>();
    const duplicates: string[] = [];
    sc.skipOws();
    while (sc.peek() === SEMICOLON) {
      sc.pos++;
      sc.skipOws();
      const param = sc.token();
      if (param.length === 0) throw malformed(`expected a parameter name at offset ${sc.pos}`);
      sc.skipOws();
      let paramValue: string | true = true;
      if (sc.peek() === EQUALS) {
        sc.pos++;
        sc.skipOws();
        if (sc.peek() === DQUOTE) {
          paramValue = sc.quoted();
          // RFC 6455 section 9.1: after unescaping, a quoted value MUST conform to 'token'.
          if (!isToken(paramValue)) {
            throw malformed(`the quoted value of "${param}" is not a token`);
          }
        } else {
          paramValue = sc.token();
          if (paramValue.length === 0) {
            throw malformed(`expected a value for "${param}" at offset ${sc.pos}`);
          }
        }
        sc.skipOws();
      }
      if (params.has(param)) {
        if (!duplicates.includes(param)) duplicates.push(param);
      } else {
        params.set(param, paramValue);
      }
    }
    if (!sc.done && sc.peek() !== COMMA) {
      throw malformed(`unexpected character at offset ${sc.pos}`);
    }
    offers.push({ name, params, duplicates });
  }
  if (offers.length === 0) throw malformed("no extension in the header");
  return offers;
}

function paramEntries(
  params: ExtensionParams,
): Iterable<readonly [string, string | number | true]> {
  if (Symbol.iterator in params) {
    return params as Iterable<readonly [string, string | number | true]>;
  }
  return Object.entries(params as Readonly<Record<string, string | number | true>>);
}

/**
 * Formats one extension for a `Sec-WebSocket-Extensions` offer or response, e.g.
 * `permessage-deflate; client_max_window_bits=10; server_no_context_takeover`.
 *
 * Values are written as bare tokens, the form every parser accepts (RFC 6455 section 9.1).
 *
 * @param name - the extension token
 * @param params - parameters in order; `true` writes a parameter without a value
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when a name or value is not a token
 */
export function formatExtension(name: string, params: ExtensionParams = []): string {
  if (!isToken(name)) throw createError("ERR_INVALID_ARGUMENT", `bad extension name "${name}"`);
  let out = name;
  for (const [param, value] of paramEntries(params)) {
    if (!isToken(param)) {
      throw createError("ERR_INVALID_ARGUMENT", `bad extension parameter "${param}"`);
    }
    if (value === true) {
      out += `; ${param}`;
      continue;
    }
    const text = String(value);
    if (!isToken(text)) {
      throw createError("ERR_INVALID_ARGUMENT", `bad value for "${param}": "${text}"`);
    }
    out += `; ${param}=${text}`;
  }
  return out;
}

/**
 * Formats several extensions as one header value, comma-separated.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` as {@link formatExtension}
 */
export function formatExtensions(
  list: readonly { readonly name: string; readonly params?: ExtensionParams }[],
): string {
  return list.map((e) => formatExtension(e.name, e.params)).join(", ");
}
