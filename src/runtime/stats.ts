/**
 * Counters shared by every connection of a server (or client context). Connections add to them
 * directly, so reading them costs nothing per connection.
 */
export class ConnectionStats {
  /** Connections opened since start. */
  opened = 0;
  /** Connections closed since start. */
  closed = 0;
  /** Messages received. */
  messagesIn = 0;
  /** Messages sent (a broadcast counts once per recipient). */
  messagesOut = 0;
  /** Payload bytes received (after decompression). */
  bytesIn = 0;
  /** Payload bytes sent (before compression). */
  bytesOut = 0;
  /** Frame bytes received from the wire (compressed size for compressed messages). */
  wireBytesIn = 0;
  /** Frame bytes written to the wire. */
  wireBytesOut = 0;
  /** Messages dropped by the `"drop"` backpressure policy. */
  dropped = 0;
  /** Payload bytes that went into compression, and what came out. */
  deflateIn = 0;
  deflateOut = 0;
  /** Closes by close code (1006 when no close frame arrived). */
  readonly closes = new Map<number, number>();

  /** Records a close. */
  recordClose(code: number): void {
    this.closed++;
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  /** A plain-object snapshot. */
  snapshot(): ConnectionStatsSnapshot {
    return {
      opened: this.opened,
      closed: this.closed,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      wireBytesIn: this.wireBytesIn,
      wireBytesOut: this.wireBytesOut,
      dropped: this.dropped,
      deflateRatio: this.deflateIn === 0 ? 1 : this.deflateOut / this.deflateIn,
      closes: Object.fromEntries(this.closes),
    };
  }
}

/** A snapshot of {@link ConnectionStats}. */
export interface ConnectionStatsSnapshot {
  readonly opened: number;
  readonly closed: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly wireBytesIn: number;
  readonly wireBytesOut: number;
  readonly dropped: number;
  /** Compressed bytes out / payload bytes in for compressed messages (1 when none). */
  readonly deflateRatio: number;
  readonly closes: Readonly<Record<number, number>>;
}
