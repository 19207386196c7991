import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  acceptResponse,
  buildOffer,
  codecParams,
  type DeflateParams,
  negotiateServer,
  type PerMessageDeflateOptions,
  resolveDeflateOptions,
} from "../../src/deflate/negotiation.js";
import { HandshakeError, isTidewsError } from "../../src/errors.js";
import { parseExtensions } from "../../src/protocol/extension-header.js";

function params(sNct: boolean, cNct: boolean, sBits: number, cBits: number): DeflateParams {
  return {
    serverNoContextTakeover: sNct,
    clientNoContextTakeover: cNct,
    serverMaxWindowBits: sBits,
    clientMaxWindowBits: cBits,
  };
}

const DEFAULT = params(false, false, 15, 15);

describe("negotiateServer", () => {
  // [request header, server options, expected response or null, expected params]. The table is
  // about the parameters a server that keeps its context answers: each row runs with
  // `serverNoContextTakeover: false` unless the row sets it (the default is covered below).
  const table: [string, PerMessageDeflateOptions, string | null, DeflateParams | null][] = [
    ["permessage-deflate", {}, "permessage-deflate", DEFAULT],
    // The client's window is limited to 12 bits by default when the offer allows it.
    [
      "permessage-deflate; client_max_window_bits",
      {},
      "permessage-deflate; client_max_window_bits=12",
      params(false, false, 15, 12),
    ],
    // clientMaxWindowBits: 15 keeps the client's full window.
    [
      "permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 15 },
      "permessage-deflate",
      DEFAULT,
    ],
    // A client that resets its context anyway keeps its window: no history is kept for it.
    [
      "permessage-deflate; client_max_window_bits; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
      params(false, true, 15, 15),
    ],
    [
      "permessage-deflate; client_max_window_bits=10",
      {},
      "permessage-deflate; client_max_window_bits=10",
      params(false, false, 15, 10),
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      {},
      "permessage-deflate; server_max_window_bits=10",
      params(false, false, 10, 15),
    ],
    [
      'permessage-deflate; server_max_window_bits="12"',
      {},
      "permessage-deflate; server_max_window_bits=12",
      params(false, false, 12, 15),
    ],
    [
      "permessage-deflate; server_max_window_bits=8",
      {},
      "permessage-deflate; server_max_window_bits=8",
      params(false, false, 8, 15),
    ],
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      {},
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      params(true, true, 15, 15),
    ],
    // Server options: always answer the no_context_takeover parameters.
    [
      "permessage-deflate",
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      params(true, true, 15, 15),
    ],
    // Our own window limit: answered only when the client asked for one.
    [
      "permessage-deflate",
      { serverMaxWindowBits: 10 },
      "permessage-deflate",
      params(false, false, 10, 15),
    ],
    [
      "permessage-deflate; server_max_window_bits=12",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10",
      params(false, false, 10, 15),
    ],
    [
      "permessage-deflate; server_max_window_bits=9",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=9",
      params(false, false, 9, 15),
    ],
    // Limiting the client needs client_max_window_bits in the offer.
    [
      "permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 11 },
      "permessage-deflate; client_max_window_bits=11",
      params(false, false, 15, 11),
    ],
    [
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: 11 },
      "permessage-deflate; client_max_window_bits=9",
      params(false, false, 15, 9),
    ],
    ["permessage-deflate", { clientMaxWindowBits: 11 }, null, null],
    ["permessage-deflate", { clientMaxWindowBits: 15 }, "permessage-deflate", DEFAULT],
    // Invalid offers are declined.
    ["permessage-deflate; server_max_window_bits", {}, null, null],
    ["permessage-deflate; server_max_window_bits=7", {}, null, null],
    ["permessage-deflate; server_max_window_bits=16", {}, null, null],
    ["permessage-deflate; server_max_window_bits=010", {}, null, null],
    ["permessage-deflate; server_max_window_bits=1e1", {}, null, null],
    ["permessage-deflate; client_max_window_bits=0", {}, null, null],
    ["permessage-deflate; client_max_window_bits=abc", {}, null, null],
    ["permessage-deflate; server_no_context_takeover=1", {}, null, null],
    ["permessage-deflate; client_no_context_takeover=true", {}, null, null],
    ["permessage-deflate; x_unknown", {}, null, null],
    ["permessage-deflate; Server_No_Context_Takeover", {}, null, null],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, null, null],
    ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", {}, null, null],
    ["x-webkit-deflate-frame", {}, null, null],
    // Several offers: the first acceptable one wins.
    [
      "permessage-deflate; server_max_window_bits=20, permessage-deflate; client_max_window_bits=12",
      {},
      "permessage-deflate; client_max_window_bits=12",
      params(false, false, 15, 12),
    ],
    [
      "x-foo, permessage-deflate; foo, permessage-deflate; server_no_context_takeover",
      {},
      "permessage-deflate; server_no_context_takeover",
      params(true, false, 15, 15),
    ],
    [
      "permessage-deflate, permessage-deflate; server_no_context_takeover",
      {},
      "permessage-deflate",
      DEFAULT,
    ],
    [
      "permessage-deflate, permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
      params(false, false, 15, 10),
    ],
  ];
  for (const [header, options, response, expected] of table) {
    it(`${header} with ${JSON.stringify(options)}`, () => {
      const result = negotiateServer(parseExtensions(header), {
        serverNoContextTakeover: false,
        ...options,
      });
      if (response === null) {
        assert.equal(result, null);
        return;
      }
      assert.ok(result !== null);
      assert.equal(result.response, response);
      assert.deepEqual(result.params, expected);
    });
  }

  describe("by default, answers server_no_context_takeover (RFC 7692 section 7.1.1.1)", () => {
    // [request header, server options, expected response, expected params]
    const defaults: [string, PerMessageDeflateOptions, string, DeflateParams][] = [
      [
        "permessage-deflate",
        {},
        "permessage-deflate; server_no_context_takeover",
        params(true, false, 15, 15),
      ],
      // What browsers offer: the server's compressor resets, the client keeps its context.
      [
        "permessage-deflate; client_max_window_bits",
        {},
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=12",
        params(true, false, 15, 12),
      ],
      [
        "permessage-deflate; client_max_window_bits=10",
        {},
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        params(true, false, 15, 10),
      ],
      [
        "permessage-deflate; server_max_window_bits=10",
        {},
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        params(true, false, 10, 15),
      ],
      [
        "permessage-deflate; client_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        params(true, true, 15, 15),
      ],
      [
        "permessage-deflate; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover",
        params(true, false, 15, 15),
      ],
      // Other options leave the default alone.
      [
        "permessage-deflate",
        { level: 1, memLevel: 4, threshold: 0 },
        "permessage-deflate; server_no_context_takeover",
        params(true, false, 15, 15),
      ],
      // Opting out keeps the context when the offer allows it ...
      [
        "permessage-deflate; client_max_window_bits",
        { serverNoContextTakeover: false },
        "permessage-deflate; client_max_window_bits=12",
        params(false, false, 15, 12),
      ],
      // ... and a client that asks for it still gets it.
      [
        "permessage-deflate; server_no_context_takeover",
        { serverNoContextTakeover: false },
        "permessage-deflate; server_no_context_takeover",
        params(true, false, 15, 15),
      ],
    ];
    for (const [header, options, response, expected] of defaults) {
      it(`${header} with ${JSON.stringify(options)}`, () => {
        const result = negotiateServer(parseExtensions(header), options);
        assert.ok(result !== null);
        assert.equal(result.response, response);
        assert.deepEqual(result.params, expected);
        // A client that made the offer with the defaults accepts the answer and agrees.
        const [answer] = parseExtensions(result.response);
        assert.ok(answer !== undefined);
        const clientView = acceptResponse([answer], {
          clientMaxWindowBits: /client_max_window_bits=(\d+)/.exec(header)
            ? Number(/client_max_window_bits=(\d+)/.exec(header)?.[1])
            : undefined,
          serverMaxWindowBits: /server_max_window_bits=(\d+)/.exec(header)
            ? Number(/server_max_window_bits=(\d+)/.exec(header)?.[1])
            : undefined,
          serverNoContextTakeover: header.includes("server_no_context_takeover"),
          clientNoContextTakeover: header.includes("client_no_context_takeover"),
        });
        assert.equal(clientView?.serverNoContextTakeover, expected.serverNoContextTakeover);
        assert.equal(clientView?.clientNoContextTakeover, expected.clientNoContextTakeover);
      });
    }

    it("is a server default only: a client does not ask for it", () => {
      assert.equal(resolveDeflateOptions({}, "server").serverNoContextTakeover, true);
      assert.equal(resolveDeflateOptions({}, "client").serverNoContextTakeover, false);
      assert.equal(resolveDeflateOptions({}).serverNoContextTakeover, false);
      assert.equal(
        resolveDeflateOptions({ serverNoContextTakeover: false }, "server").serverNoContextTakeover,
        false,
      );
      assert.equal(buildOffer(), "permessage-deflate; client_max_window_bits");
      assert.ok(!buildOffer({}).includes("server_no_context_takeover"));
    });

    it("lets the server's side of the codecs reset and keeps the client's context", () => {
      const result = negotiateServer(parseExtensions("permessage-deflate; client_max_window_bits"));
      assert.ok(result !== null);
      assert.deepEqual(codecParams(result.params, "server"), {
        deflateWindowBits: 15,
        deflateNoContextTakeover: true,
        inflateWindowBits: 12,
        inflateNoContextTakeover: false,
      });
    });
  });

  it("returns null without offers", () => {
    assert.equal(negotiateServer([]), null);
  });

  it("refuses invalid options", () => {
    for (const o of [
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 16 },
      { serverMaxWindowBits: 10.5 },
      { threshold: -1 },
      { level: 10 },
      { memLevel: 0 },
    ]) {
      assert.throws(
        () => negotiateServer(parseExtensions("permessage-deflate"), o),
        (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
        JSON.stringify(o),
      );
    }
  });

  it("answers only with values the offer allows (property)", () => {
    const bits = fc.oneof(fc.constant(undefined), fc.integer({ min: 8, max: 15 }));
    fc.assert(
      fc.property(
        fc.record({
          sNct: fc.boolean(),
          cNct: fc.boolean(),
          sBits: bits,
          cBits: fc.oneof(
            fc.constant(undefined),
            fc.constant(true as const),
            fc.integer({ min: 8, max: 15 }),
          ),
        }),
        fc.record({
          serverNoContextTakeover: fc.boolean(),
          clientNoContextTakeover: fc.boolean(),
          serverMaxWindowBits: bits,
          clientMaxWindowBits: bits,
        }),
        (offer, options) => {
          let header = "permessage-deflate";
          if (offer.sNct) header += "; server_no_context_takeover";
          if (offer.cNct) header += "; client_no_context_takeover";
          if (offer.sBits !== undefined) header += `; server_max_window_bits=${offer.sBits}`;
          if (offer.cBits === true) header += "; client_max_window_bits";
          else if (offer.cBits !== undefined) header += `; client_max_window_bits=${offer.cBits}`;
          const result = negotiateServer(parseExtensions(header), options);
          const canLimitClient = offer.cBits !== undefined;
          if (result === null) {
            // Declined only when the client's window must be limited and cannot be.
            assert.ok(!canLimitClient && (options.clientMaxWindowBits ?? 15) < 15);
            return;
          }
          const p = result.params;
          assert.ok(p.serverMaxWindowBits <= (offer.sBits ?? 15));
          assert.ok(p.serverMaxWindowBits <= (options.serverMaxWindowBits ?? 15));
          assert.ok(p.clientMaxWindowBits <= (typeof offer.cBits === "number" ? offer.cBits : 15));
          assert.ok(p.clientMaxWindowBits <= (options.clientMaxWindowBits ?? 15));
          assert.equal(p.serverNoContextTakeover, offer.sNct || options.serverNoContextTakeover);
          assert.equal(p.clientNoContextTakeover, offer.cNct || options.clientNoContextTakeover);
          // The response is something a client that made this offer accepts.
          const [response] = parseExtensions(result.response);
          assert.ok(response !== undefined);
          if (offer.sBits === undefined) assert.ok(!response.params.has("server_max_window_bits"));
          if (!canLimitClient) assert.ok(!response.params.has("client_max_window_bits"));
          const clientView = acceptResponse([response], {
            serverNoContextTakeover: offer.sNct,
            clientNoContextTakeover: offer.cNct,
            serverMaxWindowBits: offer.sBits,
            clientMaxWindowBits: typeof offer.cBits === "number" ? offer.cBits : undefined,
          });
          assert.ok(clientView !== null);
          // Both ends agree on what each side does (the client may assume a larger window of
          // the server only where the server does not say so).
          assert.equal(clientView.serverNoContextTakeover, p.serverNoContextTakeover);
          assert.equal(clientView.clientNoContextTakeover, p.clientNoContextTakeover);
          assert.ok(clientView.clientMaxWindowBits <= p.clientMaxWindowBits);
          assert.ok(clientView.serverMaxWindowBits >= p.serverMaxWindowBits);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("buildOffer", () => {
  it("offers client_max_window_bits and the asked parameters", () => {
    assert.equal(buildOffer(), "permessage-deflate; client_max_window_bits");
    assert.equal(
      buildOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 11,
      }),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
    );
    assert.throws(
      () => buildOffer({ clientMaxWindowBits: 20 }),
      (e: unknown) => isTidewsError(e, "ERR_INVALID_ARGUMENT"),
    );
  });
});

describe("acceptResponse", () => {
  const accepted: [string, PerMessageDeflateOptions, DeflateParams][] = [
    ["permessage-deflate", {}, DEFAULT],
    // The server may add these unasked (RFC 7692 sections 7.1.1.1, 7.1.1.2, 7.1.2.1).
    ["permessage-deflate; server_no_context_takeover", {}, params(true, false, 15, 15)],
    ["permessage-deflate; client_no_context_takeover", {}, params(false, true, 15, 15)],
    ["permessage-deflate; server_max_window_bits=9", {}, params(false, false, 9, 15)],
    ["permessage-deflate; client_max_window_bits=10", {}, params(false, false, 15, 10)],
    ["permessage-deflate; client_max_window_bits=8", {}, params(false, false, 15, 8)],
    [
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: 9 },
      params(false, false, 15, 9),
    ],
    ["permessage-deflate", { clientMaxWindowBits: 9 }, params(false, false, 15, 9)],
    ["permessage-deflate", { clientNoContextTakeover: true }, params(false, true, 15, 15)],
    [
      "permessage-deflate; server_no_context_takeover",
      { serverNoContextTakeover: true },
      params(true, false, 15, 15),
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      { serverMaxWindowBits: 10 },
      params(false, false, 10, 15),
    ],
    [
      "permessage-deflate; server_max_window_bits=8",
      { serverMaxWindowBits: 10 },
      params(false, false, 8, 15),
    ],
  ];
  for (const [header, options, expected] of accepted) {
    it(`accepts ${header} for ${JSON.stringify(options)}`, () => {
      assert.deepEqual(acceptResponse(parseExtensions(header), options), expected);
    });
  }

  const refused: [string, PerMessageDeflateOptions][] = [
    ["permessage-deflate, permessage-deflate", {}],
    ["permessage-deflate; unknown", {}],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}],
    ["permessage-deflate; server_no_context_takeover=1", {}],
    ["permessage-deflate; client_no_context_takeover=x", {}],
    ["permessage-deflate; server_max_window_bits", {}],
    ["permessage-deflate; server_max_window_bits=16", {}],
    ["permessage-deflate; server_max_window_bits=07", {}],
    ["permessage-deflate; client_max_window_bits", {}],
    ["permessage-deflate; client_max_window_bits=7", {}],
    ["permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 9 }],
    ["permessage-deflate", { serverNoContextTakeover: true }],
    ["permessage-deflate", { serverMaxWindowBits: 10 }],
    ["permessage-deflate; server_max_window_bits=11", { serverMaxWindowBits: 10 }],
  ];
  for (const [header, options] of refused) {
    it(`fails ${header} for ${JSON.stringify(options)}`, () => {
      assert.throws(
        () => acceptResponse(parseExtensions(header), options),
        (e: unknown) => e instanceof HandshakeError && e.code === "ERR_HANDSHAKE_EXTENSIONS",
      );
    });
  }

  it("returns null when the server did not accept permessage-deflate", () => {
    assert.equal(acceptResponse([]), null);
    assert.equal(acceptResponse(parseExtensions("x-other")), null);
  });
});

describe("codecParams", () => {
  it("maps the negotiated parameters to each side's codecs", () => {
    const p = params(true, false, 10, 12);
    assert.deepEqual(codecParams(p, "server"), {
      deflateWindowBits: 10,
      deflateNoContextTakeover: true,
      inflateWindowBits: 12,
      inflateNoContextTakeover: false,
    });
    assert.deepEqual(codecParams(p, "client"), {
      deflateWindowBits: 12,
      deflateNoContextTakeover: false,
      inflateWindowBits: 10,
      inflateNoContextTakeover: true,
    });
  });

  it("fills in defaults", () => {
    assert.deepEqual(resolveDeflateOptions(), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: undefined,
      clientMaxWindowBits: undefined,
      threshold: 1024,
      level: 1,
      memLevel: 8,
    });
  });
});
