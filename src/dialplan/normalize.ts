/**
 * Normalisation of what was dialled, from SIP (sip:, sips:, tel: URIs, a bare user part with or
 * without domain) or H.323 (h323: URI, dialedDigits, h323-ID, url-ID, email-ID), into the one
 * key form the plan stores aliases under: '+4512345678' or 'user@domain'. Pure functions.
 *
 * Rules applied:
 * - Numbers: visual separators (space - . ( )) are removed; '+' is optional; the
 *   international prefix ('00') becomes '+'; the national prefix ('0') becomes '+<cc>'; a bare
 *   number of a national length (e.g. 8 digits in Denmark) becomes '+<cc>'; anything else is
 *   read as E.164 without its '+'. A result must be 3-15 digits not starting with 0.
 * - A user part of digits on one of our own domains is a number (sip:4512345678@video.example.dk
 *   is +4512345678); on a foreign domain it stays a URI.
 * - URIs: parameters (;...), headers (?...), port and password are dropped; sips: is the same
 *   alias as sip:. RFC 3261 makes the user part case-sensitive and the host not, but operators
 *   expect Alice@Region.SE to reach alice@region.se, so BOTH are lowercased: URI aliases are
 *   case-insensitive in knude. (The SIP side should forward the original Request-URI user to
 *   foreign domains, where case may matter.)
 * - A name without domain ('alice', an h323-ID) is a name on our primary (first) own domain.
 */
import { DialStringError, printable } from './errors.js';
import { isHostname } from './validate.js';
import type { NormalisedAddress } from './types.js';

/** Hostile input is cut off before any regular expression sees it. */
export const MAX_DIAL_LENGTH = 256;
const MAX_USER_LENGTH = 128;

export type H323AliasType = 'dialedDigits' | 'h323-ID' | 'url-ID' | 'email-ID';

/** An H.323 alias address as RAS/Q.931 carries it. */
export interface H323Alias {
  h323: H323AliasType;
  value: string;
}

export type DialInput = string | H323Alias;

/** The numbering part of the settings that normalisation needs. */
export interface NumberingPlan {
  ownDomains: readonly string[];
  countryCode: string;
  nationalPrefix: string;
  internationalPrefix: string;
  nationalNumberLengths: readonly number[];
}

