/**
 * WebSocket opcodes (RFC 6455 section 5.2, "Opcode: 4 bits").
 *
 * @module
 */

/**
 * The opcodes RFC 6455 defines. `%x3-7` are reserved for further non-control frames and
 * `%xB-F` for further control frames; a peer that sends one of those is failed.
 */
export const Opcode = {
  /** `%x0` denotes a continuation frame. */
  Continuation: 0,
  /** `%x1` denotes a text frame. */
  Text: 1,
  /** `%x2` denotes a binary frame. */
  Binary: 2,
  /** `%x8` denotes a connection close. */
  Close: 8,
  /** `%x9` denotes a ping. */
  Ping: 9,
  /** `%xA` denotes a pong. */
  Pong: 10,
} as const;

/** One of the defined opcode values. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/**
 * True for the defined control opcodes: close, ping, pong.
 *
 * RFC 6455 section 5.5: "Control frames are identified by opcodes where the most significant bit
 * of the opcode is 1." Only `%x8-A` are defined; the reserved `%xB-F` answer false here (see
 * {@link isReservedOpcode}).
 */
export function isControlOpcode(op: number): boolean {
  return op === 8 || op === 9 || op === 10;
}

/**
 * True for the defined data-frame opcodes: continuation, text and binary.
 *
 * RFC 6455 section 5.6: data frames "are identified by opcodes where the most significant bit of
 * the opcode is 0". A continuation frame carries data of the message in progress, so it counts;
 * use {@link isMessageOpcode} for the opcodes that start a message. The reserved `%x3-7` answer
 * false.
 */
export function isDataOpcode(op: number): boolean {
  return op === 0 || op === 1 || op === 2;
}

/** True for the opcodes that start a data message: text and binary. */
export function isMessageOpcode(op: number): boolean {
  return op === 1 || op === 2;
}

/**
 * True for the 4-bit values RFC 6455 section 5.2 reserves (`%x3-7` and `%xB-F`). Values outside
 * 0-15 are not opcodes at all and answer false.
 */
export function isReservedOpcode(op: number): boolean {
  return (op >= 3 && op <= 7) || (op >= 11 && op <= 15);
}
