/**
 * RFC 4568 a=crypto lines: what endpoints write (RFC examples, Cisco/Polycom/Lifesize/baresip
 * forms: lifetimes as 2^n and decimal, MKIs, several keys, session parameters) parses to the
 * right key bytes, formats back to the same text, and every defect is a typed SdpError.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCryptoAttribute, parseCryptoAttribute, type CryptoAttribute } from '../../src/media/sdp/crypto-attr.js';
import { SdpError, type SdpErrorCode } from '../../src/media/sdp/errors.js';
import { SUITE_KEY_LENGTHS } from '../../src/media/sdp/suites.js';

/** RFC 4568 §4's example key: 30 bytes, an AES_CM_128 key and salt. */
const RFC_KEY = 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';
const b64 = (bytes: number): string => randomBytes(bytes).toString('base64');
const K30 = b64(30);
const K46 = b64(46);
const K28 = b64(28);
const K44 = b64(44);

describe('parseCryptoAttribute: valid lines', () => {
  const rfcBytes = Buffer.from(RFC_KEY, 'base64');
  const cases: Array<[string, string, Partial<CryptoAttribute> & { keyCount?: number }]> = [
    ['RFC 4568 example with lifetime and MKI', `1 AES_CM_128_HMAC_SHA1_80 inline:${RFC_KEY}|2^20|1:4`, { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', params: {} }],
    ['a=crypto: prefix is accepted', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${RFC_KEY}|2^20|1:4`, { tag: 1 }],
    ['crypto: prefix is accepted', `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${RFC_KEY}|2^20|1:4`, { tag: 1 }],
    ['Cisco CE: 2^48 lifetime', `2 AES_CM_128_HMAC_SHA1_32 inline:${K30}|2^48`, { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32' }],
    ['Polycom: AES-256 without lifetime', `3 AES_256_CM_HMAC_SHA1_80 inline:${K46}`, { tag: 3, suite: 'AES_256_CM_HMAC_SHA1_80' }],
    ['baresip: AEAD_AES_128_GCM (12-byte salt)', `5 AEAD_AES_128_GCM inline:${K28}`, { tag: 5, suite: 'AEAD_AES_128_GCM' }],
    ['baresip: AEAD_AES_256_GCM', `6 AEAD_AES_256_GCM inline:${K44}`, { tag: 6, suite: 'AEAD_AES_256_GCM' }],
    ['tag of nine digits', `123456789 AES_CM_128_HMAC_SHA1_80 inline:${K30}`, { tag: 123456789 }],
    ['known suite knude does not use still parses', `1 F8_128_HMAC_SHA1_80 inline:${K30}`, { suite: 'F8_128_HMAC_SHA1_80' }],
  ];
  it.each(cases)('%s', (_name, line, expected) => {
    const attr = parseCryptoAttribute(line);
    expect(attr).toMatchObject(expected);
    const lengths = SUITE_KEY_LENGTHS[attr.suite];
    expect(attr.keys[0].masterKey.length).toBe(lengths.key);
    expect(attr.keys[0].masterSalt.length).toBe(lengths.salt);
  });

  it('splits the RFC example into key, salt, lifetime and MKI', () => {
    const [key] = parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${RFC_KEY}|2^20|1:4`).keys;
    expect(key.masterKey).toEqual(rfcBytes.subarray(0, 16));
    expect(key.masterSalt).toEqual(rfcBytes.subarray(16));
    expect(key.lifetime).toBe(1048576);
    expect(key.mki).toEqual({ value: 1, length: 4 });
  });

  it('reads a decimal lifetime and an MKI without lifetime', () => {
    expect(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1000000`).keys[0]).toMatchObject({ lifetime: 1000000 });
    const key = parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|7:2`).keys[0];
    expect(key.lifetime).toBeUndefined();
    expect(key.mki).toEqual({ value: 7, length: 2 });
  });

  it('reads several keys told apart by MKI (RFC 4568 §9.1 example form)', () => {
    const second = b64(30);
    const attr = parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_32 inline:${K30}|2^20|1:4;inline:${second}|2^20|2:4 FEC_ORDER=FEC_SRTP`);
    expect(attr.keys).toHaveLength(2);
    expect(attr.keys.map((k) => k.mki)).toEqual([
      { value: 1, length: 4 },
      { value: 2, length: 4 },
    ]);
    expect(Buffer.concat([attr.keys[1].masterKey, attr.keys[1].masterSalt]).toString('base64')).toBe(second);
    expect(attr.params).toEqual({ fecOrder: 'FEC_SRTP' });
  });

  it('reads every RFC 4568 session parameter, and keeps unknown ones', () => {
    const attr = parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30} KDR=4 UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP FEC_ORDER=SRTP_FEC FEC_KEY=inline:${K30} WSH=128 -X_VENDOR=1 FOO`);
    expect(attr.params).toEqual({
      kdr: 4,
      unencryptedSrtp: true,
      unencryptedSrtcp: true,
      unauthenticatedSrtp: true,
      fecOrder: 'SRTP_FEC',
      fecKey: `inline:${K30}`,
      wsh: 128,
      unknown: ['-X_VENDOR=1', 'FOO'],
    });
  });
});

