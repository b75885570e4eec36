/**
 * knude's own offer, for calls it places (dialling an endpoint into a room), and reading the
 * endpoint's answer into the same negotiated structure that negotiate.ts gives for incoming
 * calls. The offer carries one a=crypto line per allowed suite (tags 1, 2, ... in knude's
 * preference, each with its own fresh key) so the endpoint can choose; the answer must pick one
 * of those tags unchanged (policy.ts checkAnswerSecurity).
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
  sessionSkeleton,
  writeSdp,
  type OfferedFormat,
} from './codecs.js';
import { refuse, type SdpRefusal } from './errors.js';
import { DEFAULT_H264_MAX_LEVEL, formatProfileLevelId, parseProfileLevelId } from './h264.js';
import { checkAnswerSecurity, type AnswerMediaSecurity } from './policy.js';
import type { SrtpKeyParams } from './suites.js';
import type { H264Params, LocalCapabilities, NegotiatedAudio, NegotiatedMedia, NegotiatedSession, NegotiatedVideo, RejectedMedia, SdpOrigin } from './types.js';

/** Payload types knude uses in its offers (dynamic ones in the range Chrome and Janus use). */
const AUDIO_PT = { opus: 111, PCMU: 0, PCMA: 8 } as const;
const TELEPHONE_EVENT_8K = 101;
const TELEPHONE_EVENT_48K = 110;
const H264_MODE1_PT = 126;
const H264_MODE0_PT = 97;
const VP8_PT = 96;
const AUDIO_LEVEL_EXT_ID = 1;
const OFFERED_FEEDBACK = [{ type: 'nack' }, { type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }, { type: 'goog-remb' }];

/** What knude must remember between sending its offer and reading the answer. */
export interface PendingOffer {
  offerSdp: string;
  origin: SdpOrigin;
  /** Per m-line index: knude's key under each a=crypto tag it offered. */
  keys: Array<Map<number, SrtpKeyParams>>;
}

export function buildOffer(caps: LocalCapabilities): PendingOffer {
  checkCapabilities(caps);
  const origin = newOrigin();
  const keys: Array<Map<number, SrtpKeyParams>> = [];
  const withCrypto = (media: MediaDescription): MediaDescription => {
    const tagged = new Map(caps.suites.map((suite, i) => [i + 1, localKey(caps, suite)] as const));
    keys.push(tagged);
    return { ...media, crypto: [...tagged].map(([tag, key]) => cryptoLine(tag, key)) };
  };
  const media = [withCrypto(audioOffer(caps))];
  if (caps.video) media.push(withCrypto(videoOffer(caps)));
  const offerSdp = writeSdp({ ...sessionSkeleton(caps, origin), media });
  return { offerSdp, origin, keys };
}

function audioOffer(caps: LocalCapabilities): MediaDescription {
  const rtp: MediaAttributes['rtp'] = [];
  const fmtp: MediaAttributes['fmtp'] = [];
  for (const codec of caps.audio.codecs) {
    if (codec === 'opus') {
      rtp.push({ payload: AUDIO_PT.opus, codec: 'opus', rate: 48000, encoding: 2 });
      fmtp.push({ payload: AUDIO_PT.opus, config: 'minptime=10;useinbandfec=1' });
    } else rtp.push({ payload: AUDIO_PT[codec], codec, rate: 8000 });
  }
  if (caps.audio.codecs.includes('opus')) {
    rtp.push({ payload: TELEPHONE_EVENT_48K, codec: 'telephone-event', rate: 48000 });
    fmtp.push({ payload: TELEPHONE_EVENT_48K, config: '0-15' });
  }
  rtp.push({ payload: TELEPHONE_EVENT_8K, codec: 'telephone-event', rate: 8000 });
  fmtp.push({ payload: TELEPHONE_EVENT_8K, config: '0-15' });
  return {
    ...transport(caps, caps.audio.port, caps.audio.rtcpPort),
    type: 'audio',
    payloads: rtp.map((r) => r.payload).join(' '),
    rtp,
    fmtp,
    ext: [{ value: AUDIO_LEVEL_EXT_ID, uri: AUDIO_LEVEL_URI }],
  };
}

