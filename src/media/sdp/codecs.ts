/**
 * Reading the formats of an m-line and writing knude's: rtpmap (with RFC 3551 static payload
 * types that need none), fmtp parameters, RTCP feedback, transports and keys. Shared by the
 * answering (negotiate.ts) and the offering (offer.ts) side.
 */
import { randomInt } from 'node:crypto';
import sdpTransform from 'sdp-transform';
import type { MediaAttributes, MediaDescription, SessionDescription } from 'sdp-transform';
import type { CryptoAttribute } from './crypto-attr.js';
import { SdpError } from './errors.js';
import { connectionAddress, directionOf, payloadList, type Direction } from './parse.js';
import { SUITE_KEY_LENGTHS, type SrtpKeyParams, type SrtpSuite } from './suites.js';
import type { LocalCapabilities, NegotiatedMedia, RemoteTransport, RtcpFeedback, SdpOrigin } from './types.js';

export interface OfferedFormat {
  payloadType: number;
  codec: string;
  clockRate: number;
  channels: number;
  /** fmtp parameters, names lower-cased. */
  params: Record<string, string>;
}

/** RFC 3551 static payload types an endpoint may use without an a=rtpmap. */
const STATIC_PAYLOADS: Record<number, [string, number, number]> = {
  0: ['PCMU', 8000, 1],
  3: ['GSM', 8000, 1],
  4: ['G723', 8000, 1],
  8: ['PCMA', 8000, 1],
  9: ['G722', 8000, 1],
  18: ['G729', 8000, 1],
  34: ['H263', 90000, 1],
};

export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

export function offeredFormats(media: MediaDescription): OfferedFormat[] {
  const formats: OfferedFormat[] = [];
  for (const pt of payloadList(media)) {
    const payloadType = Number(pt);
    if (!/^\d{1,3}$/.test(pt) || payloadType > 127) continue;
    const map = media.rtp.find((r) => r.payload === payloadType);
    const fallback = STATIC_PAYLOADS[payloadType];
    if (!map && !fallback) continue;
    const fmtp = media.fmtp.find((f) => f.payload === payloadType);
    formats.push({
      payloadType,
      codec: map?.codec ?? fallback[0],
      clockRate: map?.rate ?? fallback[1],
      channels: map ? (map.encoding ?? 1) : fallback[2],
      params: fmtp ? fmtpParams(fmtp.config) : {},
    });
  }
  return formats;
}

function fmtpParams(config: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of config.split(/;\s*/)) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
    else if (part.trim() !== '') out[part.trim().toLowerCase()] = '';
  }
  return out;
}

export function sameCodec(format: OfferedFormat, name: string): boolean {
  return format.codec.toLowerCase() === name.toLowerCase();
}

/** Codec names of an m-line, for Warnings that say what was offered. */
export function codecNames(formats: OfferedFormat[]): string {
  const names = [...new Set(formats.map((f) => f.codec))];
  return names.length > 0 ? names.join(', ') : 'none';
}

const SUPPORTED_FEEDBACK: RtcpFeedback[] = [{ type: 'nack' }, { type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }, { type: 'goog-remb' }];

/** The supported RTCP feedback the m-line declares for a payload type (or for '*'). */
export function offeredFeedback(media: MediaDescription, payloadType: number): RtcpFeedback[] {
  const declared = (media.rtcpFb ?? []).filter((f) => String(f.payload) === '*' || Number(f.payload) === payloadType);
  return SUPPORTED_FEEDBACK.filter((s) => declared.some((d) => d.type === s.type && (d.subtype ?? undefined) === s.subtype));
}

export function feedbackLines(payloadType: number, feedback: RtcpFeedback[]): MediaAttributes['rtcpFb'] {
  return feedback.map((f) => (f.subtype ? { payload: payloadType, type: f.type, subtype: f.subtype } : { payload: payloadType, type: f.type }));
}

export function remoteTransport(session: SessionDescription, media: MediaDescription): RemoteTransport {
  const rtcpMux = media.rtcpMux === 'rtcp-mux';
  return {
    address: connectionAddress(session, media),
    rtpPort: media.port,
    rtcpMux,
    rtcpPort: rtcpMux ? media.port : (media.rtcp?.port ?? media.port + 1),
  };
}

export function firstSsrc(media: MediaDescription): number | undefined {
  const id = media.ssrcs?.[0]?.id;
  return id === undefined ? undefined : Number(id);
}

export function audioLevelExtId(media: MediaDescription): number | undefined {
  return media.ext?.find((e) => e.uri === AUDIO_LEVEL_URI)?.value;
}

/** The direction that answers an offered one (RFC 3264 §6.1). */
export function answerDirection(offered: Direction): Direction {
  return offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : offered;
}

