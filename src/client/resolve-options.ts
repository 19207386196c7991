/**
 * Checks of the options both client entry points share.
 *
 * @module
 */

import { createError } from "../errors.js";
import { ClientContext } from "./client-context.js";
import { type ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT } from "./client-options.js";

/**
 * The context of a call: the `context` option, or a new one around the `pool` option.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` for a `pool` that is not the context's, or an
 *   `idleTimeout` under 2 ms
 */
export function resolveContext(options: ClientOptions): ClientContext {
  let context = options.context;
  if (context === undefined) {
    context = new ClientContext({ pool: options.pool, sharedReadBuffer: false });
  } else if (options.pool !== undefined && options.pool !== context.pool) {
    throw createError("ERR_INVALID_ARGUMENT", "pool differs from the context's pool");
  }
  // Checks idleTimeout before anything is dialled.
  if (options.idleTimeout !== undefined) context.heartbeat(options.idleTimeout);
  return context;
}

/**
 * A non-negative integer option, or its default.
 *
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT`
 */
export function nonNegativeInteger(name: string, value: number | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw createError("ERR_INVALID_ARGUMENT", `${name} must be an integer >= 0, got ${value}`);
  }
  return value;
}

/** The handshake timeout in milliseconds (`0`: none). */
export function handshakeTimeout(options: ClientOptions): number {
  return nonNegativeInteger(
    "handshakeTimeout",
    options.handshakeTimeout,
    DEFAULT_HANDSHAKE_TIMEOUT,
  );
}
