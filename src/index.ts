/**
 * tidews: a WebSocket server and client for Node.js built on memory reuse.
 *
 * @packageDocumentation
 */
export * from "./buffer/index.js";
export type { PerMessageDeflateOptions } from "./deflate/negotiation.js";
export * from "./errors.js";
export { CloseCode } from "./protocol/close-codes.js";
export { ReadyState, type ReadyStateValue } from "./protocol/connection.js";
export { Opcode } from "./protocol/opcodes.js";
export {
  Connection,
  type ConnectionCloseInfo,
  type Handler,
  type SendOptions,
} from "./runtime/connection.js";
export { Message } from "./runtime/message.js";
export { Upgrader, type UpgraderOptions } from "./server/upgrader.js";
