/**
 * The request head of a client handshake written by hand, for `fromDuplex`.
 *
 * @module
 */

/**
 * `GET <path> HTTP/1.1`, the headers and the empty line (RFC 9112 section 3 and RFC 6455 section
 * 4.1). The headers were checked by `buildRequestHeaders` (tokens, no CR, LF or other controls), so
 * every character is safe to write as `latin1`.
 */
export function formatRequestHead(path: string, headers: Readonly<Record<string, string>>): string {
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const name of Object.keys(headers)) head += `${name}: ${headers[name] as string}\r\n`;
  return `${head}\r\n`;
}
