import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HandshakeError, isTidewsError } from "../../src/errors.js";
import {
  type ExtensionOffer,
  formatExtension,
  formatExtensions,
  isToken,
  parseExtensions,
} from "../../src/protocol/extension-header.js";

/** A plain form of the parse result, easy to compare. */
function plain(offers: ExtensionOffer[]): [string, [string, string | true][], string[]][] {
  return offers.map((o) => [o.name, [...o.params], [...o.duplicates]]);
}

function assertMalformed(value: string | string[]): void {
  assert.throws(
    () => parseExtensions(value),
    (e: unknown) =>
      e instanceof HandshakeError && e.code === "ERR_HANDSHAKE_EXTENSIONS" && e.status === 400,
    JSON.stringify(value),
  );
}

describe("isToken", () => {
  it("accepts tchar strings and rejects separators, controls and non-ASCII", () => {
    for (const t of ["a", "permessage-deflate", "x!#$%&'*+-.^_`|~9", "A1"])
      assert.ok(isToken(t), t);
    for (const t of ["", "a b", "a,b", "a;b", 'a"', "a=b", "(a)", "a/b", "a\tb", "é", "a\u0000"]) {
      assert.ok(!isToken(t), JSON.stringify(t));
    }
  });
});

describe("parseExtensions", () => {
  const valid: [string, ReturnType<typeof plain>][] = [
    ["permessage-deflate", [["permessage-deflate", [], []]]],
    [
      "permessage-deflate; client_max_window_bits",
      [["permessage-deflate", [["client_max_window_bits", true]], []]],
    ],
    [
      "permessage-deflate;server_max_window_bits=10;client_no_context_takeover",
      [
        [
          "permessage-deflate",
          [
            ["server_max_window_bits", "10"],
            ["client_no_context_takeover", true],
          ],
          [],
        ],
      ],
    ],
    // OWS around ';', '=' and ','.
    [
      " foo ;\tbar = 1 , baz ",
      [
        ["foo", [["bar", "1"]], []],
        ["baz", [], []],
      ],
    ],
    // A quoted value that is a token once unquoted (RFC 6455 section 9.1).
    ['foo; bar="10"', [["foo", [["bar", "10"]], []]]],
    ['foo; bar="a\\b"', [["foo", [["bar", "ab"]], []]]],
    // The same extension offered several times, in order of preference.
    [
      "permessage-deflate; server_max_window_bits=10, permessage-deflate",
      [
        ["permessage-deflate", [["server_max_window_bits", "10"]], []],
        ["permessage-deflate", [], []],
      ],
    ],
    // Empty list elements are ignored (RFC 7230 section 7).
    [
      ", foo,, bar ,",
      [
        ["foo", [], []],
        ["bar", [], []],
      ],
    ],
    // A duplicated parameter is kept (first value) and reported.
    [
      "foo; a=1; b; a=2; b",
      [
        [
          "foo",
          [
            ["a", "1"],
            ["b", true],
          ],
          ["a", "b"],
        ],
      ],
    ],
    // Names keep their case.
    ["Foo; Bar", [["Foo", [["Bar", true]], []]]],
  ];
  for (const [value, expected] of valid) {
    it(`parses ${JSON.stringify(value)}`, () => {
      assert.deepEqual(plain(parseExtensions(value)), expected);
    });
  }

  it("returns [] without a header", () => {
    assert.deepEqual(parseExtensions(undefined), []);
  });

  it("joins several header lines into one list", () => {
    assert.deepEqual(plain(parseExtensions(["a; x=1", "b"])), [
      ["a", [["x", "1"]], []],
      ["b", [], []],
    ]);
  });

  const invalid = [
    "",
    " ",
    ",",
    ";",
    "foo;",
    "foo; ",
    "foo;;bar",
    "foo; =1",
    "foo; a=",
    "foo; a= ;",
    "foo bar",
    "foo; a b",
    "foo; a=1 2",
    "foo; a=1=2",
    'foo; a="',
    'foo; a="1',
    'foo; a=""',
    'foo; a="1 2"',
    'foo; a="a,b"',
    'foo; a="\\',
    "foo; a=1;, bar",
    "foo / bar",
    "(foo)",
    "foo\r\n",
    "foo\u0000",
    "föo",
    'foo; a=1"',
    "foo; a=@",
  ];
  for (const value of invalid) {
    it(`rejects ${JSON.stringify(value)} with 400`, () => assertMalformed(value));
  }

  it("rejects an array of empty lines", () => assertMalformed(["", " , "]));

  it("gives a HandshakeError that is a tidews error", () => {
    try {
      parseExtensions("foo;");
      assert.fail("no error");
    } catch (e) {
      assert.ok(isTidewsError(e, "ERR_HANDSHAKE_EXTENSIONS"));
      assert.match((e as Error).message, /parameter/);
    }
  });
});

