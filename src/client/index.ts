/**
 * The WebSocket client: {@link connect} dials, {@link fromDuplex} runs over a stream the
 * application made; both resolve with the same runtime `Connection` the server uses.
 *
 * @module
 */

export { ClientContext, type ClientContextOptions } from "./client-context.js";
export {
  type ClientOptions,
  type ClientTlsOptions,
  type ConnectOptions,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_REDIRECTS,
  type FromDuplexOptions,
} from "./client-options.js";
export { connect } from "./connect.js";
export { fromDuplex } from "./from-duplex.js";
