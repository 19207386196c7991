/**
 * permessage-deflate parameter negotiation (RFC 7692 sections 5 and 7.1), both roles. Pure: no
 * `node:` imports, no zlib.
 *
 * Window bits 8. zlib refuses a raw deflate stream with an 8-bit window and Node silently turns
 * `windowBits: 8` into 9 for `DeflateRaw`. A 9-bit zlib deflater is nevertheless decodable by a
 * peer whose window is 256 bytes: zlib never emits a match distance above
 * `MAX_DIST = w_size - MIN_LOOKAHEAD = 512 - 262 = 250` (zlib's deflate.h), which is below 256.
 * So every role accepts 8 everywhere RFC 7692 allows it (a server answering
 * `server_max_window_bits=8`, a client told `client_max_window_bits=8`), and the codec compresses
 * with zlib's 9 in that case. Decoding with an 8-bit window works as asked. The codec tests
 * check this claim against the linked zlib (and check that a 10-bit stream does fail an 8-bit
 * inflater, so the test can fail).
 *
 * @module
 */

import { createError, createHandshakeError, type HandshakeError } from "../errors.js";
import { type ExtensionOffer, formatExtension } from "../protocol/extension-header.js";

/** The extension token (RFC 7692 section 7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** The smallest and largest LZ77 window, as base-2 logarithms (RFC 7692 section 7.1.2). */
export const MIN_WINDOW_BITS = 8;
/** @see MIN_WINDOW_BITS */
export const MAX_WINDOW_BITS = 15;

/**
 * The window a server answers in `client_max_window_bits` by default, when the offer carries that
 * parameter and the client keeps its compression context (see
 * {@link PerMessageDeflateOptions.clientMaxWindowBits}).
 */
export const DEFAULT_SERVER_CLIENT_WINDOW_BITS = 12;

/** The default {@link PerMessageDeflateOptions.threshold}: smaller messages go uncompressed. */
export const DEFAULT_THRESHOLD = 1024;

/** The outcome of a negotiation, the same object in both roles. */
export interface DeflateParams {
  /** The server resets its compressor after every message (RFC 7692 section 7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message (RFC 7692 section 7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** The largest window the server compresses with, 8..15 (RFC 7692 section 7.1.2.1). */
  serverMaxWindowBits: number;
  /** The largest window the client compresses with, 8..15 (RFC 7692 section 7.1.2.2). */
  clientMaxWindowBits: number;
}

/**
 * permessage-deflate settings. The four protocol parameters mean, per role:
 *
 * | option | as server | as client |
 * |---|---|---|
 * | `serverNoContextTakeover` | answer it (our compressor resets); **on by default**, `false` keeps our context when the offer allows | ask for it; the answer must carry it |
 * | `clientNoContextTakeover` | always answer it (the client must reset) | offer it (our compressor resets) |
 * | `serverMaxWindowBits` | our largest window; answered when the client asked for a limit | ask for it; the answer must carry a value no larger |
 * | `clientMaxWindowBits` | the client's largest window; offers that cannot take the limit are declined | offer it; without it we offer the parameter with no value |
 *
 * By default a server accepts every valid offer, windows included (limiting the client's window to
 * 12 bits where the offer allows it), and answers `server_no_context_takeover` (RFC 7692 section 7.1.1.1 lets a server answer it unasked): its
 * compressor then borrows a shared context for each message instead of keeping one per
 * connection (about 256 KiB at the default window and memLevel), and a compressed broadcast can
 * be encoded once for every recipient. Its decompressor keeps the client's context unless
 * `client_no_context_takeover` was agreed, as the client's compressor may refer back to it.
 */
export interface PerMessageDeflateOptions {
  /**
   * See the table above. Default: `true` as a server (our compressor keeps no context between
   * messages), `false` as a client (we do not ask the server for it).
   */
  serverNoContextTakeover?: boolean;
  /** See the table above. Default `false`. */
  clientNoContextTakeover?: boolean;
  /** See the table above: 8..15. Default: no limit (15). */
  serverMaxWindowBits?: number;
  /**
   * See the table above: 8..15. As a client, default: no limit (15). As a server, default: when
   * the offer carries `client_max_window_bits` (browsers, ws and Python's websockets send it) and
   * the client keeps its context, the answer is `client_max_window_bits=12` (as GWS does): the
   * server's decompressor then keeps a 4 KiB window per connection instead of 32 KiB, about 5 KiB
   * less RSS per idle connection measured (docs/bench/e2e.md), for a little less compression of
   * what clients send. Offers without the parameter are accepted with the client's 15-bit window.
   * Set 15 to keep the full window; a value set here is a hard limit (offers that cannot take it
   * are declined).
   */
  clientMaxWindowBits?: number;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /**
   * zlib compression level, 0..9, or -1 for zlib's own default (6). Default 1 (fastest), as in
   * GWS: WebSocket messages are short and mostly JSON, where level 1 keeps most of the saving
   * (see docs/guide.md) at a fraction of level 6's CPU.
   */
  level?: number;
  /** zlib memLevel, 1..9: compressor memory is about `2^(windowBits+2) + 2^(memLevel+9)`. Default 8. */
  memLevel?: number;
}

