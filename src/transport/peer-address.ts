/**
 * The peer's IP address of a stream, read so that node:net keeps nothing for it.
 *
 * `socket.remoteAddress` caches what it reads on the socket (`_peername`, an object with the
 * address, the family and the port) for the socket's whole life: about 70 bytes per connection
 * that an idle server holds 10,000 times over (issue 7's memory target), while tidews keeps only
 * the address string. A plain TCP socket's handle answers `getpeername` directly, into an object
 * that is dropped at once. Every other stream (TLS, pipes, an in-memory Duplex), and a socket whose
 * address was already read, goes through `remoteAddress` as before.
 *
 * The address string itself is about 32 bytes a connection. Behind a proxy or a load balancer,
 * or from one test client, every connection has the same peer: given the address of the
 * connection before, {@link peerAddress} answers with that string when they are equal, so that
 * all of them share one string instead of holding a copy each.
 *
 * @module
 */

/** The part of a `net.Socket` this reads (its handle's `getpeername` is node:net's own). */
interface PeerStream {
  readonly remoteAddress?: string;
  readonly _peername?: unknown;
  readonly _handle?: { getpeername?(out: { address?: string }): number } | null;
}

/**
 * The peer address of `stream` (undefined when it has none, or it is closed).
 *
 * @param previous - an address read before (the last connection's): returned instead of an
 *   equal new string, so that connections from one peer share it
 */
export function peerAddress(stream: object, previous?: string): string | undefined {
  const s = stream as PeerStream;
  const handle = s._handle;
  let address: string | undefined;
  if (s._peername === undefined && typeof handle?.getpeername === "function") {
    const out: { address?: string } = {};
    // 0: success (a libuv status otherwise).
    if (handle.getpeername(out) === 0 && typeof out.address === "string") address = out.address;
  }
  address ??= s.remoteAddress;
  return address === previous ? previous : address;
}
