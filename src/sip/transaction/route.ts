import { parseVia } from '../message/index.js';
import type { SipMessage } from '../message/index.js';
import type { Destination, Source } from '../transport/types.js';

/**
 * Where a response to a request goes (RFC 3261 18.2.2 with RFC 3581): over the same
 * connection for stream transports; for UDP to the source address, at the source port
 * when the client asked for rport, else at the port in its Via sent-by.
 */
export function responseDestination(request: SipMessage, source: Source): Destination {
  if (source.protocol !== 'udp') {
    return { protocol: source.protocol, address: source.remote.address, port: source.remote.port, flowId: source.flowId };
  }
  const top = request.headers.get('Via');
  let port = source.remote.port;
  if (top) {
    const via = parseVia(top);
    if (!via.params.has('rport')) port = via.port ?? 5060;
  }
  return { protocol: 'udp', address: source.remote.address, port, flowId: source.flowId };
}
