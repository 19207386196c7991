/**
 * The load generator: a child process of the runner, pinned to its own core, that drives one
 * server through plain `node:net` sockets. It uses no WebSocket library.
 *
 * Cheap by construction, so that the server is what saturates:
 * - every frame is built and masked once, before the run: a ring of distinct payloads, framed
 *   twice in a row in one buffer, so that any run of consecutive frames is one `subarray` and one
 *   `socket.write`, without copying;
 * - for permessage-deflate the payloads are compressed in advance too, each on its own (a
 *   compressor may always ignore the history context takeover allows, RFC 7692 section 7.2.1),
 *   so only the server's answers are inflated here, with a zlib stream per connection (on
 *   zlib's thread pool, outside the measured server);
 * - echoes are read by a minimal frame reader ({@link FrameReader}) whose payload pieces are views
 *   into the socket's chunks, compared with the expected bytes by `Buffer#compare` (memcmp);
 *   without permessage-deflate every connection reads into one shared buffer (`onread`), as
 *   those views are compared during the read and never kept;
 * - one clock read per socket read, not per message.
 *
 * Every echo is checked, content and order: payload `i` of the ring starts with its index and
 * every connection expects the ring in sequence. It also reports its own CPU time, so that the
 * runner can flag a run where it, not the server, was the bottleneck.
 *
 * Driven over IPC (see `ipc.ts`): `setup` (build the frames, connect), `start` (traffic),
 * `mark` (window opens), `end` (window closes, traffic stops, every outstanding echo is awaited
 * and checked), `close` (sockets reset, process exits).
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import net from "node:net";
import { performance } from "node:perf_hooks";
import zlib from "node:zlib";
import { LatencyHistogram } from "./histogram.js";
import type { LoadCommand, LoadJob, LoadReply, LoadResult } from "./ipc.js";
import { buildPayloads } from "./payloads.js";
import {
  acceptKey,
  buildFrame,
  DEFLATE_TAIL,
  FrameReader,
  type FrameReaderSink,
  OP_BINARY,
  OP_CLOSE,
  OP_TEXT,
} from "./wire.js";

// --- Frames, built before the run ----------------------------------------------------------------

/** The payloads of a job and their frames, twice around in one buffer. */
interface Ring {
  readonly payloads: readonly Buffer[];
  readonly opcode: number;
  /** Frames 0..n-1 then 0..n-1 again, back to back. */
  readonly wire: Buffer;
  /** `offsets[i]`: where frame `i` (0 <= i <= 2n) starts in `wire`. */
  readonly offsets: Float64Array;
}

/** The window the load generator compresses its payloads with (see buildRing). */
const LOAD_WINDOW_BITS = 12;

