// What the five interop pairings of test/interop/ share (tidews client -> ws and Python servers;
// ws, Python and Chromium clients -> tidews server), so that each pairing file states only what
// differs: how its peer sends, receives and reports. The checks themselves live here once: echoes
// byte for byte and as the other side saw them, the negotiated permessage-deflate parameters, the
// bytes on the wire with and without context takeover, the open-file guard of the concurrency
// tests, and the per-case permessage-deflate suite.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { after, before, describe, it, type TestContext } from "node:test";
import { openFileLimit, UNDER_CI } from "../interop/gate.js";
import { type PayloadSpec, payloadBytes, SIZES, sha256, sizeMatrix } from "../interop/payloads.js";

/** The time limit of every interop test: large messages through another process take a while. */
export const INTEROP_TIMEOUT = { timeout: 60_000 };

/**
 * The parameters of a `permessage-deflate` extension header, sorted (RFC 7692 section 7.1);
 * fails unless the header names permessage-deflate first.
 */
export function extensionParams(extensions: string): string[] {
  const [name, ...rest] = extensions.split(";").map((s) => s.trim());
  assert.equal(name, "permessage-deflate");
  return rest.sort();
}

/**
 * A peer's recorder: whoever records something emits `"event"`, and {@link until} re-checks its
 * predicate after each one.
 */
export class EventRecorder extends EventEmitter {
  /** Resolves once `predicate` holds, re-checked after every `"event"`. */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) {
          this.off("event", check);
          resolve();
        }
      };
      this.on("event", check);
    });
  }
}

/** A message as the receiving side of a test got it. */
export interface EchoedMessage {
  readonly isText: boolean;
  readonly data: Buffer;
}

/**
 * Sends each spec with `send` and checks that `next` gives back its echo: same type, same
 * length, same bytes.
 */
export async function sendAndCheckEchoes(
  specs: readonly PayloadSpec[],
  send: (spec: PayloadSpec) => void,
  next: () => Promise<EchoedMessage>,
): Promise<void> {
  for (const spec of specs) {
    const expected = payloadBytes(spec);
    send(spec);
    const echo = await next();
    const what = `${spec.kind} of ${spec.size} bytes`;
    assert.equal(echo.isText, spec.kind === "text", `${what}: type of the echo`);
    assert.equal(echo.data.length, spec.size, `${what}: length of the echo`);
    assert.ok(echo.data.equals(expected), `${what}: echo differs`);
  }
}

/** A peer's own verdict on one echo (a peer in another process compares the bytes itself). */
export interface EchoVerdict {
  readonly kind: string;
  readonly size: number;
  readonly sameType: boolean;
  readonly length: number;
  readonly equal: boolean;
}

/** Checks the verdicts a remote peer gave on the echoes of `specs`. */
export function assertEchoVerdicts(
  specs: readonly PayloadSpec[],
  verdicts: readonly EchoVerdict[],
): void {
  assert.equal(verdicts.length, specs.length, "one verdict per message");
  verdicts.forEach((r, i) => {
    const what = `${r.kind} of ${r.size} bytes`;
    assert.equal(r.sameType, true, `${what}: type of the echo`);
    assert.equal(r.length, specs[i]?.size, `${what}: length of the echo`);
    assert.equal(r.equal, true, `${what}: echo differs`);
  });
}

/** What the other side recorded of one message; it checks the fields it has. */
export interface ReceivedRecord {
  readonly isText?: boolean;
  readonly length?: number;
  readonly sha256: string;
}

/** Checks that `got` records exactly `specs`, in order: type and length when recorded, digest. */
export function assertReceived(
  specs: readonly PayloadSpec[],
  got: readonly ReceivedRecord[],
  who: string,
): void {
  assert.equal(got.length, specs.length, `the number of messages ${who} received`);
  specs.forEach((spec, i) => {
    const r = got[i];
    const what = `${spec.kind} of ${spec.size} bytes as ${who} saw it`;
    if (r?.isText !== undefined) assert.equal(r.isText, spec.kind === "text", what);
    if (r?.length !== undefined) assert.equal(r.length, spec.size, what);
    assert.equal(r?.sha256, sha256(payloadBytes(spec)), what);
  });
}

/**
 * For a test that needs `need` open files: true when the limit allows it. Below it the test is
 * skipped with the reason, or fails under CI (which must run everything).
 */
