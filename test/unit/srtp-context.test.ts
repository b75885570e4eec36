/**
 * SrtpContext behaviour: round trips per suite, authentication before anything else, replay
 * protection, RFC 3711 index estimation across sequence wraps (reordered, and with many packets
 * lost), MKI, key lifetime, SRTCP E-bit and index, and a seeded fuzz that nothing but an
 * SrtpError ever leaves the context.
 */
import { describe, expect, it } from 'vitest';
import { SRTP_SUITES, SrtpContext, SrtpError, generateKeyParams, type SrtpKeyParams, type SrtpSuite } from '../../src/media/srtp/index.js';
import { estimateIndex } from '../../src/media/srtp/context.js';
import { ReplayWindow } from '../../src/media/srtp/replay.js';

const SUITES = Object.keys(SRTP_SUITES) as SrtpSuite[];

function prng(seed: number) {
  return (n: number) => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed % n;
  };
}

/** An RTP packet whose payload says which packet it is, optionally with CSRCs and a header extension. */
function rtp(seq: number, opts: { ssrc?: number; csrcs?: number; ext?: boolean; size?: number } = {}): Buffer {
  const csrcs = opts.csrcs ?? 0;
  const header = Buffer.alloc(12 + 4 * csrcs + (opts.ext ? 8 : 0));
  header[0] = 0x80 | (opts.ext ? 0x10 : 0) | csrcs;
  header[1] = 111;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE((seq * 960) >>> 0, 4);
  header.writeUInt32BE(opts.ssrc ?? 0xdead_beef, 8);
  for (let c = 0; c < csrcs; c++) header.writeUInt32BE(0x1000 + c, 12 + 4 * c);
  if (opts.ext) {
    header.writeUInt16BE(0xbede, 12 + 4 * csrcs);
    header.writeUInt16BE(1, 14 + 4 * csrcs);
    header.writeUInt32BE(0x10aabbcc, 16 + 4 * csrcs);
  }
  const payload = Buffer.alloc(opts.size ?? 100, `payload of ${seq} `);
  return Buffer.concat([header, payload]);
}

function rtcp(ssrc = 0x0102_0304, words = 6): Buffer {
  const p = Buffer.alloc(4 * (words + 1), 0x5a);
  p[0] = 0x81;
  p[1] = 200;
  p.writeUInt16BE(words, 2);
  p.writeUInt32BE(ssrc, 4);
  return p;
}