/** {@link PerMessageDeflateOptions} with every default filled in and every value checked. */
export interface ResolvedDeflateOptions {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  /** `undefined` when not set (no limit, nothing offered or answered). */
  readonly serverMaxWindowBits: number | undefined;
  /** `undefined` when not set. */
  readonly clientMaxWindowBits: number | undefined;
  readonly threshold: number;
  readonly level: number;
  readonly memLevel: number;
}

/** Which end of the connection we are. */
export type Role = "server" | "client";

/** The parameters one endpoint's codecs need, derived from {@link DeflateParams} and a role. */
export interface CodecParams {
  /** Window of our compressor, 8..15. */
  readonly deflateWindowBits: number;
  /** Our compressor resets after every message. */
  readonly deflateNoContextTakeover: boolean;
  /** Window of the peer's compressor, which our decompressor must hold, 8..15. */
  readonly inflateWindowBits: number;
  /** The peer resets after every message, so our decompressor may too. */
  readonly inflateNoContextTakeover: boolean;
}

function checkBits(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < MIN_WINDOW_BITS || value > MAX_WINDOW_BITS) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be an integer in 8..15, got ${value}`);
  }
  return value;
}

function checkInt(name: string, value: number | undefined, min: number, max: number, dflt: number) {
  if (value === undefined) return dflt;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/**
 * Checks `options` and fills in the defaults, which differ by role only in
 * `serverNoContextTakeover` (on for a server, off for a client).
 *
 * @param role - whose defaults; `"client"` when not given
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a value out of range
 */
export function resolveDeflateOptions(
  options: PerMessageDeflateOptions = {},
  role: Role = "client",
): ResolvedDeflateOptions {
  return {
    serverNoContextTakeover: options.serverNoContextTakeover ?? role === "server",
    clientNoContextTakeover: options.clientNoContextTakeover === true,
    serverMaxWindowBits: checkBits("serverMaxWindowBits", options.serverMaxWindowBits),
    clientMaxWindowBits: checkBits("clientMaxWindowBits", options.clientMaxWindowBits),
    threshold: checkInt(
      "threshold",
      options.threshold,
      0,
      Number.MAX_SAFE_INTEGER,
      DEFAULT_THRESHOLD,
    ),
    level: checkInt("level", options.level, -1, 9, 1),
    memLevel: checkInt("memLevel", options.memLevel, 1, 9, 8),
  };
}

/** The codec parameters of `role` under the negotiated `params`. */
export function codecParams(params: DeflateParams, role: Role): CodecParams {
  const server = role === "server";
  return {
    deflateWindowBits: server ? params.serverMaxWindowBits : params.clientMaxWindowBits,
    deflateNoContextTakeover: server
      ? params.serverNoContextTakeover
      : params.clientNoContextTakeover,
    inflateWindowBits: server ? params.clientMaxWindowBits : params.serverMaxWindowBits,
    inflateNoContextTakeover: server
      ? params.clientNoContextTakeover
      : params.serverNoContextTakeover,
  };
}

/** The four parameters of RFC 7692 section 7.1, as they appeared in one offer or response. */
interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** A value 8..15, or undefined when absent. */
  serverMaxWindowBits: number | undefined;
  /** A value 8..15, `true` when present without a value, undefined when absent. */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * A window-bits value: a decimal integer without leading zeroes in 8..15 (RFC 7692 sections
 * 7.1.2.1 and 7.1.2.2); -1 when invalid.
 */
function parseBits(value: string): number {
  if (!/^[1-9][0-9]?$/.test(value)) return -1;
  const n = Number(value);
  return n >= MIN_WINDOW_BITS && n <= MAX_WINDOW_BITS ? n : -1;
}

/**
 * The parameters of one permessage-deflate element, or the reason it is invalid: an unknown or
 * repeated parameter, a value on a `*_no_context_takeover`, a bad window size (RFC 7692
 * section 7.1: such an offer is declined, such a response fails the connection).
 */
function readParams(offer: ExtensionOffer): ParsedParams | string {
  if (offer.duplicates.length > 0) return `repeated parameter "${offer.duplicates[0]}"`;
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of offer.params) {
    switch (name) {
      case "server_no_context_takeover":
        // RFC 7692 section 7.1.1.1: this parameter has no value.
        if (value !== true) return `${name} takes no value`;
        out.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        // RFC 7692 section 7.1.1.2: this parameter has no value.
        if (value !== true) return `${name} takes no value`;
        out.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        // RFC 7692 section 7.1.2.1: a value is required.
        const bits = value === true ? -1 : parseBits(value);
        if (bits < 0) return `${name} needs a value in 8..15`;
        out.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        // RFC 7692 section 7.1.2.2: no value, or a value in 8..15.
        if (value === true) {
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = parseBits(value);
        if (bits < 0) return `${name} must be in 8..15`;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 section 7.1: an unknown parameter makes the element invalid.
        return `unknown parameter "${name}"`;
    }
  }
  return out;
}

/** The result of a server-side negotiation. */
export interface ServerNegotiation {
  /** The agreed parameters. */
  params: DeflateParams;
  /** The `Sec-WebSocket-Extensions` element to answer with. */
  response: string;
}

/** Accepts one valid offer under the server's options, or declines it (`null`). */
function acceptOffer(offer: ParsedParams, o: ResolvedDeflateOptions): ServerNegotiation | null {
  const response: [string, number | true][] = [];
  // RFC 7692 section 7.1.1.1: an offer with server_no_context_takeover is accepted by answering
  // it; a server MAY also answer it unasked (our default: the compressor keeps no context).
  const serverNoContextTakeover = offer.serverNoContextTakeover || o.serverNoContextTakeover;
  if (serverNoContextTakeover) response.push(["server_no_context_takeover", true]);
  // RFC 7692 section 7.1.1.2: the client's own hint, or the server's demand, both answered.
  const clientNoContextTakeover = offer.clientNoContextTakeover || o.clientNoContextTakeover;
  if (clientNoContextTakeover) response.push(["client_no_context_takeover", true]);

  // RFC 7692 section 7.1.2.1: the client limits our window; we answer the same or a smaller
  // value. Without a limit in the offer we answer nothing and may still use a smaller window.
  const ourLimit = o.serverMaxWindowBits ?? MAX_WINDOW_BITS;
  let serverMaxWindowBits = ourLimit;
  if (offer.serverMaxWindowBits !== undefined) {
    serverMaxWindowBits = Math.min(offer.serverMaxWindowBits, ourLimit);
    response.push(["server_max_window_bits", serverMaxWindowBits]);
  }

  // RFC 7692 section 7.1.2.2: we may limit the client's window only when the offer carries
  // client_max_window_bits; a value in the offer is the client's own limit, and we answer it
  // (or a smaller one) so that our decompressor can use that smaller window.
  let clientMaxWindowBits = MAX_WINDOW_BITS;
  const offered = offer.clientMaxWindowBits;
  if (offered === undefined) {
    // The answer MUST NOT carry client_max_window_bits: a limit we need cannot be imposed.
    if (o.clientMaxWindowBits !== undefined && o.clientMaxWindowBits < MAX_WINDOW_BITS) {
      return null;
    }
  } else {
    const clientLimit = offered === true ? MAX_WINDOW_BITS : offered;
    // Our default, as GWS's: a client that keeps its context gets a 12-bit window, so that our
    // decompressor keeps 4 KiB of its history per connection instead of 32 KiB.
    const wanted =
      o.clientMaxWindowBits ??
      (clientNoContextTakeover ? MAX_WINDOW_BITS : DEFAULT_SERVER_CLIENT_WINDOW_BITS);
    clientMaxWindowBits = Math.min(clientLimit, wanted);
    if (offered !== true || clientMaxWindowBits < MAX_WINDOW_BITS) {
      response.push(["client_max_window_bits", clientMaxWindowBits]);
    }
  }
  return {
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits,
    },
    response: formatExtension(PERMESSAGE_DEFLATE, response),
  };
}

/**
 * Server side (RFC 7692 section 5): picks the first acceptable permessage-deflate offer, in the
 * client's order of preference.
 *
 * An offer with an unknown or repeated parameter, a value on a `*_no_context_takeover` or a
 * window size outside 8..15 is declined, and the next one is considered; so is an offer that
 * cannot honour `options.clientMaxWindowBits`. Offers of other extensions are skipped.
 *
 * @param offers - the parsed `Sec-WebSocket-Extensions` of the request (any extensions)
 * @param options - the server's settings
 * @returns the agreed parameters and the response element, or `null` to answer without
 *   permessage-deflate
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for invalid options
 */
export function negotiateServer(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions | ResolvedDeflateOptions = {},
): ServerNegotiation | null {
  const o = resolveDeflateOptions(options, "server");
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const parsed = readParams(offer);
    if (typeof parsed === "string") continue;
    const accepted = acceptOffer(parsed, o);
    if (accepted !== null) return accepted;
  }
  return null;
}

/**
 * Client side: the permessage-deflate offer for `Sec-WebSocket-Extensions`.
 *
 * `client_max_window_bits` is always offered (with our limit as value, or without a value):
 * our compressor can use any window the server asks for.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for invalid options
 */
export function buildOffer(
  options: PerMessageDeflateOptions | ResolvedDeflateOptions = {},
): string {
  const o = resolveDeflateOptions(options);
  const params: [string, number | true][] = [];
  if (o.serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
  if (o.clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
  if (o.serverMaxWindowBits !== undefined) {
    params.push(["server_max_window_bits", o.serverMaxWindowBits]);
  }
  params.push(["client_max_window_bits", o.clientMaxWindowBits ?? true]);
  return formatExtension(PERMESSAGE_DEFLATE, params);
}

function refused(detail: string): HandshakeError {
  return createHandshakeError("ERR_HANDSHAKE_EXTENSIONS", 101, `permessage-deflate: ${detail}`);
}

/**
 * Client side: checks the server's answer to {@link buildOffer} and returns the agreed
 * parameters (RFC 7692 sections 5 and 7.1).
 *
 * The handshake fails when the answer holds more than one permessage-deflate element, an
 * unknown or repeated parameter, a value that is invalid or breaks the offer
 * (`server_max_window_bits` missing or larger than asked, `client_max_window_bits` without a
 * value or larger than offered), or drops a `server_no_context_takeover` we asked for.
 * `server_no_context_takeover`, `client_no_context_takeover` and `server_max_window_bits` are
 * accepted unasked (sections 7.1.1.1, 7.1.1.2, 7.1.2.1), they only tell us what the server does.
 *
 * @param response - the accepted extensions, as `validateResponse` returns them
 * @param options - the options the offer was built with
 * @returns the parameters, or `null` when the server did not accept permessage-deflate
 * @throws {@link HandshakeError} `ERR_HANDSHAKE_EXTENSIONS`
 */
export function acceptResponse(
  response: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions | ResolvedDeflateOptions = {},
): DeflateParams | null {
  const o = resolveDeflateOptions(options);
  const elements = response.filter((e) => e.name === PERMESSAGE_DEFLATE);
  if (elements.length === 0) return null;
  if (elements.length > 1) throw refused("accepted more than once");
  const parsed = readParams(elements[0]!);
  if (typeof parsed === "string") throw refused(parsed);

  if (o.serverNoContextTakeover && !parsed.serverNoContextTakeover) {
    // RFC 7692 section 7.1.1.1: the server accepts this offer by answering the parameter.
    throw refused("server_no_context_takeover was asked for and not answered");
  }
  let serverMaxWindowBits = MAX_WINDOW_BITS;
  if (o.serverMaxWindowBits !== undefined) {
    // RFC 7692 section 7.1.2.1: accepted with the same or a smaller value.
    if (parsed.serverMaxWindowBits === undefined) {
      throw refused("server_max_window_bits was asked for and not answered");
    }
    if (parsed.serverMaxWindowBits > o.serverMaxWindowBits) {
      throw refused("server_max_window_bits is larger than asked");
    }
  }
  if (parsed.serverMaxWindowBits !== undefined) serverMaxWindowBits = parsed.serverMaxWindowBits;

  let clientMaxWindowBits = o.clientMaxWindowBits ?? MAX_WINDOW_BITS;
  if (parsed.clientMaxWindowBits !== undefined) {
    // RFC 7692 section 7.1.2.2: in a response the parameter carries a value, no larger than
    // the one offered.
    if (parsed.clientMaxWindowBits === true) throw refused("client_max_window_bits needs a value");
    if (parsed.clientMaxWindowBits > clientMaxWindowBits) {
      throw refused("client_max_window_bits is larger than offered");
    }
    clientMaxWindowBits = parsed.clientMaxWindowBits;
  }
  return {
    serverNoContextTakeover: parsed.serverNoContextTakeover,
    clientNoContextTakeover: parsed.clientNoContextTakeover || o.clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
}