describe("formatExtension", () => {
  it("writes names, bare parameters and values", () => {
    assert.equal(formatExtension("permessage-deflate"), "permessage-deflate");
    assert.equal(
      formatExtension("permessage-deflate", [
        ["server_no_context_takeover", true],
        ["client_max_window_bits", 10],
      ]),
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
    );
    assert.equal(formatExtension("x", new Map([["a", "b"]])), "x; a=b");
    assert.equal(formatExtension("x", { a: true, b: 9 }), "x; a; b=9");
  });

  it("refuses what is not a token", () => {
    for (const [name, params] of [
      ["a b", []],
      ["x", [["a;", true]]],
      ["x", [["a", "1 2"]]],
      ["x", [["a", ""]]],
      ["x\r\n", []],
    ] as [string, [string, string | true][]][]) {
      assert.throws(
        () => formatExtension(name, params),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
      );
    }
  });

  it("joins several extensions", () => {
    assert.equal(formatExtensions([{ name: "a", params: { x: 1 } }, { name: "b" }]), "a; x=1, b");
  });
});

describe("parse and format round trip", () => {
  const tchars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
  const token = fc
    .array(fc.constantFrom(...tchars.split("")), { minLength: 1, maxLength: 12 })
    .map((a) => a.join(""));
  const offer = fc
    .tuple(
      token,
      fc.uniqueArray(fc.tuple(token, fc.oneof(fc.constant(true as const), token)), {
        selector: (p) => p[0],
        maxLength: 5,
      }),
    )
    .map(([name, params]) => ({ name, params }));
  const ows = fc.constantFrom("", " ", "\t", "  ", " \t");

  it("parse(formatExtensions(x)) == x", () => {
    fc.assert(
      fc.property(fc.array(offer, { minLength: 1, maxLength: 5 }), (offers) => {
        const parsed = parseExtensions(formatExtensions(offers));
        assert.deepEqual(
          parsed.map((o) => ({ name: o.name, params: [...o.params] })),
          offers,
        );
        for (const o of parsed) assert.deepEqual(o.duplicates, []);
      }),
      { numRuns: 300 },
    );
  });

  it("survives any OWS and quoting of values", () => {
    fc.assert(
      fc.property(
        fc.array(offer, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(ows, ows, fc.boolean()), { minLength: 64, maxLength: 64 }),
        (offers, noise) => {
          let k = 0;
          const next = () => noise[k++ % noise.length]!;
          const text = offers
            .map((o) => {
              let s = o.name;
              for (const [name, value] of o.params) {
                const [a, b, quote] = next();
                s += `${a};${b}${name}`;
                if (value !== true) {
                  const [c, d] = next();
                  // Escape a character inside the quotes now and then: it must unquote to itself.
                  const quoted = quote ? `"${value.replace(/^(.)/, "\\$1")}"` : value;
                  s += `${c}=${d}${quoted}`;
                }
              }
              const [e, f] = next();
              return `${e}${s}${f}`;
            })
            .join(",");
          const parsed = parseExtensions(text);
          assert.deepEqual(
            parsed.map((o) => ({ name: o.name, params: [...o.params] })),
            offers,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws anything but a HandshakeError on random input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          parseExtensions(s);
        } catch (e) {
          assert.ok(e instanceof HandshakeError && e.code === "ERR_HANDSHAKE_EXTENSIONS");
        }
      }),
      { numRuns: 1000 },
    );
  });
});
