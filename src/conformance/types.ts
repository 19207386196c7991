/**
 * The vocabulary of the conformance suite: verdicts, observed events, close expectations, the
 * context a case script drives, and the record a finished case leaves behind.
 *
 * The model follows the Autobahn|Testsuite so that reports read the same way: a case sends
 * frames, the events the peer sends back are recorded, and when the connection is gone the
 * recorded events are compared with one or more expected sequences (one per verdict), and the
 * way the connection ended is compared with the expected close behaviour.
 *
 * @module
 */

/** The verdict of a case (Autobahn's `behavior`). */
export type Verdict = "OK" | "NON-STRICT" | "INFORMATIONAL" | "UNIMPLEMENTED" | "FAILED";

/** Every verdict, in report order. */
export const VERDICTS: readonly Verdict[] = [
  "OK",
  "NON-STRICT",
  "INFORMATIONAL",
  "UNIMPLEMENTED",
  "FAILED",
];

/** The verdict on how the connection ended (Autobahn's `behaviorClose`). */
export type CloseVerdict =
  | "OK"
  | "FAILED"
  | "UNCLEAN"
  | "WRONG CODE"
  | "FAILED BY CLIENT"
  | "INFORMATIONAL";

/** Which end the tester plays: `client` tests a server, `server` tests a client. */
export type TesterRole = "client" | "server";

/** Something the peer did that a case records and compares. */
export type CaseEvent =
  | { readonly kind: "message"; readonly data: Buffer; readonly binary: boolean }
  | { readonly kind: "ping"; readonly data: Buffer }
  | { readonly kind: "pong"; readonly data: Buffer }
  /** A wait of the case elapsed while the connection was still open (fail-fast cases). */
  | { readonly kind: "timeout"; readonly tag: string };

/** How the connection is expected to end. */
export interface ExpectedClose {
  /** True when the tester is expected to start the closing handshake. */
  readonly closedByMe: boolean;
  /** Close codes the peer may send; the first one is the code the tester closes with. */
  readonly codes: readonly number[];
  /** The closing handshake must complete, and a server must drop the TCP connection. */
  readonly requireClean: boolean;
  /** When the wrong endpoint closed, the case fails: the peer did not detect the problem. */
  readonly wrongEndpointFatal?: boolean;
}

/** One frame the tester sends, with every field under the case's control. */
export interface FrameSpec {
  readonly opcode: number;
  /** Default true. */
  readonly fin?: boolean;
  /** The three reserved bits as a number 0..7 (RSV1 is 4). Default 0. */
  readonly rsv?: number;
  /** Default empty. */
  readonly payload?: Buffer | string;
  /** Repeat `payload` to this many bytes (Autobahn's `payload_len`). */
  readonly repeatTo?: number;
  /** Write the frame's octets in pieces of this size, each as its own write. */
  readonly chop?: number;
  /** Write the frame as its own write, after the previous ones went out. */
  readonly sync?: boolean;
}

/** Options of {@link CaseContext.sendMessage}. */
export interface MessageOptions {
  readonly binary?: boolean;
  /**
   * Split into frames of this many payload bytes, the way Autobahn does: a payload that is an
   * exact multiple of the size ends with an empty final frame.
   */
  readonly fragmentSize?: number;
  readonly sync?: boolean;
}

/** The permessage-deflate parameters both ends agreed on, as the tester uses them. */
export interface NegotiatedDeflate {
  /** The `Sec-WebSocket-Extensions` element of the response. */
  readonly response: string;
  /** The tester resets its compressor after every message. */
  readonly localNoContextTakeover: boolean;
  /** Window of the tester's compressor, 8..15. */
  readonly localWindowBits: number;
  /** The peer resets its compressor after every message. */
  readonly remoteNoContextTakeover: boolean;
}

/**
 * What a case script drives: one connection to the peer under test.
 *
 * Sending never throws on a closed connection; it records and drops. All sends go out in the
 * order they were made, compressed ones included.
 */
export interface CaseContext {
  readonly role: TesterRole;
  /** True while the WebSocket is open (no close frame sent or received). */
  readonly isOpen: boolean;
  /** The agreed permessage-deflate parameters, or null. */
  readonly deflate: NegotiatedDeflate | null;
  /** The events recorded so far. */
  readonly received: readonly CaseEvent[];
  /** Sets the events that earn `verdict`; sequences are tried in the order they were set. */
  expect(verdict: "OK" | "NON-STRICT", events: readonly CaseEvent[]): void;
  /** Sets how the connection is expected to end. */
  expectClose(close: ExpectedClose): void;
  /** Sends one frame exactly as specified (any opcode, bits and payload). */
  sendFrame(frame: FrameSpec): void;
  /** Sends a message, compressed when permessage-deflate was agreed (`compress` default true). */
  sendMessage(payload: Buffer | string, options?: MessageOptions & { compress?: boolean }): void;
  /**
   * Starts a frame of `length` payload bytes whose payload the case writes piecewise with
   * {@link CaseContext.sendFrameData}, each piece as its own write.
   */
  beginFrame(opcode: number, length: number, fin?: boolean): void;
  /** Writes the next payload bytes of the frame started with {@link CaseContext.beginFrame}. */
  sendFrameData(data: Buffer | string): void;
  /**
   * Starts the closing handshake with a close frame of `code` and `reason`; without a code the
   * payload is `reason` alone (normally empty). Ignored once a close frame was sent or received.
   */
  sendClose(code?: number, reason?: Buffer | string): void;
  /** Records an event (as if the peer had produced it) and checks for completion. */
  record(event: CaseEvent): void;
  /** Runs `fn` after `ms` unless the connection is gone by then. */
  later(ms: number, fn: () => void, tag?: string): void;
  /** Drops the TCP connection after `ms` unless it is gone by then. */
  killAfter(ms: number): void;
  /** Starts the closing handshake (empty close frame) after `ms` unless it is gone by then. */
  closeAfter(ms: number): void;
  /** Turns the wire log on or off (bulk cases turn it off while they run). */
  wirelog(enabled: boolean): void;
  /** Sets the verdict and its explanation directly (cases that judge by themselves). */
  setBehavior(verdict: Verdict, result: string): void;
  /** Sets the explanation of the verdict. */
  setResult(result: string): void;
}

