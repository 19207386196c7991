/**
 * One case on one connection: the tester's end of a WebSocket, written for testing.
 *
 * The session sends exactly what the case asks for, parses whatever the peer sends (with its
 * own {@link FrameReader}), records the peer's messages, pings and pongs, answers pings and
 * close frames, keeps the wire log, and when the TCP connection is gone judges the case the way
 * the Autobahn|Testsuite does:
 *
 * - the recorded events are compared with each expected sequence, in the order they were set;
 *   the first match gives the verdict, no match gives FAILED;
 * - the close behaviour is checked in this order: the wrong endpoint started the closing
 *   handshake (FAILED), a clean close was required and did not happen (UNCLEAN), the peer's
 *   close code is not one of the expected ones (WRONG CODE), the tester as client had to drop
 *   the TCP connection itself (FAILED BY CLIENT);
 * - with `wrongEndpointFatal` (UTF-8 cases), a close by the wrong endpoint fails the case.
 *
 * One addition to Autobahn: when the peer breaks RFC 6455 (an unmasked client frame, reserved
 * bits or opcodes, invalid UTF-8 in a text message, a malformed close frame...), the tester
 * fails the connection with a close frame and the case is FAILED whatever the events were.
 *
 * Timeouts used by the tester itself, as Autobahn's: the peer has 1 s to answer a close frame,
 * and a server has 1 s to drop the TCP connection after the closing handshake.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import type { Socket } from "node:net";
import { FrameReader, type ReadFrame } from "./frame-reader.js";
import { PeerDeflate } from "./peer-deflate.js";
import {
  applyMask,
  closePayload,
  encodeFrame,
  encodeHeader,
  fragmentPayload,
  newMaskKey,
  repeatPayload,
} from "./raw-frame.js";
import type {
  CaseContext,
  CaseEvent,
  CaseHandlers,
  CaseResult,
  CaseSettings,
  CloseVerdict,
  ConformanceCase,
  ExpectedClose,
  FrameSpec,
  Judgement,
  MessageOptions,
  NegotiatedDeflate,
  TesterRole,
  Verdict,
} from "./types.js";
import { WireLog } from "./wire-log.js";

/** What a session needs besides its case. */
export interface SessionInit {
  /** The connected socket, after the opening handshake. */
  readonly socket: Socket;
  /** Bytes that arrived after the handshake response or request. */
  readonly head?: Buffer;
  readonly role: TesterRole;
  readonly deflate: NegotiatedDeflate | null;
  readonly agent: string;
  readonly httpRequest: string;
  readonly httpResponse: string;
  readonly settings: CaseSettings;
  /** How long the peer has to answer a close frame. Default 1000 ms. */
  readonly closeTimeout?: number;
  /** How long a server has to drop the TCP connection after the closing handshake. Default 1000 ms. */
  readonly dropTimeout?: number;
}

/** The largest message the tester assembles. */
const MAX_MESSAGE = 128 * 1024 * 1024;
/** A case that outlives this is cut off, whatever its own timers say. */
const HARD_LIMIT = 20 * 60 * 1000;

function sameEvents(a: readonly CaseEvent[], b: readonly CaseEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.kind !== y.kind) return false;
    if (x.kind === "timeout") {
      if (x.tag !== (y as typeof x).tag) return false;
    } else {
      if (!x.data.equals((y as typeof x).data)) return false;
      if (x.kind === "message" && x.binary !== (y as typeof x).binary) return false;
    }
  }
  return true;
}

/** Close codes a peer may put on the wire (RFC 6455 section 7.4, IANA registry). */
function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

function toBuffer(data: Buffer | string | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return typeof data === "string" ? Buffer.from(data) : data;
}

/**
 * Runs `spec` on an open connection and resolves with its result once the TCP connection is
 * gone.
 */
export function runSession(spec: ConformanceCase, init: SessionInit): Promise<CaseResult> {
  return new Session(spec, init).run();
}

class Session implements CaseContext {
  readonly role: TesterRole;
  readonly deflate: NegotiatedDeflate | null;
  readonly received: CaseEvent[] = [];

  private readonly socket: Socket;
  private readonly log = new WireLog();
  private readonly reader = new FrameReader();
  private readonly codec: PeerDeflate | null;
  private readonly expected = new Map<string, readonly CaseEvent[]>();
  private expectedClose: ExpectedClose | null = null;
  private handlers: CaseHandlers = {};

