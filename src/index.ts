/**
 * tidews: a WebSocket server and client for Node.js built on memory reuse.
 *
 * @packageDocumentation
 */
export * from "./buffer/index.js";
export * from "./client/index.js";
export type { PerMessageDeflateOptions } from "./deflate/negotiation.js";
export * from "./errors.js";
export { CloseCode } from "./protocol/close-codes.js";
export { ReadyState, type ReadyStateValue } from "./protocol/connection.js";
export { Opcode } from "./protocol/opcodes.js";
export {
  type Adapter,
  type AdapterSink,
  MemoryAdapter,
  type MemoryAdapterOptions,
  MemoryHub,
} from "./runtime/adapter.js";
export { Broadcaster, type BroadcastOptions } from "./runtime/broadcaster.js";
export {
  type BackpressurePolicy,
  Connection,
  type ConnectionCloseInfo,
  DEFAULT_MAX_BACKLOG_BYTES,
  DEFAULT_MAX_BACKLOG_MESSAGES,
  type Handler,
  type PublishOptions,
  type ReceiveOptions,
  type SendOptions,
} from "./runtime/connection.js";
export { channels as diagnosticsChannels } from "./runtime/diagnostics.js";
export { Message } from "./runtime/message.js";
export { MessageStream } from "./runtime/message-stream.js";
export type { ConnectionStatsSnapshot } from "./runtime/stats.js";
export {
  DEFAULT_STREAM_FRAGMENT_SIZE,
  type SendStreamOptions,
  type StreamChunk,
  type StreamSource,
} from "./runtime/stream-sender.js";
export { TopicRegistry, type TopicRegistryOptions, type TopicStats } from "./runtime/topics.js";
export { createServer, Server, type ServerOptions } from "./server/server.js";
export {
  type AuthorizeResult,
  type ServerStats,
  Upgrader,
  type UpgraderOptions,
} from "./server/upgrader.js";