/** The outcome of a case before the case's own adjustments. */
export interface Judgement {
  behavior: Verdict;
  behaviorClose: CloseVerdict;
  result: string;
  resultClose: string;
  /** The peer's close code, if its close frame carried one. */
  readonly remoteCloseCode: number | null;
  /** True when the WebSocket connection was ever open. */
  readonly wasOpen: boolean;
}

/** What a case script may return: handlers that replace the default recording. */
export interface CaseHandlers {
  /** Replaces recording of messages (performance and compression cases judge by themselves). */
  onMessage?(data: Buffer, binary: boolean): void;
  /** Adjusts the judgement once the connection is gone. */
  finish?(judgement: Judgement): void;
}

/** permessage-deflate settings of a compression case. */
export interface CaseDeflate {
  /** The offers the tester sends as a client, as header elements in order of preference. */
  readonly offers: readonly string[];
  /**
   * As a server: picks the response element for the client's offers, or null to decline.
   *
   * @param offers - the client's permessage-deflate offers, parameters as written
   */
  accept(offers: readonly ReadonlyMap<string, string | true>[]): AcceptedDeflate | null;
}

/** A server-side acceptance of a permessage-deflate offer. */
export interface AcceptedDeflate {
  readonly response: string;
  readonly serverNoContextTakeover: boolean;
  readonly serverWindowBits: number;
  readonly clientNoContextTakeover: boolean;
}

/** Options that change how a case runs. */
export interface CaseSettings {
  /**
   * Shorter runs of the bulk cases (9.7, 9.8, 12, 13: fewer messages); every other case is
   * unchanged. Meant for CI.
   */
  readonly quick: boolean;
}

/** One conformance case. */
export interface ConformanceCase {
  /** Autobahn's case id, e.g. `"6.4.1"`. */
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  /** Report the duration (performance cases). */
  readonly reportTime?: boolean;
  /** permessage-deflate negotiation of compression cases. */
  readonly deflate?: CaseDeflate;
  /** Runs the case on an open connection; called once per run. */
  run(c: CaseContext, settings: CaseSettings): CaseHandlers | undefined;
}

/** One entry of the wire log: what happened, when, in which direction. */
export interface WireEntry {
  /** Milliseconds since the connection opened. */
  readonly t: number;
  /** `tx`/`rx` frame or octets, a timer, or a note. */
  readonly kind:
    | "tx-frame"
    | "rx-frame"
    | "tx-octets"
    | "rx-octets"
    | "timer-set"
    | "timer-fired"
    | "note";
  readonly text: string;
}

/** The record a finished case leaves, the source of every report. */
export interface CaseResult {
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  readonly agent: string;
  /** ISO time the case started. */
  readonly started: string;
  /** Milliseconds from the open to the end of the TCP connection. */
  readonly duration: number;
  readonly reportTime: boolean;
  readonly behavior: Verdict;
  readonly behaviorClose: CloseVerdict;
  readonly result: string;
  readonly resultClose: string;
  readonly expected: Readonly<Record<string, readonly CaseEvent[]>>;
  readonly expectedClose: ExpectedClose | null;
  readonly received: readonly CaseEvent[];
  readonly closedByMe: boolean;
  readonly failedByMe: boolean;
  readonly droppedByMe: boolean;
  readonly wasClean: boolean;
  readonly wasNotCleanReason: string | null;
  readonly wasServerConnectionDropTimeout: boolean;
  readonly wasCloseHandshakeTimeout: boolean;
  readonly localCloseCode: number | null;
  readonly localCloseReason: string | null;
  readonly remoteCloseCode: number | null;
  readonly remoteCloseReason: string | null;
  /** True when the tester was the server (it tested a client). */
  readonly isServer: boolean;
  readonly httpRequest: string;
  readonly httpResponse: string;
  readonly wirelog: readonly WireEntry[];
  /** Wire log entries left out to keep the log bounded. */
  readonly wirelogDropped: number;
  /** Frames sent and received per opcode. */
  readonly txFrameStats: Readonly<Record<string, number>>;
  readonly rxFrameStats: Readonly<Record<string, number>>;
}
