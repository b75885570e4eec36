/**
 * Offer/answer for SIP legs into rooms, against what Cisco, Polycom, Lifesize, baresip and
 * Linphone offer. Every answer is parsed back with sdp-transform and checked line by line:
 * m-lines kept in order and count (rejected ones with port 0), the crypto tag echoed with
 * knude's own fresh key of the same suite, RTCP mux or a=rtcp, codec, H.264 parameters,
 * direction. Re-INVITEs keep or renew keys as the endpoint does; knude's own offers are read
 * back by knude's answerer and the two ends' keys must pair up.
 */
import sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { parseCryptoAttribute } from '../../src/media/sdp/crypto-attr.js';
import { SdpError } from '../../src/media/sdp/errors.js';
import { answerProfileLevelId, parseProfileLevelId } from '../../src/media/sdp/h264.js';
import { negotiate, renegotiate } from '../../src/media/sdp/negotiate.js';
import { buildOffer, readAnswer, reoffer } from '../../src/media/sdp/offer.js';
import { checkOfferSecurity } from '../../src/media/sdp/policy.js';
import type { SrtpKeyParams } from '../../src/media/sdp/suites.js';
import type { AnswerResult, LocalCapabilities, NegotiatedMedia, NegotiatedSession } from '../../src/media/sdp/types.js';
import { capabilities, cryptoLineOf, readSdp } from '../fixtures/sdp/fixtures.js';

const w = (text: string): string => `399 knude "${text}"`;

function edit(sdp: string, from: string | RegExp, to: string): string {
  const out = sdp.replace(from, to);
  if (out === sdp) throw new Error(`fixture edit found nothing to replace: ${from}`);
  return out;
}

function ok(result: AnswerResult): Extract<AnswerResult, { ok: true }> {
  if (!result.ok) throw new Error(`refused: ${result.warning}`);
  return result;
}

const keyBytes = (k: { masterKey: Buffer; masterSalt: Buffer }): string => Buffer.concat([k.masterKey, k.masterSalt]).toString('base64');

/** The key the offer's a=crypto line with `tag` carries on m-line `index`. */
function offeredKey(offer: string, index: number, tag: number): string {
  const section = offer.split('\r\nm=')[index + 1];
  const line = section.split('\r\n').find((l) => l.startsWith(`a=crypto:${tag} `))!;
  return keyBytes(parseCryptoAttribute(line).keys[0]);
}

/**
 * What every answer must satisfy whatever the endpoint: checked against the offer and the
 * negotiated structure, by reading the answer back as another SDP stack would.
 */
