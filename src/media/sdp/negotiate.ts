/**
 * Answering a SIP endpoint's offer for a leg into a room (RFC 3264). knude takes one audio
 * and one main video stream; every other m-line (content/slides video, BFCP, FECC, T.38...) is
 * answered with port 0 so the answer keeps the offer's m-lines in order and count. For each
 * kept m-line it chooses the first SRTP suite in knude's preference that the endpoint offered,
 * echoes that line's tag with a fresh key of its own, and picks the codec.
 */
import type { MediaAttributes, MediaDescription, SessionDescription } from 'sdp-transform';
import {
  audioLevelExtId,
  AUDIO_LEVEL_URI,
  checkCapabilities,
  codecNames,
  cryptoLine,
  feedbackLines,
  firstSsrc,
  localDirection,
  localKey,
  newOrigin,
  offeredFeedback,
  offeredFormats,
  remoteKeys,
  remoteTransport,
  rtcpAttribute,
  sameCodec,
  sameKey,
  sessionSkeleton,
  writeSdp,
  type OfferedFormat,
} from './codecs.js';
import { refuse } from './errors.js';
import { answerProfileLevelId, DEFAULT_H264_MAX_LEVEL, DEFAULT_H264_PROFILES, parseProfileLevelId, type H264Profile } from './h264.js';
import { checkOfferSecurity, type AcceptableCrypto, type MediaSecurity } from './policy.js';
import type { SrtpKeyParams } from './suites.js';
import type { AnswerResult, H264Params, LocalCapabilities, NegotiatedAudio, NegotiatedMedia, NegotiatedSession, NegotiatedVideo, RejectedMedia, RtcpFeedback } from './types.js';

/** Answers a remote offer (initial INVITE, or an INVITE without SDP's 200/ACK pair reversed). */
export function negotiate(offerSdp: string, caps: LocalCapabilities): AnswerResult {
  return answer(offerSdp, caps, undefined);
}

/**
 * Answers a re-INVITE's offer (hold, resume, new codec, new keys) on a leg already set up.
 * knude keeps its own key for an m-line whose remote crypto line (tag, suite, key) is
 * unchanged, and takes a fresh one when the endpoint changed its key (RFC 4568 §7.1.4); the
 * codec in use stays if still offered; the o= version goes up by one when the answer changes.
 */
export function renegotiate(previous: NegotiatedSession, newOfferSdp: string, caps: LocalCapabilities): AnswerResult {
  return answer(newOfferSdp, caps, previous);
}

function answer(offerSdp: string, caps: LocalCapabilities, previous: NegotiatedSession | undefined): AnswerResult {
  checkCapabilities(caps);
  const security = checkOfferSecurity(offerSdp, { allowedSuites: caps.suites, allowDtls: !!caps.dtls });
  if (!security.ok) return security;
  const { session } = security.parsed;
  const rejected: RejectedMedia[] = [];
  const answerMedia: MediaDescription[] = [];
  let audio: NegotiatedAudio | undefined;
  let video: NegotiatedVideo | undefined;

  for (const sec of security.media) {
    const m = session.media[sec.index];
    const reject = (reason: string): void => {
      if (m.port !== 0) rejected.push({ index: sec.index, type: m.type, reason });
      answerMedia.push(rejectedMedia(m));
    };
    if (m.port === 0) reject('rejected in the offer');
    else if (sec.keying === 'none' || (sec.keying === 'dtls' && !caps.dtls)) reject(`${m.protocol} is not relayed`);
    else if (m.type === 'audio' && !audio) {
      const result = answerAudio(session, m, sec, caps, previous?.audio);
      if ('refusal' in result) return refuse(488, 'no-common-codec', result.refusal, sec.index);
      audio = result.negotiated;
      answerMedia.push(result.media);
    } else if (m.type === 'video' && !video && caps.video && !isContentStream(m)) {
      const result = answerVideo(session, m, sec, caps, previous?.video);
      if ('refusal' in result) reject(result.refusal);
      else {
        video = result.negotiated;
        answerMedia.push(result.media);
      }
    } else reject(rejectionReason(m, caps, audio !== undefined, video !== undefined));
  }
  if (!audio) return refuse(488, 'no-audio', `the offer has no active SRTP audio m-line: knude needs one (offered: ${describeMedia(session)})`);

  const origin = previous ? { ...previous.origin } : newOrigin();
  const write = (): string => writeSdp({ ...sessionSkeleton(caps, origin), media: answerMedia });
  let answerSdp = write();
  if (previous && withoutOrigin(answerSdp) !== withoutOrigin(previous.localSdp)) {
    origin.version += 1;
    answerSdp = write();
  }
  const negotiated: NegotiatedSession = { localSdp: answerSdp, origin, audio, rejected };
  if (video) negotiated.video = video;
  return { ok: true, answerSdp, ...negotiated };
}

