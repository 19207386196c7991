import diagnostics from "node:diagnostics_channel";

/**
 * `node:diagnostics_channel` channels tidews publishes on. Subscribe with
 * `diagnostics_channel.subscribe("tidews:open", fn)`; nothing is published when nobody listens.
 *
 * - `tidews:open` `{ connection }`
 * - `tidews:close` `{ connection, code, reason, wasClean, error }`
 * - `tidews:error` `{ connection, error }` (handler errors and connection failures)
 */
export const channels = {
  open: diagnostics.channel("tidews:open"),
  close: diagnostics.channel("tidews:close"),
  error: diagnostics.channel("tidews:error"),
} as const;
