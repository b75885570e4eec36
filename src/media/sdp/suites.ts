/**
 * SRTP crypto suites as SDES (RFC 4568) names them, and the key material each needs. The
 * suite names and key parameters are the SRTP module's own (one definition for both layers).
 */
import type { SrtpKeyParams, SrtpSuite } from '../srtp/index.js';

export type { SrtpKeyParams, SrtpSuite };

/**
 * Master key and salt lengths in bytes of the registered SDES suites (IANA "SDP Security
 * Descriptions" registry: RFC 4568, 6188, 7714, 8269), including those knude does not
 * accept, so that a refusal can say "not allowed" rather than "unknown".
 */
export const SUITE_KEY_LENGTHS: Readonly<Record<string, { key: number; salt: number }>> = {
  AES_CM_128_HMAC_SHA1_80: { key: 16, salt: 14 },
  AES_CM_128_HMAC_SHA1_32: { key: 16, salt: 14 },
  F8_128_HMAC_SHA1_80: { key: 16, salt: 14 },
  AES_192_CM_HMAC_SHA1_80: { key: 24, salt: 14 },
  AES_192_CM_HMAC_SHA1_32: { key: 24, salt: 14 },
  AES_256_CM_HMAC_SHA1_80: { key: 32, salt: 14 },
  AES_256_CM_HMAC_SHA1_32: { key: 32, salt: 14 },
  AEAD_AES_128_GCM: { key: 16, salt: 12 },
  AEAD_AES_256_GCM: { key: 32, salt: 12 },
  ARIA_128_CTR_HMAC_SHA1_80: { key: 16, salt: 14 },
  ARIA_128_CTR_HMAC_SHA1_32: { key: 16, salt: 14 },
  ARIA_192_CTR_HMAC_SHA1_80: { key: 24, salt: 14 },
  ARIA_192_CTR_HMAC_SHA1_32: { key: 24, salt: 14 },
  ARIA_256_CTR_HMAC_SHA1_80: { key: 32, salt: 14 },
  ARIA_256_CTR_HMAC_SHA1_32: { key: 32, salt: 14 },
  AEAD_ARIA_128_GCM: { key: 16, salt: 12 },
  AEAD_ARIA_256_GCM: { key: 32, salt: 12 },
};

/**
 * Suites that leave media in clear or unauthenticated: NULL_HMAC_SHA1_80/32 (offered by some
 * SIP stacks for debugging) and AES_CM_128_NULL_AUTH style names.
 */
export function isNullSuite(name: string): boolean {
  return /(^|_)NULL(_|$)/.test(name);
}
