/**
 * One deadline, and the caller's `AbortSignal`, over every step of a client handshake (dial,
 * tunnel, TLS, redirects, answer).
 *
 * @module
 */

import { createHandshakeError, type HandshakeError } from "../errors.js";

/** Something a step must stop when the attempt ends early: destroy its socket, reject its promise. */
export type TimeoutAbort = (error: HandshakeError) => void;

/**
 * `ERR_WS_ABORTED` (status 0: no answer was used) whose `cause` is the signal's reason, as
 * `new Error(message, { cause })` would set it.
 */
export function abortedError(signal: AbortSignal): HandshakeError {
  const error = createHandshakeError("ERR_WS_ABORTED", 0);
  Object.defineProperty(error, "cause", {
    value: signal.reason,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return error;
}

/**
 * A deadline for a whole handshake, and the `AbortSignal` that may cancel it sooner. Each step
 * registers how to stop it with {@link watch} and unregisters with {@link release} once it has
 * settled. When the time is up the current step is stopped with `ERR_HANDSHAKE_TIMEOUT`, when
 * the signal fires with `ERR_WS_ABORTED`; whichever comes first wins, and a step registered later
 * is stopped at once. {@link clear} stops the timer and removes the signal's listener.
 */
export class HandshakeTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort: TimeoutAbort | undefined;
  private readonly ms: number;
  private signal: AbortSignal | undefined;
  /** Why the attempt ended early, once it did. */
  private failure: HandshakeError | undefined;

  /**
   * @param ms - the budget in milliseconds; `0` never expires
   * @param signal - cancels the attempt when it fires; it must not be aborted already (the caller
   *   rejects at once then, before anything is dialled)
   */
  constructor(ms: number, signal?: AbortSignal) {
    this.ms = ms;
    if (ms > 0) this.timer = setTimeout(onExpiry, ms, this);
    if (signal !== undefined) {
      this.signal = signal;
      signal.addEventListener("abort", this);
    }
  }

  /** The error that ended the attempt early (timeout or abort), or `undefined` while none did. */
  get failed(): HandshakeError | undefined {
    return this.failure;
  }

  /** Makes `abort` the step to stop when the attempt ends early (replacing the previous one). */
  watch(abort: TimeoutAbort): void {
    this.abort = abort;
    if (this.failure !== undefined) this.stop(this.failure);
  }

  /** The step `abort` belongs to has settled: the deadline no longer stops it. */
  release(abort: TimeoutAbort): void {
    if (this.abort === abort) this.abort = undefined;
  }

  /** The deadline and the signal no longer matter: the handshake finished or failed. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort = undefined;
    this.signal?.removeEventListener("abort", this);
    this.signal = undefined;
  }

  /** @internal The deadline passed. */
  fire(): void {
    this.timer = undefined;
    this.end(createHandshakeError("ERR_HANDSHAKE_TIMEOUT", 0, `no answer within ${this.ms} ms`));
  }

  /**
   * @internal The signal fired (the timer is its own `abort` listener, so no closure is made per
   * attempt).
   */
  handleEvent(): void {
    const signal = this.signal;
    if (signal !== undefined) this.end(abortedError(signal));
  }

  private end(error: HandshakeError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stop(error);
  }

  private stop(error: HandshakeError): void {
    const abort = this.abort;
    if (abort === undefined) return;
    this.abort = undefined;
    abort(error);
  }
}

function onExpiry(timer: HandshakeTimer): void {
  timer.fire();
}
