/**
 * H.235 password authentication of RAS messages, the "MD5 hashed password" scheme endpoints and
 * gatekeepers use in practice (OpenH323/H323Plus H235AuthSimpleMD5, GnuGk, Polycom, Cisco):
 *
 *   cryptoEPPwdHash { alias, timeStamp, token: HASHED { algorithmOID md5, paramS {}, hash } }
 *   hash = MD5( PER( ClearToken { tokenOID 0.0, timeStamp, password, generalID = alias } ) )
 *
 * Checked against a real endpoint's RRQ (ValueHD, test/fixtures/h323/real-captures.ts): that
 * endpoint puts a NUL after the alias and the password in its BMPStrings, so a password is also
 * tried with a NUL appended. The scheme protects the password on the wire and ties the message
 * to a time; it does not protect the rest of the message (that needs the ICV of H.235.1).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { encode } from './asn.js';
import { ClearToken as ClearTokenSchema } from './h235-schema.js';
import { aliasText, type AliasAddress, type CryptoH323Token } from './ras.js';

export const OID_MD5 = '1.2.840.113549.2.5';

/** The alias text an endpoint hashes as generalID: the string of its h323-ID (or other) alias. */
function generalId(alias: AliasAddress): string {
  return aliasText(alias).value;
}

function pwdHash(alias: AliasAddress, password: string, timeStamp: number): Buffer {
  const token = encode(ClearTokenSchema, { tokenOID: '0.0', timeStamp, password, generalID: generalId(alias) });
  return createHash('md5').update(token).digest();
}

/** The cryptoEPPwdHash an endpoint sends (used by tests and the bench as the endpoint's side). */
export function endpointPwdHash(alias: AliasAddress, password: string, timeStamp = Math.floor(Date.now() / 1000)): CryptoH323Token {
  return { cryptoEPPwdHash: { alias, timeStamp, token: { algorithmOID: OID_MD5, paramS: {}, hash: { length: 128, data: pwdHash(alias, password, timeStamp) } } } };
}

/** An alias with an endpoint's trailing NULs taken off, for comparing with registered aliases. */
export function trimNul(s: string): string {
  return s.replace(/\u0000+$/, '');
}

export type PwdHashCheck =
  | { ok: true; alias: AliasAddress; timeStamp: number }
  | { ok: false; reason: 'missing' | 'algorithm' | 'stale' | 'password' | 'unknown-alias'; detail: string };

/**
 * Checks the cryptoEPPwdHash among `tokens`: its alias must be one `passwordFor` knows, its
 * time within `maxSkewSeconds` of `now`, and its hash that of the password.
 */
export function checkPwdHash(
  tokens: CryptoH323Token[] | undefined,
  passwordFor: (alias: AliasAddress) => string | undefined,
  opts: { now: number; maxSkewSeconds: number },
): PwdHashCheck {
  const t = tokens?.find((x): x is Extract<CryptoH323Token, { cryptoEPPwdHash: unknown }> => 'cryptoEPPwdHash' in x);
  if (!t) return { ok: false, reason: 'missing', detail: 'no cryptoEPPwdHash token' };
  const { alias, timeStamp, token } = t.cryptoEPPwdHash;
  if (token.algorithmOID !== OID_MD5 || token.hash.length !== 128) return { ok: false, reason: 'algorithm', detail: `hash algorithm ${token.algorithmOID} (${token.hash.length} bits) is not MD5` };
  const skew = Math.abs(opts.now / 1000 - timeStamp);
  if (skew > opts.maxSkewSeconds) return { ok: false, reason: 'stale', detail: `timeStamp is ${Math.round(skew)} s off the gatekeeper's clock` };
  const password = passwordFor(alias);
  if (password === undefined) return { ok: false, reason: 'unknown-alias', detail: `no H.235 password for alias "${trimNul(generalId(alias))}"` };
  for (const candidate of [password, `${password}\u0000`]) {
    const expected = pwdHash(alias, candidate, timeStamp);
    if (expected.length === token.hash.data.length && timingSafeEqual(expected, token.hash.data)) return { ok: true, alias, timeStamp };
  }
  return { ok: false, reason: 'password', detail: 'the password hash does not match' };
}