  private state: "open" | "closing" | "closed" = "open";
  private behavior: Verdict = "FAILED";
  private result = "Actual events differ from any expected.";
  private closeSent = false;
  private closeReceived = false;
  /** Set at parse time: frames after a close frame are ignored. */
  private closeSeen = false;
  private closedByMe = false;
  private failedByMe = false;
  private droppedByMe = false;
  private peerEnded = false;
  private tcpClosed = false;
  private wasServerConnectionDropTimeout = false;
  private wasCloseHandshakeTimeout = false;
  private wasNotCleanReason: string | null = null;
  private violation: string | null = null;
  private localCloseCode: number | null = null;
  private localCloseReason: string | null = null;
  private remoteCloseCode: number | null = null;
  private remoteCloseReason: string | null = null;
  private readonly txFrameStats: Record<string, number> = {};
  private readonly rxFrameStats: Record<string, number> = {};

  /** Sends go out in order through this chain (compression is asynchronous). */
  private sending: Promise<void> = Promise.resolve();
  /** Received events are delivered in order through this chain (inflating is asynchronous). */
  private delivering: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closeTimer: NodeJS.Timeout | null = null;
  /** The data message being assembled. */
  private fragments: Buffer[] | null = null;
  private fragmentsSize = 0;
  private messageOpcode = 0;
  private messageCompressed = false;
  /** The frame started with beginFrame. */
  private partial: { mask: Buffer | null; offset: number } | null = null;
  private readonly started = new Date();
  private readonly t0 = performance.now();
  private finished!: (result: CaseResult) => void;

  constructor(
    private readonly spec: ConformanceCase,
    private readonly init: SessionInit,
  ) {
    this.role = init.role;
    this.deflate = init.deflate;
    this.socket = init.socket;
    this.codec = init.deflate === null ? null : new PeerDeflate(init.deflate);
  }

