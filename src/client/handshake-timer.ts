/**
 * One deadline over every step of a client handshake (dial, tunnel, TLS, redirects, answer).
 *
 * @module
 */

import { createHandshakeError, type HandshakeError } from "../errors.js";

/** Something a step must stop when the deadline passes: destroy its socket, reject its promise. */
export type TimeoutAbort = (error: HandshakeError) => void;

/**
 * A deadline for a whole handshake. Each step registers how to abort it with {@link watch}
 * and unregisters with {@link release} once it has settled;
 * when the time is up the current step is aborted with `ERR_HANDSHAKE_TIMEOUT` (status 0: no
 * answer was received).
 */
export class HandshakeTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort: TimeoutAbort | undefined;
  private readonly ms: number;
  private expired = false;

  /** @param ms - the budget in milliseconds; `0` never expires */
  constructor(ms: number) {
    this.ms = ms;
    if (ms > 0) this.timer = setTimeout(onExpiry, ms, this);
  }

  /** Makes `abort` the step to stop when the deadline passes (replacing the previous one). */
  watch(abort: TimeoutAbort): void {
    this.abort = abort;
    if (this.expired) this.fire();
  }

  /** The step `abort` belongs to has settled: the deadline no longer stops it. */
  release(abort: TimeoutAbort): void {
    if (this.abort === abort) this.abort = undefined;
  }

  /** The deadline no longer matters: the handshake finished or failed. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort = undefined;
  }

  /** @internal */
  fire(): void {
    this.expired = true;
    this.timer = undefined;
    const abort = this.abort;
    if (abort === undefined) return;
    this.abort = undefined;
    abort(createHandshakeError("ERR_HANDSHAKE_TIMEOUT", 0, `no answer within ${this.ms} ms`));
  }
}

function onExpiry(timer: HandshakeTimer): void {
  timer.fire();
}
