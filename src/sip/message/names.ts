/** RFC 3261 7.3.3 compact forms plus the registered extensions (RFC 3515, 3841, 3892, 4028, 6665...). */
const COMPACT: Record<string, string> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  c: 'Content-Type',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact',
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  n: 'Identity-Info',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events',
  v: 'Via',
  x: 'Session-Expires',
  y: 'Identity',
};

/** Names whose canonical spelling is not plain Title-Case. */
const SPECIAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rseq: 'RSeq',
  rack: 'RAck',
  'min-se': 'Min-SE',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
  'p-charging-vector': 'P-Charging-Vector',
  'content-id': 'Content-ID',
  'alert-info': 'Alert-Info',
};

const cache = new Map<string, string>();

export function canonicalHeaderName(name: string): string {
  const hit = cache.get(name);
  if (hit) return hit;
  const lower = name.trim().toLowerCase();
  let out = COMPACT[lower] ?? SPECIAL[lower];
  if (!out) out = lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  if (cache.size < 10_000) cache.set(name, out);
  return out;
}

/** Headers RFC 3261 (and extensions) define as comma-separated lists, split into one entry each. */
export const LIST_HEADERS = new Set([
  'Via', 'Route', 'Record-Route', 'Contact', 'Allow', 'Supported', 'Require', 'Proxy-Require', 'Unsupported',
  'Accept', 'Accept-Encoding', 'Accept-Language', 'Allow-Events', 'Content-Encoding', 'In-Reply-To', 'Path',
  'Service-Route', 'P-Asserted-Identity', 'P-Preferred-Identity', 'Reason', 'Security-Client', 'Security-Server',
  'Security-Verify', 'Accept-Contact', 'Reject-Contact', 'Request-Disposition', 'Error-Info', 'Alert-Info', 'Call-Info',
]);
