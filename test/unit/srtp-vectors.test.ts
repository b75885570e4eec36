/**
 * Published test vectors, byte for byte: RFC 3711 Appendix B.2 (AES-CM keystream) and B.3
 * (key derivation), RFC 6188 §7.2 (AES-256 key derivation), RFC 7714 §16 and §17 (AES-GCM
 * SRTP and SRTCP packets, both key sizes).
 */
import { describe, expect, it } from 'vitest';
import { SrtpContext } from '../../src/media/srtp/context.js';
import { KdfLabel, aesCtr, deriveSessionKey, deriveSessionKeys } from '../../src/media/srtp/kdf.js';
import type { SrtpSuite } from '../../src/media/srtp/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFC 3711 B.2: AES-CM keystream', () => {
  it('matches the listed keystream blocks for session key 2B7E..., salt F0F1..FD, SSRC 0, index 0', () => {
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    // IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), with SSRC = index = 0.
    const iv = Buffer.concat([hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), Buffer.alloc(2)]);
    const stream = aesCtr(key, iv, Buffer.alloc(0xff02 * 16));
    const block = (n: number) => stream.subarray(n * 16, n * 16 + 16).toString('hex').toUpperCase();
    expect(block(0x0000)).toBe('E03EAD0935C95E80E166B16DD92B4EB4');
    expect(block(0x0001)).toBe('D23513162B02D0F72A43A2FE4A5F97AB');
    expect(block(0x0002)).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('is what SrtpContext encrypts with: a zero payload comes out as the B.2 keystream', () => {
    // Master key/salt whose derived keys we do not choose: instead check the context's IV by
    // giving it the B.2 session keys directly.
    const ctx = new SrtpContext(
      { suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: Buffer.alloc(16), masterSalt: Buffer.alloc(14) },
      {
        rtp: { encryptionKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'), authKey: Buffer.alloc(20), salt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD') },
        rtcp: { encryptionKey: Buffer.alloc(16), authKey: Buffer.alloc(20), salt: Buffer.alloc(14) },
      },
    );
    const rtp = Buffer.concat([hex('80000000 00000000 00000000'), Buffer.alloc(48)]); // seq 0, SSRC 0
    const srtp = ctx.protectRtp(rtp);
    expect(srtp.subarray(12, 60).toString('hex').toUpperCase()).toBe(
      'E03EAD0935C95E80E166B16DD92B4EB4' + 'D23513162B02D0F72A43A2FE4A5F97AB' + '41E95B3BB0A2E8DD477901E4FCA894C0',
    );
  });
});

describe('RFC 3711 B.3: key derivation', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');

  it('derives the listed cipher key, cipher salt and authentication key', () => {
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RTP_ENCRYPTION, 16).toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RTP_SALT, 14).toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    // The RFC lists 94 octets of the authentication keystream.
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RTP_AUTH, 94).toString('hex').toUpperCase()).toBe(
      'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE' +
        'E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25' +
        '6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2',
    );
  });

  it('gives the suite its 16/20/14-byte SRTP keys, and different SRTCP keys (labels 3-5)', () => {
    const keys = deriveSessionKeys('AES_CM_128_HMAC_SHA1_80', masterKey, masterSalt);
    expect(keys.rtp.encryptionKey.toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(keys.rtp.authKey.toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
    expect(keys.rtp.salt.toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(keys.rtcp.encryptionKey).toEqual(deriveSessionKey(masterKey, masterSalt, KdfLabel.RTCP_ENCRYPTION, 16));
    expect(keys.rtcp.encryptionKey.equals(keys.rtp.encryptionKey)).toBe(false);
    expect(keys.rtcp.salt).toHaveLength(14);
    expect(keys.rtcp.authKey).toHaveLength(20);
  });
});

describe('RFC 6188 §7.2: AES_256_CM_PRF key derivation', () => {
  it('derives the listed 256-bit cipher key, salt and authentication key', () => {
    const keys = deriveSessionKeys(
      'AES_256_CM_HMAC_SHA1_80',
      hex('f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6'),
      hex('3b04803de51ee7c96423ab5b78d2'),
    );
    expect(keys.rtp.encryptionKey.toString('hex')).toBe('5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4');
    expect(keys.rtp.salt.toString('hex')).toBe('fa31791685ca444a9e07c6c64e93');
    expect(keys.rtp.authKey.toString('hex')).toBe('fd9c32d39ed5fbb5a9dc96b30818454d1313dc05');
  });
});

describe('RFC 7714 §16/§17: AES-GCM packets', () => {
  const rtp = hex('8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573');
  const rtcp = hex('81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef');
  const salt = hex('51 75 69 64 20 70 72 6f 20 71 75 6f');
  const cases: Array<{ suite: SrtpSuite; key: Buffer; srtp: Buffer; srtcp: Buffer; srtcpUnencrypted: Buffer }> = [
    {
      suite: 'AEAD_AES_128_GCM',
      key: hex('000102030405060708090a0b0c0d0e0f'),
      srtp: hex(`8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
                 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce`),
      srtcp: hex(`81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
                  c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4`),
      srtcpUnencrypted: hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
                             deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9 2ae58790 125f62b3 000005d4`),
    },
    {
      suite: 'AEAD_AES_256_GCM',
      key: hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
      srtp: hex(`8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238
                 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13`),
      srtcp: hex(`81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50
                  a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4`),
      srtcpUnencrypted: hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
                             deadbeef deadbeef deadbeef deadbeef deadbeef 91db4afb feee5a97 8fab4393 ed2615fe 000005d4`),
    },
  ];

  /** The RFC gives session keys (the same for SRTP and SRTCP), so the context skips derivation. */
  const context = (suite: SrtpSuite, key: Buffer) =>
    new SrtpContext({ suite, masterKey: key, masterSalt: salt }, {
      rtp: { encryptionKey: key, authKey: Buffer.alloc(0), salt },
      rtcp: { encryptionKey: key, authKey: Buffer.alloc(0), salt },
    });

  for (const c of cases) {
    it(`${c.suite}: protects the §16 RTP packet to the listed SRTP packet, and back`, () => {
      expect(context(c.suite, c.key).protectRtp(rtp).toString('hex')).toBe(c.srtp.toString('hex'));
      expect(context(c.suite, c.key).unprotectRtp(c.srtp).toString('hex')).toBe(rtp.toString('hex'));
    });

    it(`${c.suite}: protects the §17 RTCP packet as SRTCP index 0x5d4, and back`, () => {
      const sender = context(c.suite, c.key);
      // Our first SRTCP index is 0 (RFC 3711 §3.4); the vector's is 0x5d4.
      for (let i = 0; i < 0x5d4; i++) sender.protectRtcp(rtcp);
      expect(sender.protectRtcp(rtcp).toString('hex')).toBe(c.srtcp.toString('hex'));
      expect(context(c.suite, c.key).unprotectRtcp(c.srtcp).toString('hex')).toBe(rtcp.toString('hex'));
    });

    it(`${c.suite}: accepts the §17 SRTCP packet sent unencrypted (E = 0) and rejects it altered`, () => {
      expect(context(c.suite, c.key).unprotectRtcp(c.srtcpUnencrypted).toString('hex')).toBe(rtcp.toString('hex'));
      const altered = Buffer.from(c.srtcpUnencrypted);
      altered[20]! ^= 1;
      expect(() => context(c.suite, c.key).unprotectRtcp(altered)).toThrow(expect.objectContaining({ code: 'auth' }));
    });
  }
});