/**
 * knude's direction facing the remote's m-line, and whether the remote holds the call. A
 * connection address of 0.0.0.0 (RFC 2543 hold, still sent by older endpoints) means the remote
 * receives nothing whatever its direction attribute says (RFC 3264 §8.4).
 */
export function localDirection(session: SessionDescription, media: MediaDescription): { direction: Direction; hold: NegotiatedMedia['hold'] } {
  const remote = directionOf(session, media);
  const address = connectionAddress(session, media);
  const zeroAddress = address === '0.0.0.0' || address === '::';
  const effective: Direction = zeroAddress ? (remote === 'sendrecv' ? 'sendonly' : remote === 'recvonly' ? 'inactive' : remote) : remote;
  const hold = zeroAddress ? 'zero-address' : effective === 'sendonly' || effective === 'inactive' ? 'direction' : false;
  return { direction: answerDirection(effective), hold };
}

/** A new knude key for a suite, checked: a wrong length here would be a silent outage. */
export function localKey(caps: LocalCapabilities, suite: SrtpSuite): SrtpKeyParams {
  const { masterKey, masterSalt } = caps.keys(suite);
  const need = SUITE_KEY_LENGTHS[suite];
  if (masterKey?.length !== need.key || masterSalt?.length !== need.salt) {
    throw new SdpError('bad-capabilities', `keys(${suite}) must give a ${need.key}-byte key and a ${need.salt}-byte salt`);
  }
  return { suite, masterKey, masterSalt };
}

/** The SRTP module's largest replay window (src/media/srtp/context.ts). */
const MAX_REPLAY_WINDOW = 32_768;

/** The remote's keys from its a=crypto line; its WSH hint sizes knude's replay window. */
export function remoteKeys(attr: CryptoAttribute & { suite: SrtpSuite }): SrtpKeyParams[] {
  return attr.keys.map((k) => {
    const key: SrtpKeyParams = { suite: attr.suite, masterKey: k.masterKey, masterSalt: k.masterSalt };
    if (k.mki) key.mki = k.mki;
    if (k.lifetime !== undefined) key.lifetime = k.lifetime;
    if (attr.params.wsh !== undefined) key.replayWindow = Math.min(attr.params.wsh, MAX_REPLAY_WINDOW);
    return key;
  });
}

export function cryptoLine(tag: number, key: SrtpKeyParams): NonNullable<MediaAttributes['crypto']>[number] {
  return { id: tag, suite: key.suite, config: `inline:${Buffer.concat([key.masterKey, key.masterSalt]).toString('base64')}` };
}

export function sameKey(a: SrtpKeyParams, b: SrtpKeyParams): boolean {
  return a.suite === b.suite && a.masterKey.equals(b.masterKey) && a.masterSalt.equals(b.masterSalt) && a.mki?.value === b.mki?.value && a.lifetime === b.lifetime;
}

export function newOrigin(): SdpOrigin {
  return { sessionId: String(randomInt(1, 2 ** 47)), version: 1 };
}

export function checkCapabilities(caps: LocalCapabilities): void {
  const bad = (what: string): never => {
    throw new SdpError('bad-capabilities', what);
  };
  if (!caps.address) bad('capabilities need the relay address');
  const port = (p: number | undefined, what: string): void => {
    if (p !== undefined && !(Number.isInteger(p) && p > 0 && p < 65536)) bad(`${what} ${p} is not a port`);
  };
  port(caps.audio.port, 'audio port');
  port(caps.audio.rtcpPort, 'audio RTCP port');
  if (caps.audio.codecs.length === 0) bad('capabilities need at least one audio codec');
  if (caps.video) {
    port(caps.video.port, 'video port');
    port(caps.video.rtcpPort, 'video RTCP port');
  }
  if (caps.suites.length === 0) bad('capabilities need at least one SRTP suite');
}

/** The session part of an SDP knude writes; media are added by the caller. */
export function sessionSkeleton(caps: LocalCapabilities, origin: SdpOrigin): SessionDescription {
  const ipVer = caps.address.includes(':') ? 6 : 4;
  return {
    version: 0,
    origin: { username: 'knude', sessionId: origin.sessionId, sessionVersion: origin.version, netType: 'IN', ipVer, address: caps.address },
    name: 'knude',
    connection: { version: ipVer, ip: caps.address },
    timing: { start: 0, stop: 0 },
    media: [],
  };
}

export function rtcpAttribute(caps: LocalCapabilities, port: number, rtcpPort: number | undefined): MediaAttributes['rtcp'] {
  return { port: rtcpPort ?? port + 1, netType: 'IN', ipVer: caps.address.includes(':') ? 6 : 4, address: caps.address };
}

export function writeSdp(session: SessionDescription): string {
  return sdpTransform.write(session);
}
