/**
 * Typed wrappers over an AudioBridge plugin handle (Janus 1.1.x, numeric ids): the mixing
 * room that SIP endpoints (one mixed audio stream) will join via plain RTP.
 */
import { AudioBridgeError, JanusError, type JanusHandle, type Jsep, type PluginResponse } from './client.js';
import { checkAnswer, RoomAdmin, type Json, type RoomPlugin } from './room-admin.js';

export const AUDIOBRIDGE_PLUGIN = 'janus.plugin.audiobridge';


export interface AudioBridgeCreate {
  room: number;
  description?: string;
  secret?: string;
  pin?: string;
  is_private?: boolean;
  /** Mixing rate: 8000, 12000, 16000, 24000 or 48000. */
  sampling_rate?: number;
  audiolevel_ext?: boolean;
  audiolevel_event?: boolean;
  audio_active_packets?: number;
  audio_level_average?: number;
  /** Let participants join with plain RTP (SIP legs) instead of WebRTC. */
  allow_rtp_participants?: boolean;
  default_prebuffering?: number;
  [k: string]: unknown;
}

export interface AudioBridgeInfo {
  room: number;
  description?: string;
  sampling_rate: number;
  num_participants: number;
  [k: string]: unknown;
}

export interface AudioBridgeParticipantInfo {
  id: number;
  display?: string;
  setup: boolean;
  muted: boolean;
  talking?: boolean;
}

export interface AudioBridgeRtp {
  ip: string;
  port: number;
  payload_type?: number;
  audiolevel_ext?: number;
  fec?: boolean;
}

export interface AudioBridgeJoined {
  room: number;
  id: number;
  display?: string;
  participants: AudioBridgeParticipantInfo[];
  /** For plain-RTP participants: where the bridge expects the media. */
  rtp?: AudioBridgeRtp;
}

const PLUGIN: RoomPlugin = { field: 'audiobridge', label: 'AudioBridge', name: AUDIOBRIDGE_PLUGIN, unknownError: AudioBridgeError.UNKNOWN_ERROR };

function check(res: PluginResponse, expected: string | string[], what: string): Json {
  return checkAnswer(PLUGIN, res, expected, what);
}

/** Room-level (synchronous) AudioBridge requests on any AudioBridge handle. */
export class AudioBridgeAdmin extends RoomAdmin<AudioBridgeCreate, AudioBridgeInfo, AudioBridgeParticipantInfo> {
  constructor(handle: JanusHandle, adminKey?: string) {
    super(handle, PLUGIN, adminKey, { sampling_rate: 48000 });
  }

  async mute(room: number, id: number, muted: boolean, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: muted ? 'mute' : 'unmute', room, id, ...(secret ? { secret } : {}) });
    check(res, 'success', muted ? 'mute' : 'unmute');
  }
}

/** One participant on its own handle (WebRTC with a JSEP, or plain RTP with `rtp`). */
export class AudioBridgeParticipant {
  constructor(readonly handle: JanusHandle) {}

  async join(
    room: number,
    opts: { id?: number; display?: string; pin?: string; muted?: boolean; codec?: 'opus' | 'pcma' | 'pcmu'; rtp?: AudioBridgeRtp; [k: string]: unknown } = {},
  ): Promise<AudioBridgeJoined> {
    const res = await this.handle.message({ request: 'join', room, ...opts });
    const d = check(res, 'joined', 'join');
    return {
      room: Number(d.room),
      id: Number(d.id),
      ...(typeof d.display === 'string' ? { display: d.display } : {}),
      participants: (d.participants ?? []) as AudioBridgeParticipantInfo[],
      ...(d.rtp ? { rtp: d.rtp as AudioBridgeRtp } : {}),
    };
  }

  /** Mute/unmute, display, or (with a JSEP offer) the WebRTC negotiation. */
  async configure(opts: { muted?: boolean; display?: string; [k: string]: unknown }, offer?: Jsep): Promise<Jsep | undefined> {
    const res = await this.handle.message({ request: 'configure', ...opts }, offer);
    check(res, 'event', 'configure');
    return res.jsep;
  }

  async leave(): Promise<void> {
    const res = await this.handle.message({ request: 'leave' });
    check(res, ['event', 'left'], 'leave');
  }
}