function checkAnswer(offer: string, result: Extract<AnswerResult, { ok: true }>, caps: LocalCapabilities & { issued: SrtpKeyParams[] }): void {
  const sdpOffer = sdpTransform.parse(offer);
  const answer = sdpTransform.parse(result.answerSdp);
  expect(result.answerSdp).toBe(result.localSdp);
  expect(result.answerSdp.endsWith('\r\n')).toBe(true);
  expect(result.answerSdp.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  expect(answer.origin).toMatchObject({ username: 'knude', sessionId: Number(result.origin.sessionId), sessionVersion: result.origin.version, address: caps.address });
  expect(answer.connection).toEqual({ version: 4, ip: caps.address });
  expect(answer.media.map((m) => [m.type, m.protocol])).toEqual(sdpOffer.media.map((m) => [m.type, m.protocol]));
  const accepted = new Map<number, NegotiatedMedia>([[result.audio.index, result.audio]]);
  if (result.video) accepted.set(result.video.index, result.video);
  for (const [i, m] of answer.media.entries()) {
    const negotiated = accepted.get(i);
    if (!negotiated) {
      expect(m.port, `m-line ${i} rejected`).toBe(0);
      expect(m.crypto).toBeUndefined();
      continue;
    }
    const offered = sdpOffer.media[i];
    expect(m.port).toBe(m.type === 'audio' ? caps.audio.port : caps.video!.port);
    // one a=crypto, the tag knude chose, its fresh key of the same suite
    expect(m.crypto).toHaveLength(1);
    const line = parseCryptoAttribute(`${m.crypto![0].id} ${m.crypto![0].suite} ${m.crypto![0].config}`);
    expect(line.tag).toBe(negotiated.crypto.tag);
    expect(line.suite).toBe(negotiated.crypto.suite);
    expect(negotiated.tx.suite).toBe(negotiated.crypto.suite);
    expect(keyBytes(line.keys[0])).toBe(keyBytes(negotiated.tx));
    expect(caps.issued.map(keyBytes)).toContain(keyBytes(negotiated.tx));
    expect(keyBytes(negotiated.rx)).toBe(offeredKey(offer, i, negotiated.crypto.tag));
    expect(keyBytes(negotiated.tx)).not.toBe(keyBytes(negotiated.rx));
    // RTCP: muxed when offered, otherwise a=rtcp on the next port
    expect(m.rtcpMux === 'rtcp-mux').toBe(offered.rtcpMux === 'rtcp-mux');
    expect(negotiated.remote.rtcpMux).toBe(offered.rtcpMux === 'rtcp-mux');
    if (negotiated.remote.rtcpMux) expect(m.rtcp).toBeUndefined();
    else expect(m.rtcp).toEqual({ port: m.port + 1, netType: 'IN', ipVer: 4, address: caps.address });
    // the chosen codec first, then telephone-event
    const payloads = String(m.payloads).split(' ').map(Number);
    expect(payloads[0]).toBe(negotiated.payloadType);
    const pt = m.rtp.find((r) => r.payload === negotiated.payloadType)!;
    expect([pt.codec, pt.rate]).toEqual([negotiated.codec, negotiated.clockRate]);
    expect(m.direction).toBe(negotiated.direction);
  }
}

interface Expectation {
  audio: Record<string, unknown>;
  video?: Record<string, unknown>;
  rejected: Array<[number, string]>;
}

describe('negotiate: answers to real endpoint offers', () => {
  const cases: Array<[string, Expectation]> = [
    [
      'cisco-webex-room',
      {
        audio: { codec: 'opus', payloadType: 116, clockRate: 48000, channels: 2, crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' }, telephoneEvent: { payloadType: 105, clockRate: 8000 }, audioLevelExtId: 1, remote: { address: '198.51.100.31', rtpPort: 2326, rtcpPort: 2327, rtcpMux: false }, direction: 'sendrecv', hold: false, rx: expect.objectContaining({ lifetime: 2 ** 48 }) },
        video: { codec: 'H264', payloadType: 126, h264: { profileLevelId: '428016', packetizationMode: 1, levelAsymmetryAllowed: false }, rtcpFb: [{ type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }], remote: { address: '198.51.100.31', rtpPort: 2328, rtcpPort: 2329, rtcpMux: false } },
        rejected: [
          [2, 'TCP/BFCP is not relayed'],
          [3, 'content (presentation) video is not supported yet'],
          [4, 'application RTP/SAVP is not supported'],
        ],
      },
    ],
    [
      'polycom-group',
      {
        audio: { codec: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1, crypto: { tag: 3, suite: 'AES_256_CM_HMAC_SHA1_80' }, telephoneEvent: { payloadType: 101, clockRate: 8000 }, remote: { address: '198.51.100.42', rtpPort: 49152, rtcpPort: 49153, rtcpMux: false } },
        video: { codec: 'H264', payloadType: 110, crypto: { tag: 3, suite: 'AES_256_CM_HMAC_SHA1_80' }, h264: { profileLevelId: '428020', packetizationMode: 1, levelAsymmetryAllowed: false }, rtcpFb: [{ type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }] },
        rejected: [
          [2, 'UDP/BFCP is not relayed'],
          [3, 'content (presentation) video is not supported yet'],
          [4, 'application RTP/SAVP is not supported'],
        ],
      },
    ],
    [
      'lifesize-icon',
      {
        audio: { codec: 'PCMU', payloadType: 0, crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' }, rx: expect.objectContaining({ lifetime: 2 ** 31 }) },
        video: { codec: 'H264', payloadType: 97, h264: { profileLevelId: '42801f', packetizationMode: 1, levelAsymmetryAllowed: false } },
        rejected: [
          [2, 'TCP/BFCP is not relayed'],
          [3, 'content (presentation) video is not supported yet'],
        ],
      },
    ],
    [
      'baresip',
      {
        // opus with telephone-event/8000 only: taken at 8000 rather than no DTMF
        audio: { codec: 'opus', payloadType: 96, channels: 2, crypto: { tag: 4, suite: 'AES_256_CM_HMAC_SHA1_80' }, telephoneEvent: { payloadType: 101, clockRate: 8000 }, ssrc: 2716413212, remote: { address: '198.51.100.77', rtpPort: 10004, rtcpPort: 10004, rtcpMux: true } },
        // H.264 without profile-level-id is Baseline 1.0 (RFC 6184 §8.1)
        video: { codec: 'H264', payloadType: 96, ssrc: 1150532876, h264: { profileLevelId: '42000a', packetizationMode: 0, levelAsymmetryAllowed: false }, rtcpFb: [{ type: 'nack' }, { type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }] },
        rejected: [],
      },
    ],
    [
      // captured from Debian's baresip 1.0.0 (see sdp-baresip-interop.test.ts)
      'baresip-1.0.0-debian',
      { audio: { codec: 'PCMU', payloadType: 0, crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' }, telephoneEvent: { payloadType: 101, clockRate: 8000 }, ssrc: 1417256954, remote: { address: '192.0.2.2', rtpPort: 46054, rtcpPort: 46055, rtcpMux: false } }, rejected: [] },
    ],
    [
      'linphone',
      {
        audio: { codec: 'opus', payloadType: 96, crypto: { tag: 3, suite: 'AES_256_CM_HMAC_SHA1_80' }, telephoneEvent: { payloadType: 101, clockRate: 48000 }, remote: { address: '198.51.100.88', rtpPort: 7078, rtcpPort: 7078, rtcpMux: true } },
        video: { codec: 'H264', payloadType: 97, h264: { profileLevelId: '42801f', packetizationMode: 0, levelAsymmetryAllowed: false }, rtcpFb: [{ type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }] },
        rejected: [],
      },
    ],
    [
      'legacy-hold-zero-address',
      { audio: { codec: 'PCMU', payloadType: 0, direction: 'recvonly', hold: 'zero-address', remote: { address: '0.0.0.0', rtpPort: 17502, rtcpPort: 17503, rtcpMux: false } }, rejected: [] },
    ],
  ];

  it.each(cases)('%s', (name, expected) => {
    const caps = capabilities();
    const offer = readSdp(name);
    const result = ok(negotiate(offer, caps));
    checkAnswer(offer, result, caps);
    expect(result.audio).toMatchObject(expected.audio);
    if (expected.video) expect(result.video).toMatchObject(expected.video);
    else expect(result.video).toBeUndefined();
    expect(result.rejected.map((r) => [r.index, r.reason])).toEqual(expected.rejected);
    expect(result.origin.version).toBe(1);
  });

  it('writes the fmtp lines a Cisco expects back', () => {
    const answer = sdpTransform.parse(ok(negotiate(readSdp('cisco-webex-room'), capabilities())).answerSdp);
    expect(answer.media[0].fmtp).toEqual([
      { payload: 116, config: 'minptime=10;useinbandfec=1' },
      { payload: 105, config: '0-15' },
    ]);
    expect(answer.media[0].ext).toEqual([{ value: 1, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' }]);
    expect(answer.media[1].fmtp).toEqual([{ payload: 126, config: 'profile-level-id=428016;packetization-mode=1' }]);
    expect(answer.media[1].rtcpFb).toEqual([
      { payload: 126, type: 'nack', subtype: 'pli' },
      { payload: 126, type: 'ccm', subtype: 'fir' },
    ]);
    expect(answer.media.slice(2).map((m) => `${m.type} ${m.port} ${m.protocol} ${m.payloads}`)).toEqual(['application 0 TCP/BFCP *', 'video 0 RTP/SAVP 97 126 34 31', 'application 0 RTP/SAVP 107']);
  });

  it('gives each m-line and each call its own key', () => {
    const caps = capabilities();
    const a = ok(negotiate(readSdp('polycom-group'), caps));
    const b = ok(negotiate(readSdp('polycom-group'), caps));
    const keys = [a.audio.tx, a.video!.tx, b.audio.tx, b.video!.tx].map(keyBytes);
    expect(new Set(keys).size).toBe(4);
    expect(a.origin.sessionId).not.toBe(b.origin.sessionId);
  });
});

describe('negotiate: choices', () => {
  const baresip = readSdp('baresip');
  const polycom = readSdp('polycom-group');
  const lifesize = readSdp('lifesize-icon');
  const linphone = readSdp('linphone');

  it('takes VP8 when knude prefers it', () => {
    const caps = capabilities({ video: { port: 40002, codecs: ['VP8', 'H264'] } });
    const result = ok(negotiate(baresip, caps));
    checkAnswer(baresip, result, caps);
    expect(result.video).toMatchObject({ codec: 'VP8', payloadType: 97, clockRate: 90000 });
    expect(result.video!.h264).toBeUndefined();
    expect(sdpTransform.parse(result.answerSdp).media[1].fmtp).toEqual([]);
  });

  it('prefers the suites in knude\'s order, not the endpoint\'s', () => {
    const caps = capabilities({ suites: ['AEAD_AES_256_GCM', 'AES_CM_128_HMAC_SHA1_80'] });
    const result = ok(negotiate(baresip, caps));
    checkAnswer(baresip, result, caps);
    expect(result.audio.crypto).toEqual({ tag: 6, suite: 'AEAD_AES_256_GCM' });
    expect(result.audio.tx.masterSalt).toHaveLength(12);
    const only80 = ok(negotiate(baresip, capabilities({ suites: ['AES_CM_128_HMAC_SHA1_80'] })));
    expect(only80.audio.crypto).toEqual({ tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80' });
  });

  it('rejects video on an audio-only leg and keeps the m-line', () => {
    const caps = capabilities({ video: undefined });
    const result = ok(negotiate(polycom, caps));
    checkAnswer(polycom, result, caps);
    expect(result.video).toBeUndefined();
    expect(result.rejected).toContainEqual({ index: 1, type: 'video', reason: 'this leg is audio-only' });
  });

  it('answers the level knude can receive at or below the offer\'s (RFC 6184 §8.2.2)', () => {
    const caps = capabilities({ video: { port: 40002, codecs: ['H264'], h264: { maxLevel: 31 } } });
    expect(ok(negotiate(polycom, caps)).video!.h264).toEqual({ profileLevelId: '42801f', packetizationMode: 1, levelAsymmetryAllowed: false });
    // the offer's level 2.2 is below knude's 4.0: 2.2 it is
    expect(ok(negotiate(readSdp('cisco-webex-room'), capabilities())).video!.h264!.profileLevelId).toBe('428016');
  });

  it('answers its own receive level when the offer allows level asymmetry', () => {
    const offer = edit(linphone, 'a=fmtp:97 profile-level-id=42801F', 'a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1');
    const result = ok(negotiate(offer, capabilities({ video: { port: 40002, codecs: ['H264'], h264: { maxLevel: 40 } } })));
    expect(result.video!.h264).toEqual({ profileLevelId: '42e028', packetizationMode: 1, levelAsymmetryAllowed: true });
    expect(sdpTransform.parse(result.answerSdp).media[1].fmtp).toEqual([{ payload: 97, config: 'profile-level-id=42e028;packetization-mode=1;level-asymmetry-allowed=1' }]);
  });

  it('takes the H.264 profile knude prefers, packetization-mode 1 before 0', () => {
    const high = ok(negotiate(polycom, capabilities({ video: { port: 40002, codecs: ['H264'], h264: { profiles: ['high', 'baseline'] } } })));
    expect(high.video).toMatchObject({ payloadType: 109, h264: { profileLevelId: '640020', packetizationMode: 1 } });
    const mode0First = edit(lifesize, 'm=video 60002 RTP/SAVP 97 96 34', 'm=video 60002 RTP/SAVP 96 97 34');
    expect(ok(negotiate(mode0First, capabilities())).video).toMatchObject({ payloadType: 97, h264: { packetizationMode: 1 } });
  });

  it('rejects video offered only in H.264 packetization-mode 2, naming why', () => {
    const offer = edit(edit(lifesize, 'm=video 60002 RTP/SAVP 97 96 34', 'm=video 60002 RTP/SAVP 97'), 'max-fs=8192;packetization-mode=1\r\n', 'max-fs=8192;packetization-mode=2\r\n');
    const result = ok(negotiate(offer, capabilities()));
    expect(result.video).toBeUndefined();
    expect(result.rejected[0]).toEqual({ index: 1, type: 'video', reason: 'no common video codec: the offer has H264 (its H.264 needs packetization-mode 0 or 1 and a profile of constrained-baseline, baseline, main, high); knude takes H264, VP8' });
  });

  it('rejects video with no common codec and carries on with audio', () => {
    const offer = edit(lifesize, 'm=video 60002 RTP/SAVP 97 96 34', 'm=video 60002 RTP/SAVP 34');
    const result = ok(negotiate(offer, capabilities()));
    expect(result.video).toBeUndefined();
    expect(result.rejected[0]).toEqual({ index: 1, type: 'video', reason: 'no common video codec: the offer has H263; knude takes H264, VP8' });
    expect(sdpTransform.parse(result.answerSdp).media[1]).toMatchObject({ type: 'video', port: 0, payloads: 34 });
  });

  it('refuses with 488 when no audio codec is common', () => {
    const offer = edit(lifesize, 'm=audio 60000 RTP/SAVP 113 123 122 121 9 0 8 18 101', 'm=audio 60000 RTP/SAVP 113 9 18 101');
    expect(negotiate(offer, capabilities())).toEqual({ ok: false, status: 488, reason: 'no-common-codec', mline: 0, warning: w('no common audio codec: the offer has MP4A-LATM, G722, G729; knude takes opus, PCMU, PCMA') });
  });

  it('does not take opus declared mono (RFC 7587 says opus/48000/2)', () => {
    const offer = edit(edit(baresip, 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:96 opus/48000'), 'm=audio 10004 RTP/SAVP 96 9 0 8 101', 'm=audio 10004 RTP/SAVP 96 9 101');
    expect(negotiate(offer, capabilities())).toMatchObject({ ok: false, warning: w('no common audio codec: the offer has opus, G722; knude takes opus, PCMU, PCMA') });
  });

  it('refuses an offer without an active audio m-line', () => {
    const offer = edit(baresip, 'm=audio 10004', 'm=audio 0');
    expect(negotiate(offer, capabilities())).toEqual({ ok: false, status: 488, reason: 'no-audio', warning: w('the offer has no active SRTP audio m-line: knude needs one (offered: audio rejected, video RTP/SAVP)') });
  });

  it('rejects a second audio m-line', () => {
    const audio = baresip.slice(baresip.indexOf('m=audio'), baresip.indexOf('m=video'));
    const offer = baresip + audio.replace('m=audio 10004', 'm=audio 10008');
    const result = ok(negotiate(offer, capabilities()));
    expect(result.rejected).toEqual([{ index: 2, type: 'audio', reason: 'a second audio stream is not supported' }]);
    expect(sdpTransform.parse(result.answerSdp).media.map((m) => m.port)).toEqual([40000, 40002, 0]);
  });

  it('sizes the replay window from the endpoint\'s WSH and keeps several MKI keys', () => {
    const second = Buffer.alloc(30, 9).toString('base64');
    const offer = edit(readSdp('legacy-hold-zero-address'), /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S+)/, `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$1|2^20|1:2;inline:${second}|2^20|2:2 WSH=256`);
    const audio = ok(negotiate(offer, capabilities())).audio;
    expect(audio.rxKeys.map((k) => [k.mki, k.lifetime, k.replayWindow])).toEqual([
      [{ value: 1, length: 2 }, 2 ** 20, 256],
      [{ value: 2, length: 2 }, 2 ** 20, 256],
    ]);
    expect(keyBytes(audio.rxKeys[1])).toBe(second);
    expect(audio.rx).toBe(audio.rxKeys[0]);
    expect(audio.tx.mki).toBeUndefined();
    expect(audio.tx.replayWindow).toBeUndefined();
  });

  it('passes security refusals through unchanged', () => {
    expect(negotiate(readSdp('plain-rtp-phone'), capabilities())).toMatchObject({ ok: false, status: 488, reason: 'plain-rtp' });
    expect(negotiate(readSdp('dtls-srtp-chrome'), capabilities())).toMatchObject({ ok: false, status: 488, reason: 'dtls-not-allowed' });
    expect(negotiate(readSdp('malformed'), capabilities())).toMatchObject({ ok: false, status: 400, reason: 'malformed-sdp' });
  });

  it('throws SdpError for capabilities that cannot work', () => {
    expect(() => negotiate(baresip, capabilities({ suites: [] }))).toThrow(expect.objectContaining({ code: 'bad-capabilities', message: 'capabilities need at least one SRTP suite' }));
    expect(() => negotiate(baresip, capabilities({ audio: { port: 70000, codecs: ['PCMU'] } }))).toThrow(SdpError);
    const shortKeys = capabilities({ keys: () => ({ masterKey: Buffer.alloc(16), masterSalt: Buffer.alloc(14) }) });
    expect(() => negotiate(baresip, shortKeys)).toThrow(expect.objectContaining({ code: 'bad-capabilities', message: 'keys(AES_256_CM_HMAC_SHA1_80) must give a 32-byte key and a 14-byte salt' }));
  });
});

describe('negotiate: direction (RFC 3264 §6.1, §8.4)', () => {
  const baresip = readSdp('baresip');
  const cases: Array<[string, string, string, false | 'direction' | 'zero-address']> = [
    ['sendrecv', 'sendrecv', 'sendrecv', false],
    ['sendonly (hold)', 'sendonly', 'recvonly', 'direction'],
    ['recvonly', 'recvonly', 'sendonly', false],
    ['inactive', 'inactive', 'inactive', 'direction'],
  ];
  it.each(cases)('%s', (_name, offered, answered, hold) => {
    const offer = offered === 'sendrecv' ? baresip : edit(baresip, 'a=rtcp-mux\r\na=sendrecv', `a=rtcp-mux\r\na=${offered}`);
    const result = ok(negotiate(offer, capabilities()));
    expect([result.audio.direction, result.audio.hold]).toEqual([answered, hold]);
    expect(sdpTransform.parse(result.answerSdp).media[0].direction).toBe(answered);
  });

  it('takes the session-level direction for m-lines without one', () => {
    const offer = edit(readSdp('lifesize-icon').replace(/a=sendrecv\r\n/g, ''), 't=0 0\r\n', 't=0 0\r\na=sendonly\r\n');
    const result = ok(negotiate(offer, capabilities()));
    expect([result.audio.direction, result.video!.direction]).toEqual(['recvonly', 'recvonly']);
  });

  it('c=0.0.0.0 with recvonly is inactive', () => {
    const offer = edit(readSdp('legacy-hold-zero-address'), 'a=ptime:20', 'a=ptime:20\r\na=recvonly');
    expect(ok(negotiate(offer, capabilities())).audio).toMatchObject({ direction: 'inactive', hold: 'zero-address' });
  });
});

describe('renegotiate: re-INVITEs on a live leg', () => {
  const cisco = readSdp('cisco-webex-room');
  const hold = readSdp('cisco-webex-room-hold');

  function start(): { caps: ReturnType<typeof capabilities>; first: Extract<AnswerResult, { ok: true }> } {
    const caps = capabilities();
    return { caps, first: ok(negotiate(cisco, caps)) };
  }

  it('hold and resume keep the keys and bump the o= version', () => {
    const { caps, first } = start();
    const issued = caps.issued.length;
    const held = ok(renegotiate(first, hold, caps));
    checkAnswer(hold, held, caps);
    expect(caps.issued).toHaveLength(issued);
    expect(held.audio.tx).toBe(first.audio.tx);
    expect(held.video!.tx).toBe(first.video!.tx);
    expect(held.audio).toMatchObject({ direction: 'recvonly', hold: 'direction' });
    expect(held.origin).toEqual({ sessionId: first.origin.sessionId, version: 2 });
    const resumed = ok(renegotiate(held, cisco, caps));
    expect(resumed.audio).toMatchObject({ direction: 'sendrecv', hold: false });
    expect(resumed.audio.tx).toBe(first.audio.tx);
    expect(resumed.origin.version).toBe(3);
    // the same answer as the first, one version later
    expect(resumed.answerSdp.replace(/^o=.*$/m, '')).toBe(first.answerSdp.replace(/^o=.*$/m, ''));
  });

  it('an unchanged re-INVITE (session refresh) gets the same answer and version', () => {
    const { caps, first } = start();
    const again = ok(renegotiate(first, cisco, caps));
    expect(again.answerSdp).toBe(first.answerSdp);
    expect(again.origin).toEqual(first.origin);
  });

  it('new keys from the endpoint get a new key from knude, on that m-line only', () => {
    const { caps, first } = start();
    const oldAudioKey = cryptoLineOf(cisco, 0, 0).split(' ')[2].split('|')[0];
    const newKey = Buffer.alloc(30, 7).toString('base64');
    const rekeyed = edit(cisco, oldAudioKey, `inline:${newKey}`);
    const result = ok(renegotiate(first, rekeyed, caps));
    checkAnswer(rekeyed, result, caps);
    expect(keyBytes(result.audio.rx)).toBe(newKey);
    expect(keyBytes(result.audio.tx)).not.toBe(keyBytes(first.audio.tx));
    expect(result.audio.crypto).toEqual(first.audio.crypto);
    expect(result.video!.tx).toBe(first.video!.tx);
    expect(result.origin.version).toBe(2);
  });

  it('a switch to another crypto line takes its suite with a new key', () => {
    const caps = capabilities({ suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] });
    const first = ok(negotiate(cisco, caps));
    const only32 = edit(cisco, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 \S+\r\n/, '');
    const result = ok(renegotiate(first, only32, caps));
    expect(result.audio.crypto).toEqual({ tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32' });
    expect(result.audio.tx.suite).toBe('AES_CM_128_HMAC_SHA1_32');
    expect(keyBytes(result.audio.tx)).not.toBe(keyBytes(first.audio.tx));
  });

  it('keeps the codec in use when the re-INVITE still offers it', () => {
    const caps = capabilities();
    const lifesize = readSdp('lifesize-icon');
    const first = ok(negotiate(lifesize, caps));
    expect(first.audio.codec).toBe('PCMU');
    const withOpus = edit(edit(lifesize, 'm=audio 60000 RTP/SAVP 113', 'm=audio 60000 RTP/SAVP 116 113'), 'a=rtpmap:113', 'a=rtpmap:116 opus/48000/2\r\na=rtpmap:113');
    expect(ok(negotiate(withOpus, caps)).audio.codec).toBe('opus');
    expect(ok(renegotiate(first, withOpus, caps)).audio.codec).toBe('PCMU');
  });

  it('refuses a re-INVITE that drops encryption', () => {
    const { caps, first } = start();
    const plain = cisco.replace(/RTP\/SAVP/g, 'RTP/AVP').replace(/a=crypto:.*\r\n/g, '');
    expect(renegotiate(first, plain, caps)).toMatchObject({ ok: false, status: 488, reason: 'plain-rtp', warning: w('plain RTP/AVP is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') });
  });
});

describe('buildOffer and readAnswer: knude dialling an endpoint', () => {
  const caps = capabilities({ suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] });
  const pending = buildOffer(caps);
  const offer = sdpTransform.parse(pending.offerSdp);

  it('offers audio and video over RTP/SAVP with one crypto line per allowed suite', () => {
    expect(offer.media.map((m) => `${m.type} ${m.port} ${m.protocol} ${m.payloads}`)).toEqual(['audio 40000 RTP/SAVP 111 0 8 110 101', 'video 40002 RTP/SAVP 126 97 96']);
    for (const [i, m] of offer.media.entries()) {
      expect(m.crypto!.map((c) => [c.id, c.suite])).toEqual([
        [1, 'AES_CM_128_HMAC_SHA1_80'],
        [2, 'AES_256_CM_HMAC_SHA1_80'],
        [3, 'AEAD_AES_128_GCM'],
      ]);
      for (const c of m.crypto!) {
        const line = parseCryptoAttribute(`${c.id} ${c.suite} ${c.config}`);
        expect(keyBytes(line.keys[0])).toBe(keyBytes(pending.keys[i].get(c.id)!));
      }
      expect(m.rtcpMux).toBe('rtcp-mux');
      expect(m.rtcp).toMatchObject({ port: m.port + 1 });
      expect(m.direction).toBe('sendrecv');
    }
    const keys = pending.keys.flatMap((k) => [...k.values()].map(keyBytes));
    expect(new Set(keys).size).toBe(6);
    expect(offer.media[1].fmtp).toEqual([
      { payload: 126, config: 'profile-level-id=42e028;packetization-mode=1;level-asymmetry-allowed=1' },
      { payload: 97, config: 'profile-level-id=42e028;packetization-mode=0;level-asymmetry-allowed=1' },
    ]);
    expect(offer.media[1].rtcpFb!.filter((f) => f.payload === 126).map((f) => `${f.type} ${f.subtype ?? ''}`.trim())).toEqual(['nack', 'nack pli', 'ccm fir', 'goog-remb']);
    expect(offer.media[0].ext).toEqual([{ value: 1, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' }]);
    expect(checkOfferSecurity(pending.offerSdp, { allowedSuites: caps.suites, allowDtls: false }).ok).toBe(true);
  });

  it('reads the Polycom answer into the negotiated structure', () => {
    const answerSdp = readSdp('answer-polycom-to-knude');
    const result = readAnswer(pending, answerSdp);
    if (!result.ok) throw new Error(result.warning);
    expect(result.localSdp).toBe(pending.offerSdp);
    expect(result.origin).toEqual(pending.origin);
    expect(result.audio).toMatchObject({
      index: 0,
      codec: 'PCMU',
      payloadType: 0,
      clockRate: 8000,
      crypto: { tag: 2, suite: 'AES_256_CM_HMAC_SHA1_80' },
      telephoneEvent: { payloadType: 101, clockRate: 8000 },
      remote: { address: '198.51.100.44', rtpPort: 49170, rtcpPort: 49171, rtcpMux: false },
      direction: 'sendrecv',
      hold: false,
    });
    expect(result.audio.tx).toBe(pending.keys[0].get(2));
    expect(keyBytes(result.audio.rx)).toBe(offeredKey(answerSdp, 0, 2));
    expect(result.video).toMatchObject({ codec: 'H264', payloadType: 126, h264: { profileLevelId: '42e01f', packetizationMode: 1, levelAsymmetryAllowed: true }, rtcpFb: [{ type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }] });
    expect(result.video!.tx).toBe(pending.keys[1].get(2));
    expect(result.rejected).toEqual([]);
  });

  it('an answer rejecting video leaves an audio call', () => {
    const result = readAnswer(pending, edit(readSdp('answer-polycom-to-knude'), 'm=video 49172', 'm=video 0'));
    expect(result).toMatchObject({ ok: true, rejected: [{ index: 1, type: 'video', reason: 'rejected in the answer' }] });
    expect((result as NegotiatedSession).video).toBeUndefined();
  });

  it('an answer rejecting audio is refused', () => {
    expect(readAnswer(pending, edit(readSdp('answer-polycom-to-knude'), 'm=audio 49170', 'm=audio 0'))).toEqual({ ok: false, status: 488, reason: 'no-audio', warning: w('the answer rejects the audio m-line: knude needs audio') });
  });

  it('an answer with an audio codec knude did not offer is refused', () => {
    const g729 = edit(edit(readSdp('answer-polycom-to-knude'), 'm=audio 49170 RTP/SAVP 0 101', 'm=audio 49170 RTP/SAVP 18 101'), 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:18 G729/8000');
    expect(readAnswer(pending, g729)).toEqual({ ok: false, status: 488, reason: 'no-common-codec', mline: 0, warning: w('no common audio codec: the answer has G729, telephone-event; knude offered opus, PCMU, PCMA, telephone-event') });
  });

  it('an answer in H.264 packetization-mode 2 loses video', () => {
    const mode2 = edit(readSdp('answer-polycom-to-knude'), 'packetization-mode=1', 'packetization-mode=2');
    const result = readAnswer(pending, mode2);
    expect(result).toMatchObject({ ok: true, rejected: [{ index: 1, type: 'video', reason: 'H.264 packetization-mode=2 in the answer was not offered' }] });
  });

  it('an answer that changes the suite is refused', () => {
    const changed = edit(readSdp('answer-polycom-to-knude'), /a=crypto:2 AES_256_CM_HMAC_SHA1_80 (inline:\S+)/, 'a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR');
    expect(readAnswer(pending, changed)).toMatchObject({ ok: false, reason: 'answer-crypto', warning: w('answer changes a=crypto tag 2 on the audio m-line from AES_256_CM_HMAC_SHA1_80 to AES_CM_128_HMAC_SHA1_80') });
  });

  it('knude calling knude: each end unprotects with the key the other protects with', () => {
    const callerCaps = capabilities();
    const calleeCaps = capabilities({ suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80'], address: '203.0.113.20', audio: { port: 50000, codecs: ['PCMA', 'opus'] } });
    const caller = buildOffer(callerCaps);
    const callee = ok(negotiate(caller.offerSdp, calleeCaps));
    checkAnswer(caller.offerSdp, callee, calleeCaps);
    const back = readAnswer(caller, callee.answerSdp);
    if (!back.ok) throw new Error(back.warning);
    for (const kind of ['audio', 'video'] as const) {
      const a = back[kind]!;
      const b = callee[kind]!;
      expect(a.crypto).toEqual(b.crypto);
      expect(keyBytes(a.tx)).toBe(keyBytes(b.rx));
      expect(keyBytes(b.tx)).toBe(keyBytes(a.rx));
      expect([a.codec, a.payloadType]).toEqual([b.codec, b.payloadType]);
      expect(a.remote.rtcpMux && b.remote.rtcpMux).toBe(true);
    }
    expect(callee.audio.crypto.suite).toBe('AES_CM_128_HMAC_SHA1_80');
    expect(callee.audio.codec).toBe('PCMA');
    expect(back.audio.remote).toEqual({ address: '203.0.113.20', rtpPort: 50000, rtcpPort: 50000, rtcpMux: true });
    expect(callee.audio.telephoneEvent).toEqual({ payloadType: 101, clockRate: 8000 });
    expect(back.video!.h264).toEqual({ profileLevelId: '42e028', packetizationMode: 1, levelAsymmetryAllowed: true });
  });
});

describe('reoffer: a re-INVITE without SDP', () => {
  it('offers the session as it stands; the answer in the ACK brings the endpoint\'s new keys, knude keeps its own', () => {
    const endpointCaps = capabilities({ address: '198.51.100.7', audio: { port: 30000, codecs: ['PCMU'] } });
    const endpoint = buildOffer(endpointCaps);
    const session = ok(negotiate(endpoint.offerSdp, capabilities()));
    const pending = reoffer(session)!;
    expect(pending.offerSdp).toBe(session.answerSdp);
    // The endpoint answers knude's offer with fresh keys of its own (and a new port).
    const reanswer = ok(negotiate(pending.offerSdp, capabilities({ address: '198.51.100.7', audio: { port: 30010, codecs: ['PCMU'] } })));
    const back = readAnswer(pending, reanswer.answerSdp);
    if (!back.ok) throw new Error(back.warning);
    expect(keyBytes(back.audio.tx)).toBe(keyBytes(session.audio.tx));
    expect(keyBytes(back.audio.rx)).toBe(keyBytes(reanswer.audio.tx));
    expect(keyBytes(back.audio.rx)).not.toBe(keyBytes(session.audio.rx));
    expect(back.audio.crypto).toEqual(session.audio.crypto);
    expect([back.audio.codec, back.audio.remote.rtpPort]).toEqual(['PCMU', 30010]);
    // An answer that drops encryption is refused like any other.
    expect(readAnswer(pending, reanswer.answerSdp.replace(/RTP\/SAVP/g, 'RTP/AVP'))).toMatchObject({ ok: false, status: 488 });
  });

  it('leaves a DTLS-SRTP session alone (no keys in its SDP)', () => {
    const session = ok(negotiate(readSdp('baresip'), capabilities()));
    expect(reoffer({ ...session, audio: { ...session.audio, dtls: { role: 'server', fingerprints: [] } } })).toBeUndefined();
  });
});

describe('H.264 profile-level-id', () => {
  const cases: Array<[string, string, number, boolean, string]> = [
    ['Constrained Baseline 3.1 down to 3.0', '42e01f', 30, false, '42e01e'],
    ['below knude: kept', '42e00d', 40, false, '42e00d'],
    ['asymmetry: knude\'s own level', '42e00d', 40, true, '42e028'],
    ['High 4.0 down to 3.1', '640028', 31, false, '64001f'],
    ['Baseline 1b (level_idc 11 + constraint_set3) is below 1.1', '42f00b', 11, false, '42f00b'],
    ['down to 1b on Baseline sets constraint_set3', '42e01f', 9, false, '42f00b'],
    ['High 1b is level_idc 9', '64001f', 9, false, '640009'],
    ['1.1 on Baseline clears constraint_set3', '42f00b', 11, true, '42e00b'],
  ];
  it.each(cases)('%s', (_name, offered, maxLevel, asymmetry, answered) => {
    expect(answerProfileLevelId(parseProfileLevelId(offered)!, maxLevel, asymmetry)).toBe(answered);
  });

  it('classifies profiles as RFC 6184 Table 5 does', () => {
    const profiles = ['42e01f', '42c01f', '42801f', '4d401f', '4d001f', '58c01f', '58801f', '58001f', '640c1f', '64001f', '7a001f'].map((p) => parseProfileLevelId(p)!.profile);
    expect(profiles).toEqual(['constrained-baseline', 'constrained-baseline', 'baseline', 'main', 'main', 'constrained-baseline', 'baseline', 'extended', 'constrained-high', 'high', 'other']);
    expect(parseProfileLevelId(undefined)).toMatchObject({ profile: 'baseline', level: 10 });
    expect(parseProfileLevelId('42e0')).toBeUndefined();
  });
});

describe('DTLS-SRTP answers (when the relay runs DTLS)', () => {
  const offer = [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.2',
    's=-',
    'c=IN IP4 192.0.2.2',
    't=0 0',
    'a=setup:actpass',
    'a=fingerprint:SHA-256 8D:DD:97:40:1A:11:F1:60:78:07:06:23:FD:C4:E5:5B:A3:15:BF:8C:FE:E8:1E:A2:AA:1E:01:2E:EC:69:71:0C',
    'm=audio 2682 UDP/TLS/RTP/SAVPF 0 96',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:96 opus/48000/2',
    'a=rtcp-mux',
    '',
  ].join('\r\n');

  it('answers with our fingerprint and a=setup:active, keys left to the handshake', () => {
    const caps = { address: '127.0.0.1', audio: { port: 21000, rtcpPort: 21001, codecs: ['opus', 'PCMU'] as Array<'opus' | 'PCMU'> }, suites: ['AES_CM_128_HMAC_SHA1_80' as const], keys: () => ({ masterKey: Buffer.alloc(16, 1), masterSalt: Buffer.alloc(14, 2) }), dtls: { fingerprint: { algorithm: 'sha-256', value: 'AA:BB' } } };
    const r = negotiate(offer, caps);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.audio.dtls).toEqual({ role: 'client', fingerprints: [{ algorithm: 'SHA-256', value: '8D:DD:97:40:1A:11:F1:60:78:07:06:23:FD:C4:E5:5B:A3:15:BF:8C:FE:E8:1E:A2:AA:1E:01:2E:EC:69:71:0C' }] });
    expect(r.answerSdp).toMatch(/m=audio 21000 UDP\/TLS\/RTP\/SAVPF 96/);
    expect(r.answerSdp).toMatch(/a=setup:active/);
    expect(r.answerSdp).toMatch(/a=fingerprint:sha-256 AA:BB/);
    expect(r.answerSdp).not.toMatch(/a=crypto/);
    // An endpoint that insists on being the DTLS client makes knude the server.
    const active = negotiate(offer.replace('a=setup:actpass', 'a=setup:active'), caps);
    expect(active.ok && active.audio.dtls?.role).toBe('server');
    // Without DTLS in the relay's capabilities the offer is refused.
    const { dtls: _none, ...noDtls } = caps;
    expect(negotiate(offer, noDtls).ok).toBe(false);
  });
});
