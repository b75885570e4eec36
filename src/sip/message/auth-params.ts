import { excerpt, isTokenChar, isWsp, quotedEnd, skipWsp, unquote } from './chars.js';
import { SipParseError } from './errors.js';

function isToken68Char(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47;
}

function fail(v: string, why: string): never {
  throw new SipParseError(`malformed credentials "${excerpt(v, 40)}": ${why}`);
}

/**
 * Authorization / WWW-Authenticate / Proxy-* values: `Digest username="a", realm="b", qop=auth`
 * -> scheme and parameters, names lowercased, quoted values unquoted. A token68 credential
 * (`Negotiate YIIB...==`) is returned as the single parameter `token68`. Repeated parameters are
 * rejected: digest checks must not depend on which copy a component reads.
 */
export function parseAuthParams(v: string): { scheme: string; params: Map<string, string> } {
  const n = v.length;
  let i = skipWsp(v, 0);
  const ss = i;
  while (i < n && isTokenChar(v.charCodeAt(i))) i++;
  if (i === ss) fail(v, 'no scheme');
  const scheme = v.slice(ss, i);
  const params = new Map<string, string>();
  if (i < n && !isWsp(v.charCodeAt(i))) fail(v, 'expected white space after the scheme');
  i = skipWsp(v, i);
  if (i >= n) return { scheme, params };

  // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" and nothing after it
  let k = i;
  while (k < n && isToken68Char(v.charCodeAt(k))) k++;
  while (k < n && v.charCodeAt(k) === 61) k++;
  if (skipWsp(v, k) === n) {
    params.set('token68', v.slice(i, k));
    return { scheme, params };
  }

  for (;;) {
    i = skipWsp(v, i);
    if (i >= n) break;
    const ns = i;
    while (i < n && isTokenChar(v.charCodeAt(i))) i++;
    if (i === ns) fail(v, `unexpected "${excerpt(v.slice(i), 20)}"`);
    const name = v.slice(ns, i).toLowerCase();
    i = skipWsp(v, i);
    if (v.charCodeAt(i) !== 61 /* = */) fail(v, `parameter ${name} has no value`);
    i = skipWsp(v, i + 1);
    let value: string;
    if (v.charCodeAt(i) === 34 /* " */) {
      const q = quotedEnd(v, i);
      if (q < 0) fail(v, `unterminated quoted string in ${name}`);
      value = unquote(v.slice(i, q + 1));
      i = q + 1;
    } else {
      const vs = i;
      while (i < n && v.charCodeAt(i) !== 44 && !isWsp(v.charCodeAt(i))) i++;
      value = v.slice(vs, i);
    }
    if (params.has(name)) fail(v, `parameter ${name} appears twice`);
    params.set(name, value);
    i = skipWsp(v, i);
    if (i >= n) break;
    if (v.charCodeAt(i) !== 44 /* , */) fail(v, `expected "," after ${name}`);
    i++;
  }
  return { scheme, params };
}
