/**
 * knude's SRTP policy against what real endpoints offer (test/fixtures/sdp) and against
 * variants of those offers: every way media could flow in clear or weakly protected is refused
 * with 488 and the exact Warning an administrator will read; the secure offers pass with the
 * crypto lines knude may use. Answers to knude's own offers are held to the same standard.
 */
import sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { SdpError, type RefusalReason } from '../../src/media/sdp/errors.js';
import { buildOffer } from '../../src/media/sdp/offer.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { checkAnswerSecurity, checkOfferSecurity, type SecurityPolicy } from '../../src/media/sdp/policy.js';
import { capabilities, fixtureNames, readSdp } from '../fixtures/sdp/fixtures.js';

const POLICY: SecurityPolicy = { allowedSuites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'], allowDtls: false };
const ALLOWED = POLICY.allowedSuites.join(', ');
const w = (text: string): string => `399 knude "${text}"`;

/** Replaces text that must be there, so a variant can never silently equal its original. */
function edit(sdp: string, from: string | RegExp, to: string): string {
  const out = sdp.replace(from, to);
  if (out === sdp) throw new Error(`fixture edit found nothing to replace: ${from}`);
  return out;
}

describe('SDP fixtures are what endpoints put on the wire', () => {
  it.each(fixtureNames())('%s is CRLF SDP', (name) => {
    const text = readSdp(name);
    expect(text.startsWith('v=0\r\n')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const line of text.slice(0, -2).split('\r\n')) expect(line).toMatch(/^[a-z]=\S/);
    if (name === 'malformed') {
      expect(() => parseSdp(text)).toThrow(SdpError);
      return;
    }
    const parsed = parseSdp(text);
    expect(parsed.session.media.length).toBeGreaterThan(0);
    expect(sdpTransform.parse(text).media).toHaveLength(text.split('\r\nm=').length - 1);
  });
});

type Expected = { ok: true; keying: string[]; tags: number[][] } | { ok: false; status: 400 | 488; reason: RefusalReason; warning: string; mline?: number };

describe('checkOfferSecurity on real endpoint offers', () => {
  const cases: Array<[string, SecurityPolicy, Expected]> = [
    ['cisco-webex-room', POLICY, { ok: true, keying: ['sdes', 'sdes', 'none', 'sdes', 'sdes'], tags: [[1, 2], [1, 2], [], [1, 2], [1, 2]] }],
    ['polycom-group', POLICY, { ok: true, keying: ['sdes', 'sdes', 'none', 'sdes', 'sdes'], tags: [[1, 2, 3], [1, 2, 3], [], [1, 2, 3], [1]] }],
    ['lifesize-icon', POLICY, { ok: true, keying: ['sdes', 'sdes', 'none', 'sdes'], tags: [[1, 2], [1, 2], [], [1]] }],
    ['baresip', POLICY, { ok: true, keying: ['sdes', 'sdes'], tags: [[1, 2, 4, 5, 6], [1, 2, 4, 5, 6]] }],
    ['baresip-1.0.0-debian', POLICY, { ok: true, keying: ['sdes'], tags: [[1]] }],
    ['linphone', POLICY, { ok: true, keying: ['sdes', 'sdes'], tags: [[1, 2, 3], [1, 2, 3]] }],
    ['legacy-hold-zero-address', POLICY, { ok: true, keying: ['sdes'], tags: [[1]] }],
    ['dtls-srtp-chrome', { ...POLICY, allowDtls: true }, { ok: true, keying: ['dtls', 'dtls'], tags: [[], []] }],
    ['plain-rtp-phone', POLICY, { ok: false, status: 488, reason: 'plain-rtp', mline: 0, warning: w('plain RTP/AVP is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['polycom-best-effort', POLICY, { ok: false, status: 488, reason: 'best-effort-srtp', mline: 0, warning: w("RTP/AVP with a=crypto (best-effort SRTP) is not allowed: set the endpoint's encryption to mandatory so it offers RTP/SAVP") }],
    ['null-cipher', POLICY, { ok: false, status: 488, reason: 'null-cipher', mline: 0, warning: w('null cipher NULL_HMAC_SHA1_80 is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['unencrypted-srtp', POLICY, { ok: false, status: 488, reason: 'unencrypted-srtp', mline: 0, warning: w('a=crypto with UNENCRYPTED_SRTP is not allowed: media must be encrypted and authenticated (SRTP, AES-128 or stronger)') }],
    ['f8-aria-only', POLICY, { ok: false, status: 488, reason: 'suite-not-allowed', mline: 0, warning: w(`crypto suites F8_128_HMAC_SHA1_80, ARIA_128_CTR_HMAC_SHA1_80 are not allowed: knude accepts ${ALLOWED}`) }],
    ['short-key', POLICY, { ok: false, status: 488, reason: 'malformed-crypto', mline: 0, warning: w('malformed a=crypto tag 1 on the audio m-line: AES_CM_128_HMAC_SHA1_80 key||salt is 20 bytes, the suite needs 30 (16-byte key, 14-byte salt)') }],
    ['dtls-srtp-chrome', POLICY, { ok: false, status: 488, reason: 'dtls-not-allowed', mline: 0, warning: w('DTLS-SRTP (UDP/TLS/RTP/SAVPF) is not accepted here: offer SDES keys (RTP/SAVP with a=crypto)') }],
    ['malformed', POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w("SDP could not be parsed: line 6: m= must be '<media> <port> <proto> <fmt> ...', got 'audio RTP/SAVP 0 8'") }],
    // An operator allowing only AES-256: Polycom's tag 3 would do for audio and video, but its
    // FECC m-line offers AES_CM_128 alone, and one weak active m-line refuses the whole offer.
    ['polycom-group', { ...POLICY, allowedSuites: ['AES_256_CM_HMAC_SHA1_80'] }, { ok: false, status: 488, reason: 'suite-not-allowed', mline: 4, warning: w('crypto suite AES_CM_128_HMAC_SHA1_80 is not allowed: knude accepts AES_256_CM_HMAC_SHA1_80') }],
  ];

  it.each(cases)('%s', (name, policy, expected) => {
    assertSecurity(checkOfferSecurity(readSdp(name), policy), expected);
  });
});

function assertSecurity(result: ReturnType<typeof checkOfferSecurity>, expected: Expected): void {
  if (!expected.ok) {
    const { ok, status, reason, warning, mline } = expected;
    expect(result).toEqual(mline === undefined ? { ok, status, reason, warning } : { ok, status, reason, warning, mline });
    return;
  }
  if (!result.ok) throw new Error(`refused: ${result.warning}`);
  expect(result.media.map((m) => m.keying)).toEqual(expected.keying);
  expect(result.media.map((m) => m.crypto.map((c) => c.tag))).toEqual(expected.tags);
  for (const m of result.media) for (const c of m.crypto) expect(POLICY.allowedSuites).toContain(c.suite);
}

describe('checkOfferSecurity on variants of real offers', () => {
  const baresip = readSdp('baresip');
  const polycom = readSdp('polycom-group');
  const phone = readSdp('plain-rtp-phone');
  const chrome = readSdp('dtls-srtp-chrome');
  const dtls = { ...POLICY, allowDtls: true };
  const aes128 = /a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:(\S+)/;
  const cases: Array<[string, string, SecurityPolicy, Expected]> = [
    ['plain RTP/AVP video m-line with port 0 is ignored', edit(baresip, /m=video 10006 RTP\/SAVP 96 97\r\n/, 'm=video 0 RTP/AVP 96 97\r\n'), POLICY, { ok: true, keying: ['sdes', 'none'], tags: [[1, 2, 4, 5, 6], []] }],
    ['RTP/SAVPF is SRTP too', edit(baresip, 'm=audio 10004 RTP/SAVP', 'm=audio 10004 RTP/SAVPF'), POLICY, { ok: true, keying: ['sdes', 'sdes'], tags: [[1, 2, 4, 5, 6], [1, 2, 4, 5, 6]] }],
    ['an active plain video m-line refuses the whole offer', edit(baresip, 'm=video 10006 RTP/SAVP', 'm=video 10006 RTP/AVP'), POLICY, { ok: false, status: 488, reason: 'best-effort-srtp', mline: 1, warning: w("RTP/AVP with a=crypto (best-effort SRTP) is not allowed: set the endpoint's encryption to mandatory so it offers RTP/SAVP") }],
    ['plain RTP/AVPF', edit(phone, 'RTP/AVP', 'RTP/AVPF'), POLICY, { ok: false, status: 488, reason: 'plain-rtp', mline: 0, warning: w('plain RTP/AVPF is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['RTP/SAVP without any a=crypto', edit(phone, 'RTP/AVP', 'RTP/SAVP'), POLICY, { ok: false, status: 488, reason: 'no-crypto', mline: 0, warning: w('RTP/SAVP audio m-line has no a=crypto: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['a NULL line beside a good one: the good one is used', edit(readSdp('lifesize-icon'), /a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:(\S+)\r\n/, 'a=crypto:2 NULL_HMAC_SHA1_32 inline:$1\r\n'), POLICY, { ok: true, keying: ['sdes', 'sdes', 'none', 'sdes'], tags: [[1], [1, 2], [], [1]] }],
    ['AES_CM_128_NULL_AUTH (no authentication) is a null suite', edit(readSdp('legacy-hold-zero-address'), 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_NULL_AUTH'), POLICY, { ok: false, status: 488, reason: 'null-cipher', mline: 0, warning: w('null cipher AES_CM_128_NULL_AUTH is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['UNAUTHENTICATED_SRTP', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 UNAUTHENTICATED_SRTP'), POLICY, { ok: false, status: 488, reason: 'unencrypted-srtp', mline: 0, warning: w('a=crypto with UNAUTHENTICATED_SRTP is not allowed: media must be encrypted and authenticated (SRTP, AES-128 or stronger)') }],
    ['UNENCRYPTED_SRTCP alone', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 UNENCRYPTED_SRTCP'), POLICY, { ok: false, status: 488, reason: 'unencrypted-srtp', mline: 0, warning: w('a=crypto with UNENCRYPTED_SRTCP is not allowed: media must be encrypted and authenticated (SRTP, AES-128 or stronger)') }],
    ['a null cipher is named before a refused suite', edit(readSdp('null-cipher'), 'NULL_HMAC_SHA1_80', 'F8_128_HMAC_SHA1_80'), POLICY, { ok: false, status: 488, reason: 'null-cipher', mline: 0, warning: w('null cipher NULL_HMAC_SHA1_32 is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['KDR other than 0 cannot be honoured', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 KDR=8'), POLICY, { ok: false, status: 488, reason: 'unsupported-session-param', mline: 0, warning: w('a=crypto with KDR=8 is not supported: offer no KDR (or KDR=0)') }],
    ['KDR=0, WSH and FEC_ORDER are fine', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 KDR=0 WSH=128 FEC_ORDER=FEC_SRTP'), POLICY, { ok: true, keying: ['sdes'], tags: [[1]] }],
    ['an unknown session parameter makes the line unusable', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 X_FOO=1'), POLICY, { ok: false, status: 488, reason: 'unsupported-session-param', mline: 0, warning: w('a=crypto session parameter X_FOO=1 is not supported') }],
    ['an unknown parameter marked optional with - is ignored', edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, '$1 -X_FOO=1'), POLICY, { ok: true, keying: ['sdes'], tags: [[1]] }],
    ['bad base64 on the only allowed line', edit(readSdp('legacy-hold-zero-address'), /inline:\S{8}/, 'inline:@@@@@@@@'), POLICY, { ok: false, status: 488, reason: 'malformed-crypto', mline: 0, warning: w('malformed a=crypto tag 1 on the audio m-line: AES_CM_128_HMAC_SHA1_80 key is not base64') }],
    ['a malformed line beside a good one: the good one is used', edit(baresip, aes128, 'a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:c2hvcnQ='), POLICY, { ok: true, keying: ['sdes', 'sdes'], tags: [[2, 4, 5, 6], [1, 2, 4, 5, 6]] }],
    ['suite unknown to the registry', edit(readSdp('legacy-hold-zero-address'), 'AES_CM_128_HMAC_SHA1_80', 'SEED_CTR_128_HMAC_SHA1_80'), POLICY, { ok: false, status: 488, reason: 'suite-not-allowed', mline: 0, warning: w(`crypto suite SEED_CTR_128_HMAC_SHA1_80 is not allowed: knude accepts ${ALLOWED}`) }],
    ['only AES_CM_128_HMAC_SHA1_32 offered, operator allows only _80', edit(readSdp('legacy-hold-zero-address'), 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'), { ...POLICY, allowedSuites: ['AES_CM_128_HMAC_SHA1_80'] }, { ok: false, status: 488, reason: 'suite-not-allowed', mline: 0, warning: w('crypto suite AES_CM_128_HMAC_SHA1_32 is not allowed: knude accepts AES_CM_128_HMAC_SHA1_80') }],
    ['DTLS-SRTP without a=fingerprint', chrome.replace(/a=fingerprint:.*\r\n/g, ''), dtls, { ok: false, status: 488, reason: 'no-fingerprint', mline: 0, warning: w('UDP/TLS/RTP/SAVPF audio m-line has no a=fingerprint: DTLS-SRTP needs one') }],
    ['DTLS-SRTP with a session-level a=fingerprint', edit(chrome.replace(/a=fingerprint:.*\r\n/g, ''), 't=0 0\r\n', 't=0 0\r\na=fingerprint:sha-256 8C:71:B3:8D:A5:38:FD:8F:A4:2E:A2:65:6C:86:52:BC:E0:6E:94:F2:9F:7C:4D:B5:DF:AF:AA:6F:44:90:8D:F4\r\n'), dtls, { ok: true, keying: ['dtls', 'dtls'], tags: [[], []] }],
    ['all m-lines rejected: nothing insecure', edit(edit(baresip, 'm=audio 10004', 'm=audio 0'), 'm=video 10006', 'm=video 0'), POLICY, { ok: true, keying: ['none', 'none'], tags: [[], []] }],
    ['empty body', '', POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: SDP body is empty') }],
    ['not SDP', 'INVITE sip:room@knude SIP/2.0\r\n', POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: SDP must start with v=0') }],
    ['no o= line', edit(polycom, /o=.*\r\n/, ''), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: SDP has no o= line') }],
    ['no m= line', polycom.slice(0, polycom.indexOf('m=')), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: SDP has no m= line') }],
    ['no c= line anywhere', edit(polycom, /c=IN IP4 .*\r\n/, ''), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: m-line 0 has no c= line and the session has none') }],
    ['a garbage line', edit(baresip, 'a=label:1\r\n', 'label 1\r\n'), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: line 18 is not <type>=<value>: \'label 1\'') }],
    ['port out of range', edit(baresip, 'm=audio 10004', 'm=audio 70000'), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w("SDP could not be parsed: line 7: m= must be '<media> <port> <proto> <fmt> ...', got 'audio 70000 RTP/SAVP 96 9 0 8 101'") }],
    ['a bare CR hiding a plain m-line inside an attribute', edit(baresip, 'a=label:1\r\n', 'a=label:1\rm=audio 5000 RTP/AVP 0\r\n'), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w('SDP could not be parsed: line 18 contains a bare CR') }],
    ['a transport with characters sdp-transform would cut', edit(baresip, 'm=audio 10004 RTP/SAVP', 'm=audio 10004 RTP/SAVP;x'), POLICY, { ok: false, status: 400, reason: 'malformed-sdp', warning: w("SDP could not be parsed: line 7: m= must be '<media> <port> <proto> <fmt> ...', got 'audio 10004 RTP/SAVP;x 96 9 0 8 101'") }],
    ['bare LF line ends are tolerated', baresip.replace(/\r\n/g, '\n'), POLICY, { ok: true, keying: ['sdes', 'sdes'], tags: [[1, 2, 4, 5, 6], [1, 2, 4, 5, 6]] }],
  ];
  it.each(cases)('%s', (_name, sdp, policy, expected) => {
    assertSecurity(checkOfferSecurity(sdp, policy), expected);
  });

  it('keeps quotes, control characters and length out of the Warning', () => {
    const evil = edit(readSdp('legacy-hold-zero-address'), /(a=crypto:1 \S+ \S+)/, `$1 X_"EVIL"\x01\x0bSet-Cookie:${'A'.repeat(400)}`);
    const result = checkOfferSecurity(evil, POLICY);
    if (result.ok) throw new Error('accepted');
    expect(result.reason).toBe('unsupported-session-param');
    expect(result.warning).toMatch(/^399 knude "a=crypto session parameter X_'EVIL' {2}Set-Cookie:A+\.\.\."$/);
    expect(result.warning.length).toBe('399 knude ""'.length + 300);
  });

  it('refuses a body larger than 64 KiB without reading it', () => {
    const huge = baresip + 'a=x-pad:'.padEnd(70_000, 'x') + '\r\n';
    expect(checkOfferSecurity(huge, POLICY)).toMatchObject({ ok: false, status: 400, reason: 'malformed-sdp', warning: expect.stringContaining('more than 65536') });
  });
});

describe('checkAnswerSecurity on answers to knude\'s offer', () => {
  // Tags in knude's offer follow its suite preference: 1 AES_CM_128_80, 2 AES_256_CM_80, 3 GCM-128
  const caps = capabilities({ suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] });
  const { offerSdp } = buildOffer(caps);
  const answer = readSdp('answer-polycom-to-knude');
  const audioCrypto = /(m=audio[^]*?)a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:(\S+)\r\n/;

  it('accepts the Polycom answer and pairs its crypto with the tag knude offered', () => {
    const result = checkAnswerSecurity(offerSdp, answer);
    if (!result.ok) throw new Error(result.warning);
    expect(result.media.map((m) => [m.active, m.offered?.tag, m.offered?.suite, m.answered?.suite])).toEqual([
      [true, 2, 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80'],
      [true, 2, 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80'],
    ]);
    expect(result.media[0].offered!.keys[0].masterKey).not.toEqual(result.media[0].answered!.keys[0].masterKey);
  });

  const cases: Array<[string, string, { reason: RefusalReason; warning: string; mline?: number } | 'ok']> = [
    ['answer rejecting video', edit(answer, 'm=video 49172', 'm=video 0'), 'ok'],
    ['answer dropping crypto', edit(answer, audioCrypto, '$1'), { reason: 'answer-crypto', mline: 0, warning: w('answer drops a=crypto on the audio m-line: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['answer picking a tag knude did not offer', edit(answer, audioCrypto, '$1a=crypto:7 AES_256_CM_HMAC_SHA1_80 inline:$2\r\n'), { reason: 'answer-crypto', mline: 0, warning: w('answer picks a=crypto tag 7 on the audio m-line, which knude did not offer') }],
    ['answer changing the suite of a tag', edit(answer, audioCrypto, '$1a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:$2\r\n'), { reason: 'answer-crypto', mline: 0, warning: w('answer changes a=crypto tag 1 on the audio m-line from AES_CM_128_HMAC_SHA1_80 to AES_256_CM_HMAC_SHA1_80') }],
    ['answer with two crypto lines', edit(answer, audioCrypto, '$1a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:$2\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n'), { reason: 'answer-crypto', mline: 0, warning: w('answer has 2 a=crypto lines on the audio m-line: an answer chooses one (RFC 4568 §7.1.2)') }],
    ['answer with a key of the wrong length', edit(answer, audioCrypto, '$1a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n'), { reason: 'malformed-crypto', mline: 0, warning: w('malformed a=crypto tag 2 on the audio m-line: AES_256_CM_HMAC_SHA1_80 key||salt is 30 bytes, the suite needs 46 (32-byte key, 14-byte salt)') }],
    ['answer with UNENCRYPTED_SRTP', edit(answer, audioCrypto, '$1a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:$2 UNENCRYPTED_SRTP\r\n'), { reason: 'unencrypted-srtp', mline: 0, warning: w('a=crypto with UNENCRYPTED_SRTP is not allowed: media must be encrypted and authenticated (SRTP, AES-128 or stronger)') }],
    ['answer with a null cipher', edit(answer, audioCrypto, '$1a=crypto:2 NULL_HMAC_SHA1_80 inline:$2\r\n'), { reason: 'null-cipher', mline: 0, warning: w('null cipher NULL_HMAC_SHA1_80 is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['answer in plain RTP/AVP', edit(answer, 'm=audio 49170 RTP/SAVP', 'm=audio 49170 RTP/AVP'), { reason: 'plain-rtp', mline: 0, warning: w('plain RTP/AVP is not allowed: media must be encrypted (SRTP, AES-128 or stronger)') }],
    ['answer switching to DTLS-SRTP', edit(answer, 'm=audio 49170 RTP/SAVP', 'm=audio 49170 UDP/TLS/RTP/SAVP'), { reason: 'answer-mismatch', mline: 0, warning: w('answer changes m-line 0 from RTP/SAVP to UDP/TLS/RTP/SAVP') }],
    ['answer without the video m-line', answer.slice(0, answer.indexOf('m=video')), { reason: 'answer-mismatch', warning: w('answer has 1 m-lines, the offer had 2 (RFC 3264 §6)') }],
    ['answer with m-lines swapped in type', edit(answer, 'm=video 49172', 'm=audio 49172'), { reason: 'answer-mismatch', mline: 1, warning: w('answer m-line 1 is audio, the offer\'s is video') }],
    ['answer that does not parse', 'v=0\r\nm=audio\r\n', { reason: 'malformed-sdp', warning: w("SDP could not be parsed: line 2: m= must be '<media> <port> <proto> <fmt> ...', got 'audio'") }],
    ['answer without o= line', answer.replace(/o=.*\r\n/, ''), { reason: 'malformed-sdp', warning: w('SDP could not be parsed: SDP has no o= line') }],
  ];
  it.each(cases)('%s', (_name, variant, expected) => {
    const result = checkAnswerSecurity(offerSdp, variant);
    if (expected === 'ok') {
      expect(result.ok).toBe(true);
      return;
    }
    const status = expected.reason === 'malformed-sdp' ? 400 : 488;
    expect(result).toEqual({ ok: false, status, ...expected });
  });
});
