export { binaryCeil, isPowerOfTwo } from "./binary-ceil.js";
export { BUFFER_POOL_DEFAULTS, BufferPool, type BufferPoolOptions } from "./buffer-pool.js";
export { ByteBuffer, type ByteBufferOptions, SMALL_BUFFER_SIZE } from "./byte-buffer.js";
export type { Pool, PoolStats, ShardStats } from "./pool.js";
export { SIMPLE_POOL_BUFFER_SIZE, SimplePool } from "./simple-pool.js";
