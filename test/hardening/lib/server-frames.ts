// Reads what a server writes: unmasked frames (RFC 6455 section 5.2), for the tests that judge a
// server by its bytes on the wire. Not a WebSocket implementation: no UTF-8, no limits.

/** One frame as the server sent it. */
export interface WireFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** Parses the complete frames at the start of `bytes`; `rest` is the incomplete tail. */
export function parseFrames(bytes: Buffer): { frames: WireFrame[]; rest: Buffer } {
  const frames: WireFrame[] = [];
  let pos = 0;
  for (;;) {
    if (bytes.length - pos < 2) break;
    const b0 = bytes[pos] as number;
    const b1 = bytes[pos + 1] as number;
    let len = b1 & 0x7f;
    let at = pos + 2;
    if (len === 126) {
      if (bytes.length - at < 2) break;
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (bytes.length - at < 8) break;
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | undefined;
    if (masked) {
      if (bytes.length - at < 4) break;
      key = bytes.subarray(at, at + 4);
      at += 4;
    }
    if (bytes.length - at < len) break;
    const payload = Buffer.from(bytes.subarray(at, at + len));
    if (key !== undefined) {
      for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload });
    pos = at + len;
  }
  return { frames, rest: bytes.subarray(pos) };
}

/** The close code of a close frame's payload: 1005 when it has none. */
export function closeCodeOf(frame: WireFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/**
 * Reassembles the messages of a frame list (data frames only, in order) and returns them with
 * the control frames kept apart.
 */
export function messagesOf(frames: readonly WireFrame[]): {
  messages: { opcode: number; rsv: number; data: Buffer }[];
  controls: WireFrame[];
} {
  const messages: { opcode: number; rsv: number; data: Buffer }[] = [];
  const controls: WireFrame[] = [];
  let parts: Buffer[] = [];
  let opcode = 0;
  let rsv = 0;
  for (const f of frames) {
    if (f.opcode >= 8) {
      controls.push(f);
      continue;
    }
    if (f.opcode !== 0) {
      opcode = f.opcode;
      rsv = f.rsv;
      parts = [];
    }
    parts.push(f.payload);
    if (f.fin) messages.push({ opcode, rsv, data: Buffer.concat(parts) });
  }
  return { messages, controls };
}
