import { excerpt, isTokenChar, skipWsp } from './chars.js';
import { SipParseError } from './errors.js';
import { Defect, formatParams, readHeaderParams } from './params.js';
import { checkHost, readPort } from './uri.js';

export interface Via {
  /** Uppercased: 'UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP'... */
  transport: string;
  /** Hostname, IPv4 address or bracketed IPv6 reference. */
  host: string;
  port?: number;
  /** Via parameters, names lowercased, values as sent. Authoritative for formatVia. */
  params: Map<string, string | null>;
  /** Convenience copy of params.get('branch'). */
  branch?: string;
}

function readToken(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/** The scanner behind parseVia; throws Defect. */
export function scanVia(s: string): Via {
  const n = s.length;
  let i = skipWsp(s, 0);
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport, with SWS around the
  // slashes (RFC 4475 wsinv folds inside it).
  let e = readToken(s, i);
  const name = s.slice(i, e);
  if (name.toUpperCase() !== 'SIP') throw new Defect(name ? `unknown protocol "${excerpt(name, 20)}"` : 'expected "SIP/2.0/transport"');
  i = skipWsp(s, e);
  if (s.charCodeAt(i) !== 47 /* / */) throw new Defect('expected "SIP/2.0/transport"');
  i = skipWsp(s, i + 1);
  e = readToken(s, i);
  const version = s.slice(i, e);
  if (version !== '2.0') throw new Defect(`unsupported protocol SIP/${excerpt(version, 12)}`);
  i = skipWsp(s, e);
  if (s.charCodeAt(i) !== 47) throw new Defect('missing transport');
  i = skipWsp(s, i + 1);
  e = readToken(s, i);
  if (e === i) throw new Defect('missing transport');
  const transport = s.slice(i, e).toUpperCase();
  i = skipWsp(s, e);
  if (i === e) throw new Defect(i >= n || s.charCodeAt(i) === 59 ? 'missing host' : `unexpected "${excerpt(s.slice(i), 20)}" after the transport`);
  if (i >= n) throw new Defect('missing host');

  // sent-by = host [ COLON port ]
  let hostEnd: number;
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0) throw new Defect('unterminated IPv6 reference');
    hostEnd = close + 1;
  } else {
    hostEnd = i;
    while (hostEnd < n) {
      const c = s.charCodeAt(hostEnd);
      if (c === 58 || c === 59 || c === 32 || c === 9) break;
      hostEnd++;
    }
  }
  if (hostEnd === i) throw new Defect('missing host');
  const host = checkHost(s.slice(i, hostEnd));
  i = skipWsp(s, hostEnd);
  let port: number | undefined;
  if (s.charCodeAt(i) === 58 /* : */) {
    const ps = skipWsp(s, i + 1);
    let pe = ps;
    while (pe < n) {
      const c = s.charCodeAt(pe);
      if (c === 59 || c === 32 || c === 9) break;
      pe++;
    }
    port = readPort(s, ps, pe);
    if (port === 0) throw new Defect('port 0 out of range');
    i = pe;
  }
  const params = new Map<string, string | null>();
  readHeaderParams(s, i, params);
  const via: Via = { transport, host, params };
  if (port !== undefined) via.port = port;
  const branch = params.get('branch');
  if (branch) via.branch = branch;
  return via;
}

/** One Via value: `SIP/2.0/UDP host:port;branch=z9hG4bK...;rport`. Throws SipParseError. */
export function parseVia(v: string): Via {
  try {
    return scanVia(v);
  } catch (err) {
    if (err instanceof Defect) throw new SipParseError(`malformed Via header: ${err.message}`);
    throw err;
  }
}

export function formatVia(v: Via): string {
  let params = formatParams(v.params);
  if (v.branch !== undefined && !v.params.has('branch')) params = `;branch=${v.branch}${params}`;
  return `SIP/2.0/${v.transport.toUpperCase()} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${params}`;
}
