import { excerpt, isTokenChar, isWsp, quotedEnd, skipWsp } from './chars.js';

/** Thrown by the internal scanners; the public functions turn it into a SipParseError with context. */
export class Defect extends Error {}

/**
 * Reads header parameters (`*( SEMI generic-param )`, RFC 3261 25.1) from `s` at `i`, up to the
 * end of `s`. White space is allowed around ';' and '=' (RFC 4475 wsinv); names are lowercased;
 * values are kept as sent, quoted strings with their quotes, so formatting round-trips.
 */
export function readHeaderParams(s: string, i: number, params: Map<string, string | null>): void {
  const n = s.length;
  for (;;) {
    i = skipWsp(s, i);
    if (i >= n) return;
    if (s.charCodeAt(i) !== 59 /* ; */) throw new Defect(`unexpected "${excerpt(s.slice(i), 30)}"`);
    i = skipWsp(s, i + 1);
    const nameStart = i;
    while (i < n && isTokenChar(s.charCodeAt(i))) i++;
    if (i === nameStart) {
      if (i >= n || s.charCodeAt(i) === 59) throw new Defect('empty parameter name');
      throw new Defect(`bad parameter name near "${excerpt(s.slice(i), 30)}"`);
    }
    const name = s.slice(nameStart, i).toLowerCase();
    const j = skipWsp(s, i);
    if (j < n && s.charCodeAt(j) === 61 /* = */) {
      i = skipWsp(s, j + 1);
      if (i < n && s.charCodeAt(i) === 34 /* " */) {
        const end = quotedEnd(s, i);
        if (end < 0) throw new Defect(`unterminated quoted string in parameter ${name}`);
        params.set(name, s.slice(i, end + 1));
        i = end + 1;
      } else {
        const vs = i;
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === 59 || c === 44 /* , */ || isWsp(c) || c === 34) break;
          i++;
        }
        if (i === vs) throw new Defect(`empty value for parameter ${name}`);
        params.set(name, s.slice(vs, i));
      }
    } else {
      params.set(name, null);
      i = j;
    }
  }
}

/**
 * Reads URI parameters (`;name[=value]`) from `s` between `i` and `end`. URIs carry no white
 * space or quoting; empty parameters (a stray ';') are skipped as many stacks do.
 */
export function readUriParams(s: string, i: number, end: number, params: Map<string, string | null>): void {
  while (i < end) {
    // s[i] is ';'
    let j = s.indexOf(';', i + 1);
    if (j < 0 || j > end) j = end;
    const part = s.slice(i + 1, j);
    i = j;
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq === 0) throw new Defect(`parameter without a name "${excerpt(part, 30)}"`);
    if (eq < 0) params.set(part.toLowerCase(), null);
    else params.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
}

export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}
