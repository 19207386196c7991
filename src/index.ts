/**
 * tidews: a WebSocket server and client for Node.js built on memory reuse.
 *
 * @packageDocumentation
 */
export * from "./buffer/index.js";
export * from "./errors.js";