/** Syntactic reading of a dial string, before numbers are canonicalised. */
export interface ParsedDial {
  /** Numbers: digits with an optional leading '+', separators removed. URIs: lowercase user. */
  user: string;
  domain?: string;
  numeric: boolean;
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const NUMBER_CHARS_RE = /^\+?[\d\-.() ]+$/;
const SEPARATORS_RE = /[-.() ]/g;
const DIGITS_RE = /^\+?\d+$/;
// RFC 3261 user characters (unreserved, user-unreserved) after %-decoding, plus letters of any
// script since h323-IDs are BMP strings with names like 'Söderström'.
const USER_RE = /^[\p{L}\p{N}\-_.!~*'()&=+$,/]+$/u;
const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const DISPLAY_NAME_RE = /^\s*(?:"(?:[^"\\]|\\.)*"|[\p{L}\p{N}\-.!%*_+`'~ ]*)\s*$/u;

function fail(message: string, input: string): never {
  throw new DialStringError(message, printable(input));
}

/** Normalises a dial string into its alias key form. Throws DialStringError on garbage. */
export function normalize(input: DialInput, plan: NumberingPlan): NormalisedAddress {
  return canonicalize(parseDial(input), plan);
}

/** The alias key ('+45…' or 'user@domain') of a normalised address. */
export function aliasKey(a: NormalisedAddress): string {
  return (a.e164 ?? a.uri) as string;
}

/** Reads a dial string syntactically: scheme, user, domain. */
export function parseDial(input: DialInput): ParsedDial {
  if (typeof input === 'string') return parseString(input, true);
  if (typeof input !== 'object' || input === null || typeof input.value !== 'string') {
    fail('dial input must be a string or an H.323 alias {h323, value}', String(input));
  }
  const v = input.value;
  switch (input.h323) {
    case 'dialedDigits': {
      // dialedDigits is 0-9 # * , — a comma is a pause and a trailing '#' ends dialling.
      if (v.length > MAX_DIAL_LENGTH || !/^[\d#*,]+$/.test(v)) fail('dialedDigits may contain only 0-9, #, * and ,', v);
      const d = v.replace(/,/g, '').replace(/#$/, '');
      if (!/^\d+$/.test(d)) fail('dialedDigits with * or # inside cannot be routed', v);
      return { user: d, numeric: true };
    }
    case 'h323-ID':
      return parseString(v, true);
    case 'url-ID':
      if (!SCHEME_RE.test(v.trim())) fail('url-ID must be a URI with a scheme (h323:, sip:, sips:, tel:)', v);
      return parseString(v, true);
    case 'email-ID':
      if (!v.includes('@') || SCHEME_RE.test(v.trim())) fail('email-ID must be user@domain', v);
      return parseString(v, false);
    default:
      return fail(`unsupported H.323 alias type "${printable(String((input as H323Alias).h323))}"`, v);
  }
}

function parseString(raw: string, allowScheme: boolean): ParsedDial {
  if (raw.length > MAX_DIAL_LENGTH) fail(`dial string longer than ${MAX_DIAL_LENGTH} characters`, raw);
  let s = raw.trim();
  if (s.length === 0) fail('empty dial string', raw);
  if (/[\u0000-\u001f\u007f]/.test(s)) fail('control characters in dial string', raw);
  // name-addr form: "Alice" <sip:alice@example.se>
  const lt = s.indexOf('<');
  // Only a (quoted or token) display name may precede '<'; anything else is a '<' in garbage.
  if (lt >= 0 && DISPLAY_NAME_RE.test(s.slice(0, lt))) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) fail('unterminated <', raw);
    s = s.slice(lt + 1, gt).trim();
  }
  let scheme = '';
  const m = SCHEME_RE.exec(s);
  if (m) {
    scheme = m[1]!.toLowerCase();
    if (!allowScheme) fail(`unexpected scheme "${scheme}:"`, raw);
    s = s.slice(m[0].length);
    if (scheme === 'tel') return parseTel(s, raw);
    if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'h323') fail(`unsupported URI scheme "${printable(scheme, 16)}:"`, raw);
  }
  let userinfo: string;
  let hostpart: string | undefined;
  const at = s.indexOf('@');
  if (at >= 0) {
    userinfo = s.slice(0, at);
    hostpart = s.slice(at + 1);
  } else {
    userinfo = cutAt(s, ';?');
    // 'sip:example.se' names a host, not anyone on it; h323:alias and bare names are users.
    if ((scheme === 'sip' || scheme === 'sips') && !isNumberLike(userinfo) && (userinfo.includes('.') || userinfo.includes(':'))) {
      fail('URI has no user part', raw);
    }
  }
  let user = cutAt(userinfo, ';'); // user parameters such as ;isub= or ;phone-context=
  const colon = user.indexOf(':');
  if (colon >= 0 && scheme !== '') user = user.slice(0, colon); // sip:user:password@host
  if (user.includes('%')) {
    try {
      user = decodeURIComponent(user);
    } catch {
      fail('malformed %-escape in user part', raw);
    }
  }
  if (user.length === 0) fail('empty user part', raw);
  if (user.length > MAX_USER_LENGTH) fail(`user part longer than ${MAX_USER_LENGTH} characters`, raw);
  const domain = hostpart === undefined ? undefined : parseHost(hostpart, raw);
  if (isNumberLike(user)) {
    const digits = user.replace(SEPARATORS_RE, '');
    if (DIGITS_RE.test(digits)) return domain === undefined ? { user: digits, numeric: true } : { user: digits, domain, numeric: true };
  }
  if (!USER_RE.test(user)) fail(`invalid characters in user part "${printable(user, 40)}"`, raw);
  const lower = user.toLowerCase();
  return domain === undefined ? { user: lower, numeric: false } : { user: lower, domain, numeric: false };
}

/** RFC 3966: tel:+45-1234-5678 or tel:12345678;phone-context=+45 */
function parseTel(body: string, raw: string): ParsedDial {
  const parts = body.split(';');
  const number = parts[0]!;
  if (!isNumberLike(number)) fail('tel: URI without a telephone number', raw);
  let digits = number.replace(SEPARATORS_RE, '');
  if (!DIGITS_RE.test(digits)) fail('tel: URI without a telephone number', raw);
  if (!digits.startsWith('+')) {
    const ctx = parts.find((p) => p.toLowerCase().startsWith('phone-context='))?.slice('phone-context='.length);
    // A global-number context prefixes the local number; a domain context adds nothing we can use.
    if (ctx && ctx.startsWith('+')) {
      const c = ctx.replace(SEPARATORS_RE, '');
      if (!DIGITS_RE.test(c)) fail('phone-context is not a number', raw);
      digits = c + digits;
    }
  }
  return { user: digits, numeric: true };
}

function parseHost(hostpart: string, raw: string): string {
  let h = cutAt(hostpart, ';?');
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) fail('unterminated IPv6 reference', raw);
    const v6 = h.slice(1, end).toLowerCase();
    if (!/^[0-9a-f:.]{2,45}$/.test(v6)) fail('invalid IPv6 address', raw);
    return v6;
  }
  const colon = h.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) fail('invalid port in URI', raw);
    h = h.slice(0, colon);
  }
  h = h.toLowerCase().replace(/\.$/, '');
  if (!(IPV4_RE.test(h) || isHostname(h))) fail(`invalid domain "${printable(h, 40)}"`, raw);
  return h;
}

