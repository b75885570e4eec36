/**
 * The SRTP crypto suites knude speaks, by their SDES names (RFC 4568 §6.2, RFC 6188 §7.1,
 * RFC 7714 §14.1), with the lengths that define them.
 */
export type SrtpSuite =
  | 'AES_CM_128_HMAC_SHA1_80'
  | 'AES_CM_128_HMAC_SHA1_32'
  | 'AES_256_CM_HMAC_SHA1_80'
  | 'AEAD_AES_128_GCM'
  | 'AEAD_AES_256_GCM';

export interface SrtpSuiteInfo {
  /** Master (and session) encryption key length in bytes. */
  keyLength: number;
  /** Master (and session) salt length in bytes: 14 for AES-CM, 12 for GCM. */
  saltLength: number;
  /** SRTP authentication tag length in bytes (the GCM tag for AEAD suites). */
  rtpTagLength: number;
  /** SRTCP authentication tag length: 10 even for _32 (RFC 4568 §6.2.2, RFC 3711 §5.2). */
  rtcpTagLength: number;
  aead: boolean;
}

export const SRTP_SUITES: Record<SrtpSuite, SrtpSuiteInfo> = {
  AES_CM_128_HMAC_SHA1_80: { keyLength: 16, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10, aead: false },
  AES_CM_128_HMAC_SHA1_32: { keyLength: 16, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10, aead: false },
  AES_256_CM_HMAC_SHA1_80: { keyLength: 32, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10, aead: false },
  AEAD_AES_128_GCM: { keyLength: 16, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16, aead: true },
  AEAD_AES_256_GCM: { keyLength: 32, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16, aead: true },
};

/** HMAC-SHA1 session authentication key length (RFC 3711 §8.2: n_a = 160 bits). */
export const AUTH_KEY_LENGTH = 20;

export function isSrtpSuite(name: unknown): name is SrtpSuite {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SRTP_SUITES, name);
}

/** node:crypto cipher names for a suite: the counter-mode stream cipher or the AEAD. */
export function cipherName(suite: SrtpSuite): 'aes-128-ctr' | 'aes-256-ctr' | 'aes-128-gcm' | 'aes-256-gcm' {
  const info = SRTP_SUITES[suite];
  const bits = info.keyLength === 32 ? 256 : 128;
  return info.aead ? (`aes-${bits}-gcm` as const) : (`aes-${bits}-ctr` as const);
}