function buildRing(job: LoadJob): Ring {
  const payloads = buildPayloads(job.payload);
  const opcode = job.payload.text ? OP_TEXT : OP_BINARY;
  const frames = payloads.map((p) => {
    const mask = randomBytes(4);
    if (!job.deflate) return buildFrame(opcode, p, { mask });
    // A 12-bit window: the payloads decode under any client_max_window_bits a server may answer
    // from 12 up (RFC 7692 section 7.1.2.2; tidews answers 12 to offers that allow it, as GWS).
    const compressed = zlib.deflateRawSync(p, {
      windowBits: LOAD_WINDOW_BITS,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    // RFC 7692 section 7.2.1: the sender removes the 0x00 0x00 0xff 0xff tail of a sync flush.
    return buildFrame(opcode, compressed.subarray(0, compressed.length - 4), { mask, rsv1: true });
  });
  const all = [...frames, ...frames];
  const offsets = new Float64Array(all.length + 1);
  for (let i = 0; i < all.length; i++) {
    offsets[i + 1] = (offsets[i] as number) + (all[i] as Buffer).length;
  }
  return { payloads, opcode, wire: Buffer.concat(all), offsets };
}

/** `(key, accept)` pairs computed once; handshakes cycle through them. */
const KEYS = Array.from({ length: 64 }, () => {
  const key = randomBytes(16).toString("base64");
  return { key, accept: acceptKey(key) };
});

// --- State of the process -----------------------------------------------------------------------

let job: LoadJob;
let ring: Ring;
let driver: Driver;
const conns: Conn[] = [];
const latency = new LatencyHistogram();
/** The measurement window is open. */
let marking = false;
/** New messages (or handshakes) are being issued. */
let running = false;
let windowMessages = 0;
let windowBytes = 0;
let sent = 0;
let verified = 0;
let errors = 0;
let firstError: string | undefined;
let closing = false;
/** Called whenever the work outstanding may have reached zero. */
let onIdle: (() => void) | undefined;

function fail(message: string): void {
  errors++;
  firstError ??= message;
}

function reply(message: LoadReply, then?: () => void): void {
  if (then === undefined) process.send?.(message);
  else process.send?.(message, undefined, {}, then);
}

// --- One connection ----------------------------------------------------------------------------

/**
 * A client socket: the opening handshake, then the frame reader and the content checks. The
 * driver decides what to send and what a checked message means.
 */
/** The read buffer of every connection that checks its chunks as they come (not deflate). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

class Conn implements FrameReaderSink {
  readonly socket: net.Socket;
  /** Index into the ring of this connection's first message. */
  readonly base: number;
  /** Messages written, and messages received and checked. */
  sentCount = 0;
  recvCount = 0;
  /** Send time of message `k`, at `k % sendTimes.length`. */
  readonly sendTimes: Float64Array;
  /** The clock at the start of the current socket read. */
  now = 0;
  /** Messages checked during the current socket read. */
  completed = 0;
  upgraded = false;
  startedAt = 0;
  extensions = "";

  private readonly reader: FrameReader;
  private readonly keyIndex: number;
  private handshake: Buffer | undefined;
  private inflater: zlib.InflateRaw | undefined;
  /** Ring indices of the messages written to the inflater and not yet checked, in order. */
  private readonly inflating: number[] = [];
  private inflatingHead = 0;
  private inflatedOffset = 0;
  // The message being read.
  private msgOpcode = -1;
  private msgOffset = 0;
  private msgCompressed = false;
  private readonly pieces: Buffer[] = [];
  private frameFin = false;
  private frameControl = false;

  constructor(
    id: number,
    private readonly onUpgraded: (conn: Conn) => void,
  ) {
    // Broadcast receivers all see the publisher's sequence; echo connections start apart.
    this.base = job.kind === "broadcast" ? 0 : id % ring.payloads.length;
    this.keyIndex = id % KEYS.length;
    this.sendTimes = new Float64Array(Math.max(1, job.depth));
    this.reader = new FrameReader(this, (m) => fail(`connection ${id}: ${m}`));
    this.startedAt = performance.now();
    if (job.deflate) {
      // Compressed echoes are kept as views until inflated: each read needs its own buffer.
      this.socket = net.connect({ host: job.host, port: job.port });
      this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    } else {
      // Every other check reads each chunk once, during the call: all connections read into
      // one buffer, so the load costs no garbage per read (Node's `onread`).
      this.socket = net.connect({
        host: job.host,
        port: job.port,
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number, buffer: Uint8Array) => {
            this.onData((buffer as Buffer).subarray(0, n));
            return true;
          },
        },
      });
    }
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => this.socket.write(this.request()));
    this.socket.on("error", (e) => {
      if (!closing) fail(`connection ${id}: ${e.message}`);
    });
    this.socket.on("close", () => {
      if (!closing && this.upgraded && job.kind !== "setup") {
        fail(`connection ${id}: closed by the server`);
      }
    });
  }

  private request(): string {
    const ext = job.deflate ? `Sec-WebSocket-Extensions: ${job.deflateOffer}\r\n` : "";
    return (
      `GET / HTTP/1.1\r\nHost: ${job.host}:${job.port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${(KEYS[this.keyIndex] as { key: string }).key}\r\n` +
      `Sec-WebSocket-Version: 13\r\n${ext}\r\n`
    );
  }

  private onData(chunk: Buffer): void {
    this.now = performance.now();
    if (this.upgraded) {
      this.reader.push(chunk);
    } else {
      const all = this.handshake === undefined ? chunk : Buffer.concat([this.handshake, chunk]);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) {
        // A copy: the chunk may be the shared read buffer.
        this.handshake = all === chunk ? Buffer.from(chunk) : all;
        return;
      }
      this.handshake = undefined;
      if (!this.checkResponse(all.toString("latin1", 0, end))) {
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.onUpgraded(this);
      if (end + 4 < all.length) this.reader.push(all.subarray(end + 4));
    }
    driver.afterRead(this);
  }

  /** RFC 6455 section 4.1, the client's checks of the server's opening handshake. */
  private checkResponse(head: string): boolean {
    const lines = head.split("\r\n");
    if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? "")) {
      fail(`handshake refused: ${lines[0]}`);
      return false;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0)
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (
      headers.get("sec-websocket-accept") !== (KEYS[this.keyIndex] as { accept: string }).accept
    ) {
      fail("handshake: wrong Sec-WebSocket-Accept");
      return false;
    }
    this.extensions = headers.get("sec-websocket-extensions") ?? "";
    if (job.deflate) {
      if (!this.extensions.startsWith("permessage-deflate")) {
        fail(`handshake: permessage-deflate not accepted (${this.extensions || "no extension"})`);
        return false;
      }
      const bits = /client_max_window_bits=(\d+)/.exec(this.extensions);
      if (bits !== null && Number(bits[1]) < LOAD_WINDOW_BITS) {
        fail(`handshake: client_max_window_bits=${bits[1]} is not supported by the load generator`);
        return false;
      }
    } else if (this.extensions !== "") {
      fail(`handshake: unexpected extensions ${this.extensions}`);
      return false;
    }
    return true;
  }

  /** Writes the next `k` messages of the ring in one write. */
  sendNext(k: number, now: number): void {
    const n = ring.payloads.length;
    const start = (this.base + this.sentCount) % n;
    const times = this.sendTimes;
    for (let j = 0; j < k; j++) times[(this.sentCount + j) % times.length] = now;
    this.sentCount += k;
    sent += k;
    this.socket.write(
      ring.wire.subarray(ring.offsets[start] as number, ring.offsets[start + k] as number),
    );
  }

  /** The payload this connection expects next. */
  private expected(): Buffer {
    return ring.payloads[(this.base + this.recvCount) % ring.payloads.length] as Buffer;
  }

  onFrameStart(fin: boolean, rsv1: boolean, opcode: number, length: number): void {
    if (opcode >= 8) {
      this.frameControl = true;
      if (opcode === OP_CLOSE) fail("the server sent a close frame");
      return;
    }
    this.frameControl = false;
    this.frameFin = fin;
    if (opcode !== 0) {
      if (this.msgOpcode !== -1) fail("a message started inside another");
      if (opcode !== ring.opcode) fail(`echo of opcode ${opcode}, sent ${ring.opcode}`);
      if (rsv1 && !job.deflate) fail("RSV1 without permessage-deflate");
      this.msgOpcode = opcode;
      this.msgOffset = 0;
      this.msgCompressed = rsv1;
      this.pieces.length = 0;
    } else if (this.msgOpcode === -1) {
      fail("continuation frame without a message");
    }
    if (!this.msgCompressed && this.msgOffset + length > this.expected().length) {
      fail("echo longer than the message sent");
    }
  }

  onPayload(chunk: Buffer, start: number, end: number): void {
    if (this.frameControl) return;
    if (this.msgCompressed) {
      // A view: socket chunks are never reused by Node, so it stays valid.
      this.pieces.push(chunk.subarray(start, end));
      return;
    }
    const exp = this.expected();
    const n = end - start;
    if (
      this.msgOffset + n > exp.length ||
      chunk.compare(exp, this.msgOffset, this.msgOffset + n, start, end) !== 0
    ) {
      fail(`echo ${this.recvCount} differs from the message sent (content or order)`);
    }
    this.msgOffset += n;
  }

  onFrameEnd(): void {
    if (this.frameControl || !this.frameFin) return;
    const exp = this.expected();
    if (this.msgCompressed) {
      // RFC 7692 section 7.2.2: append the tail the sender removed, then inflate. The check
      // completes (verified++) when the stream's output arrives.
      this.pieces.push(DEFLATE_TAIL);
      this.inflate(Buffer.concat(this.pieces), (this.base + this.recvCount) % ring.payloads.length);
      this.pieces.length = 0;
    } else {
      if (this.msgOffset !== exp.length)
        fail(`echo ${this.recvCount} shorter than the message sent`);
      verified++;
    }
    this.msgOpcode = -1;
    this.recvCount++;
    this.completed++;
    driver.onMessage(this, exp.length);
  }

  /**
   * Hands a compressed message to this connection's inflate stream (created on first use, kept:
   * the server may use its history, RFC 7692 section 7.1.1). Each write ends with a sync flush,
   * so the stream's output is the plain messages back to back, checked against the expected
   * payloads in order by {@link checkInflated} as it comes.
   */
  private inflate(data: Buffer, index: number): void {
    if (this.inflater === undefined) {
      const inflater = zlib.createInflateRaw({ flush: zlib.constants.Z_SYNC_FLUSH });
      inflater.on("data", (chunk: Buffer) => this.checkInflated(chunk));
      inflater.on("error", (e) => fail(`inflate: ${e.message}`));
      this.inflater = inflater;
    }
    this.inflating.push(index);
    this.inflater.write(data);
  }

  private checkInflated(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const index = this.inflating[this.inflatingHead];
      if (index === undefined) {
        fail("inflate: more output than the messages sent");
        return;
      }
      const exp = ring.payloads[index] as Buffer;
      const n = Math.min(exp.length - this.inflatedOffset, chunk.length - off);
      if (chunk.compare(exp, this.inflatedOffset, this.inflatedOffset + n, off, off + n) !== 0) {
        fail(`compressed echo differs from message ${index} (content or order)`);
      }
      off += n;
      this.inflatedOffset += n;
      if (this.inflatedOffset === exp.length) {
        this.inflatedOffset = 0;
        this.inflating[this.inflatingHead++] = undefined as unknown as number;
        if (this.inflatingHead === this.inflating.length) {
          this.inflating.length = 0;
          this.inflatingHead = 0;
        }
        verified++;
        onIdle?.();
      }
    }
  }

  /** Drops the inflate context (after the last message of an idle connection). */
  dropInflater(): void {
    this.inflater?.close();
    this.inflater = undefined;
  }
}