export function haveOpenFiles(t: TestContext, need: number): boolean {
  const limit = openFileLimit();
  if (limit >= need) return true;
  const why = `ulimit -n is ${limit}, below ${need}`;
  if (UNDER_CI) assert.fail(why);
  t.skip(why);
  return false;
}

/** Bytes of one round trip on the wire: up (client to server) and down. */
export interface Wire {
  readonly up: number;
  readonly down: number;
}

/** What a permessage-deflate case expects, whatever the pairing. */
export interface DeflateExpectation {
  /** The parameters the response must carry, exactly, sorted. */
  readonly params: readonly string[];
  /** Whether a repeated message shrinks on the way up (client context takeover). */
  readonly upTakeover: boolean;
  /** Whether a repeated message shrinks on the way down (server context takeover). */
  readonly downTakeover: boolean;
  /** Largest message of the size matrix for this case. */
  readonly maxSize: number;
}

/** One permessage-deflate case: how the server and the client are configured, and what follows. */
export interface DeflateCase<Server, Client> extends DeflateExpectation {
  readonly name: string;
  readonly server: Server;
  readonly client: Client;
  /** The server's window when it is limited: checked on the wire by pairings that can. */
  readonly serverWindow?: number;
  /** Also run the pairing's 10,000-message burst (in few cases, to bound the run time). */
  readonly burst?: boolean;
}

/** The expectations the pairings' cases share. */
export const EXPECT = {
  /** Nothing asked, nothing imposed: context takeover both ways, the whole size matrix. */
  defaults: { params: [], upTakeover: true, downTakeover: true, maxSize: 16 * 1024 * 1024 },
  /**
   * A tidews server's answer to an offer that asks for nothing: it keeps no compression context
   * of its own (`server_no_context_takeover`, its default), the client keeps its context in a
   * window the server limits to 12 bits (`client_max_window_bits=12`, its default).
   */
  serverDefaults: {
    params: ["client_max_window_bits=12", "server_no_context_takeover"],
    // The client keeps its context, in a 12-bit window: the 8 KiB repeat is out of its reach.
    upTakeover: false,
    downTakeover: false,
    maxSize: 16 * 1024 * 1024,
  },
  /**
   * A tidews server told to keep its own context (`serverNoContextTakeover: false`): takeover
   * both ways, the client's window limited to 12 bits by default.
   */
  serverContextKept: {
    params: ["client_max_window_bits=12"],
    upTakeover: false,
    downTakeover: true,
    maxSize: 1024 * 1024,
  },
  /** No context takeover either way. */
  noContextTakeover: {
    params: ["client_no_context_takeover", "server_no_context_takeover"],
    upTakeover: false,
    downTakeover: false,
    maxSize: 1024 * 1024,
  },
  /**
   * Limited windows, with these exact parameters: the 8 KiB repeat of
   * {@link assertCompressionOnWire} is out of reach of a window under 14 bits, so neither side
   * can shrink it.
   */
  windows: (...params: string[]): DeflateExpectation => ({
    params: params.sort(),
    upTakeover: false,
    downTakeover: false,
    maxSize: 1024 * 1024,
  }),
} as const satisfies Record<string, DeflateExpectation | ((...p: string[]) => DeflateExpectation)>;

/**
 * The permessage-deflate cases of the tidews client against the server `peer`: the defaults,
 * then each limit once asked by the client and once imposed by the server, the server's options
 * in its own terms (`ws` camelCase, Python's keyword arguments).
 */
export function tidewsClientDeflateCases<S>(
  peer: string,
  server: { readonly noContextTakeover: S; readonly windowBits9: S; readonly none: S },
): DeflateCase<S, Record<string, unknown>>[] {
  return [
    { name: "defaults", server: server.none, client: {}, ...EXPECT.defaults, burst: true },
    {
      name: "no context takeover asked by the client",
      server: server.none,
      client: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
      ...EXPECT.noContextTakeover,
    },
    {
      name: `no context takeover imposed by ${peer}`,
      server: server.noContextTakeover,
      client: {},
      ...EXPECT.noContextTakeover,
    },
    {
      name: "window bits 10 asked by the client",
      server: server.none,
      client: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
      ...EXPECT.windows("client_max_window_bits=10", "server_max_window_bits=10"),
    },
    {
      name: `window bits 9 imposed by ${peer}`,
      server: server.windowBits9,
      client: {},
      ...EXPECT.windows("client_max_window_bits=9", "server_max_window_bits=9"),
    },
  ];
}

