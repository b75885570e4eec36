/**
 * RFC 3711 §4.3 key derivation with the AES-CM PRF (§4.3.3), key_derivation_rate 0 (the only
 * rate SDES in practice and libsrtp use), for AES-128 and AES-256 master keys (RFC 6188 §6)
 * and for the 96-bit GCM master salts of RFC 7714 §11 (padded on the right to 112 bits, as
 * libsrtp does).
 */
import { createCipheriv } from 'node:crypto';
import { AUTH_KEY_LENGTH, SRTP_SUITES, type SrtpSuite } from './suites.js';

/** Key derivation labels (RFC 3711 §4.3.1, §4.3.2). */
export const KdfLabel = {
  RTP_ENCRYPTION: 0x00,
  RTP_AUTH: 0x01,
  RTP_SALT: 0x02,
  RTCP_ENCRYPTION: 0x03,
  RTCP_AUTH: 0x04,
  RTCP_SALT: 0x05,
} as const;

/** AES in counter mode from a 16-byte initial counter block: data XOR keystream. */
export function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = createCipheriv(key.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/**
 * One session key: the AES-CM keystream under the master key with IV = (label << 48 XOR
 * master_salt) << 16, truncated to `length` bytes. `index` is the 48-bit packet index divided
 * by the key derivation rate, 0 for rate 0.
 */
export function deriveSessionKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number, index = 0): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, Math.min(masterSalt.length, 14));
  iv[7]! ^= label;
  // r = index DIV kdr occupies the low 48 bits of the 56-bit key_id, bytes 8..13 of the IV.
  for (let i = 13, v = index; i >= 8 && v > 0; i--, v = Math.floor(v / 256)) iv[i]! ^= v % 256;
  return aesCtr(masterKey, iv, Buffer.alloc(length));
}

export interface SessionKeySet {
  encryptionKey: Buffer;
  /** Empty for AEAD suites, which authenticate with GCM. */
  authKey: Buffer;
  salt: Buffer;
}

export interface SessionKeys {
  rtp: SessionKeySet;
  rtcp: SessionKeySet;
}

export function deriveSessionKeys(suite: SrtpSuite, masterKey: Buffer, masterSalt: Buffer): SessionKeys {
  const info = SRTP_SUITES[suite];
  const authLength = info.aead ? 0 : AUTH_KEY_LENGTH;
  const set = (enc: number, auth: number, salt: number): SessionKeySet => ({
    encryptionKey: deriveSessionKey(masterKey, masterSalt, enc, info.keyLength),
    authKey: authLength ? deriveSessionKey(masterKey, masterSalt, auth, authLength) : Buffer.alloc(0),
    salt: deriveSessionKey(masterKey, masterSalt, salt, info.saltLength),
  });
  return {
    rtp: set(KdfLabel.RTP_ENCRYPTION, KdfLabel.RTP_AUTH, KdfLabel.RTP_SALT),
    rtcp: set(KdfLabel.RTCP_ENCRYPTION, KdfLabel.RTCP_AUTH, KdfLabel.RTCP_SALT),
  };
}
