import { SipHeaders, parseCSeq, type SipRequest } from '../message/index.js';

/**
 * The CANCEL for a pending INVITE (RFC 3261 9.1): same Request-URI, top Via (branch), Route
 * set, Call-ID, From, To and CSeq number as the INVITE; `extra` headers (Reason, X-...) added.
 */
export function buildCancel(invite: SipRequest, extra: Array<[string, string]> = []): SipRequest {
  const h = invite.headers;
  const headers = new SipHeaders();
  headers.set('Via', h.getAll('Via')[0]);
  for (const r of h.getAll('Route')) headers.append('Route', r);
  headers.set('Max-Forwards', '70');
  headers.set('From', h.get('From')!);
  headers.set('To', h.get('To')!);
  headers.set('Call-ID', h.get('Call-ID')!);
  headers.set('CSeq', `${parseCSeq(h.get('CSeq')!).seq} CANCEL`);
  for (const [n, v] of extra) headers.append(n, v);
  return { kind: 'request', method: 'CANCEL', uri: invite.uri, headers, body: Buffer.alloc(0) };
}