// --- Drivers ------------------------------------------------------------------------------------

/** What to send, and what a checked message counts for, per kind of job. */
interface Driver {
  start(): void;
  onMessage(conn: Conn, bytes: number): void;
  afterRead(conn: Conn): void;
  /** Messages (or handshakes) still expected. */
  outstanding(): number;
}

function record(us: number, bytes: number): void {
  if (!marking) return;
  latency.record(us);
  windowMessages++;
  windowBytes += bytes;
}

/** Each connection keeps `depth` messages in flight; `limit` caps messages per connection. */
class EchoDriver implements Driver {
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  start(): void {
    running = true;
    const now = performance.now();
    for (const c of conns) c.sendNext(Math.min(job.depth, this.limit), now);
  }

  onMessage(conn: Conn, bytes: number): void {
    const t = conn.sendTimes[(conn.recvCount - 1) % conn.sendTimes.length] as number;
    record((conn.now - t) * 1000, bytes);
  }

  afterRead(conn: Conn): void {
    const k = conn.completed;
    conn.completed = 0;
    if (k > 0 && running) {
      const room = Math.min(k, this.limit - conn.sentCount);
      if (room > 0) conn.sendNext(room, conn.now);
    }
    if (onIdle !== undefined && k > 0) onIdle();
  }

