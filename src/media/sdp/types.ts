/** What knude can do on a SIP media leg, and what an offer/answer exchange settled. */
import type { SdpRefusal } from './errors.js';
import type { H264Profile } from './h264.js';
import type { Direction } from './parse.js';
import type { SrtpKeyParams, SrtpSuite } from './suites.js';

export type AudioCodecName = 'opus' | 'PCMU' | 'PCMA';
export type VideoCodecName = 'H264' | 'VP8';

export interface LocalCapabilities {
  /** knude's relay address for this leg (IPv4 or IPv6). */
  address: string;
  audio: { port: number; rtcpPort?: number; codecs: AudioCodecName[] /* preference order */ };
  /** Absent: the leg is audio-only and video m-lines are rejected. */
  video?: {
    port: number;
    rtcpPort?: number;
    codecs: VideoCodecName[];
    h264?: {
      /** Highest level knude receives, as level_idc (31 = 3.1, 40 = 4.0). Default 40. */
      maxLevel?: number;
      /** Profiles knude takes, preferred first. Default: constrained-baseline, baseline, main, high. */
      profiles?: H264Profile[];
    };
  };
  /** SRTP suites knude accepts, preferred first. */
  suites: SrtpSuite[];
  /** A fresh master key and salt of the suite's lengths for knude's sending direction. */
  keys: (suite: SrtpSuite) => { masterKey: Buffer; masterSalt: Buffer };
  /**
   * DTLS-SRTP (RFC 5763/5764) when the relay runs DTLS: knude's certificate fingerprint, put in
   * answers to UDP/TLS/RTP/SAVP(F) offers. Absent: such offers are refused.
   */
  dtls?: { fingerprint: { algorithm: string; value: string } };
}

export interface RemoteTransport {
  address: string;
  rtpPort: number;
  /** Equal to rtpPort when RTCP is multiplexed (RFC 5761). */
  rtcpPort: number;
  rtcpMux: boolean;
}

export interface NegotiatedMedia {
  /** Index of the m-line in the offer and answer. */
  index: number;
  remote: RemoteTransport;
  payloadType: number;
  codec: string;
  clockRate: number;
  channels: number;
  /** The a=crypto line in use: its tag and suite. */
  crypto: { tag: number; suite: SrtpSuite };
  /** The remote's key: unprotects what it sends. */
  rx: SrtpKeyParams;
  /** All the remote's keys when it sent several (told apart by MKI); rx is the first. */
  rxKeys: SrtpKeyParams[];
  /** knude's key: protects what knude sends. */
  tx: SrtpKeyParams;
  /** What knude does on this m-line: 'recvonly' while the remote holds, 'inactive'... */
  direction: Direction;
  /** Put on hold by the remote, by direction (RFC 3264 §8.4) or legacy c=0.0.0.0 (RFC 2543). */
  hold: false | 'direction' | 'zero-address';
  /** The remote's first a=ssrc, when it declared one. */
  ssrc?: number;
  /**
   * DTLS-SRTP instead of SDES: the keys come from the handshake (rx/tx then hold placeholders
   * until it completes). `role`: knude's DTLS role, from the offer's a=setup (RFC 4145/5763).
   */
  dtls?: { role: 'client' | 'server'; fingerprints: Array<{ algorithm: string; value: string }> };
}

export interface NegotiatedAudio extends NegotiatedMedia {
  /** RFC 4733 DTMF events. */
  telephoneEvent?: { payloadType: number; clockRate: number };
  /** RFC 6464 client-to-mixer audio level header extension id. */
  audioLevelExtId?: number;
}

export interface H264Params {
  /** The level knude receives (answered or, on outgoing calls, offered and accepted). */
  profileLevelId: string;
  packetizationMode: 0 | 1;
  levelAsymmetryAllowed: boolean;
}

export interface RtcpFeedback {
  type: string;
  subtype?: string;
}

export interface NegotiatedVideo extends NegotiatedMedia {
  h264?: H264Params;
  /** RTCP feedback both sides agreed on: nack, nack pli, ccm fir, goog-remb. */
  rtcpFb: RtcpFeedback[];
}

export interface RejectedMedia {
  index: number;
  type: string;
  reason: string;
}

export interface SdpOrigin {
  sessionId: string;
  version: number;
}

export interface NegotiatedSession {
  /** The SDP knude sent last on this leg: its answer, or its offer on outgoing calls. */
  localSdp: string;
  /** knude's o= line, kept so a re-INVITE answer bumps the version (RFC 3264 §8). */
  origin: SdpOrigin;
  audio: NegotiatedAudio;
  video?: NegotiatedVideo;
  rejected: RejectedMedia[];
}

/** negotiate's answer: `answerSdp` (= localSdp) goes in the 200 OK. */
export type AnswerResult = ({ ok: true; answerSdp: string } & NegotiatedSession) | SdpRefusal;
