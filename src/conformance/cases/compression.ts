/**
 * Families 12 and 13, permessage-deflate (RFC 7692). Each case negotiates the extension, then
 * sends messages of one size sliced from a data set, compressed by the tester with node:zlib,
 * one after the other (the next once the previous one is echoed), optionally split into frames
 * of a fixed size; every echo must carry the same type and bytes.
 *
 * - 12.x: the five data sets, the default offer, the offer accepted as it is.
 * - 13.x: one data set (JSON) under seven parameter variants: context takeover on or off,
 *   `server_max_window_bits` 8 or 15, and a list of three offers to choose from.
 *
 * A peer that does not agree to permessage-deflate gets UNIMPLEMENTED.
 *
 * @module
 */

import type { AcceptedDeflate, CaseDeflate, ConformanceCase } from "../types.js";
import { CORPORA, type Corpus } from "./corpus.js";
import { CLOSE_NORMALLY, defineCase, NORMAL } from "./define.js";

/** [message size, message count, timeout in seconds, frame size (0: one frame)] */
const SIZES: readonly (readonly [number, number, number, number])[] = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
];

/** Messages per case in quick mode. */
const QUICK_COUNT = 10;

/** What a client asks for in one offer (Autobahn's offer model). */
interface Offer {
  readonly serverNoContextTakeover: boolean;
  /** 0: not asked. */
  readonly serverMaxWindowBits: number;
}

/** The header element of an offer: the tester always offers both client parameters. */
function offerString(o: Offer): string {
  let s = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
  if (o.serverNoContextTakeover) s += "; server_no_context_takeover";
  if (o.serverMaxWindowBits !== 0) s += `; server_max_window_bits=${o.serverMaxWindowBits}`;
  return s;
}

/** A client offer as the tester (a server) reads it; null when it is malformed. */
interface ParsedOffer {
  /** Always true: a client that does not offer it still has to accept it. */
  readonly acceptsNoContextTakeover: boolean;
  readonly acceptsMaxWindowBits: boolean;
  readonly serverNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
}

function bitsOf(v: string | true): number | null {
  if (v === true || !/^[0-9]{1,2}$/.test(v)) return null;
  const n = Number(v);
  return n >= 8 && n <= 15 ? n : null;
}

function parseOffer(params: ReadonlyMap<string, string | true>): ParsedOffer | null {
  let acceptsMaxWindowBits = false;
  let serverNoContextTakeover = false;
  let serverMaxWindowBits = 0;
  for (const [name, value] of params) {
    switch (name) {
      case "client_max_window_bits":
        if (value !== true && bitsOf(value) === null) return null;
        acceptsMaxWindowBits = true;
        break;
      case "client_no_context_takeover":
        if (value !== true) return null;
        break;
      case "server_no_context_takeover":
        if (value !== true) return null;
        serverNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = bitsOf(value);
        if (bits === null) return null;
        serverMaxWindowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  return {
    acceptsNoContextTakeover: true,
    acceptsMaxWindowBits,
    serverNoContextTakeover,
    serverMaxWindowBits,
  };
}

/** Accepts `offer`, asking the client for no context takeover and/or a window limit. */
function acceptWith(
  offer: ParsedOffer,
  clientNoContextTakeover: boolean,
  clientMaxWindowBits: number,
): AcceptedDeflate {
  let response = "permessage-deflate";
  if (offer.serverNoContextTakeover) response += "; server_no_context_takeover";
  if (offer.serverMaxWindowBits !== 0) {
    response += `; server_max_window_bits=${offer.serverMaxWindowBits}`;
  }
  if (clientNoContextTakeover) response += "; client_no_context_takeover";
  if (clientMaxWindowBits !== 0) response += `; client_max_window_bits=${clientMaxWindowBits}`;
  return {
    response,
    serverNoContextTakeover: offer.serverNoContextTakeover,
    serverWindowBits: offer.serverMaxWindowBits || 15,
    clientNoContextTakeover,
  };
}

/** A server acceptance rule: what to ask of the client, and what the offer must allow. */
interface Rule {
  readonly clientNoContextTakeover: boolean;
  /** 0: no limit asked. */
  readonly clientMaxWindowBits: number;
  readonly text: string;
}

function acceptFirst(rules: readonly Rule[]): CaseDeflate["accept"] {
  return (offers) => {
    const parsed = offers.map(parseOffer).filter((o): o is ParsedOffer => o !== null);
    for (const rule of rules) {
      for (const o of parsed) {
        if (rule.clientNoContextTakeover && !o.acceptsNoContextTakeover) continue;
        if (rule.clientMaxWindowBits !== 0 && !o.acceptsMaxWindowBits) continue;
        return acceptWith(o, rule.clientNoContextTakeover, rule.clientMaxWindowBits);
      }
    }
    return null;
  };
}

const AS_OFFERED: Rule = {
  clientNoContextTakeover: false,
  clientMaxWindowBits: 0,
  text: "(false, 0)",
};
const NO_TAKEOVER: Rule = {
  clientNoContextTakeover: true,
  clientMaxWindowBits: 0,
  text: "(true, 0)",
};

/** The seven parameter variants of family 13: the offers sent, and the server's rules. */
const VARIANTS: readonly { offers: Offer[]; rules: Rule[] }[] = [
  { offers: [{ serverNoContextTakeover: false, serverMaxWindowBits: 0 }], rules: [AS_OFFERED] },
  { offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 0 }], rules: [NO_TAKEOVER] },
  {
    offers: [{ serverNoContextTakeover: false, serverMaxWindowBits: 8 }],
    rules: [{ clientNoContextTakeover: false, clientMaxWindowBits: 8, text: "(false, 8)" }],
  },
  {
    offers: [{ serverNoContextTakeover: false, serverMaxWindowBits: 15 }],
    rules: [{ clientNoContextTakeover: false, clientMaxWindowBits: 15, text: "(false, 15)" }],
  },
  {
    offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 8 }],
    rules: [{ clientNoContextTakeover: true, clientMaxWindowBits: 8, text: "(true, 8)" }],
  },
  {
    offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 15 }],
    rules: [{ clientNoContextTakeover: true, clientMaxWindowBits: 15, text: "(true, 15)" }],
  },
  {
    offers: [
      { serverNoContextTakeover: true, serverMaxWindowBits: 8 },
      { serverNoContextTakeover: true, serverMaxWindowBits: 0 },
      { serverNoContextTakeover: false, serverMaxWindowBits: 0 },
    ],
    rules: [
      { clientNoContextTakeover: true, clientMaxWindowBits: 8, text: "(true, 8)" },
      NO_TAKEOVER,
      AS_OFFERED,
    ],
  },
];