function videoOffer(caps: LocalCapabilities): MediaDescription {
  const video = caps.video!;
  // Constrained Baseline is what every endpoint and browser decodes; knude offers its maximum
  // receive level and lets the endpoint send at its own (level-asymmetry-allowed).
  const pli = formatProfileLevelId({ profileIdc: 0x42, iop: 0xe0, level: video.h264?.maxLevel ?? DEFAULT_H264_MAX_LEVEL });
  const rtp: MediaAttributes['rtp'] = [];
  const fmtp: MediaAttributes['fmtp'] = [];
  for (const codec of video.codecs) {
    if (codec === 'H264') {
      for (const [pt, mode] of [[H264_MODE1_PT, 1], [H264_MODE0_PT, 0]] as const) {
        rtp.push({ payload: pt, codec: 'H264', rate: 90000 });
        fmtp.push({ payload: pt, config: `profile-level-id=${pli};packetization-mode=${mode};level-asymmetry-allowed=1` });
      }
    } else rtp.push({ payload: VP8_PT, codec: 'VP8', rate: 90000 });
  }
  return {
    ...transport(caps, video.port, video.rtcpPort),
    type: 'video',
    payloads: rtp.map((r) => r.payload).join(' '),
    rtp,
    fmtp,
    rtcpFb: rtp.flatMap((r) => feedbackLines(r.payload, OFFERED_FEEDBACK) ?? []),
  };
}

function transport(caps: LocalCapabilities, port: number, rtcpPort: number | undefined): Pick<MediaDescription, 'port' | 'protocol' | 'rtcp' | 'rtcpMux' | 'direction'> {
  // RTP/SAVP, not SAVPF: the endpoints knude calls accept a=rtcp-fb on SAVP, and some refuse SAVPF.
  return { port, protocol: 'RTP/SAVP', rtcp: rtcpAttribute(caps, port, rtcpPort), rtcpMux: 'rtcp-mux', direction: 'sendrecv' };
}

/**
 * Reads the endpoint's answer to `pending`. A refusal means the call must be ended (ACK, then
 * BYE with the Warning): the answer would leave media unencrypted or share no audio codec.
 */
/**
 * The session as it stands, offered again: for a re-INVITE without SDP (RFC 3264 §8), whose
 * 200 must carry an offer. It is knude's last SDP on the leg with the keys in it, so the answer
 * in the ACK is read like any other and may bring the endpoint's new keys. A DTLS-SRTP session
 * keeps its association and has no keys in the SDP: undefined (its SDP is simply sent again).
 */
export function reoffer(n: NegotiatedSession): PendingOffer | undefined {
  if (n.audio.dtls || n.video?.dtls) return undefined;
  const keys: Array<Map<number, SrtpKeyParams>> = [];
  for (const m of [n.audio, n.video]) if (m) keys[m.index] = new Map([[m.crypto.tag, m.tx]]);
  return { offerSdp: n.localSdp, origin: { ...n.origin }, keys };
}

