import { excerpt, isTokenChar, isWsp, quote, quotedEnd, skipWsp, trimWsp, unquote } from './chars.js';
import { SipParseError } from './errors.js';
import { Defect, formatParams, readHeaderParams } from './params.js';

export interface NameAddr {
  /** Unquoted display name (quoted-pairs resolved). */
  displayName?: string;
  /** The URI as sent, or '*' (Contact: *). Parse it with parseUri. */
  uri: string;
  /** Header parameters (tag, expires, q, +sip.instance...), names lowercased, values as sent. */
  params: Map<string, string | null>;
}

function checkScheme(uri: string): void {
  let i = 0;
  for (; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (c === 58 /* : */) break;
    if (!(alpha || (i > 0 && ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)))) throw new Defect(`URI without a scheme "${excerpt(uri, 40)}"`);
  }
  if (i === 0 || i >= uri.length - 1) throw new Defect(`URI without a scheme "${excerpt(uri, 40)}"`);
}

/** The scanner behind parseNameAddr; throws Defect. */
export function scanNameAddr(s: string): NameAddr {
  const n = s.length;
  let i = skipWsp(s, 0);
  const params = new Map<string, string | null>();
  if (s.charCodeAt(i) === 42 /* * */ && skipWsp(s, i + 1) === n) return { uri: '*', params };
  let displayName: string | undefined;
  let lt: number;
  if (s.charCodeAt(i) === 34 /* " */) {
    const q = quotedEnd(s, i);
    if (q < 0) throw new Defect('unterminated quoted string');
    displayName = unquote(s.slice(i, q + 1));
    i = skipWsp(s, q + 1);
    if (s.charCodeAt(i) !== 60 /* < */) throw new Defect('expected "<" after the display name');
    lt = i;
  } else {
    let j = i;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === 60 || c === 59 /* ; */) break;
      if (c === 34) throw new Defect('a quoted string can only be the whole display name');
      j++;
    }
    if (j >= n || s.charCodeAt(j) === 59) {
      // addr-spec form: parameters after the URI belong to the header, not the URI (RFC 3261 20).
      const uri = trimWsp(s.slice(i, j));
      if (!uri) throw new Defect('missing URI');
      for (let k = 0; k < uri.length; k++) {
        const c = uri.charCodeAt(k);
        if (isWsp(c)) throw new Defect(`white space in the URI "${excerpt(uri, 40)}"`);
        if (c === 63 /* ? */ || c === 44 /* , */) throw new Defect(`a URI containing "${uri[k]}" must be enclosed in <>`);
        if (c === 62 /* > */) throw new Defect('">" without "<"');
      }
      checkScheme(uri);
      readHeaderParams(s, j, params);
      return { uri, params };
    }
    const name = trimWsp(s.slice(i, j));
    if (name) {
      for (let k = 0; k < name.length; k++) {
        const c = name.charCodeAt(k);
        // display-name = *(token LWS); non-ASCII is tolerated as UTF-8 endpoints send it unquoted.
        if (!isTokenChar(c) && !isWsp(c) && c < 128) throw new Defect(`display name must be quoted: "${excerpt(name, 40)}"`);
      }
      displayName = name;
    }
    lt = j;
  }
  const gt = s.indexOf('>', lt + 1);
  if (gt < 0) throw new Defect('unterminated "<"');
  const uri = s.slice(lt + 1, gt);
  if (!uri) throw new Defect('empty URI in <>');
  for (let k = 0; k < uri.length; k++) {
    const c = uri.charCodeAt(k);
    if (isWsp(c)) throw new Defect('white space inside <...>');
    if (c === 60 || c === 34) throw new Defect(`unexpected "${uri[k]}" inside <...>`);
  }
  checkScheme(uri);
  readHeaderParams(s, gt + 1, params);
  const out: NameAddr = { uri, params };
  if (displayName !== undefined) out.displayName = displayName;
  return out;
}

/** From/To/Contact/Route values: `"Bob" <sip:bob@x>;tag=1`, `Bob <sip:x>`, `<sip:x>`, `sip:bob@x;tag=1`, `*`. */
export function parseNameAddr(v: string): NameAddr {
  try {
    return scanNameAddr(v);
  } catch (err) {
    if (err instanceof Defect) throw new SipParseError(`malformed name-addr "${excerpt(v)}": ${err.message}`);
    throw err;
  }
}

/** Always the `<uri>` form, so URI parameters can never be mistaken for header parameters. */
export function formatNameAddr(n: NameAddr): string {
  if (n.uri === '*') return '*';
  const display = n.displayName !== undefined ? `${quote(n.displayName)} ` : '';
  return `${display}<${n.uri}>${formatParams(n.params)}`;
}
