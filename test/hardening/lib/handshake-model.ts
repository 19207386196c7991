// Handshake fuzzing: opening-handshake requests built field by field, each field valid or broken
// in one of the ways clients and attackers break it, and the status RFC 6455 section 4.2.1 (with
// RFC 7230 for the lists and tokens) says the server must answer. Shared by
// test/hardening/fuzz-handshake.test.ts and scripts/fuzz.ts.
import fc from "fast-check";

/** A request as the server's HTTP layer hands it over (header names in lower case). */
export interface HandshakeCase {
  readonly method: string;
  readonly httpVersion: string;
  readonly host: string | undefined;
  readonly upgrade: string | undefined;
  readonly connection: string | undefined;
  /** Several values: the header was repeated. */
  readonly key: string | readonly string[] | undefined;
  readonly version: string | readonly string[] | undefined;
  readonly protocol: string | undefined;
  readonly origin: string | undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const list = (elements: readonly string[]): fc.Arbitrary<string> =>
  fc
    .array(fc.tuple(fc.constantFrom(...elements), fc.constantFrom("", " ", "\t", "  ")), {
      minLength: 1,
      maxLength: 4,
    })
    .map((xs) => xs.map(([e, ws]) => `${ws}${e}${ws}`).join(","));

const validKey = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => Buffer.from(b).toString("base64"));

const brokenKey = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 32 }).map((b) => Buffer.from(b).toString("base64")),
  validKey.map((k) => k.replace("==", "")),
  validKey.map((k) => `${k.slice(0, 5)}*${k.slice(6)}`),
  validKey.map((k) => `${k}=`),
  validKey.map((k) => k.replace(/[A-Za-z]/, "-")),
  fc.string({ maxLength: 30 }),
);

const optional = <T>(arb: fc.Arbitrary<T>, freq = 8): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq });

/** One request; mostly valid fields, so that the later checks get exercised too. */
export const handshakeCase: fc.Arbitrary<HandshakeCase> = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant("GET") },
    { weight: 1, arbitrary: fc.constantFrom("POST", "HEAD", "PUT", "OPTIONS", "CONNECT") },
  ),
  httpVersion: fc.oneof(
    { weight: 12, arbitrary: fc.constant("1.1") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "1.0",
        "2.0",
        "1.2",
        "0.9",
        "1",
        "1.",
        ".1",
        "x.y",
        "1.1.1",
        "10.0",
        "01.1",
      ),
    },
  ),
  host: optional(fc.constantFrom("127.0.0.1", "example.com:8080"), 12),
  upgrade: optional(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("websocket", "WebSocket", "WEBSOCKET") },
      { weight: 2, arbitrary: list(["websocket", "h2c", "foo/1", "", "web socket", "websockets"]) },
    ),
    12,
  ),
  connection: optional(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("Upgrade", "upgrade", "keep-alive, Upgrade") },
      {
        weight: 2,
        arbitrary: list(["Upgrade", "keep-alive", "close", "", "upgrades", "HTTP2-Settings"]),
      },
    ),
    12,
  ),
  key: fc.oneof(
    { weight: 12, arbitrary: validKey },
    { weight: 2, arbitrary: brokenKey },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.array(validKey, { minLength: 2, maxLength: 2 }) },
  ),
  version: fc.oneof(
    { weight: 12, arbitrary: fc.constant("13") },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "8",
        "7",
        "0",
        "013",
        "999",
        "1000",
        "13 ",
        "+13",
        "-1",
        "abc",
        "",
        "13, 8",
        "1.3",
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(["13", "13"]) },
  ),
  protocol: optional(
    list(["chat", "superchat", "v1.tidews", "", "a b", "x/y", "chat", "[x]", "é"]),
    3,
  ),
  origin: optional(fc.constantFrom("https://example.com", "null")),
});

/** The headers object of `c`, as Node's http parser builds it. */
export function headersOf(c: HandshakeCase): Record<string, string | string[] | undefined> {
  const h: Record<string, string | string[] | undefined> = {};
  if (c.host !== undefined) h.host = c.host;
  if (c.upgrade !== undefined) h.upgrade = c.upgrade;
  if (c.connection !== undefined) h.connection = c.connection;
  if (c.key !== undefined) h["sec-websocket-key"] = typeof c.key === "string" ? c.key : [...c.key];
  if (c.version !== undefined) {
    h["sec-websocket-version"] = typeof c.version === "string" ? c.version : [...c.version];
  }
  if (c.protocol !== undefined) h["sec-websocket-protocol"] = c.protocol;
  if (c.origin !== undefined) h.origin = c.origin;
  return h;
}

/** RFC 7230 section 7 list elements: split on commas, OWS trimmed, empty ones dropped. */
function elements(v: string): string[] {
  return v
    .split(",")
    .map((e) => e.replace(/^[ \t]+|[ \t]+$/g, ""))
    .filter((e) => e !== "");
}

/**
 * The status the server must answer `c` with (101 when it may switch protocols), in the order
 * of RFC 6455 section 4.2.1: the method (405 with Allow, RFC 7231 section 6.5.5), HTTP/1.1 or
 * later, Host, the `websocket` token in Upgrade, the `upgrade` token in Connection, one key that
 * decodes to 16 bytes, one version: 13 or 426 for another number (section 4.4), 400 for what is
 * not a number; and the subprotocols, unique tokens.
 */
export function expectedStatus(c: HandshakeCase): number {
  if (c.method !== "GET") return 405;
  const v = /^(\d+)\.(\d+)$/.exec(c.httpVersion);
  if (v === null) return 400;
  const major = Number(v[1]);
  if (major < 1 || (major === 1 && Number(v[2]) < 1)) return 400;
  if (c.host === undefined) return 400;
  if (c.upgrade === undefined || !elements(c.upgrade).some((e) => e.toLowerCase() === "websocket"))
    return 400;
  if (
    c.connection === undefined ||
    !elements(c.connection).some((e) => e.toLowerCase() === "upgrade")
  ) {
    return 400;
  }
  if (typeof c.key !== "string") return 400;
  const decoded = Buffer.from(c.key, "base64");
  if (c.key.length !== 24 || !/^[A-Za-z0-9+/]+==$/.test(c.key) || decoded.length !== 16) return 400;
  if (typeof c.version !== "string" || c.version.includes(",")) return 400;
  if (c.version !== "13") return /^\d{1,3}$/.test(c.version) ? 426 : 400;
  if (c.protocol !== undefined) {
    const ps = elements(c.protocol);
    if (ps.length === 0 || ps.some((p) => !TOKEN.test(p)) || new Set(ps).size !== ps.length)
      return 400;
  }
  return 101;
}

/** The request as bytes on the wire (repeated headers written as repeated lines). */
export function requestText(c: HandshakeCase, path = "/"): string {
  const lines = [`${c.method} ${path} HTTP/${c.httpVersion}`];
  const add = (name: string, v: string | readonly string[] | undefined): void => {
    if (v === undefined) return;
    for (const x of typeof v === "string" ? [v] : v) lines.push(`${name}: ${x}`);
  };
  add("Host", c.host);
  add("Upgrade", c.upgrade);
  add("Connection", c.connection);
  add("Sec-WebSocket-Key", c.key);
  add("Sec-WebSocket-Version", c.version);
  add("Sec-WebSocket-Protocol", c.protocol);
  add("Origin", c.origin);
  return `${lines.join("\r\n")}\r\n\r\n`;
}