type MediaAnswer<T> = { negotiated: T; media: MediaDescription } | { refusal: string };

function answerAudio(session: SessionDescription, m: MediaDescription, sec: MediaSecurity, caps: LocalCapabilities, previous: NegotiatedAudio | undefined): MediaAnswer<NegotiatedAudio> {
  const formats = offeredFormats(m);
  const preference = preferPrevious(caps.audio.codecs, previous?.codec);
  const chosen = pickFirst(preference, (name) => formats.find((f) => sameCodec(f, name) && audioFormatFits(f)));
  if (!chosen) {
    const offered = codecNames(formats.filter((f) => !sameCodec(f, 'telephone-event')));
    return { refusal: `no common audio codec: the offer has ${offered}; knude takes ${caps.audio.codecs.join(', ')}` };
  }
  const events = formats.filter((f) => sameCodec(f, 'telephone-event'));
  const telephoneEvent = events.find((f) => f.clockRate === chosen.clockRate) ?? events[0];

  const base = commonMedia(session, m, sec, caps, chosen, previous, caps.audio.port, caps.audio.rtcpPort);
  const negotiated: NegotiatedAudio = { ...base.negotiated };
  const rtp: MediaAttributes['rtp'] = [rtpmap(chosen)];
  const fmtp: MediaAttributes['fmtp'] = [];
  if (sameCodec(chosen, 'opus')) fmtp.push({ payload: chosen.payloadType, config: 'minptime=10;useinbandfec=1' });
  const payloads = [chosen.payloadType];
  if (telephoneEvent) {
    negotiated.telephoneEvent = { payloadType: telephoneEvent.payloadType, clockRate: telephoneEvent.clockRate };
    payloads.push(telephoneEvent.payloadType);
    rtp.push(rtpmap(telephoneEvent));
    fmtp.push({ payload: telephoneEvent.payloadType, config: '0-15' });
  }
  const media: MediaDescription = { ...base.media, payloads: payloads.join(' '), rtp, fmtp };
  const extId = audioLevelExtId(m);
  if (extId !== undefined) {
    negotiated.audioLevelExtId = extId;
    media.ext = [{ value: extId, uri: AUDIO_LEVEL_URI }];
  }
  return { negotiated, media };
}

function audioFormatFits(f: OfferedFormat): boolean {
  // RFC 7587: opus is always opus/48000/2 in SDP whatever is sent; G.711 is 8 kHz mono.
  return sameCodec(f, 'opus') ? f.clockRate === 48000 && f.channels === 2 : f.clockRate === 8000 && f.channels === 1;
}

function answerVideo(session: SessionDescription, m: MediaDescription, sec: MediaSecurity, caps: LocalCapabilities, previous: NegotiatedVideo | undefined): MediaAnswer<NegotiatedVideo> {
  const video = caps.video!;
  const formats = offeredFormats(m);
  const maxLevel = video.h264?.maxLevel ?? DEFAULT_H264_MAX_LEVEL;
  const profiles = video.h264?.profiles ?? DEFAULT_H264_PROFILES;
  let h264: H264Params | undefined;
  const chosen = pickFirst(preferPrevious(video.codecs, previous?.codec), (name) => {
    if (name === 'VP8') return formats.find((f) => sameCodec(f, 'VP8') && f.clockRate === 90000);
    const best = bestH264(formats, profiles, previous?.h264?.packetizationMode);
    if (best) h264 = { ...best.params, profileLevelId: answerProfileLevelId(best.pli, maxLevel, best.params.levelAsymmetryAllowed) };
    return best?.format;
  });
  if (!chosen) {
    const h264Offered = video.codecs.includes('H264') && formats.some((f) => sameCodec(f, 'H264'));
    const h264Note = h264Offered ? ` (its H.264 needs packetization-mode 0 or 1 and a profile of ${profiles.join(', ')})` : '';
    return { refusal: `no common video codec: the offer has ${codecNames(formats)}${h264Note}; knude takes ${video.codecs.join(', ')}` };
  }

  const base = commonMedia(session, m, sec, caps, chosen, previous, video.port, video.rtcpPort);
  const rtcpFb: RtcpFeedback[] = offeredFeedback(m, chosen.payloadType);
  const negotiated: NegotiatedVideo = { ...base.negotiated, rtcpFb };
  const fmtp: MediaAttributes['fmtp'] = [];
  if (h264) {
    negotiated.h264 = h264;
    const asym = h264.levelAsymmetryAllowed ? ';level-asymmetry-allowed=1' : '';
    fmtp.push({ payload: chosen.payloadType, config: `profile-level-id=${h264.profileLevelId};packetization-mode=${h264.packetizationMode}${asym}` });
  }
  const media: MediaDescription = { ...base.media, payloads: String(chosen.payloadType), rtp: [rtpmap(chosen)], fmtp };
  if (rtcpFb.length > 0) media.rtcpFb = feedbackLines(chosen.payloadType, rtcpFb);
  return { negotiated, media };
}