function pair(suite: SrtpSuite, extra: Partial<SrtpKeyParams> = {}, rxExtra: Partial<SrtpKeyParams> = extra) {
  const key = generateKeyParams(suite);
  return { tx: new SrtpContext({ suite, ...key, ...extra }), rx: new SrtpContext({ suite, ...key, ...rxExtra }), key };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SrtpError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe.each(SUITES)('%s', (suite) => {
  const info = SRTP_SUITES[suite];

  it('round-trips RTP with CSRCs and a header extension; only the payload is encrypted', () => {
    const { tx, rx } = pair(suite);
    const shapes = [{}, { csrcs: 3 }, { ext: true }, { csrcs: 1, ext: true, size: 1200 }, { size: 0 }];
    shapes.forEach((opts, k) => {
      const plain = rtp(1000 + k, opts);
      const hdr = plain.length - (opts.size ?? 100);
      const srtp = tx.protectRtp(plain);
      expect(srtp.length).toBe(plain.length + info.rtpTagLength);
      expect(srtp.subarray(0, hdr).equals(plain.subarray(0, hdr))).toBe(true);
      if (plain.length > hdr) expect(srtp.subarray(hdr, plain.length).equals(plain.subarray(hdr))).toBe(false);
      expect(rx.unprotectRtp(srtp).equals(plain)).toBe(true);
    });
    expect(rx.stats.unprotected).toBe(shapes.length);
    expect(tx.stats.protected).toBe(shapes.length);
  });

  it('round-trips RTCP with the E-bit set and an SRTCP index counting from 0 per SSRC', () => {
    const { tx, rx } = pair(suite);
    for (let i = 0; i < 5; i++) {
      for (const ssrc of [1, 2]) {
        const plain = rtcp(ssrc, 6 + i);
        const srtcp = tx.protectRtcp(plain);
        expect(srtcp.length).toBe(plain.length + 4 + info.rtcpTagLength);
        const wordAt = info.aead ? srtcp.length - 4 : srtcp.length - info.rtcpTagLength - 4;
        expect(srtcp.readUInt32BE(wordAt)).toBe((0x8000_0000 | i) >>> 0);
        expect(srtcp.subarray(0, 8).equals(plain.subarray(0, 8))).toBe(true);
        expect(srtcp.subarray(8, plain.length).equals(plain.subarray(8))).toBe(false);
        expect(rx.unprotectRtcp(srtcp).equals(plain)).toBe(true);
      }
    }
    expect(rx.stats.unprotected).toBe(10);
  });

  it('refuses any altered byte as auth, and the genuine packet is still accepted afterwards', () => {
    const { tx, rx } = pair(suite);
    const srtp = tx.protectRtp(rtp(7, { csrcs: 1, ext: true }));
    for (let i = 0; i < srtp.length; i++) {
      const bad = Buffer.from(srtp);
      bad[i]! ^= 0x04;
      const code = codeOf(() => rx.unprotectRtp(bad));
      // Flipping the CC bits or the extension length (bytes 0, 18, 19) can make the header run
      // past the packet: malformed. Any other byte is an auth failure.
      expect([0, 18, 19].includes(i) ? ['auth', 'malformed'] : ['auth']).toContain(code);
    }
    expect(rx.stats.authFailures).toBeGreaterThanOrEqual(srtp.length - 3);
    expect(rx.stats.unprotected).toBe(0);
    expect(rx.unprotectRtp(srtp).equals(rtp(7, { csrcs: 1, ext: true }))).toBe(true);

    const srtcp = tx.protectRtcp(rtcp());
    for (let i = 0; i < srtcp.length; i++) {
      const bad = Buffer.from(srtcp);
      bad[i]! ^= 0x10;
      expect(codeOf(() => rx.unprotectRtcp(bad))).toBe('auth');
    }
    expect(rx.unprotectRtcp(srtcp).equals(rtcp())).toBe(true);
  });

  it('refuses a replayed SRTP or SRTCP packet as replay', () => {
    const { tx, rx } = pair(suite);
    const a = tx.protectRtp(rtp(10));
    const b = tx.protectRtp(rtp(11));
    rx.unprotectRtp(b);
    rx.unprotectRtp(a); // reordered but new: fine
    expect(codeOf(() => rx.unprotectRtp(a))).toBe('replay');
    expect(codeOf(() => rx.unprotectRtp(b))).toBe('replay');
    const c = tx.protectRtcp(rtcp());
    rx.unprotectRtcp(c);
    expect(codeOf(() => rx.unprotectRtcp(c))).toBe('replay');
    expect(rx.stats.replayed).toBe(3);
  });

  it('keeps the ROC across a 65535 -> 0 wrap with reordering', () => {
    const { tx, rx } = pair(suite);
    const seqs = [65_528, 65_529, 65_530, 65_531, 65_532, 65_533, 65_534, 65_535, 0, 1, 2, 3, 4, 5, 6, 7];
    const sent = seqs.map((s) => ({ s, srtp: tx.protectRtp(rtp(s)) }));
    // Delivered shuffled within a few places, straddling the wrap both ways.
    const order = [0, 2, 1, 4, 3, 8, 5, 6, 9, 7, 11, 10, 12, 15, 13, 14];
    for (const k of order) expect(rx.unprotectRtp(sent[k]!.srtp).equals(rtp(sent[k]!.s))).toBe(true);
    // A wrong ROC guess would fail authentication (CM) or the GCM tag; none did.
    expect(rx.stats.authFailures).toBe(0);
  });

  it('keeps the ROC when 150+ packets are lost across the wrap, and over several wraps', () => {
    const { tx, rx } = pair(suite);
    const all: Array<{ seq: number; srtp: Buffer }> = [];
    for (let i = 0; i < 600; i++) {
      const seq = (65_200 + i) % 65_536;
      all.push({ seq, srtp: tx.protectRtp(rtp(seq)) });
    }
    // 65200..65399 arrive, 65400..(wrap)..63 (200 packets) are lost, then 64.. arrive, a late one of them reordered.
    const delivered = [...all.slice(0, 200), ...all.slice(401, 405), all[400]!, ...all.slice(405)];
    for (const p of delivered) expect(rx.unprotectRtp(p.srtp).equals(rtp(p.seq))).toBe(true);

    // Three more wraps in steps of 20,000: the ROC climbs to 4 on both sides.
    for (let seq = 20_000 + 399; seq < 4 * 65_536; seq += 20_000) {
      const plain = rtp(seq % 65_536);
      expect(rx.unprotectRtp(tx.protectRtp(plain)).equals(plain)).toBe(true);
    }
  });

  it('refuses packets older than the replay window; a larger window accepts them', () => {
    const { tx, rx } = pair(suite);
    const big = pair(suite, {}, { replayWindow: 1024 });
    const srtp = Array.from({ length: 301 }, (_, s) => tx.protectRtp(rtp(s)));
    const srtpBig = Array.from({ length: 301 }, (_, s) => big.tx.protectRtp(rtp(s)));
    for (let s = 0; s <= 300; s++) {
      if (s === 100 || s === 250) continue;
      rx.unprotectRtp(srtp[s]!);
      big.rx.unprotectRtp(srtpBig[s]!);
    }
    expect(rx.unprotectRtp(srtp[250]!).equals(rtp(250))).toBe(true); // 50 behind: inside 128
    expect(codeOf(() => rx.unprotectRtp(srtp[100]!))).toBe('replay'); // 200 behind
    expect(big.rx.unprotectRtp(srtpBig[100]!).equals(rtp(100))).toBe(true);
  });

  it('a forged packet far ahead moves neither the ROC nor the window', () => {
    const { tx, rx } = pair(suite);
    const first = tx.protectRtp(rtp(65_000));
    rx.unprotectRtp(first);
    const forged = tx.protectRtp(rtp(1)); // would be ROC 1...
    forged[forged.length - 1]! ^= 1; // ...but its tag is wrong
    expect(codeOf(() => rx.unprotectRtp(forged))).toBe('auth');
    const next = tx.protectRtp(rtp(65_001));
    expect(rx.unprotectRtp(next).equals(rtp(65_001))).toBe(true);
  });

  it('appends and checks the MKI; another MKI is unknown-mki, none at all fails', () => {
    const mki = { value: 0x0a0b0c, length: 3 };
    const { tx, rx, key } = pair(suite, { mki });
    const plain = rtp(5);
    const srtp = tx.protectRtp(plain);
    expect(srtp.length).toBe(plain.length + 3 + info.rtpTagLength);
    // CM: payload | MKI | tag.  GCM: payload+tag | MKI (as libsrtp lays them out).
    const mkiAt = info.aead ? srtp.length - 3 : srtp.length - info.rtpTagLength - 3;
    expect(srtp.subarray(mkiAt, mkiAt + 3).toString('hex')).toBe('0a0b0c');
    expect(rx.unprotectRtp(srtp).equals(plain)).toBe(true);

    const other = new SrtpContext({ suite, ...key, mki: { value: 0x0a0b0d, length: 3 } });
    expect(codeOf(() => other.unprotectRtp(tx.protectRtp(rtp(6))))).toBe('unknown-mki');
    const none = new SrtpContext({ suite, ...key });
    expect(codeOf(() => none.unprotectRtp(tx.protectRtp(rtp(7))))).toBe('auth');

    const srtcp = tx.protectRtcp(rtcp());
    expect(srtcp.length).toBe(rtcp().length + 4 + 3 + info.rtcpTagLength);
    expect(rx.unprotectRtcp(srtcp).equals(rtcp())).toBe(true);
    expect(codeOf(() => other.unprotectRtcp(srtcp))).toBe('unknown-mki');
  });

  it('refuses with key-lifetime once the lifetime in packets is used up', () => {
    const { tx, rx } = pair(suite, { lifetime: 10 });
    const sent: Buffer[] = [];
    for (let s = 0; s < 8; s++) sent.push(tx.protectRtp(rtp(s)));
    sent.push(tx.protectRtcp(rtcp()), tx.protectRtcp(rtcp()));
    expect(codeOf(() => tx.protectRtp(rtp(8)))).toBe('key-lifetime');
    expect(codeOf(() => tx.protectRtcp(rtcp()))).toBe('key-lifetime');
    for (let s = 0; s < 8; s++) rx.unprotectRtp(sent[s]!);
    rx.unprotectRtcp(sent[8]!);
    // A refused packet (replay) does not count against the lifetime...
    expect(codeOf(() => rx.unprotectRtcp(sent[8]!))).toBe('replay');
    rx.unprotectRtcp(sent[9]!);
    // ...but the tenth accepted one used it up.
    expect(codeOf(() => rx.unprotectRtp(sent[0]!))).toBe('key-lifetime');
    expect(tx.stats.protected).toBe(10);
    expect(rx.stats.unprotected).toBe(10);
  });

  it('refuses short and malformed packets with their codes', () => {
    const { tx, rx } = pair(suite);
    expect(codeOf(() => tx.protectRtp(Buffer.alloc(0)))).toBe('too-short');
    expect(codeOf(() => rx.unprotectRtp(Buffer.alloc(12 + info.rtpTagLength - 1, 0x80)))).toBe('too-short');
    expect(codeOf(() => tx.protectRtp(Buffer.from('400000010000000000000001aa', 'hex')))).toBe('malformed'); // version 1
    const badExt = rtp(1, { ext: true });
    badExt.writeUInt16BE(500, 14); // extension length past the end
    expect(codeOf(() => tx.protectRtp(badExt))).toBe('malformed');
    const badCc = rtp(1, { size: 4 });
    badCc[0] = 0x8f; // 15 CSRCs in a 16-byte packet
    expect(codeOf(() => tx.protectRtp(badCc))).toBe('malformed');
    expect(codeOf(() => tx.protectRtcp(Buffer.alloc(7, 0x80)))).toBe('too-short');
    expect(codeOf(() => rx.unprotectRtcp(Buffer.alloc(8 + 4 + info.rtcpTagLength - 1, 0x80)))).toBe('too-short');
    expect(codeOf(() => tx.protectRtp('not a buffer' as unknown as Buffer))).toBe('malformed');
    expect(rx.stats.malformed + tx.stats.malformed).toBe(8);
  });
});

describe('suite details', () => {
  it('AES_CM_128_HMAC_SHA1_32 has a 4-byte SRTP tag and a 10-byte SRTCP tag', () => {
    const { tx } = pair('AES_CM_128_HMAC_SHA1_32');
    expect(tx.protectRtp(rtp(1)).length - rtp(1).length).toBe(4);
    expect(tx.protectRtcp(rtcp()).length - rtcp().length).toBe(4 + 10);
  });

  it('generateKeyParams gives fresh random keys of the suite lengths', () => {
    for (const suite of SUITES) {
      const a = generateKeyParams(suite);
      const b = generateKeyParams(suite);
      expect(a.masterKey).toHaveLength(SRTP_SUITES[suite].keyLength);
      expect(a.masterSalt).toHaveLength(SRTP_SUITES[suite].saltLength);
      expect(a.masterKey.equals(b.masterKey)).toBe(false);
    }
  });

  it('refuses bad key parameters with SrtpError', () => {
    const k = generateKeyParams('AEAD_AES_128_GCM');
    expect(codeOf(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', masterKey: k.masterKey, masterSalt: Buffer.alloc(14) }))).toBe('malformed');
    expect(codeOf(() => new SrtpContext({ suite: 'AES_256_CM_HMAC_SHA1_80', ...k }))).toBe('malformed');
    expect(codeOf(() => new SrtpContext({ suite: 'NULL' as SrtpSuite, ...k }))).toBe('malformed');
    expect(codeOf(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...k, mki: { value: 256, length: 1 } }))).toBe('malformed');
    expect(codeOf(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...k, replayWindow: 0 }))).toBe('malformed');
    expect(codeOf(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...k, lifetime: -1 }))).toBe('malformed');
  });
});

