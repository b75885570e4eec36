import { SipParseError } from './errors.js';

/**
 * Reads `;name[=value]` parameters from `s` starting at `i` (which points at ';' or the end).
 * Values are tokens or quoted strings, kept as sent (quotes included) so formatting
 * round-trips; names are lowercased. Stops at the end or at a character in `stopAt`.
 */
export function readParams(s: string, i: number, what: string, stopAt = ''): { params: Map<string, string | null>; end: number } {
  const params = new Map<string, string | null>();
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= s.length || stopAt.includes(s[i])) break;
    if (s[i] !== ';') throw new SipParseError(`malformed ${what}: unexpected "${s.slice(i, i + 20)}"`);
    i++;
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    let j = i;
    while (j < s.length && !'=;, \t'.includes(s[j]) && !stopAt.includes(s[j])) j++;
    const name = s.slice(i, j).toLowerCase();
    if (!name) throw new SipParseError(`malformed ${what}: empty parameter name`);
    i = j;
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    if (s[i] === '=') {
      i++;
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      if (s[i] === '"') {
        let k = i + 1;
        while (k < s.length && s[k] !== '"') k += s[k] === '\\' ? 2 : 1;
        if (k >= s.length) throw new SipParseError(`malformed ${what}: unterminated quoted parameter ${name}`);
        params.set(name, s.slice(i, k + 1));
        i = k + 1;
      } else {
        let k = i;
        while (k < s.length && !'; \t,'.includes(s[k]) && !stopAt.includes(s[k])) k++;
        params.set(name, s.slice(i, k));
        i = k;
      }
    } else params.set(name, null);
  }
  return { params, end: i };
}

export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** Removes surrounding quotes and backslash escapes of a quoted-string value. */
export function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}
