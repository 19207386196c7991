/**
 * A strict reader of an HTTP/1.1 response head (RFC 9112 sections 4 and 5), for the client
 * handshake over a Duplex the library did not dial (`fromDuplex`), where node:http's parser is not
 * in the way. Only the head is read: whatever follows it belongs to the WebSocket stream.
 *
 * @module
 */

import { createHandshakeError } from "../errors.js";
import { isTokenChar } from "../protocol/extension-header.js";

/** The default and usual limit on a response head: 16 KiB, as node:http's `maxHeaderSize`. */
export const MAX_RESPONSE_HEAD = 16 * 1024;

/** A parsed response head. */
export interface ResponseHead {
  /** The status code, 100..599. */
  readonly status: number;
  /** The reason phrase (may be empty). */
  readonly reason: string;
  /** `1.1` or `1.0`. */
  readonly httpVersion: string;
  /**
   * Header values by lower-case name. Repeated headers are joined with `", "` (RFC 9110 section
   * 5.3), except `set-cookie`, which is always an array, as in `IncomingMessage.headers`.
   */
  readonly headers: Record<string, string | string[]>;
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4). A missing
// SP before an empty reason is tolerated: common servers omit it.
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

function malformed(detail: string) {
  return createHandshakeError("ERR_HANDSHAKE_MALFORMED", 0, detail);
}

/** field-value characters: HTAB, SP, VCHAR and obs-text (RFC 9110 section 5.5). */
function isFieldValueChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function parseHeaderLine(line: string, headers: Record<string, string | string[]>): void {
  const colon = line.indexOf(":");
  if (colon <= 0) throw malformed("header line without a name");
  // RFC 9112 section 5.1: no whitespace between the field name and the colon; section 5.2:
  // obs-fold (a line starting with SP or HTAB) is rejected here as well.
  for (let i = 0; i < colon; i++) {
    if (!isTokenChar(line.charCodeAt(i))) throw malformed("invalid header name");
  }
  let start = colon + 1;
  let end = line.length;
  while (start < end && isWhitespace(line.charCodeAt(start))) start++;
  while (end > start && isWhitespace(line.charCodeAt(end - 1))) end--;
  for (let i = start; i < end; i++) {
    if (!isFieldValueChar(line.charCodeAt(i))) throw malformed("invalid header value");
  }
  const name = line.slice(0, colon).toLowerCase();
  const value = line.slice(start, end);
  const previous = headers[name];
  if (name === "set-cookie") {
    if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [value];
  } else {
    headers[name] = previous === undefined ? value : `${previous as string}, ${value}`;
  }
}

/**
 * Parses a complete head (status line and header lines, without the final empty line), read as
 * `latin1` so that every byte is one character.
 *
 * @throws {@link HandshakeError} `ERR_HANDSHAKE_MALFORMED` (status 0)
 */
export function parseResponseHead(head: string): ResponseHead {
  const lines = head.split("\r\n");
  for (const line of lines) {
    // RFC 9112 section 2.2: a bare CR is invalid; a bare LF as a line end is not accepted here.
    if (line.includes("\r") || line.includes("\n")) throw malformed("bare CR or LF");
  }
  const match = STATUS_LINE.exec(lines[0] ?? "");
  if (match === null) throw malformed("invalid status line");
  const headers: Record<string, string | string[]> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length > 0 && isWhitespace(line.charCodeAt(0))) {
      throw malformed("obsolete line folding");
    }
    parseHeaderLine(line, headers);
  }
  return {
    status: Number(match[2]),
    reason: match[3] ?? "",
    httpVersion: `1.${match[1] as string}`,
    headers,
  };
}

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");

/**
 * Collects chunks until the end of the response head (the empty line), then parses it. Bytes
 * after the head are kept in {@link leftover}: they are the first WebSocket frames.
 */
export class ResponseHeadReader {
  /** Bytes that followed the head, once it is complete. */
  leftover: Buffer = Buffer.alloc(0);
  private readonly limit: number;
  /** Bytes received so far, in `acc[0, used)`; grown by doubling, so reading is linear. */
  private acc: Buffer | undefined;
  private used = 0;

  /** @param limit - the largest head accepted, the final empty line included */
  constructor(limit = MAX_RESPONSE_HEAD) {
    this.limit = limit;
  }

  /**
   * Adds a chunk. Returns the head once it is complete (and stops reading), `undefined` while it
   * is not.
   *
   * @throws {@link HandshakeError} `ERR_HANDSHAKE_HEADERS_TOO_LARGE` past the limit,
   *   `ERR_HANDSHAKE_MALFORMED` for a malformed head (status 0 for both)
   */
  push(chunk: Buffer): ResponseHead | undefined {
    const searchFrom = Math.max(0, this.used - 3);
    let all: Buffer;
    if (this.used === 0) {
      all = chunk;
    } else {
      all = this.append(chunk);
    }
    const end = all.indexOf(CRLFCRLF, searchFrom);
    if (end < 0 || end + 4 > this.limit) {
      if (end >= 0 || all.length > this.limit) throw this.tooLarge();
      if (all === chunk) this.append(chunk);
      return undefined;
    }
    this.leftover = all.subarray(end + 4);
    this.acc = undefined;
    this.used = 0;
    return parseResponseHead(all.toString("latin1", 0, end));
  }

  private append(chunk: Buffer): Buffer {
    const needed = this.used + chunk.length;
    let acc = this.acc;
    if (acc === undefined || acc.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * (acc?.length ?? 256)));
      if (acc !== undefined) acc.copy(grown, 0, 0, this.used);
      acc = grown;
      this.acc = grown;
    }
    chunk.copy(acc, this.used);
    this.used = needed;
    return acc.subarray(0, needed);
  }

  private tooLarge() {
    return createHandshakeError(
      "ERR_HANDSHAKE_HEADERS_TOO_LARGE",
      0,
      `the response head exceeds ${this.limit} bytes`,
    );
  }
}
