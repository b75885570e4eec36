/**
 * The address a browser connects from, as the PIN guard needs it. Behind a reverse proxy the
 * socket's peer is the proxy; a proxy listed in `http.trustedProxies` says who its client
 * was in X-Forwarded-For (each proxy appends the address it was connected from). The chain is
 * read from the nearest hop back, and the first address that is not a trusted proxy is the
 * client: entries further left were written by that client and prove nothing. From anyone
 * not trusted, X-Forwarded-For is ignored.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** '::ffff:192.0.2.7' (an IPv4 peer on a dual-stack socket) is 192.0.2.7. */
function plain(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const a = address.trim().replace(/^\[|\]$/g, '');
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1];
  return v4 ?? (isIP(a) ? a.toLowerCase() : undefined);
}

export function clientAddress(req: Pick<IncomingMessage, 'socket' | 'headers'>, trustedProxies: ReadonlySet<string>): string | undefined {
  const peer = plain(req.socket.remoteAddress);
  if (!peer || !trustedProxies.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain(hops[i]);
    if (hop === undefined) return peer; // a malformed entry: trust nothing before it
    if (!trustedProxies.has(hop)) return hop;
  }
  return peer;
}

/** `http.trustedProxies` in the form clientAddress compares. */
export function trustedProxySet(addresses: readonly string[]): ReadonlySet<string> {
  return new Set(addresses.map(plain).filter((a): a is string => a !== undefined));
}