/**
 * Checks the bytes on the wire of two echoes of the same message: each side compressed the
 * first, and the second shrank (to under a quarter) exactly in the directions with context
 * takeover.
 *
 * @param measure - one echo of `message`, measured
 * @param who - the compressing implementation of each direction, for the messages
 */
export async function assertCompressionOnWire(
  measure: (message: string) => Promise<Wire>,
  expect: DeflateExpectation,
  who: { readonly up: string; readonly down: string },
): Promise<void> {
  // Random hex: compressible by half, but only a back-reference can shrink a repeat.
  const message = randomBytes(4096).toString("hex");
  const first = await measure(message);
  const second = await measure(message);
  assert.ok(first.up < message.length * 0.75, `${who.up} compressed: ${first.up} up`);
  assert.ok(first.down < message.length * 0.75, `${who.down} compressed: ${first.down} down`);
  const shrank = (a: number, b: number): boolean => b < a / 4;
  assert.equal(shrank(first.up, second.up), expect.upTakeover, `up ${first.up}, ${second.up}`);
  assert.equal(
    shrank(first.down, second.down),
    expect.downTakeover,
    `down ${first.down}, ${second.down}`,
  );
}

/** One connection of a permessage-deflate case, as the shared tests drive it. */
export interface DeflateSession {
  /**
   * The `Sec-WebSocket-Extensions` values each side reports (the client's view, the server's
   * view, or both); may assert more about the pairing's own view.
   */
  negotiated(): readonly string[];
  /** Echoes every spec and checks the echoes and what the other side received. */
  echoes(specs: readonly PayloadSpec[]): Promise<void>;
  /** One echo of the text `message` (as text or as bytes, as the pairing always did), measured. */
  measure(message: string): Promise<Wire>;
  /** Closes the connection and whatever the case started. */
  close(): Promise<void>;
}

/** A pairing's permessage-deflate suite, for {@link describeDeflateCases}. */
export interface DeflateSuite<C extends DeflateCase<unknown, unknown>, S extends DeflateSession> {
  readonly title: string;
  /** The gate of the pairing (a skip when its peer is missing). */
  readonly options: { readonly skip?: string | boolean };
  readonly cases: readonly C[];
  /** The compressing implementation of each direction, for the messages. */
  readonly who: { readonly up: string; readonly down: string };
  /** Starts what every case shares (a browser), before the first case. */
  readonly setUp?: () => Promise<void>;
  /** Stops it, after the last case. */
  readonly tearDown?: () => Promise<void>;
  /** Starts the case's peers and connects. */
  open(c: C): Promise<S>;
  /** Registers the pairing's own tests of a case; `session()` is the case's connection. */
  more?(c: C, session: () => S): void;
}

/**
 * The permessage-deflate suite of a pairing: a `describe` per case over one connection, with the
 * shared tests in this order: the negotiated parameters, the echo of every size up to the case's
 * `maxSize`, compression on the wire with or without context takeover; then the pairing's own
 * tests, from `more` (fragmented compressed messages, windows, bursts...).
 */
export function describeDeflateCases<
  C extends DeflateCase<unknown, unknown>,
  S extends DeflateSession,
>(suite: DeflateSuite<C, S>): void {
  describe(suite.title, suite.options, () => {
    if (suite.setUp !== undefined) before(suite.setUp);
    if (suite.tearDown !== undefined) after(suite.tearDown);
    for (const c of suite.cases) {
      describe(c.name, () => {
        let session: S | undefined;
        const current = (): S => {
          assert.ok(session, "the case's connection did not open");
          return session;
        };
        before(async () => {
          session = await suite.open(c);
        });
        after(async () => {
          await session?.close();
        });

        it("negotiates the expected parameters", INTEROP_TIMEOUT, () => {
          const seen = current().negotiated();
          assert.ok(seen.length > 0);
          for (const extensions of seen) assert.deepEqual(extensionParams(extensions), c.params);
        });

        it("echoes every size byte for byte", INTEROP_TIMEOUT, async () => {
          await current().echoes(sizeMatrix(SIZES.filter((s) => s <= c.maxSize)));
        });

        it(
          "compresses on the wire, with or without context takeover as agreed",
          INTEROP_TIMEOUT,
          async () => {
            const s = current();
            await assertCompressionOnWire((m) => s.measure(m), c, suite.who);
          },
        );

        suite.more?.(c, current);
      });
    }
  });
}
