/**
 * What client connections share: buffers, zlib contexts, the bound on zlib jobs, masking keys,
 * heartbeat timers.
 *
 * @module
 */

import { BufferPool } from "../buffer/buffer-pool.js";
import type { Pool } from "../buffer/pool.js";
import { CodecPool } from "../deflate/codec-pool.js";
import { ConcurrencyLimiter } from "../deflate/concurrency-limiter.js";
import type { ResolvedDeflateOptions } from "../deflate/negotiation.js";
import { ZlibCodecFactory } from "../deflate/zlib-codec.js";
import type { MaskSource } from "../protocol/mask.js";
import { Heartbeat } from "../runtime/heartbeat.js";
import { CryptoMaskSource } from "../runtime/mask-source.js";
import { TickFlusher } from "../runtime/tick-flusher.js";
import { ReadBuffer } from "../transport/read-buffer.js";

/** The default pool's smallest buffer: 256 bytes. */
const DEFAULT_POOL_MIN = 256;
/** The default pool's largest kept buffer: 1 MiB. */
const DEFAULT_POOL_MAX = 1024 * 1024;

/** Options of a {@link ClientContext}; each resource is made when not given. */
export interface ClientContextOptions {
  /** Where message and frame buffers come from. Default: a new {@link BufferPool} of 256 B..1 MiB buffers. */
  readonly pool?: Pool;
  /** Shared zlib contexts for connections without context takeover. Default: a new one. */
  readonly codecPool?: CodecPool;
  /** Bounds the asynchronous zlib jobs of every connection of the context. Default: 8 slots. */
  readonly limiter?: ConcurrencyLimiter;
  /** Masking keys (RFC 6455 section 5.3). Default: a {@link CryptoMaskSource}. */
  readonly maskSource?: MaskSource;
  /**
   * The context's plain TCP sockets read into one shared 64 KiB buffer instead of a new one per
   * read (far less garbage). Default `true` for a context made with `new ClientContext()`;
   * the context `connect` makes for a call without one has it off, so that many connections
   * made without a context do not each keep 64 KiB.
   */
  readonly sharedReadBuffer?: boolean;
}

/**
 * The resources client connections share. `connect` and `fromDuplex` make one per call when the
 * `context` option is absent; an application that opens many connections makes one and passes it
 * to each, so that they share one buffer pool, one set of idle zlib contexts and one bound on
 * zlib's thread pool. It is an ordinary object: there is no module-level state.
 *
 * ```ts
 * const context = new ClientContext();
 * const a = await connect("ws://127.0.0.1:8080/a", handler, { context });
 * const b = await connect("ws://127.0.0.1:8080/b", handler, { context });
 * ```
 */
export class ClientContext {
  /** The buffer pool of every connection of this context. */
  readonly pool: Pool;
  /** Shared zlib contexts. */
  readonly codecPool: CodecPool;
  /** The bound on concurrent asynchronous zlib jobs. */
  readonly limiter: ConcurrencyLimiter;
  /** The default mask source of the connections (the `maskSource` option overrides it). */
  readonly maskSource: MaskSource;
  /** The read buffer the context's plain TCP sockets share; undefined when off. */
  readonly readBuffer: ReadBuffer | undefined;
  /** @internal The end-of-tick flush of the context's connections: one tick callback for all. */
  readonly flusher = new TickFlusher();
  /** Codec factories by zlib level and memLevel: the only settings a factory fixes. */
  private readonly factories = new Map<string, ZlibCodecFactory>();
  /** Heartbeats by idle timeout: one timer for every connection with that timeout. */
  private readonly heartbeats = new Map<number, Heartbeat>();

  /** @param options - resources to use instead of new ones */
  constructor(options: ClientContextOptions = {}) {
    this.pool = options.pool ?? new BufferPool(DEFAULT_POOL_MIN, DEFAULT_POOL_MAX);
    this.codecPool = options.codecPool ?? new CodecPool();
    this.limiter = options.limiter ?? new ConcurrencyLimiter();
    this.maskSource = options.maskSource ?? new CryptoMaskSource();
    this.readBuffer = options.sharedReadBuffer === false ? undefined : new ReadBuffer();
  }

  /**
   * The codec factory for connections compressing with these settings, made on first use and
   * kept. The negotiated parameters (windows, context takeover) are given per connection to
   * {@link ZlibCodecFactory.create}.
   */
  codecFactory(deflate: ResolvedDeflateOptions): ZlibCodecFactory {
    const key = `${deflate.level}/${deflate.memLevel}`;
    let factory = this.factories.get(key);
    if (factory === undefined) {
      factory = new ZlibCodecFactory({
        bufferPool: this.pool,
        limiter: this.limiter,
        codecPool: this.codecPool,
        deflate: { level: deflate.level, memLevel: deflate.memLevel },
      });
      this.factories.set(key, factory);
    }
    return factory;
  }

  /**
   * The heartbeat of the connections with this idle timeout, made on first use. Its interval
   * runs (unref'd) only while some connection is watched.
   *
   * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a timeout under 2 ms
   */
  heartbeat(idleTimeout: number): Heartbeat {
    let heartbeat = this.heartbeats.get(idleTimeout);
    if (heartbeat === undefined) {
      heartbeat = new Heartbeat(idleTimeout);
      this.heartbeats.set(idleTimeout, heartbeat);
    }
    return heartbeat;
  }
}
