import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { parseUri } from '../message/index.js';
import type { Destination, Protocol } from '../transport/types.js';

export class TargetError extends Error {
  override name = 'TargetError';
}

const DEFAULT_PORT: Record<Protocol, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };

/**
 * Next hop for a SIP URI (RFC 3263, simplified): the transport from `;transport=` or the
 * scheme (sips -> tls), the port from the URI or the SRV record, the address from the URI's IP
 * literal or a DNS lookup. NAPTR is not consulted: operators configure transports explicitly.
 */
export async function resolveTarget(uri: string, available: Protocol[]): Promise<Destination> {
  let u;
  try {
    u = parseUri(uri);
  } catch (err) {
    throw new TargetError(`invalid next-hop URI ${uri}: ${(err as Error).message}`);
  }
  if (u.scheme !== 'sip' && u.scheme !== 'sips') throw new TargetError(`cannot route a ${u.scheme}: URI`);
  const param = u.params.get('transport')?.toLowerCase();
  let protocol: Protocol;
  if (param) {
    if (!['udp', 'tcp', 'tls', 'ws', 'wss'].includes(param)) throw new TargetError(`unknown transport ${param}`);
    protocol = param as Protocol;
    if (u.scheme === 'sips' && protocol === 'tcp') protocol = 'tls';
  } else protocol = u.scheme === 'sips' ? 'tls' : available.includes('udp') ? 'udp' : 'tcp';
  if (!available.includes(protocol)) throw new TargetError('requested protocol/transport not available');
  let host = u.host.replace(/^\[|\]$/g, '');
  let port = u.port;
  if (!isIP(host)) {
    if (port === undefined) {
      const service = protocol === 'tls' ? '_sips._tcp' : protocol === 'udp' ? '_sip._udp' : '_sip._tcp';
      try {
        const srv = (await dns.resolveSrv(`${service}.${host}`)).sort((a, b) => a.priority - b.priority || b.weight - a.weight);
        if (srv.length) {
          host = srv[0].name;
          port = srv[0].port;
        }
      } catch {
        /* no SRV: fall back to A/AAAA on the default port */
      }
    }
    try {
      host = (await dns.lookup(host)).address;
    } catch (err) {
      throw new TargetError(`cannot resolve ${host}: ${(err as Error).message}`);
    }
  }
  return { protocol, address: host, port: port ?? DEFAULT_PORT[protocol] };
}