describe('RFC 3711 Appendix A index estimation', () => {
  it('picks ROC-1, ROC or ROC+1 around the highest index', () => {
    expect(estimateIndex(-1, 123)).toBe(123); // first packet
    expect(estimateIndex(65_535, 0)).toBe(65_536); // wrap forward
    expect(estimateIndex(65_536 + 2, 65_530)).toBe(65_530); // late packet from before the wrap
    expect(estimateIndex(65_400, 100)).toBe(65_536 + 100); // 236 lost across the wrap
    expect(estimateIndex(3 * 65_536 + 10, 40_000)).toBe(2 * 65_536 + 40_000);
    expect(estimateIndex(10, 60_000)).toBe(60_000 - 65_536); // before the stream: negative
  });

  it('the replay window accepts each index once and forgets what falls out of it', () => {
    const w = new ReplayWindow(64);
    expect(w.check(1000)).toBe('ok');
    w.accept(1000);
    expect(w.check(1000)).toBe('seen');
    expect(w.check(999)).toBe('ok');
    expect(w.check(1000 - 64)).toBe('old');
    w.accept(990);
    expect(w.check(990)).toBe('seen');
    w.accept(1040); // slides by 40: 990 still inside, and remembered
    expect(w.check(990)).toBe('seen');
    expect(w.check(1001)).toBe('ok');
    w.accept(5000); // a jump clears everything
    expect(w.check(4990)).toBe('ok');
    expect(w.check(1040)).toBe('old');
  });
});

