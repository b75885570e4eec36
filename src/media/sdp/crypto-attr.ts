/**
 * RFC 4568 (SDES) `a=crypto` attributes:
 *
 *   a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
 *   key-params = inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>] *(";" key-param)
 *
 * sdp-transform reads only one session parameter and does not check keys, so knude reads
 * these lines itself: key material carries the call's confidentiality and a wrong length must
 * be refused here, not discovered as undecryptable packets in the relay.
 */
import { SdpError } from './errors.js';
import { SUITE_KEY_LENGTHS } from './suites.js';

export interface CryptoKeyParam {
  masterKey: Buffer;
  masterSalt: Buffer;
  /** Packets under this key (RFC 4568 §6.1 lifetime, written `2^n` or decimal). */
  lifetime?: number;
  mki?: { value: number; length: number };
}

export interface CryptoSessionParams {
  /** Key derivation rate as the exponent n of 2^n (RFC 4568 §6.3.1); absent means 0. */
  kdr?: number;
  unencryptedSrtp?: true;
  unencryptedSrtcp?: true;
  unauthenticatedSrtp?: true;
  fecOrder?: 'FEC_SRTP' | 'SRTP_FEC';
  /** FEC_KEY key params, kept as written: knude does not do SRTP FEC. */
  fecKey?: string;
  /** Window size hint (RFC 4568 §6.3.6): packets the sender's replay window should allow. */
  wsh?: number;
  /** Parameters not defined by RFC 4568, as written (a leading '-' marks them optional). */
  unknown?: string[];
}

export interface CryptoAttribute {
  tag: number;
  suite: string;
  keys: CryptoKeyParam[];
  params: CryptoSessionParams;
}

const MAX_LIFETIME = 2 ** 48; // SRTP's packet index is 48 bits (RFC 3711 §3.3.1)
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses the value of an a=crypto line; accepts it with or without the `a=crypto:` prefix. */
export function parseCryptoAttribute(line: string): CryptoAttribute {
  const value = line.trim().replace(/^(a=)?crypto:/, '');
  const m = /^(\d{1,9})[ \t]+([A-Za-z0-9_]+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(value);
  if (!m) {
    const suite = /^\d+[ \t]+([A-Za-z0-9_]+)/.exec(value)?.[1];
    throw new SdpError('malformed-crypto', `a=crypto:${value} is not "<tag> <suite> inline:<key>"`, suite);
  }
  const [, tagText, suite, keyParamsText, sessionText] = m;
  const tag = Number(tagText);
  const lengths = SUITE_KEY_LENGTHS[suite];
  if (!lengths) throw new SdpError('unknown-suite', `a=crypto suite ${suite} is unknown`, suite);
  const keys = keyParamsText.split(';').map((text) => parseKeyParam(text, suite, lengths));
  checkMkis(keys, suite);
  return { tag, suite, keys, params: parseSessionParams(sessionText?.trim() ?? '', suite) };
}

function parseKeyParam(text: string, suite: string, lengths: { key: number; salt: number }): CryptoKeyParam {
  if (!text.startsWith('inline:')) {
    throw new SdpError('malformed-crypto', `${suite} key method must be inline:, got "${text.split(':')[0]}"`, suite);
  }
  const [keySalt, ...rest] = text.slice('inline:'.length).split('|');
  if (!BASE64.test(keySalt)) throw new SdpError('bad-base64', `${suite} key is not base64`, suite);
  const material = Buffer.from(keySalt, 'base64');
  const need = lengths.key + lengths.salt;
  if (material.length !== need) {
    throw new SdpError('bad-key-length', `${suite} key||salt is ${material.length} bytes, the suite needs ${need} (${lengths.key}-byte key, ${lengths.salt}-byte salt)`, suite);
  }
  const key: CryptoKeyParam = { masterKey: material.subarray(0, lengths.key), masterSalt: material.subarray(lengths.key) };
  if (rest.length > 2) throw new SdpError('malformed-crypto', `${suite} key has more than a lifetime and an MKI`, suite);
  for (const part of rest) {
    if (part.includes(':')) {
      if (key.mki) throw new SdpError('bad-mki', `${suite} key has two MKIs`, suite);
      key.mki = parseMki(part, suite);
    } else {
      if (key.lifetime !== undefined || key.mki) throw new SdpError('bad-lifetime', `${suite} key lifetime must come once, before the MKI`, suite);
      key.lifetime = parseLifetime(part, suite);
    }
  }
  return key;
}

function parseLifetime(text: string, suite: string): number {
  const power = /^2\^(\d{1,2})$/.exec(text);
  const value = power ? 2 ** Number(power[1]) : /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= MAX_LIFETIME)) throw new SdpError('bad-lifetime', `${suite} key lifetime "${text}" is not 2^n or a number from 1 to 2^48`, suite);
  return value;
}