  outstanding(): number {
    return sent - verified;
  }
}

/** Connection 0 publishes; `depth` broadcasts in flight; every connection checks each one. */
class BroadcastDriver implements Driver {
  private published = 0;
  private deliveries = 0;
  private readonly times: number[] = [];

  start(): void {
    running = true;
    this.publish(performance.now());
  }

  private publish(now: number): void {
    const publisher = conns[0] as Conn;
    const done = Math.floor(this.deliveries / conns.length);
    const k = Math.min(job.depth - (this.published - done), ring.payloads.length);
    if (!running || k <= 0) return;
    for (let j = 0; j < k; j++) this.times.push(now);
    this.published += k;
    publisher.sendNext(k, now);
  }

  onMessage(conn: Conn, bytes: number): void {
    this.deliveries++;
    record((conn.now - (this.times[conn.recvCount - 1] as number)) * 1000, bytes);
  }

  afterRead(conn: Conn): void {
    if (conn.completed === 0) return;
    conn.completed = 0;
    this.publish(conn.now);
    if (onIdle !== undefined) onIdle();
  }

  outstanding(): number {
    return this.published * conns.length - this.deliveries;
  }
}

/** `connections` handshakes in flight; each socket is reset as soon as its 101 is checked. */
class SetupDriver implements Driver {
  private inFlight = 0;
  private id = 0;

