import { SipParseError } from './errors.js';
import { formatParams, readParams } from './params.js';

export interface NameAddr {
  displayName?: string;
  uri: string;
  /** Header parameters (tag, expires, q, +sip.instance...), names lowercased. */
  params: Map<string, string | null>;
}

/** From/To/Contact/Route values: `"Bob" <sip:bob@x>;tag=1`, `<sip:x>`, `sip:bob@x;tag=1`, `*`. */
export function parseNameAddr(v: string): NameAddr {
  const s = v.trim();
  if (s === '*') return { uri: '*', params: new Map() };
  let i = 0;
  let displayName: string | undefined;
  if (s[0] === '"') {
    let k = 1;
    let text = '';
    while (k < s.length && s[k] !== '"') {
      if (s[k] === '\\' && k + 1 < s.length) {
        text += s[k + 1];
        k += 2;
      } else text += s[k++];
    }
    if (k >= s.length) throw new SipParseError(`malformed name-addr: unterminated display name in "${s.slice(0, 60)}"`);
    displayName = text;
    i = k + 1;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '<') throw new SipParseError(`malformed name-addr: "<" expected after the display name in "${s.slice(0, 60)}"`);
  }
  const lt = s.indexOf('<', i);
  if (lt >= 0 && (displayName !== undefined || !s.slice(0, lt).includes(';'))) {
    if (displayName === undefined) {
      const d = s.slice(0, lt).trim();
      if (d) displayName = d;
    }
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new SipParseError(`malformed name-addr: unterminated "<" in "${s.slice(0, 60)}"`);
    const uri = s.slice(lt + 1, gt).trim();
    if (!uri || !uri.includes(':')) throw new SipParseError(`malformed name-addr: bad URI "${uri.slice(0, 60)}"`);
    const { params } = readParams(s, gt + 1, 'header parameters');
    return { displayName, uri, params };
  }
  // addr-spec form: parameters after the URI belong to the header, not the URI (RFC 3261 20).
  const semi = s.indexOf(';');
  const uri = (semi < 0 ? s : s.slice(0, semi)).trim();
  if (!uri.includes(':') || /\s/.test(uri)) throw new SipParseError(`malformed name-addr "${s.slice(0, 60)}"`);
  const { params } = readParams(s, semi < 0 ? s.length : semi, 'header parameters');
  return { uri, params };
}

export function formatNameAddr(n: NameAddr): string {
  if (n.uri === '*') return '*';
  const display = n.displayName !== undefined ? `"${n.displayName.replace(/(["\\])/g, '\\$1')}" ` : '';
  return `${display}<${n.uri}>${formatParams(n.params)}`;
}
