/**
 * Header names: RFC 3261 7.3.3 compact forms (plus those of RFC 3265/6665, 3515, 3841, 3892,
 * 4028, 4474), canonical spellings, and which headers are comma-separated lists.
 */
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

/** Registered names whose usual spelling is not plain Title-Case. */
const SPECIAL = [
  'Call-ID', 'CSeq', 'WWW-Authenticate', 'MIME-Version', 'RSeq', 'RAck', 'Min-SE', 'SIP-ETag', 'SIP-If-Match',
  'Content-ID', 'Session-ID', 'Policy-ID', 'Remote-Party-ID', 'P-Called-Party-ID', 'P-Visited-Network-ID',
  'P-Associated-URI', 'P-DCS-Trace-Party-ID', 'P-DCS-OSPS', 'P-DCS-LAES', 'P-Charging-Function-Addresses',
  'User-to-User', 'P-Refused-URI-List', 'Refer-Sub', 'P-Access-Network-Info', 'P-Answer-State',
];
const CANONICAL = new Map<string, string>();
for (const n of SPECIAL) CANONICAL.set(n.toLowerCase(), n);
for (const n of Object.values(COMPACT)) if (!CANONICAL.has(n.toLowerCase())) CANONICAL.set(n.toLowerCase(), n);
for (const [k, v] of Object.entries(COMPACT)) CANONICAL.set(k, v);

function titleCase(lower: string): string {
  let out = '';
  let up = true;
  for (let i = 0; i < lower.length; i++) {
    const ch = lower[i];
    out += up ? ch.toUpperCase() : ch;
    up = ch === '-';
  }
  return out;
}

// Names seen on the wire repeat endlessly; the cache is bounded because hostile peers can send
// any number of distinct names.
const cache = new Map<string, string>();
const CACHE_MAX = 4096;

/** 'call-id' -> 'Call-ID', 'v' -> 'Via', 'cseq' -> 'CSeq', unknown 'x-foo-bar' -> 'X-Foo-Bar'. */
export function canonicalHeaderName(name: string): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  let lower = name.toLowerCase();
  if (lower.length && (lower.charCodeAt(0) <= 32 || lower.charCodeAt(lower.length - 1) <= 32)) lower = lower.trim();
  const out = CANONICAL.get(lower) ?? titleCase(lower);
  if (cache.size < CACHE_MAX) cache.set(name, out);
  return out;
}

/**
 * Headers RFC 3261 and its extensions define as comma-separated lists (`1#element`); a parsed
 * message holds one entry per element. The credentials headers are deliberately absent: their
 * commas separate parameters, not values.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'Via', 'Route', 'Record-Route', 'Contact', 'Allow', 'Supported', 'Require', 'Proxy-Require', 'Unsupported',
  'Accept', 'Accept-Encoding', 'Accept-Language', 'Allow-Events', 'Content-Encoding', 'Content-Language',
  'In-Reply-To', 'Path', 'Service-Route', 'P-Asserted-Identity', 'P-Preferred-Identity', 'P-Associated-URI',
  'Reason', 'Security-Client', 'Security-Server', 'Security-Verify', 'Accept-Contact', 'Reject-Contact',
  'Request-Disposition', 'Error-Info', 'Alert-Info', 'Call-Info', 'History-Info', 'Diversion',
  'Accept-Resource-Priority', 'Resource-Priority', 'Recv-Info', 'Feature-Caps', 'Permission-Missing',
  'Trigger-Consent',
]);