  run(): Promise<CaseResult> {
    const done = new Promise<CaseResult>((resolve) => {
      this.finished = resolve;
    });
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onPeerEnd());
    socket.on("error", (error) => this.log.note(`socket error: ${error.message}`));
    socket.on("close", () => this.onTcpClose());
    socket.resume();
    this.timer(HARD_LIMIT, () => {
      this.log.note(`case exceeded ${HARD_LIMIT / 1000} s: dropping the connection`);
      this.failedByMe = true;
      this.kill();
    });
    if (this.init.deflate !== null) {
      this.log.note(`permessage-deflate agreed: ${this.init.deflate.response}`);
    }
    try {
      this.handlers = this.spec.run(this, this.init.settings) ?? {};
    } catch (error) {
      this.log.note(`case script threw: ${error instanceof Error ? error.message : error}`);
      this.failedByMe = true;
      this.kill();
    }
    if (this.init.head !== undefined && this.init.head.length > 0) this.onData(this.init.head);
    return done;
  }

  // --- CaseContext ------------------------------------------------------------------------------

  get isOpen(): boolean {
    return this.state === "open";
  }

  expect(verdict: "OK" | "NON-STRICT", events: readonly CaseEvent[]): void {
    this.expected.set(verdict, events);
  }

  expectClose(close: ExpectedClose): void {
    this.expectedClose = close;
  }

  setBehavior(verdict: Verdict, result: string): void {
    this.behavior = verdict;
    this.result = result;
  }

  setResult(result: string): void {
    this.result = result;
  }

  wirelog(enabled: boolean): void {
    if (this.log.enabled !== enabled) {
      this.log.enabled = true;
      this.log.note(enabled ? "wire log resumed" : "wire log paused");
      this.log.enabled = enabled;
    }
  }

  record(event: CaseEvent): void {
    this.received.push(event);
    this.finishWhenDone();
  }

  sendFrame(f: FrameSpec): void {
    let payload = toBuffer(f.payload);
    if (f.repeatTo !== undefined) payload = repeatPayload(payload, f.repeatTo);
    const frame = {
      opcode: f.opcode,
      fin: f.fin ?? true,
      rsv: f.rsv ?? 0,
      payload,
      mask: this.role === "client" ? newMaskKey() : null,
    };
    this.countTx(frame.opcode);
    const how = f.chop !== undefined ? ` (in chops of ${f.chop})` : f.sync ? " (sync)" : "";
    this.log.frame("tx", { ...frame, masked: frame.mask !== null }, how);
    const bytes = encodeFrame(frame);
    this.enqueue(async () => {
      if (f.chop !== undefined) {
        for (let i = 0; i < bytes.length; i += f.chop) {
          await this.writeSeparately(bytes.subarray(i, i + f.chop));
        }
      } else if (f.sync) {
        await this.writeSeparately(bytes);
      } else {
        this.write(bytes);
      }
    });
  }

  sendMessage(
    payload: Buffer | string,
    options: MessageOptions & { compress?: boolean } = {},
  ): void {
    const data = toBuffer(payload);
    const opcode = options.binary ? 2 : 1;
    if (this.codec === null || options.compress === false) {
      const pieces =
        options.fragmentSize === undefined ? [data] : fragmentPayload(data, options.fragmentSize);
      pieces.forEach((piece, i) => {
        this.sendFrame({
          opcode: i === 0 ? opcode : 0,
          fin: i === pieces.length - 1,
          payload: piece,
          sync: options.sync === true,
        });
      });
      return;
    }
    // RFC 7692 section 6.1: compress the whole message, set RSV1 on its first frame only.
    const codec = this.codec;
    this.enqueue(async () => {
      let compressed: Buffer;
      try {
        compressed = await codec.compress(data);
      } catch (error) {
        this.log.note(`compression failed: ${error instanceof Error ? error.message : error}`);
        return;
      }
      const pieces =
        options.fragmentSize === undefined
          ? [compressed]
          : fragmentPayload(compressed, options.fragmentSize);
      for (let i = 0; i < pieces.length; i++) {
        const frame = {
          opcode: i === 0 ? opcode : 0,
          fin: i === pieces.length - 1,
          rsv: i === 0 ? 4 : 0,
          payload: pieces[i]!,
          mask: this.role === "client" ? newMaskKey() : null,
        };
        this.countTx(frame.opcode);
        this.log.frame(
          "tx",
          { ...frame, masked: frame.mask !== null },
          ` (${data.length} bytes inflated)`,
        );
        const bytes = encodeFrame(frame);
        if (options.sync) await this.writeSeparately(bytes);
        else this.write(bytes);
      }
    });
  }

  beginFrame(opcode: number, length: number, fin = true): void {
    const mask = this.role === "client" ? newMaskKey() : null;
    this.partial = { mask, offset: 0 };
    this.countTx(opcode);
    const header = encodeHeader({ opcode, fin, rsv: 0, length, mask });
    this.log.add(
      "tx-frame",
      `${opcode} header only, declared len=${length}, payload follows in pieces`,
    );
    this.enqueue(() => this.writeSeparately(header));
  }

  sendFrameData(data: Buffer | string): void {
    const partial = this.partial;
    if (partial === null) throw new Error("sendFrameData without beginFrame");
    const piece = Buffer.from(toBuffer(data));
    if (partial.mask !== null) applyMask(piece, partial.mask, partial.offset);
    partial.offset += piece.length;
    this.enqueue(() => this.writeSeparately(piece));
  }

  sendClose(code?: number, reason?: Buffer | string): void {
    if (this.state !== "open") return;
    this.sendCloseFrame(code, reason);
    this.closedByMe = true;
  }

  later(ms: number, fn: () => void, tag?: string): void {
    const name = tag === undefined ? "continue" : `continue ${tag}`;
    this.log.add("timer-set", `${name} in ${ms} ms`);
    this.timer(ms, () => {
      this.log.add("timer-fired", name);
      fn();
    });
  }

  killAfter(ms: number): void {
    this.log.add("timer-set", `drop the connection in ${ms} ms`);
    this.timer(ms, () => {
      this.log.add("timer-fired", "drop the connection");
      this.failedByMe = true;
      this.kill();
    });
  }

  closeAfter(ms: number): void {
    this.log.add("timer-set", `start the closing handshake in ${ms} ms`);
    this.timer(ms, () => {
      this.log.add("timer-fired", "start the closing handshake");
      this.sendClose();
    });
  }

  // --- sending ----------------------------------------------------------------------------------

  private countTx(opcode: number): void {
    this.txFrameStats[opcode] = (this.txFrameStats[opcode] ?? 0) + 1;
  }

  private enqueue(job: () => Promise<void> | void): void {
    this.sending = this.sending.then(job).catch((error: unknown) => {
      this.log.note(`send failed: ${error instanceof Error ? error.message : error}`);
    });
  }

  private write(bytes: Buffer): void {
    if (this.tcpClosed || this.socket.destroyed) return;
    this.log.octets("tx", bytes);
    this.socket.write(bytes);
  }

  /** Writes `bytes` as a write of its own and waits until the socket took it. */
  private writeSeparately(bytes: Buffer): Promise<void> {
    if (this.tcpClosed || this.socket.destroyed) return Promise.resolve();
    this.log.octets("tx", bytes);
    return new Promise((resolve) => {
      this.socket.write(bytes, () => setImmediate(resolve));
    });
  }

  private sendCloseFrame(code?: number, reason?: Buffer | string): void {
    const payload = closePayload(code, reason);
    this.sendFrame({ opcode: 8, payload });
    this.closeSent = true;
    this.state = "closing";
    this.localCloseCode = code ?? null;
    this.localCloseReason =
      reason === undefined ? null : typeof reason === "string" ? reason : reason.toString("hex");
    if (!this.closeReceived) {
      this.closeTimer = this.timer(this.init.closeTimeout ?? 1000, () => {
        if (this.closeReceived) return;
        this.wasCloseHandshakeTimeout = true;
        this.wasNotCleanReason ??= "the peer did not answer the close frame in time";
        this.log.note("close handshake timeout: dropping the connection");
        this.kill();
      });
    }
  }

  // --- receiving --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.tcpClosed) return;
    this.log.octets("rx", chunk);
    const frames = this.reader.push(chunk);
    for (const f of frames) {
      if (this.violation !== null) return;
      this.onFrame(f);
    }
    if (this.reader.error !== null) this.fail(1002, this.reader.error);
  }

  private onFrame(f: ReadFrame): void {
    if (this.closeSeen) {
      this.log.frame("rx", f, " (after the close frame: ignored)");
      return;
    }
    // Bulk cases pause the log; the end of the connection is always worth seeing.
    if (f.opcode === 8) this.log.enabled = true;
    this.log.frame("rx", f);
    this.rxFrameStats[f.opcode] = (this.rxFrameStats[f.opcode] ?? 0) + 1;
    // RFC 6455 section 5.1: clients mask every frame, servers none.
    if (this.role === "client" && f.masked) {
      this.fail(1002, "the server masked a frame");
      return;
    }
    if (this.role === "server" && !f.masked) {
      this.fail(1002, "the client sent an unmasked frame");
      return;
    }
    if ((f.opcode >= 3 && f.opcode <= 7) || f.opcode >= 11) {
      this.fail(1002, `reserved opcode ${f.opcode}`);
      return;
    }
    if (f.opcode >= 8) {
      // Section 5.5: control frames are final, at most 125 bytes, and carry no RSV bit here.
      if (!f.fin) {
        this.fail(1002, "fragmented control frame");
        return;
      }
      if (f.payload.length > 125) {
        this.fail(1002, "control frame longer than 125 bytes");
        return;
      }
      if (f.rsv !== 0) {
        this.fail(1002, `RSV bits ${f.rsv} on a control frame`);
        return;
      }
      this.onControl(f);
      return;
    }
    const first = f.opcode !== 0;
    // RFC 7692 section 6: RSV1 marks the first frame of a compressed message.
    const allowedRsv = first && this.codec !== null ? 4 : 0;
    if ((f.rsv & ~allowedRsv) !== 0) {
      this.fail(1002, `RSV bits ${f.rsv} without an extension that defines them`);
      return;
    }
    if (first) {
      if (this.fragments !== null) {
        this.fail(1002, "a new data frame while a fragmented message is in progress");
        return;
      }
      this.fragments = [];
      this.fragmentsSize = 0;
      this.messageOpcode = f.opcode;
      this.messageCompressed = (f.rsv & 4) !== 0;
    } else if (this.fragments === null) {
      this.fail(1002, "a continuation frame without a message to continue");
      return;
    }
    this.fragments.push(f.payload);
    this.fragmentsSize += f.payload.length;
    if (this.fragmentsSize > MAX_MESSAGE) {
      this.fail(1009, "message too big for the tester");
      return;
    }
    if (!f.fin) return;
    const data = Buffer.concat(this.fragments, this.fragmentsSize);
    const binary = this.messageOpcode === 2;
    const compressed = this.messageCompressed;
    this.fragments = null;
    this.deliver(async () => {
      let payload: Buffer = data;
      if (compressed && this.codec !== null) {
        try {
          payload = await this.codec.decompress(data);
        } catch (error) {
          this.fail(1007, `the compressed message does not inflate: ${(error as Error).message}`);
          return;
        }
      }
      // Section 8.1: a text message is UTF-8.
      if (!binary && !isUtf8(payload)) {
        this.fail(1007, "invalid UTF-8 in a text message");
        return;
      }
      if (this.handlers.onMessage !== undefined) this.handlers.onMessage(payload, binary);
      else this.record({ kind: "message", data: payload, binary });
    });
  }

  private onControl(f: ReadFrame): void {
    if (f.opcode === 9) {
      // Section 5.5.2: answer a ping with a pong carrying the same payload.
      if (this.state === "open") this.sendFrame({ opcode: 10, payload: f.payload });
      this.deliver(() => this.record({ kind: "ping", data: f.payload }));
      return;
    }
    if (f.opcode === 10) {
      this.deliver(() => this.record({ kind: "pong", data: f.payload }));
      return;
    }
    this.closeSeen = true;
    this.deliver(() => this.onCloseFrame(f.payload));
  }

  private onCloseFrame(payload: Buffer): void {
    this.closeReceived = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    // Section 5.5.1: no body, or a 2-byte code and a UTF-8 reason.
    if (payload.length === 1) {
      this.fail(1002, "a close frame with a 1-byte payload");
      return;
    }
    if (payload.length >= 2) {
      const code = payload.readUInt16BE(0);
      const reason = payload.subarray(2);
      this.remoteCloseCode = code;
      this.remoteCloseReason = isUtf8(reason) ? reason.toString("utf8") : reason.toString("hex");
      if (!isValidCloseCode(code)) {
        this.fail(1002, `invalid close code ${code}`);
        return;
      }
      if (!isUtf8(reason)) {
        this.fail(1007, "the close reason is not valid UTF-8");
        return;
      }
    }
    if (!this.closeSent) {
      // The peer started the closing handshake: answer it (section 5.5.1).
      this.sendCloseFrame(1000);
    }
    this.afterClosingHandshake();
  }

  private afterClosingHandshake(): void {
    if (this.role === "server") {
      // Section 7.1.1: the server drops the TCP connection first.
      this.endGracefully();
      return;
    }
    this.timer(this.init.dropTimeout ?? 1000, () => {
      if (this.peerEnded) return;
      this.wasServerConnectionDropTimeout = true;
      this.wasNotCleanReason ??= "the server did not drop the TCP connection in time";
      this.log.note("the server did not drop the TCP connection: dropping it");
      this.kill();
    });
  }

  private deliver(job: () => Promise<void> | void): void {
    this.delivering = this.delivering.then(async () => {
      if (this.violation !== null) return;
      await job();
    });
  }

  private finishWhenDone(): void {
    if (this.expected.size === 0) return;
    for (const events of this.expected.values()) {
      if (!sameEvents(this.received, events)) return;
    }
    const close = this.expectedClose;
    if (close?.closedByMe) this.sendClose(close.codes[0]);
  }

  // --- failing and ending -------------------------------------------------------------------------

  /** The peer broke the protocol: fail the connection (section 7.1.7). */
  private fail(code: number, why: string): void {
    if (this.violation !== null || this.tcpClosed) return;
    this.violation = why;
    this.failedByMe = true;
    this.log.note(`protocol violation by the peer: ${why}`);
    if (!this.closeSent) {
      this.sendCloseFrame(code, why.slice(0, 120));
      if (!this.closeReceived) this.closedByMe = true;
    }
    this.endGracefully();
  }

  /** Ends our side after the queued writes, and cuts the connection if the peer lingers. */
  private endGracefully(): void {
    if (this.tcpClosed) return;
    if (!this.peerEnded) this.droppedByMe = true;
    this.enqueue(() => {
      if (!this.socket.destroyed) this.socket.end();
    });
    this.timer(1000, () => this.socket.destroy());
  }

  /** Drops the TCP connection now. */
  private kill(): void {
    if (this.tcpClosed) return;
    if (!this.peerEnded) this.droppedByMe = true;
    this.socket.destroy();
  }

  private onPeerEnd(): void {
    this.peerEnded = true;
    this.log.note("the peer closed the TCP connection");
    if (!(this.closeSent && this.closeReceived)) {
      this.wasNotCleanReason ??= "the peer dropped the TCP connection without a closing handshake";
    }
    this.enqueue(() => {
      if (!this.socket.destroyed) this.socket.end();
    });
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.tcpClosed) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private onTcpClose(): void {
    if (this.tcpClosed) return;
    this.tcpClosed = true;
    this.state = "closed";
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.log.note("TCP connection closed");
    this.delivering.then(() => this.conclude());
  }

  private conclude(): void {
    this.codec?.close();
    const judgement = this.judge();
    try {
      this.handlers.finish?.(judgement);
    } catch (error) {
      judgement.behavior = "FAILED";
      judgement.result = `case finish threw: ${error instanceof Error ? error.message : error}`;
    }
    this.finished({
      id: this.spec.id,
      description: this.spec.description,
      expectation: this.spec.expectation,
      agent: this.init.agent,
      started: this.started.toISOString(),
      duration: Math.round(performance.now() - this.t0),
      reportTime: this.spec.reportTime === true,
      behavior: judgement.behavior,
      behaviorClose: judgement.behaviorClose,
      result: judgement.result,
      resultClose: judgement.resultClose,
      expected: Object.fromEntries(this.expected),
      expectedClose: this.expectedClose,
      received: this.received,
      closedByMe: this.closedByMe,
      failedByMe: this.failedByMe,
      droppedByMe: this.droppedByMe,
      wasClean: this.wasClean(),
      wasNotCleanReason: this.wasClean() ? null : this.wasNotCleanReason,
      wasServerConnectionDropTimeout: this.wasServerConnectionDropTimeout,
      wasCloseHandshakeTimeout: this.wasCloseHandshakeTimeout,
      localCloseCode: this.localCloseCode,
      localCloseReason: this.localCloseReason,
      remoteCloseCode: this.remoteCloseCode,
      remoteCloseReason: this.remoteCloseReason,
      isServer: this.role === "server",
      httpRequest: this.init.httpRequest,
      httpResponse: this.init.httpResponse,
      wirelog: this.log.entries,
      wirelogDropped: this.log.dropped,
      txFrameStats: this.txFrameStats,
      rxFrameStats: this.rxFrameStats,
    });
  }

  private wasClean(): boolean {
    if (!(this.closeSent && this.closeReceived) || this.violation !== null) return false;
    if (this.wasCloseHandshakeTimeout) return false;
    // Section 7.1.1: the server closes the TCP connection first; a client must not have to.
    return this.role === "server" || !this.droppedByMe;
  }

  private judge(): Judgement {
    let behavior = this.behavior;
    let result = this.result;
    for (const [verdict, events] of this.expected) {
      if (sameEvents(this.received, events)) {
        behavior = verdict as Verdict;
        result = "Actual events match at least one expected.";
        break;
      }
    }
    let behaviorClose: CloseVerdict = "OK";
    let resultClose = "Connection was properly closed";
    const close = this.expectedClose;
    if (close !== null) {
      if (close.closedByMe !== this.closedByMe) {
        behaviorClose = "FAILED";
        resultClose = "The connection was failed by the wrong endpoint";
      } else if (close.requireClean && !this.wasClean()) {
        behaviorClose = "UNCLEAN";
        resultClose = "The spec requires the connection to be failed cleanly here";
      } else if (this.remoteCloseCode !== null && !close.codes.includes(this.remoteCloseCode)) {
        behaviorClose = "WRONG CODE";
        resultClose = `The close code should have been ${close.codes.join(",")} or empty`;
      } else if (this.role === "client" && this.droppedByMe) {
        behaviorClose = "FAILED BY CLIENT";
        resultClose = "It is preferred that the server close the TCP connection";
      }
      // UTF-8 cases: a close by the wrong endpoint means the peer never noticed the bad data.
      if (close.wrongEndpointFatal && close.closedByMe !== this.closedByMe) behavior = "FAILED";
    }
    if (this.violation !== null) {
      behavior = "FAILED";
      result = `The peer violated the protocol: ${this.violation}.`;
    }
    return {
      behavior,
      behaviorClose,
      result,
      resultClose,
      remoteCloseCode: this.remoteCloseCode,
      wasOpen: true,
    };
  }
}
