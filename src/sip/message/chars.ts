/**
 * Character classes of the RFC 3261 grammar as lookup tables: the parser runs on hostile
 * network input, so it scans with tables and loops rather than regular expressions that could
 * backtrack.
 */

const TOKEN_CHARS = "-.!%*_+`'~";

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const IS_TOKEN = new Uint8Array(128);
for (let c = 48; c <= 57; c++) IS_TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) IS_TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) IS_TOKEN[c] = 1;
for (const ch of TOKEN_CHARS) IS_TOKEN[ch.charCodeAt(0)] = 1;

export function isTokenChar(c: number): boolean {
  return c < 128 && IS_TOKEN[c] === 1;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** SP or HTAB. */
export function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

export function skipWsp(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Trims SP/HTAB only. String.prototype.trim also strips Unicode spaces such as the BOM, which
 * would alter UTF-8 header values (RFC 4475 intmeth starts a value with U+FEFF).
 */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Index of the closing quote of the quoted string opening at `i`, honouring quoted-pairs; -1 if unterminated. */
export function quotedEnd(s: string, i: number): number {
  for (let k = i + 1; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 92 /* \ */) k++;
    else if (c === 34 /* " */) return k;
  }
  return -1;
}

/** The text of a quoted string with its quoted-pairs resolved. */
export function unquote(v: string): string {
  if (v.length < 2 || v.charCodeAt(0) !== 34 || v.charCodeAt(v.length - 1) !== 34) return v;
  const inner = v.slice(1, -1);
  if (!inner.includes('\\')) return inner;
  let out = '';
  for (let k = 0; k < inner.length; k++) {
    if (inner.charCodeAt(k) === 92 && k + 1 < inner.length) k++;
    out += inner[k];
  }
  return out;
}

/**
 * Quotes text as a quoted-string: `"` and `\` and the control characters quoted-pair allows get
 * a backslash; CR and LF cannot be represented and become spaces.
 */
export function quote(text: string): string {
  let out = '"';
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 13 || c === 10) out += ' ';
    else if (c === 34 || c === 92 || c < 32 || c === 127) out += `\\${text[k]}`;
    else out += text[k];
  }
  return `${out}"`;
}

/** A short, printable excerpt of hostile input for an error message. */
export function excerpt(s: string, max = 60): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  // eslint-disable-next-line no-control-regex
  const clean = cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return cut.length < s.length ? `${clean}...` : clean;
}