  start(): void {
    running = true;
    for (let i = 0; i < job.connections; i++) this.open();
  }

  private open(): void {
    this.inFlight++;
    sent++;
    const conn = new Conn(this.id++, (c) => this.upgraded(c));
    conn.socket.on("close", () => {
      this.inFlight--;
      if (!conn.upgraded && !closing) fail("handshake: connection closed before the 101");
      if (running && !closing) this.open();
      else onIdle?.();
    });
  }

  private upgraded(conn: Conn): void {
    verified++;
    record((conn.now - conn.startedAt) * 1000, 0);
    conn.socket.resetAndDestroy();
  }

  onMessage(): void {
    fail("setup: unexpected message");
  }

  afterRead(): void {}

  outstanding(): number {
    return this.inFlight;
  }
}

// --- Steps ------------------------------------------------------------------------------------

/** Opens `job.connections` connections, `job.connectConcurrency` handshakes at a time. */
function connectAll(): Promise<void> {
  return new Promise((resolve) => {
    let opened = 0;
    let upgraded = 0;
    let settled = false;
    const open = () => {
      const id = opened++;
      const conn = new Conn(id, () => {
        upgraded++;
        if (opened < job.connections) open();
        else if (upgraded === job.connections && !settled) {
          settled = true;
          resolve();
        }
      });
      conn.socket.once("close", () => {
        if (!conn.upgraded && !settled) {
          settled = true;
          fail(`connection ${id} closed during the handshake`);
          resolve();
        }
      });
      conns.push(conn);
    };
    for (let i = 0; i < Math.min(job.connectConcurrency, job.connections); i++) open();
  });
}

/** Resolves once nothing is outstanding, or after `ms` with the missing count as errors. */
function whenIdle(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      onIdle = undefined;
      const missing = driver.outstanding();
      if (missing > 0) fail(`${missing} echoes or handshakes never arrived`);
      resolve();
    }, ms);
    onIdle = () => {
      if (driver.outstanding() > 0) return;
      onIdle = undefined;
      clearTimeout(timer);
      resolve();
    };
    onIdle();
  });
}

let windowStart = 0;
let cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };

async function handle(cmd: LoadCommand): Promise<void> {
  switch (cmd.type) {
    case "setup": {
      job = cmd.job;
      ring = buildRing(job);
      if (job.depth > ring.payloads.length) throw new Error("depth above the ring size");
      driver =
        job.kind === "broadcast"
          ? new BroadcastDriver()
          : job.kind === "setup"
            ? new SetupDriver()
            : new EchoDriver(job.kind === "idle" ? job.messagesPerConnection : undefined);
      const t0 = performance.now();
      if (job.kind !== "setup") await connectAll();
      const connectMs = performance.now() - t0;
      if (job.kind === "idle" && job.messagesPerConnection > 0 && errors === 0) {
        driver.start();
        await whenIdle(60_000);
        running = false;
        for (const c of conns) c.dropInflater();
      }
      reply({
        type: "ready",
        connectMs,
        extensions: conns[0]?.extensions ?? "",
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
      });
      return;
    }
    case "start":
      driver.start();
      return;
    case "mark":
      latency.reset();
      windowMessages = 0;
      windowBytes = 0;
      windowStart = performance.now();
      cpuStart = process.cpuUsage();
      marking = true;
      reply({ type: "marked" });
      return;
    case "end": {
      const cpu = process.cpuUsage(cpuStart);
      const elapsedMs = performance.now() - windowStart;
      marking = false;
      const messages = windowMessages;
      const bytes = windowBytes;
      running = false;
      await whenIdle(15_000);
      const result: LoadResult = {
        messages,
        bytes,
        elapsedMs,
        cpuUser: cpu.user,
        cpuSystem: cpu.system,
        latency: latency.toPairs(),
        sent,
        verified,
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
      };
      reply({ type: "result", result });
      return;
    }
    case "close":
      closing = true;
      running = false;
      for (const c of conns) c.socket.resetAndDestroy();
      reply({ type: "closed" }, () => process.exit(0));
      return;
  }
}

process.on("message", (cmd: LoadCommand) => {
  handle(cmd).catch((e: unknown) => {
    reply({ type: "fatal", message: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () =>
      process.exit(1),
    );
  });
});
process.on("disconnect", () => process.exit(0));