interface H264Choice {
  format: OfferedFormat;
  pli: NonNullable<ReturnType<typeof parseProfileLevelId>>;
  params: Omit<H264Params, 'profileLevelId'>;
}

/**
 * The offered H.264 payload knude answers: a profile it takes (in its preference), then
 * packetization-mode 1 over 0 (mode 2, interleaved, is not supported), then offer order.
 * On a re-INVITE the mode in use is preferred so the relay's depacketiser need not change.
 */
function bestH264(formats: OfferedFormat[], profiles: H264Profile[], keepMode: 0 | 1 | undefined): H264Choice | undefined {
  const candidates: H264Choice[] = [];
  for (const format of formats) {
    if (!sameCodec(format, 'H264') || format.clockRate !== 90000) continue;
    const mode = format.params['packetization-mode'] ?? '0';
    if (mode !== '0' && mode !== '1') continue;
    const pli = parseProfileLevelId(format.params['profile-level-id']);
    if (!pli || !profiles.includes(pli.profile)) continue;
    candidates.push({ format, pli, params: { packetizationMode: mode === '1' ? 1 : 0, levelAsymmetryAllowed: format.params['level-asymmetry-allowed'] === '1' } });
  }
  const modeRank = (c: H264Choice): number => (c.params.packetizationMode === keepMode ? -1 : c.params.packetizationMode === 1 ? 0 : 1);
  const score = (c: H264Choice): number[] => [profiles.indexOf(c.pli.profile), modeRank(c), candidates.indexOf(c)];
  return candidates.sort((a, b) => compareLists(score(a), score(b)))[0];
}