export function readAnswer(pending: PendingOffer, answerSdp: string): ({ ok: true } & NegotiatedSession) | SdpRefusal {
  const security = checkAnswerSecurity(pending.offerSdp, answerSdp);
  if (!security.ok) return security;
  const offer = security.offer.session;
  const { session } = security.answer;
  const rejected: RejectedMedia[] = [];
  let audio: NegotiatedAudio | undefined;
  let video: NegotiatedVideo | undefined;
  for (const sec of security.media) {
    const m = session.media[sec.index];
    const ours = offer.media[sec.index];
    if (!sec.active || !sec.answered || !sec.offered) {
      rejected.push({ index: sec.index, type: m.type, reason: 'rejected in the answer' });
      continue;
    }
    const chosen = answeredFormat(ours, m);
    if (!chosen) {
      if (m.type === 'audio') return refuse(488, 'no-common-codec', `no common audio codec: the answer has ${codecNames(offeredFormats(m))}; knude offered ${codecNames(offeredFormats(ours))}`, sec.index);
      rejected.push({ index: sec.index, type: m.type, reason: `no common video codec: the answer has ${codecNames(offeredFormats(m))}` });
      continue;
    }
    const base = negotiatedMedia(session, m, sec, pending, chosen);
    if (m.type === 'audio') {
      audio = base;
      const events = offeredFormats(m).filter((f) => sameCodec(f, 'telephone-event'));
      const te = events.find((f) => f.clockRate === chosen.clockRate) ?? events[0];
      if (te) audio.telephoneEvent = { payloadType: te.payloadType, clockRate: te.clockRate };
      const extId = audioLevelExtId(m);
      if (extId !== undefined) audio.audioLevelExtId = extId;
    } else {
      const h264 = sameCodec(chosen, 'H264') ? answeredH264(ours, chosen) : undefined;
      if (typeof h264 === 'string') {
        rejected.push({ index: sec.index, type: m.type, reason: h264 });
        continue;
      }
      video = { ...base, rtcpFb: offeredFeedback(m, chosen.payloadType) };
      if (h264) video.h264 = h264;
    }
  }
  if (!audio) return refuse(488, 'no-audio', 'the answer rejects the audio m-line: knude needs audio');
  const negotiated: NegotiatedSession = { localSdp: pending.offerSdp, origin: { ...pending.origin }, audio, rejected };
  if (video) negotiated.video = video;
  return { ok: true, ...negotiated };
}

/** The answer's first format that knude offered (by codec, as payload numbers may differ). */
function answeredFormat(ours: MediaDescription, answered: MediaDescription): OfferedFormat | undefined {
  const offered = offeredFormats(ours);
  return offeredFormats(answered).find((f) => !sameCodec(f, 'telephone-event') && offered.some((o) => sameCodec(o, f.codec) && o.clockRate === f.clockRate));
}

/** H.264 in the answer: packetization mode of a payload knude offered (RFC 6184 §8.2.2). */
function answeredH264(ours: MediaDescription, chosen: OfferedFormat): H264Params | string {
  const mode = chosen.params['packetization-mode'] ?? '0';
  const offeredModes = offeredFormats(ours)
    .filter((f) => sameCodec(f, 'H264'))
    .map((f) => f.params['packetization-mode'] ?? '0');
  if (!offeredModes.includes(mode)) return `H.264 packetization-mode=${mode} in the answer was not offered`;
  const pli = parseProfileLevelId(chosen.params['profile-level-id']);
  if (!pli) return `H.264 profile-level-id=${chosen.params['profile-level-id']} in the answer is malformed`;
  return {
    profileLevelId: formatProfileLevelId(pli),
    packetizationMode: mode === '1' ? 1 : 0,
    levelAsymmetryAllowed: chosen.params['level-asymmetry-allowed'] === '1',
  };
}

function negotiatedMedia(session: SessionDescription, m: MediaDescription, sec: AnswerMediaSecurity, pending: PendingOffer, chosen: OfferedFormat): NegotiatedMedia {
  const answered = sec.answered!;
  const tx = pending.keys[sec.index].get(answered.tag)!;
  const rxKeys = remoteKeys(answered);
  const result: NegotiatedMedia = {
    index: sec.index,
    remote: remoteTransport(session, m),
    payloadType: chosen.payloadType,
    codec: chosen.codec,
    clockRate: chosen.clockRate,
    channels: chosen.channels,
    crypto: { tag: answered.tag, suite: answered.suite },
    rx: rxKeys[0],
    rxKeys,
    tx,
    ...localDirection(session, m),
  };
  const ssrc = firstSsrc(m);
  if (ssrc !== undefined) result.ssrc = ssrc;
  return result;
}