function parseMki(text: string, suite: string): { value: number; length: number } {
  const m = /^(\d{1,16}):(\d{1,3})$/.exec(text);
  const value = m ? Number(m[1]) : NaN;
  const length = m ? Number(m[2]) : NaN;
  if (!m || length < 1 || length > 128) throw new SdpError('bad-mki', `${suite} MKI "${text}" is not <value>:<length 1-128>`, suite);
  if (!Number.isSafeInteger(value) || (length < 7 && value >= 2 ** (8 * length))) {
    throw new SdpError('bad-mki', `${suite} MKI value ${m[1]} does not fit in ${length} byte(s)`, suite);
  }
  return { value, length };
}

/** With several keys the MKI says which one a packet uses, so each needs one (RFC 4568 §6.1). */
function checkMkis(keys: CryptoKeyParam[], suite: string): void {
  if (keys.length < 2) return;
  const first = keys[0].mki;
  if (!first || keys.some((k) => !k.mki || k.mki.length !== first.length)) {
    throw new SdpError('bad-mki', `${suite} has ${keys.length} keys: each needs an MKI of the same length`, suite);
  }
  if (new Set(keys.map((k) => k.mki!.value)).size !== keys.length) throw new SdpError('bad-mki', `${suite} has two keys with the same MKI`, suite);
}

function parseSessionParams(text: string, suite: string): CryptoSessionParams {
  const params: CryptoSessionParams = {};
  if (text === '') return params;
  for (const token of text.split(/[ \t]+/)) {
    const [name, arg] = splitOnce(token, '=');
    const integer = (min: number, max: number): number => {
      const n = arg !== undefined && /^\d{1,9}$/.test(arg) ? Number(arg) : NaN;
      if (!(n >= min && n <= max)) throw new SdpError('bad-session-param', `${suite} session parameter ${token} needs a number from ${min} to ${max}`, suite);
      return n;
    };
    const flag = (): true => {
      if (arg !== undefined) throw new SdpError('bad-session-param', `${suite} session parameter ${name} takes no value`, suite);
      return true;
    };
    switch (name) {
      case 'KDR':
        params.kdr = integer(0, 24);
        break;
      case 'UNENCRYPTED_SRTP':
        params.unencryptedSrtp = flag();
        break;
      case 'UNENCRYPTED_SRTCP':
        params.unencryptedSrtcp = flag();
        break;
      case 'UNAUTHENTICATED_SRTP':
        params.unauthenticatedSrtp = flag();
        break;
      case 'FEC_ORDER':
        if (arg !== 'FEC_SRTP' && arg !== 'SRTP_FEC') throw new SdpError('bad-session-param', `${suite} FEC_ORDER must be FEC_SRTP or SRTP_FEC`, suite);
        params.fecOrder = arg;
        break;
      case 'FEC_KEY':
        if (!arg?.startsWith('inline:')) throw new SdpError('bad-session-param', `${suite} FEC_KEY needs inline: key params`, suite);
        params.fecKey = arg;
        break;
      case 'WSH':
        params.wsh = integer(64, 2 ** 31 - 1);
        break;
      default:
        (params.unknown ??= []).push(token);
    }
  }
  return params;
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const i = text.indexOf(sep);
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}

/** The value of an a=crypto line (without `a=crypto:`), in the order RFC 4568 writes it. */
export function formatCryptoAttribute(attr: CryptoAttribute): string {
  const keys = attr.keys.map((k) => {
    let text = `inline:${Buffer.concat([k.masterKey, k.masterSalt]).toString('base64')}`;
    if (k.lifetime !== undefined) text += `|${formatLifetime(k.lifetime)}`;
    if (k.mki) text += `|${k.mki.value}:${k.mki.length}`;
    return text;
  });
  const p = attr.params;
  const params = [
    p.kdr !== undefined ? `KDR=${p.kdr}` : '',
    p.unencryptedSrtp ? 'UNENCRYPTED_SRTP' : '',
    p.unencryptedSrtcp ? 'UNENCRYPTED_SRTCP' : '',
    p.unauthenticatedSrtp ? 'UNAUTHENTICATED_SRTP' : '',
    p.fecOrder ? `FEC_ORDER=${p.fecOrder}` : '',
    p.fecKey ? `FEC_KEY=${p.fecKey}` : '',
    p.wsh !== undefined ? `WSH=${p.wsh}` : '',
    ...(p.unknown ?? []),
  ].filter(Boolean);
  return [String(attr.tag), attr.suite, keys.join(';'), ...params].join(' ');
}

function formatLifetime(n: number): string {
  const log = Math.log2(n);
  return Number.isInteger(log) ? `2^${log}` : String(n);
}