function cutAt(s: string, chars: string): string {
  for (let i = 0; i < s.length; i++) if (chars.includes(s[i]!)) return s.slice(0, i);
  return s;
}

function isNumberLike(s: string): boolean {
  return NUMBER_CHARS_RE.test(s) && /\d/.test(s);
}

/**
 * Turns a syntactic reading into the alias key form. Numbers on our own domains (or without
 * domain) become E.164; names without a domain land on the primary own domain.
 */
export function canonicalize(p: ParsedDial, plan: NumberingPlan): NormalisedAddress {
  if (p.numeric && (p.domain === undefined || plan.ownDomains.includes(p.domain))) {
    const e164 = toE164(p.user, plan);
    return p.domain === undefined ? { e164, user: p.user } : { e164, user: p.user, domain: p.domain };
  }
  if (p.domain === undefined) {
    const primary = plan.ownDomains[0];
    if (primary === undefined) fail(`"${printable(p.user, 40)}" has no domain and no own domain is configured`, p.user);
    return { uri: `${p.user}@${primary}`, user: p.user, domain: primary };
  }
  return { uri: `${p.user}@${p.domain}`, user: p.user, domain: p.domain };
}

/** Canonical E.164 ('+' and 3-15 digits) of dialled digits under the numbering plan. */
export function toE164(dialled: string, plan: NumberingPlan): string {
  let n: string;
  if (dialled.startsWith('+')) n = dialled.slice(1);
  else if (dialled.startsWith(plan.internationalPrefix)) n = dialled.slice(plan.internationalPrefix.length);
  else if (plan.nationalPrefix !== '' && dialled.startsWith(plan.nationalPrefix)) n = plan.countryCode + dialled.slice(plan.nationalPrefix.length);
  else if (plan.nationalNumberLengths.includes(dialled.length)) n = plan.countryCode + dialled;
  else n = dialled;
  if (!/^[1-9]\d{2,14}$/.test(n)) fail(`"${printable(dialled, 40)}" is not a valid E.164 number (got +${printable(n, 40)})`, dialled);
  return '+' + n;
}

/**
 * What transforms match against: the number as dialled (digits, separators removed, not yet
 * canonicalised, so rules like "9 for an outside line" still see the 9) when it is a number for
 * us, otherwise 'user@domain' or the bare name.
 */
export function transformSubject(p: ParsedDial, plan: NumberingPlan): string {
  if (p.domain === undefined) return p.user;
  if (p.numeric && plan.ownDomains.includes(p.domain)) return p.user;
  return `${p.user}@${p.domain}`;
}
