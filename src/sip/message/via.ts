import { SipParseError } from './errors.js';
import { formatParams, readParams } from './params.js';

export interface Via {
  transport: string;
  host: string;
  port?: number;
  params: Map<string, string | null>;
  branch?: string;
}

const VIA_HEAD = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?:\s*:\s*(\d{1,5}))?/i;

/** One Via value: `SIP/2.0/UDP host:port;branch=z9hG4bK...;rport` (white space around / tolerated, RFC 4475). */
export function parseVia(v: string): Via {
  const m = VIA_HEAD.exec(v.trim());
  if (!m) throw new SipParseError(`malformed Via header: "${v.slice(0, 80)}"`);
  const s = v.trim();
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port === 0 || port > 65535)) throw new SipParseError(`malformed Via header: port ${port} out of range`);
  const { params } = readParams(s, m[0].length, 'Via header');
  const branch = params.get('branch');
  return { transport: m[1].toUpperCase(), host: m[2], port, params, branch: branch ?? undefined };
}

export function formatVia(v: Via): string {
  return `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${formatParams(v.params)}`;
}

export function parseCSeq(v: string): { seq: number; method: string } {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(v);
  if (!m) throw new SipParseError(`malformed CSeq header: "${v.slice(0, 60)}"`);
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) throw new SipParseError(`CSeq number ${seq} is not below 2**31`);
  return { seq, method: m[2] };
}

/** `Digest username="a", realm="b", qop=auth` -> scheme and unquoted parameters (names lowercased). */
export function parseAuthParams(v: string): { scheme: string; params: Map<string, string> } {
  const s = v.trim();
  const sp = s.search(/\s/);
  if (sp <= 0) throw new SipParseError(`malformed credentials: "${s.slice(0, 40)}"`);
  const scheme = s.slice(0, sp);
  const params = new Map<string, string>();
  let i = sp;
  while (i < s.length) {
    while (i < s.length && ' \t,'.includes(s[i])) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new SipParseError(`malformed credentials: parameter without value near "${s.slice(i, i + 20)}"`);
    const name = s.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (s[i] === ' ' || s[i] === '\t') i++;
    let value: string;
    if (s[i] === '"') {
      let k = i + 1;
      value = '';
      while (k < s.length && s[k] !== '"') {
        if (s[k] === '\\' && k + 1 < s.length) {
          value += s[k + 1];
          k += 2;
        } else value += s[k++];
      }
      if (k >= s.length) throw new SipParseError(`malformed credentials: unterminated quoted ${name}`);
      i = k + 1;
    } else {
      let k = i;
      while (k < s.length && s[k] !== ',') k++;
      value = s.slice(i, k).trim();
      i = k;
    }
    params.set(name, value);
  }
  return { scheme, params };
}
