import { SipParseError } from './errors.js';
import { formatParams, readParams } from './params.js';

export interface SipUri {
  scheme: string;
  user?: string;
  password?: string;
  host: string;
  port?: number;
  /** URI parameters, names lowercased. */
  params: Map<string, string | null>;
  headers: Map<string, string>;
}

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253})?)$/;
const USER_BAD = /[\s<>"]/;

export function parseUri(s: string): SipUri {
  if (s.length > 2048) throw new SipParseError('URI too long');
  const colon = s.indexOf(':');
  if (colon <= 0) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": no scheme`);
  const scheme = s.slice(0, colon).toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": bad scheme`);
  if (/[\s]/.test(s)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": contains white space`);
  let rest = s.slice(colon + 1);
  const headers = new Map<string, string>();
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      headers.set(eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? '' : pair.slice(eq + 1));
    }
    rest = rest.slice(0, q);
  }
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!/^\+?[0-9A-Fa-f*#().-]+$/.test(number)) throw new SipParseError(`malformed tel URI "${s.slice(0, 60)}"`);
    const { params } = readParams(rest, semi < 0 ? rest.length : semi, 'tel URI');
    return { scheme, user: number, host: '', params, headers };
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    // Other absolute URIs (urn:, mailto:, h323:...) are carried, not interpreted.
    if (!rest) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": empty`);
    return { scheme, host: rest, params: new Map(), headers };
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!userinfo || USER_BAD.test(userinfo)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": bad user part`);
    const pc = userinfo.indexOf(':');
    if (pc >= 0) {
      user = userinfo.slice(0, pc);
      password = userinfo.slice(pc + 1);
    } else user = userinfo;
  }
  let hostEnd = rest.indexOf(';');
  if (hostEnd < 0) hostEnd = rest.length;
  const hostport = rest.slice(0, hostEnd);
  let host = hostport;
  let port: number | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": unterminated IPv6 host`);
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after) {
      if (!/^:\d{1,5}$/.test(after)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": bad port`);
      port = Number(after.slice(1));
    }
  } else {
    const pc = hostport.lastIndexOf(':');
    if (pc >= 0) {
      host = hostport.slice(0, pc);
      const p = hostport.slice(pc + 1);
      if (!/^\d{1,5}$/.test(p)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": bad port "${p}"`);
      port = Number(p);
    }
  }
  if (port !== undefined && port > 65535) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": port ${port} out of range`);
  if (!host || !HOST.test(host)) throw new SipParseError(`malformed URI "${s.slice(0, 60)}": bad host "${host.slice(0, 40)}"`);
  const { params } = readParams(rest, hostEnd, 'URI');
  return { scheme, user, password, host, port, params, headers };
}

export function formatUri(u: SipUri): string {
  if (u.scheme === 'tel') return `tel:${u.user ?? ''}${formatParams(u.params)}`;
  if (u.scheme !== 'sip' && u.scheme !== 'sips') return `${u.scheme}:${u.host}`;
  let out = `${u.scheme}:`;
  if (u.user !== undefined) out += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
  out += u.host;
  if (u.port !== undefined) out += `:${u.port}`;
  out += formatParams(u.params);
  if (u.headers.size) out += `?${[...u.headers].map(([k, v]) => `${k}=${v}`).join('&')}`;
  return out;
}