describe('parseCryptoAttribute: defects are typed errors', () => {
  const cases: Array<[string, string, SdpErrorCode, string | RegExp]> = [
    ['key of the wrong length', `1 AES_CM_128_HMAC_SHA1_80 inline:${b64(20)}`, 'bad-key-length', 'AES_CM_128_HMAC_SHA1_80 key||salt is 20 bytes, the suite needs 30 (16-byte key, 14-byte salt)'],
    ['AES-128 key under an AES-256 suite', `1 AES_256_CM_HMAC_SHA1_80 inline:${K30}`, 'bad-key-length', 'AES_256_CM_HMAC_SHA1_80 key||salt is 30 bytes, the suite needs 46 (32-byte key, 14-byte salt)'],
    ['GCM with a 14-byte salt (old libsrtp)', `1 AEAD_AES_128_GCM inline:${K30}`, 'bad-key-length', /AEAD_AES_128_GCM key\|\|salt is 30 bytes, the suite needs 28/],
    ['not base64', `1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywj*WhcYD0mXXtxaVBR`, 'bad-base64', 'AES_CM_128_HMAC_SHA1_80 key is not base64'],
    ['empty key', `1 AES_CM_128_HMAC_SHA1_80 inline:|2^20`, 'bad-base64', /not base64/],
    ['unknown suite', `1 SEED_CTR_128_HMAC_SHA1_80 inline:${K30}`, 'unknown-suite', 'a=crypto suite SEED_CTR_128_HMAC_SHA1_80 is unknown'],
    ['no key params', `1 AES_CM_128_HMAC_SHA1_80`, 'malformed-crypto', /is not "<tag> <suite> inline:<key>"/],
    ['no tag', `AES_CM_128_HMAC_SHA1_80 inline:${K30}`, 'malformed-crypto', /is not "<tag> <suite> inline:<key>"/],
    ['tag of ten digits', `1234567890 AES_CM_128_HMAC_SHA1_80 inline:${K30}`, 'malformed-crypto', /is not/],
    ['key method other than inline', `1 AES_CM_128_HMAC_SHA1_80 uri:sips:keys.example.com/k1`, 'malformed-crypto', 'AES_CM_128_HMAC_SHA1_80 key method must be inline:, got "uri"'],
    ['lifetime above 2^48', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^49`, 'bad-lifetime', /lifetime "2\^49" is not 2\^n or a number from 1 to 2\^48/],
    ['lifetime 0', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|0`, 'bad-lifetime', /lifetime "0"/],
    ['lifetime in words', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|forever`, 'bad-lifetime', /lifetime "forever"/],
    ['lifetime after MKI', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1:4|2^20`, 'bad-lifetime', /lifetime must come once, before the MKI/],
    ['MKI length 0', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1:0`, 'bad-mki', /MKI "1:0" is not <value>:<length 1-128>/],
    ['MKI value too large for its length', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|256:1`, 'bad-mki', 'AES_CM_128_HMAC_SHA1_80 MKI value 256 does not fit in 1 byte(s)'],
    ['two keys without MKI', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30};inline:${K30}`, 'bad-mki', 'AES_CM_128_HMAC_SHA1_80 has 2 keys: each needs an MKI of the same length'],
    ['two keys with MKIs of different lengths', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1:4;inline:${K30}|2:2`, 'bad-mki', /each needs an MKI of the same length/],
    ['two keys with the same MKI', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1:4;inline:${K30}|1:4`, 'bad-mki', 'AES_CM_128_HMAC_SHA1_80 has two keys with the same MKI'],
    ['too many | parts', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:4|x`, 'malformed-crypto', /more than a lifetime and an MKI/],
    ['KDR out of range', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} KDR=25`, 'bad-session-param', 'AES_CM_128_HMAC_SHA1_80 session parameter KDR=25 needs a number from 0 to 24'],
    ['WSH below 64', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} WSH=10`, 'bad-session-param', /WSH=10 needs a number from 64/],
    ['FEC_ORDER of another value', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} FEC_ORDER=LAST`, 'bad-session-param', /FEC_ORDER must be FEC_SRTP or SRTP_FEC/],
    ['flag with a value', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} UNENCRYPTED_SRTP=1`, 'bad-session-param', /UNENCRYPTED_SRTP takes no value/],
  ];
  it.each(cases)('%s', (_name, line, code, message) => {
    let caught: unknown;
    try {
      parseCryptoAttribute(line);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SdpError);
    const err = caught as SdpError;
    expect(err.code).toBe(code);
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
  });

  it('names the suite of a line whose key is bad, so policy can tell a refused suite from a bad key', () => {
    expect(() => parseCryptoAttribute(`1 NULL_HMAC_SHA1_80 inline:${K30}`)).toThrow(expect.objectContaining({ code: 'unknown-suite', suite: 'NULL_HMAC_SHA1_80' }));
    expect(() => parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${b64(10)}`)).toThrow(expect.objectContaining({ suite: 'AES_CM_128_HMAC_SHA1_80' }));
  });
});

describe('formatCryptoAttribute', () => {
  const lines = [
    `1 AES_CM_128_HMAC_SHA1_80 inline:${RFC_KEY}|2^20|1:4`,
    `2 AES_CM_128_HMAC_SHA1_32 inline:${K30}|2^48`,
    `3 AES_256_CM_HMAC_SHA1_80 inline:${K46}`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1000000|3:2;inline:${RFC_KEY}|1000000|4:2 KDR=0 WSH=128`,
    `9 AEAD_AES_256_GCM inline:${K44} UNENCRYPTED_SRTCP -X_VENDOR=1`,
  ];
  it.each(lines)('writes back what it read: %s', (line) => {
    expect(formatCryptoAttribute(parseCryptoAttribute(line))).toBe(line);
  });

  it('writes knude\'s own key for a suite so that it parses back to the same bytes', () => {
    const masterKey = randomBytes(32);
    const masterSalt = randomBytes(12);
    const text = formatCryptoAttribute({ tag: 4, suite: 'AEAD_AES_256_GCM', keys: [{ masterKey, masterSalt }], params: {} });
    expect(text).toMatch(/^4 AEAD_AES_256_GCM inline:[A-Za-z0-9+/]{59}=$/);
    const back = parseCryptoAttribute(text);
    expect(back.keys[0].masterKey).toEqual(masterKey);
    expect(back.keys[0].masterSalt).toEqual(masterSalt);
  });
});