function describeOffers(offers: readonly Offer[]): string {
  return offers.map((o) => `(${o.serverNoContextTakeover}, ${o.serverMaxWindowBits})`).join(", ");
}

function compressionCase(
  id: string,
  corpus: Corpus,
  deflate: CaseDeflate,
  [length, count, wait, frame]: readonly [number, number, number, number],
  offersText: string,
): ConformanceCase {
  const kind = corpus.binary ? "binary" : "text";
  return defineCase(
    id,
    `Send ${count} compressed ${kind} messages of ${length} bytes from the ${corpus.name} data set${frame ? `, split into frames of ${frame} bytes` : ""}; offer permessage-deflate ${offersText}.`,
    `Every message is echoed with the same bytes, within ${wait} s in all.`,
    (c, settings) => {
      c.wirelog(false);
      c.expectClose(CLOSE_NORMALLY);
      if (c.deflate === null) {
        c.setBehavior("UNIMPLEMENTED", "The peer did not agree to permessage-deflate.");
        c.wirelog(true);
        c.sendClose(NORMAL);
        return undefined;
      }
      const total = settings.quick ? Math.min(count, QUICK_COUNT) : count;
      c.setBehavior(
        "FAILED",
        `Not all ${total} echoes arrived (the case waits at most ${wait} s).`,
      );
      c.closeAfter(wait * 1000);
      const data = corpus.data();
      let at = 0;
      let sent = 0;
      let last: Buffer = Buffer.alloc(0);
      const sendOne = () => {
        const end = at + length;
        last =
          end <= data.length
            ? data.subarray(at, end)
            : Buffer.concat([data.subarray(at), data.subarray(0, end - data.length)]);
        at = end % data.length;
        sent++;
        c.sendMessage(last, { binary: corpus.binary, ...(frame ? { fragmentSize: frame } : {}) });
      };
      sendOne();
      return {
        onMessage(echo: Buffer, binary: boolean) {
          const fail = (why: string) => {
            c.setBehavior("FAILED", why);
            c.wirelog(true);
            c.sendClose(NORMAL);
          };
          if (binary !== corpus.binary) {
            fail(`Echo ${sent} came back as ${binary ? "binary" : "text"}, sent as ${kind}.`);
          } else if (echo.length !== length) {
            fail(`Echo ${sent} has ${echo.length} bytes, ${length} were sent.`);
          } else if (!echo.equals(last)) {
            fail(`Echo ${sent} differs from the message sent.`);
          } else if (sent < total) {
            sendOne();
          } else {
            c.setBehavior("OK", `Received all ${total} echoes in time.`);
            c.wirelog(true);
            c.sendClose(NORMAL);
          }
        },
      };
    },
    { reportTime: true, deflate },
  );
}

const DEFAULT_OFFER: Offer = { serverNoContextTakeover: false, serverMaxWindowBits: 0 };

/** The cases of family 12. */
export const COMPRESSION_CASES: readonly ConformanceCase[] = CORPORA.flatMap((corpus, j) =>
  SIZES.map((size, i) =>
    compressionCase(
      `12.${j + 1}.${i + 1}`,
      corpus,
      { offers: [offerString(DEFAULT_OFFER)], accept: acceptFirst([AS_OFFERED]) },
      size,
      "with the default offer",
    ),
  ),
);

/** The cases of family 13. */
export const COMPRESSION_PARAMETER_CASES: readonly ConformanceCase[] = VARIANTS.flatMap((v, j) =>
  SIZES.map((size, i) =>
    compressionCase(
      `13.${j + 1}.${i + 1}`,
      CORPORA[0]!,
      { offers: v.offers.map(offerString), accept: acceptFirst(v.rules) },
      size,
      `(server_no_context_takeover, server_max_window_bits) = ${describeOffers(v.offers)}; a server tester accepts with (client_no_context_takeover, client_max_window_bits) = ${v.rules.map((r) => r.text).join(" or ")}`,
    ),
  ),
);

/** Subcategory titles of families 12 and 13. */
export const COMPRESSION_SUBCATEGORIES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(CORPORA.map((c, j) => [`12.${j + 1}`, c.description])),
  ...Object.fromEntries(
    VARIANTS.map((v, j) => [
      `13.${j + 1}`,
      `JSON data set; offers (server_no_context_takeover, server_max_window_bits) ${describeOffers(v.offers)}`,
    ]),
  ),
};
