import { excerpt } from './chars.js';
import { SipParseError } from './errors.js';
import { Defect, formatParams, readUriParams } from './params.js';

export interface SipUri {
  /** Lowercased: 'sip', 'sips', 'tel', or any other scheme (carried opaque in `host`). */
  scheme: string;
  /** As sent, still %-escaped. For tel: the number. */
  user?: string;
  password?: string;
  /** Hostname, IPv4 address or bracketed IPv6 reference ('[2001:db8::1]'); '' for tel. */
  host: string;
  port?: number;
  /** URI parameters, names lowercased, values as sent (null when there is no '='). */
  params: Map<string, string | null>;
  /** URI headers (`?name=value&...`), as sent. */
  headers: Map<string, string>;
}

function isSchemeChar(c: number, first: boolean): boolean {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (first) return alpha;
  return alpha || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

function isHostChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95;
}

function isIpv6Char(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46 || c === 37 /* zone */;
}

/** Characters no URI may contain unescaped: white space, controls, quotes and angle brackets. */
function checkUriChars(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) throw new Defect('contains white space');
    if (c < 32 || c === 127) throw new Defect(`contains control character 0x${c.toString(16).padStart(2, '0')}`);
    if (c === 34 || c === 60 || c === 62) throw new Defect(`contains "${s[i]}"`);
  }
}

/** `port = 1*DIGIT` in range; reads s[from, to). */
export function readPort(s: string, from: number, to: number): number {
  const p = s.slice(from, to);
  if (p.length === 0 || p.length > 5) {
    if (p.length > 5 && /^\d+$/.test(p)) throw new Defect(`port ${p} out of range`);
    throw new Defect(`bad port "${excerpt(p, 20)}"`);
  }
  let v = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 48 || c > 57) throw new Defect(`bad port "${excerpt(p, 20)}"`);
    v = v * 10 + (c - 48);
  }
  if (v > 65535) throw new Defect(`port ${v} out of range`);
  return v;
}

/** Validates `host` (hostname, IPv4 or bracketed IPv6); returns it unchanged. */
export function checkHost(host: string): string {
  if (!host) throw new Defect('missing host');
  if (host.charCodeAt(0) === 91 /* [ */) {
    if (host.charCodeAt(host.length - 1) !== 93 || host.length < 4) throw new Defect(`bad IPv6 reference "${excerpt(host, 50)}"`);
    let colons = 0;
    for (let i = 1; i < host.length - 1; i++) {
      const c = host.charCodeAt(i);
      if (!isIpv6Char(c)) throw new Defect(`bad IPv6 reference "${excerpt(host, 50)}"`);
      if (c === 58) colons++;
    }
    if (colons < 2) throw new Defect(`bad IPv6 reference "${excerpt(host, 50)}"`);
    return host;
  }
  for (let i = 0; i < host.length; i++) {
    if (!isHostChar(host.charCodeAt(i))) throw new Defect(`bad host "${excerpt(host, 50)}"`);
  }
  return host;
}

/** Reads `host[:port]` from s[from, to). */
export function readHostPort(s: string, from: number, to: number): { host: string; port?: number } {
  if (s.charCodeAt(from) === 91 /* [ */) {
    const close = s.indexOf(']', from);
    if (close < 0 || close >= to) throw new Defect('unterminated IPv6 reference');
    const host = checkHost(s.slice(from, close + 1));
    if (close + 1 === to) return { host };
    if (s.charCodeAt(close + 1) !== 58) throw new Defect(`unexpected "${excerpt(s.slice(close + 1, to), 20)}" after the IPv6 reference`);
    return { host, port: readPort(s, close + 2, to) };
  }
  let colon = s.indexOf(':', from);
  if (colon >= to) colon = -1;
  if (colon < 0) return { host: checkHost(s.slice(from, to)) };
  return { host: checkHost(s.slice(from, colon)), port: readPort(s, colon + 1, to) };
}

function telNumberOk(num: string): boolean {
  let digits = 0;
  const global = num.charCodeAt(0) === 43; /* + */
  for (let i = global ? 1 : 0; i < num.length; i++) {
    const c = num.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 45 || c === 46 || c === 40 || c === 41) continue; // visual separators - . ( )
    else if (!global && ((c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 42 || c === 35)) digits++;
    else return false;
  }
  return digits > 0;
}

/** The scanner behind parseUri; throws Defect with the bare problem. */
export function scanUri(s: string): SipUri {
  let colon = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) {
      colon = i;
      break;
    }
    if (!isSchemeChar(c, i === 0)) break;
  }
  if (colon <= 0) throw new Defect(s.includes(':') ? 'bad scheme' : 'no scheme');
  checkUriChars(s);
  const scheme = s.slice(0, colon).toLowerCase();
  const params = new Map<string, string | null>();
  const headers = new Map<string, string>();
  const start = colon + 1;
  if (start >= s.length) throw new Defect('nothing after the scheme');

  if (scheme === 'tel') {
    let semi = s.indexOf(';', start);
    if (semi < 0) semi = s.length;
    const number = s.slice(start, semi);
    if (!telNumberOk(number)) throw new Defect(`bad tel number "${excerpt(number, 40)}"`);
    readUriParams(s, semi, s.length, params);
    return { scheme, user: number, host: '', params, headers };
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    // Other absolute URIs (urn:, mailto:, http:, h323:...) are carried, not interpreted.
    return { scheme, host: s.slice(start), params, headers };
  }

  let user: string | undefined;
  let password: string | undefined;
  let hp = start;
  // userinfo cannot contain an unescaped '@', so the first one ends it (the user part may hold
  // ';', '?' and ':' - RFC 4475 semiuri and intmeth).
  const at = s.indexOf('@', start);
  if (at >= 0) {
    if (at === start) throw new Defect('empty user part');
    const pc = s.indexOf(':', start);
    if (pc >= 0 && pc < at) {
      user = s.slice(start, pc);
      password = s.slice(pc + 1, at);
    } else user = s.slice(start, at);
    hp = at + 1;
  }
  let q = s.indexOf('?', hp);
  if (q < 0) q = s.length;
  let semi = s.indexOf(';', hp);
  if (semi < 0 || semi > q) semi = q;
  const { host, port } = readHostPort(s, hp, semi);
  readUriParams(s, semi, q, params);
  if (q < s.length) {
    for (const pair of s.slice(q + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      headers.set(eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? '' : pair.slice(eq + 1));
    }
  }
  const u: SipUri = { scheme, host, params, headers };
  if (user !== undefined) u.user = user;
  if (password !== undefined) u.password = password;
  if (port !== undefined) u.port = port;
  return u;
}

/** sip:, sips:, tel: and opaque other-scheme URIs. Throws SipParseError. */
export function parseUri(s: string): SipUri {
  try {
    return scanUri(s);
  } catch (err) {
    if (err instanceof Defect) throw new SipParseError(`malformed URI "${excerpt(s)}": ${err.message}`);
    throw err;
  }
}

export function formatUri(u: SipUri): string {
  const scheme = u.scheme.toLowerCase();
  if (scheme === 'tel') return `tel:${u.user ?? ''}${formatParams(u.params)}`;
  if (scheme !== 'sip' && scheme !== 'sips') return `${scheme}:${u.host}`;
  let out = `${scheme}:`;
  if (u.user !== undefined) out += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
  out += u.host;
  if (u.port !== undefined) out += `:${u.port}`;
  out += formatParams(u.params);
  if (u.headers.size) {
    let sep = '?';
    for (const [k, v] of u.headers) {
      out += `${sep}${k}=${v}`;
      sep = '&';
    }
  }
  return out;
}
