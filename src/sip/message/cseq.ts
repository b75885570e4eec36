import { excerpt, isTokenChar, isWsp, skipWsp } from './chars.js';
import { SipParseError } from './errors.js';

/** Digits of a decimal number without leading zeros ('0009' -> '9', '000' -> '0'). */
function significant(d: string): string {
  let k = 0;
  while (k < d.length - 1 && d.charCodeAt(k) === 48) k++;
  return k ? d.slice(k) : d;
}

/** `CSeq: 1*DIGIT LWS Method`; the number must be below 2**31 (RFC 3261 8.1.1.5). */
export function parseCSeq(v: string): { seq: number; method: string } {
  const n = v.length;
  let i = skipWsp(v, 0);
  const ds = i;
  while (i < n) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  if (i === ds) throw new SipParseError(`malformed CSeq header: "${excerpt(v)}" does not start with a sequence number`);
  const digits = significant(v.slice(ds, i));
  if (i >= n || !isWsp(v.charCodeAt(i))) {
    throw new SipParseError(i >= n ? `malformed CSeq header: "${excerpt(v)}" has no method` : `malformed CSeq header: bad sequence number in "${excerpt(v)}"`);
  }
  i = skipWsp(v, i);
  const ms = i;
  while (i < n && isTokenChar(v.charCodeAt(i))) i++;
  if (i === ms) throw new SipParseError(`malformed CSeq header: "${excerpt(v)}" has no method`);
  const method = v.slice(ms, i);
  if (skipWsp(v, i) !== n) throw new SipParseError(`malformed CSeq header: unexpected text after the method in "${excerpt(v)}"`);
  if (digits.length > 10 || Number(digits) >= 2 ** 31) {
    throw new SipParseError(`CSeq number ${excerpt(digits, 30)} is too large (must be below 2**31)`);
  }
  return { seq: Number(digits), method };
}