function compareLists(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Transport, keys and direction: what audio and video answers share. */
function commonMedia(
  session: SessionDescription,
  m: MediaDescription,
  sec: MediaSecurity,
  caps: LocalCapabilities,
  chosen: OfferedFormat,
  previous: NegotiatedMedia | undefined,
  port: number,
  rtcpPort: number | undefined,
): { negotiated: NegotiatedMedia; media: MediaDescription } {
  const keying = sec.keying === 'dtls' ? dtlsKeying(session, m, caps) : sdesKeying(sec, caps, previous);
  const remote = remoteTransport(session, m);
  const { direction, hold } = localDirection(session, m);
  const negotiated: NegotiatedMedia = {
    index: sec.index,
    remote,
    payloadType: chosen.payloadType,
    codec: chosen.codec,
    clockRate: chosen.clockRate,
    channels: chosen.channels,
    ...keying.negotiated,
    direction,
    hold,
  };
  const ssrc = firstSsrc(m);
  if (ssrc !== undefined) negotiated.ssrc = ssrc;
  const media = { type: m.type, port, protocol: m.protocol, payloads: '', rtp: [], fmtp: [], ...keying.media, direction } as MediaDescription;
  if (remote.rtcpMux) media.rtcpMux = 'rtcp-mux';
  else media.rtcp = rtcpAttribute(caps, port, rtcpPort);
  return { negotiated, media };
}

type Keying = {
  negotiated: Pick<NegotiatedMedia, 'crypto' | 'rx' | 'rxKeys' | 'tx'> & Partial<Pick<NegotiatedMedia, 'dtls'>>;
  media: Partial<MediaDescription> & { setup?: string };
};

/** SDES: the chosen a=crypto line's keys, and our own line echoing its tag. */
function sdesKeying(sec: MediaSecurity, caps: LocalCapabilities, previous: NegotiatedMedia | undefined): Keying {
  const crypto = pickCrypto(sec.crypto, caps, previous);
  const rxKeys = remoteKeys(crypto);
  const sameRemoteKey = previous && previous.crypto.tag === crypto.tag && previous.rxKeys.length === rxKeys.length && previous.rxKeys.every((k, i) => sameKey(k, rxKeys[i]));
  const tx: SrtpKeyParams = sameRemoteKey ? previous.tx : localKey(caps, crypto.suite);
  return { negotiated: { crypto: { tag: crypto.tag, suite: crypto.suite }, rx: rxKeys[0], rxKeys, tx }, media: { crypto: [cryptoLine(crypto.tag, tx)] } };
}

/** Placeholder keys of a DTLS-SRTP m-line until its handshake has run (never used to protect). */
const DTLS_PENDING: SrtpKeyParams = { suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: Buffer.alloc(16), masterSalt: Buffer.alloc(14) };

/**
 * DTLS-SRTP (RFC 5763): knude's fingerprint, and a=setup:active unless the endpoint insists
 * on being the client (a=setup:active in the offer), so knude usually starts the handshake.
 */
function dtlsKeying(session: SessionDescription, m: MediaDescription, caps: LocalCapabilities): Keying {
  const setup = (m as { setup?: string }).setup ?? (session as { setup?: string }).setup ?? 'actpass';
  const role: 'client' | 'server' = setup === 'active' ? 'server' : 'client';
  const fp = (m.fingerprint ?? session.fingerprint)!;
  return {
    negotiated: {
      crypto: { tag: 0, suite: 'AES_CM_128_HMAC_SHA1_80' },
      rx: DTLS_PENDING,
      rxKeys: [DTLS_PENDING],
      tx: DTLS_PENDING,
      dtls: { role, fingerprints: [{ algorithm: fp.type, value: fp.hash }] },
    },
    media: { setup: role === 'client' ? 'active' : 'passive', fingerprint: { type: caps.dtls!.fingerprint.algorithm, hash: caps.dtls!.fingerprint.value } },
  };
}

/**
 * knude's preferred suite among the acceptable lines; for one suite the endpoint's order
 * decides. On a re-INVITE the line in use wins while it is still offered, so keys stay put.
 */
function pickCrypto(offered: AcceptableCrypto[], caps: LocalCapabilities, previous: NegotiatedMedia | undefined): AcceptableCrypto {
  const kept = previous && offered.find((c) => c.tag === previous.crypto.tag && c.suite === previous.crypto.suite);
  if (kept) return kept;
  for (const suite of caps.suites) {
    const line = offered.find((c) => c.suite === suite);
    if (line) return line;
  }
  // policy.ts admitted only lines of allowed suites, i.e. of caps.suites
  throw new Error('unreachable: no acceptable crypto line');
}

function pickFirst<N, T>(names: N[], find: (name: N) => T | undefined): T | undefined {
  for (const name of names) {
    const found = find(name);
    if (found) return found;
  }
  return undefined;
}

function preferPrevious<N extends string>(names: N[], previous: string | undefined): N[] {
  const kept = names.find((n) => n.toLowerCase() === previous?.toLowerCase());
  return kept ? [kept, ...names.filter((n) => n !== kept)] : names;
}

function rtpmap(f: OfferedFormat): MediaAttributes['rtp'][number] {
  return f.channels > 1 ? { payload: f.payloadType, codec: f.codec, rate: f.clockRate, encoding: f.channels } : { payload: f.payloadType, codec: f.codec, rate: f.clockRate };
}

/** A rejected m-line: port 0, same media and transport, the offer's formats (RFC 3264 §6). */
function rejectedMedia(m: MediaDescription): MediaDescription {
  return { type: m.type, port: 0, protocol: m.protocol, payloads: String(m.payloads ?? ''), rtp: [], fmtp: [] };
}

/** Cisco and Polycom send presentations as a second video m-line with a=content:slides (RFC 4796). */
function isContentStream(m: MediaDescription): boolean {
  const content = (m as MediaDescription & { content?: string }).content; // sdp-transform reads it, its types omit it
  return content !== undefined && !content.split(',').includes('main');
}

function rejectionReason(m: MediaDescription, caps: LocalCapabilities, haveAudio: boolean, haveVideo: boolean): string {
  if (m.type === 'audio' && haveAudio) return 'a second audio stream is not supported';
  if (m.type === 'video' && !caps.video) return 'this leg is audio-only';
  if (m.type === 'video' && isContentStream(m)) return 'content (presentation) video is not supported yet';
  if (m.type === 'video' && haveVideo) return 'a second video stream is not supported';
  return `${m.type} ${m.protocol} is not supported`;
}

function describeMedia(session: SessionDescription): string {
  return session.media.map((m) => `${m.type} ${m.port === 0 ? 'rejected' : m.protocol}`).join(', ');
}

function withoutOrigin(sdp: string): string {
  return sdp.replace(/^o=.*$/m, '');
}
