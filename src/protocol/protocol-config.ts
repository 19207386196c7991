/**
 * The settings of a {@link ProtocolConnection}, checked and resolved once and shared by every
 * connection made with them (a server's connections all use its settings). A connection keeps
 * one reference to its config instead of a field per setting: 10,000 idle connections then
 * hold one copy of the limits, not 10,000 (issue 7's memory target). GWS does the same with
 * the `*Config` every `Conn` points at.
 *
 * @module
 */

import type { Pool } from "../buffer/pool.js";
import { createError } from "../errors.js";
import { copyXorRange, type MaskSource, type XorInto, type XorRange, xorRange } from "./mask.js";
import { isValidUtf8, type Utf8Check } from "./utf8-validator.js";

/** The default largest message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** Options of a {@link ProtocolConnection}; see {@link ProtocolConfig} for the resolved form. */
export interface ProtocolOptions {
  /** Which end this is: a server expects masked frames and sends unmasked ones; a client the reverse. */
  readonly role: "server" | "client";
  /** Where message and frame buffers come from. */
  readonly pool: Pool;
  /** Largest message accepted, after decompression, across all its fragments. Default 16 MiB. */
  readonly maxMessageSize?: number;
  /** Answer pings with pongs automatically (RFC 6455 section 5.5.2). Default `true`. */
  readonly autoPong?: boolean;
  /** Validate text messages and close reasons as UTF-8. Default `true`. */
  readonly validateUtf8?: boolean;
  /** Whole-message UTF-8 check (the runtime injects Node's `buffer.isUtf8`). Default: pure TS. */
  readonly utf8Check?: Utf8Check;
  /** Mask source; required for the client role (RFC 6455 section 5.3). */
  readonly maskSource?: MaskSource;
  /** Whether permessage-deflate was negotiated, so RSV1 marks compressed messages. */
  readonly compression?: boolean;
  /** How received payloads are unmasked (the runtime may inject a native one). Default: pure TS. */
  readonly xor?: XorRange;
  /**
   * Stream messages to the sink ({@link ProtocolSink.onMessageStart} and the rest) instead of
   * assembling them: those whose first frame is not final or declares at least this many bytes.
   * Default: `undefined`, never. Compressed messages are assembled and inflated whole, then
   * streamed as one chunk when they were fragmented or inflate to at least this many bytes.
   */
  readonly streamThreshold?: number;
  /**
   * Largest streamed (uncompressed) message accepted, across all its fragments. Default
   * {@link maxMessageSize}. Compressed messages keep `maxMessageSize`: they are inflated whole.
   */
  readonly maxStreamSize?: number;
}

/**
 * {@link ProtocolOptions} checked and with their defaults applied, immutable. Make one per set
 * of options (a server, a client context) and pass it to every {@link ProtocolConnection}; a
 * plain options object works too, and is resolved per connection.
 */
export class ProtocolConfig {
  /** See {@link ProtocolOptions.role}. */
  readonly role: "server" | "client";
  /** See {@link ProtocolOptions.pool}. */
  readonly pool: Pool;
  /** Largest message accepted (bytes). */
  readonly maxMessageSize: number;
  /** Largest compressed payload accepted: the limit plus deflate's worst-case expansion. */
  readonly compressedLimit: number;
  /** See {@link ProtocolOptions.autoPong}. */
  readonly autoPong: boolean;
  /** See {@link ProtocolOptions.validateUtf8}. */
  readonly validateUtf8: boolean;
  /** See {@link ProtocolOptions.utf8Check}. */
  readonly utf8Check: Utf8Check;
  /** The mask source of a client; null for a server, which never masks (RFC 6455 section 5.3). */
  readonly mask: MaskSource | null;
  /** See {@link ProtocolOptions.compression}: RSV1 is allowed on data frames. */
  readonly compression: boolean;
  /** See {@link ProtocolOptions.xor}. */
  readonly xor: XorRange | undefined;
  /** The in-place unmask in use: {@link xor}, else the core's own. */
  readonly xorInPlace: XorRange;
  /** The copying unmask in use: `xor.into`, else the core's own. */
  readonly xorInto: XorInto;
  /** See {@link ProtocolOptions.streamThreshold}; -1: never stream. */
  readonly streamThreshold: number;
  /** See {@link ProtocolOptions.maxStreamSize}. */
  readonly maxStreamSize: number;
  /** The same settings with {@link compression} flipped, once asked for. */
  private other: ProtocolConfig | undefined;

  /**
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a client without a mask source, or a
   *   `streamThreshold` or `maxStreamSize` that is not a non-negative integer
   */
  constructor(options: ProtocolOptions) {
    if (options.role === "client" && options.maskSource === undefined) {
      throw createError("ERR_INVALID_ARGUMENT", "a client needs a maskSource");
    }
    this.role = options.role;
    this.pool = options.pool;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.compressedLimit = this.maxMessageSize + Math.ceil(this.maxMessageSize / 16384) * 5 + 64;
    this.autoPong = options.autoPong ?? true;
    this.validateUtf8 = options.validateUtf8 ?? true;
    this.utf8Check = options.utf8Check ?? isValidUtf8;
    const threshold = options.streamThreshold;
    if (threshold !== undefined && (!Number.isSafeInteger(threshold) || threshold < 0)) {
      throw createError("ERR_INVALID_ARGUMENT", `streamThreshold must be >= 0, got ${threshold}`);
    }
    this.streamThreshold = threshold ?? -1;
    const maxStream = options.maxStreamSize ?? this.maxMessageSize;
    if (!Number.isSafeInteger(maxStream) || maxStream < 0) {
      throw createError("ERR_INVALID_ARGUMENT", `maxStreamSize must be >= 0, got ${maxStream}`);
    }
    this.maxStreamSize = maxStream;
    this.mask = options.role === "client" ? (options.maskSource ?? null) : null;
    this.compression = options.compression ?? false;
    this.xor = options.xor;
    this.xorInPlace = options.xor ?? xorRange;
    this.xorInto = options.xor?.into ?? copyXorRange;
  }

  /** These settings, or a copy that differs only in {@link compression} (made once, then kept). */
  withCompression(compression: boolean): ProtocolConfig {
    if (compression === this.compression) return this;
    if (this.other === undefined) {
      this.other = new ProtocolConfig({
        role: this.role,
        pool: this.pool,
        maxMessageSize: this.maxMessageSize,
        autoPong: this.autoPong,
        validateUtf8: this.validateUtf8,
        utf8Check: this.utf8Check,
        maskSource: this.mask ?? undefined,
        compression,
        xor: this.xor,
        streamThreshold: this.streamThreshold < 0 ? undefined : this.streamThreshold,
        maxStreamSize: this.maxStreamSize,
      });
      this.other.other = this;
    }
    return this.other;
  }

  /** `options` itself when it is a config, else a config made from it. */
  static of(options: ProtocolOptions | ProtocolConfig): ProtocolConfig {
    return options instanceof ProtocolConfig ? options : new ProtocolConfig(options);
  }
}