describe('fuzz: nothing but SrtpError leaves a context', () => {
  it('random buffers and mutated genuine packets, every suite, with and without MKI', () => {
    const rnd = prng(0x5eed);
    const randomBuffer = () => {
      const b = Buffer.alloc(rnd(4) === 0 ? rnd(24) : rnd(300));
      for (let i = 0; i < b.length; i++) b[i] = rnd(256);
      if (b.length > 0 && rnd(2) === 0) b[0] = 0x80 | (b[0]! & 0x3f); // version 2 half the time
      return b;
    };
    const seen = new Set<string>();
    let accepted = 0;
    for (const suite of SUITES) {
      for (const extra of [{}, { mki: { value: 7, length: 2 } }]) {
        const { tx, rx } = pair(suite, extra);
        const genuine = [tx.protectRtp(rtp(1, { csrcs: 2, ext: true })), tx.protectRtcp(rtcp())];
        for (let n = 0; n < 3000; n++) {
          let input: Buffer;
          if (n % 3 === 0) {
            input = Buffer.from(genuine[n % 2]!);
            const flips = 1 + rnd(3);
            for (let f = 0; f < flips; f++) input[rnd(input.length)]! ^= 1 << rnd(8);
            if (rnd(4) === 0) input = input.subarray(0, rnd(input.length));
          } else {
            input = randomBuffer();
          }
          for (const op of ['unprotectRtp', 'unprotectRtcp', 'protectRtp', 'protectRtcp'] as const) {
            const ctx = op.startsWith('un') ? rx : tx;
            try {
              ctx[op](input);
              if (op.startsWith('un')) accepted++;
            } catch (e) {
              expect(e).toBeInstanceOf(SrtpError);
              expect((e as SrtpError).message).not.toMatch(/^internal:/);
              seen.add((e as SrtpError).code);
            }
          }
        }
      }
    }
    expect(accepted).toBe(0); // no random or mutated input ever passed authentication
    expect([...seen].sort()).toEqual(expect.arrayContaining(['auth', 'malformed', 'too-short', 'unknown-mki']));
  });
});
