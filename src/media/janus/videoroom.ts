/**
 * Typed wrappers over a VideoRoom plugin handle (Janus 1.1.x, numeric room and participant
 * ids): room administration, publishers, multistream subscribers and remote publishers
 * (plain-RTP feeds that enter a room without a WebRTC handle; for SIP legs later).
 */
import { JanusError, VideoRoomError, type JanusHandle, type Jsep, type PluginResponse } from './client.js';
import { checkAnswer, RoomAdmin, type Json, type RoomPlugin } from './room-admin.js';

export const VIDEOROOM_PLUGIN = 'janus.plugin.videoroom';


export interface VideoRoomCreate {
  room: number;
  description?: string;
  /** Room secret: needed to edit, destroy, kick, add/remove remote publishers. */
  secret?: string;
  pin?: string;
  is_private?: boolean;
  /** Concurrent WebRTC publishers. */
  publishers?: number;
  /** Bitrate cap (bps) sent to publishers via REMB. */
  bitrate?: number;
  bitrate_cap?: boolean;
  /** Keyframe request period in seconds. */
  fir_freq?: number;
  /** e.g. 'opus' or 'opus,g722'. */
  audiocodec?: string;
  /** e.g. 'vp8,h264'. */
  videocodec?: string;
  audiolevel_ext?: boolean;
  audiolevel_event?: boolean;
  audio_active_packets?: number;
  audio_level_average?: number;
  notify_joining?: boolean;
  require_pvtid?: boolean;
  opus_fec?: boolean;
  [k: string]: unknown;
}

export interface VideoRoomInfo {
  room: number;
  description?: string;
  num_participants: number;
  max_publishers: number;
  audiocodec?: string;
  videocodec?: string;
  [k: string]: unknown;
}

export interface VideoRoomParticipant {
  id: number;
  display?: string;
  /** True when actively publishing. */
  publisher: boolean;
  /** A remote (plain-RTP) publisher. */
  remote?: boolean;
  talking?: boolean;
}

export interface PublisherStream {
  type: 'audio' | 'video' | 'data';
  mindex: number;
  mid: string;
  disabled?: boolean;
  codec?: string;
  description?: string;
  talking?: boolean;
}

export interface PublisherInfo {
  id: number;
  display?: string;
  dummy?: boolean;
  streams: PublisherStream[];
  talking?: boolean;
}

export interface PublisherJoined {
  room: number;
  id: number;
  private_id: number;
  description?: string;
  publishers: PublisherInfo[];
  attendees?: Array<{ id: number; display?: string }>;
}

export interface SubscriberStream {
  mindex: number;
  mid: string;
  type: 'audio' | 'video' | 'data';
  active: boolean;
  feed_id?: number;
  feed_mid?: string;
  feed_display?: string;
  send?: boolean;
  ready?: boolean;
  codec?: string;
}

export interface SubscribeSpec {
  feed: number;
  mid?: string;
  crossrefid?: string;
}

export interface UnsubscribeSpec {
  feed?: number;
  mid?: string;
  sub_mid?: string;
}

export interface RemotePublisherStream {
  type: 'audio' | 'video' | 'data';
  mindex: number;
  mid: string;
  codec?: string;
  description?: string;
  disabled?: boolean;
  stereo?: boolean;
  fec?: boolean;
  dtx?: boolean;
  simulcast?: boolean;
  audiolevel_ext_id?: number;
  videoorient_ext_id?: number;
  playoutdelay_ext_id?: number;
}

export interface RemotePublisherAdded {
  room: number;
  id: number;
  /** Where Janus listens for the multiplexed plain RTP of all the publisher's streams. */
  ip: string;
  port: number;
  rtcp_port?: number;
}

export interface RtpForwardStream {
  /** The publisher stream's mid. */
  mid: string;
  port: number;
  host?: string;
  /** The recipient's RTCP port: Janus binds a local RTCP socket and listens there for PLI/FIR. */
  rtcp_port?: number;
  ssrc?: number;
  pt?: number;
}

export interface RtpForwarder {
  stream_id: number;
  type: 'audio' | 'video' | 'data';
  host: string;
  port: number;
  /** Janus's RTCP socket for this forwarder (PLI/FIR sent here reach the publisher). */
  local_rtcp_port?: number;
  remote_rtcp_port?: number;
  ssrc?: number;
  pt?: number;
  srtp?: boolean;
}

const PLUGIN: RoomPlugin = { field: 'videoroom', label: 'VideoRoom', name: VIDEOROOM_PLUGIN, unknownError: VideoRoomError.UNKNOWN_ERROR };

function check(res: PluginResponse, expected: string | string[], what: string): Json {
  return checkAnswer(PLUGIN, res, expected, what);
}

/** Room-level (synchronous) VideoRoom requests on any VideoRoom handle. */
export class VideoRoomAdmin extends RoomAdmin<VideoRoomCreate, VideoRoomInfo, VideoRoomParticipant> {
  constructor(handle: JanusHandle, adminKey?: string) {
    super(handle, PLUGIN, adminKey);
  }

  /** Mutes/unmutes one stream of a participant as the room's moderator. */
  async moderate(room: number, id: number, mid: string, mute: boolean, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: 'moderate', room, id, mid, mute, ...(secret ? { secret } : {}) });
    check(res, 'success', 'moderate');
  }

  /**
   * Adds a remote publisher: a feed whose media (plain RTP, all streams multiplexed on one
   * port) comes from outside. `iface` restricts the socket to an address (e.g. 127.0.0.1).
   */
  async addRemotePublisher(opts: {
    room: number;
    secret?: string;
    id?: number;
    display?: string;
    iface?: string;
    port?: number;
    rtcp_port?: number;
    streams: RemotePublisherStream[];
  }): Promise<RemotePublisherAdded> {
    const res = await this.handle.message({ request: 'add_remote_publisher', ...opts });
    const d = check(res, 'success', 'add_remote_publisher');
    return { room: Number(d.room), id: Number(d.id), ip: String(d.ip), port: Number(d.port), ...(d.rtcp_port !== undefined ? { rtcp_port: Number(d.rtcp_port) } : {}) };
  }

  async updateRemotePublisher(opts: { room: number; id: number; secret?: string; display?: string; streams: RemotePublisherStream[] }): Promise<void> {
    const res = await this.handle.message({ request: 'update_remote_publisher', ...opts });
    check(res, 'success', 'update_remote_publisher');
  }

  /**
   * Forwards publisher streams as plain RTP (`rtp_forward`, the streams API). Forwarders
   * cannot be re-targeted: stop and re-create to change the destination.
   */
  async rtpForward(opts: { room: number; publisher_id: number; secret?: string; host: string; streams: RtpForwardStream[] }): Promise<RtpForwarder[]> {
    const res = await this.handle.message({ request: 'rtp_forward', host_family: 'ipv4', ...opts, ...this.key() });
    return (check(res, 'rtp_forward', 'rtp_forward').forwarders ?? []) as RtpForwarder[];
  }

  async stopRtpForward(room: number, publisherId: number, streamId: number, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: 'stop_rtp_forward', room, publisher_id: publisherId, stream_id: streamId, ...(secret ? { secret } : {}), ...this.key() });
    check(res, 'stop_rtp_forward', 'stop_rtp_forward');
  }

  /** Every forwarder in the room, by publisher. */
  async listForwarders(room: number, secret?: string): Promise<Array<{ publisher_id: number; forwarders: RtpForwarder[] }>> {
    const res = await this.handle.message({ request: 'listforwarders', room, ...(secret ? { secret } : {}), ...this.key() });
    return (check(res, 'forwarders', 'listforwarders').publishers ?? []) as Array<{ publisher_id: number; forwarders: RtpForwarder[] }>;
  }

  /** Removes a remote publisher (do this before destroying its room: Janus leaks its sockets otherwise). */
  async removeRemotePublisher(room: number, id: number, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: 'remove_remote_publisher', room, id, ...(secret ? { secret } : {}) });
    check(res, 'success', 'remove_remote_publisher');
  }
}

/** A publisher participant on its own handle. */
export class VideoRoomPublisher {
  constructor(readonly handle: JanusHandle) {}

  async join(room: number, opts: { id?: number; display?: string; pin?: string; token?: string } = {}): Promise<PublisherJoined> {
    const res = await this.handle.message({ request: 'join', ptype: 'publisher', room, ...opts });
    const d = check(res, 'joined', 'join');
    return {
      room: Number(d.room),
      id: Number(d.id),
      private_id: Number(d.private_id),
      ...(typeof d.description === 'string' ? { description: d.description } : {}),
      publishers: (d.publishers ?? []) as PublisherInfo[],
      ...(d.attendees ? { attendees: d.attendees as Array<{ id: number; display?: string }> } : {}),
    };
  }

  /** Publishes with the client's offer; resolves with Janus's answer. */
  async publish(offer: Jsep, opts: { audiocodec?: string; videocodec?: string; bitrate?: number; display?: string; descriptions?: Array<{ mid: string; description: string }> } = {}): Promise<Jsep> {
    const res = await this.handle.message({ request: 'publish', ...opts }, offer);
    const d = check(res, 'event', 'publish');
    if (d.configured !== 'ok' || !res.jsep) throw new JanusError(VideoRoomError.UNKNOWN_ERROR, `publish not configured: ${JSON.stringify(d)}`, VIDEOROOM_PLUGIN);
    return res.jsep;
  }

  /** Changes publishing properties; with a JSEP offer it renegotiates and resolves with the answer. */
  async configure(
    opts: { bitrate?: number; keyframe?: boolean; display?: string; streams?: Array<{ mid: string; send?: boolean; keyframe?: boolean }>; [k: string]: unknown },
    offer?: Jsep,
  ): Promise<Jsep | undefined> {
    const res = await this.handle.message({ request: 'configure', ...opts }, offer);
    const d = check(res, 'event', 'configure');
    if (d.configured !== 'ok') throw new JanusError(VideoRoomError.UNKNOWN_ERROR, `configure failed: ${JSON.stringify(d)}`, VIDEOROOM_PLUGIN);
    return res.jsep;
  }

  async unpublish(): Promise<void> {
    const res = await this.handle.message({ request: 'unpublish' });
    check(res, 'event', 'unpublish');
  }

  async leave(): Promise<void> {
    const res = await this.handle.message({ request: 'leave' });
    check(res, 'event', 'leave');
  }
}

export interface SubscriptionUpdate {
  /** The whole subscription after the change (absent when Janus made no change). */
  streams?: SubscriberStream[];
  /** A new offer to answer with start(); absent when no renegotiation is needed. */
  offer?: Jsep;
  /** Janus postponed the change until the previous offer is answered; the offer comes as an event. */
  postponed: boolean;
}

/** A multistream subscriber on its own handle. */
export class VideoRoomSubscriber {
  constructor(readonly handle: JanusHandle) {}

  /** Subscribes to `streams`; resolves with Janus's offer and the stream layout. */
  async join(
    room: number,
    streams: SubscribeSpec[],
    opts: { private_id?: number; use_msid?: boolean; autoupdate?: boolean; pin?: string } = {},
  ): Promise<{ streams: SubscriberStream[]; offer?: Jsep }> {
    const res = await this.handle.message({ request: 'join', ptype: 'subscriber', room, streams, ...opts });
    const d = check(res, 'attached', 'join (subscriber)');
    return { streams: (d.streams ?? []) as SubscriberStream[], ...(res.jsep ? { offer: res.jsep } : {}) };
  }

  private async change(body: Json, what: string): Promise<SubscriptionUpdate> {
    const res = await this.handle.message(body);
    const d = check(res, ['updated', 'updating', 'event'], what);
    if (d.videoroom === 'updating') return { postponed: true };
    return { postponed: false, ...(d.streams ? { streams: d.streams as SubscriberStream[] } : {}), ...(res.jsep ? { offer: res.jsep } : {}) };
  }

  subscribe(streams: SubscribeSpec[]): Promise<SubscriptionUpdate> {
    return this.change({ request: 'subscribe', streams }, 'subscribe');
  }

  unsubscribe(streams: UnsubscribeSpec[]): Promise<SubscriptionUpdate> {
    return this.change({ request: 'unsubscribe', streams }, 'unsubscribe');
  }

  /** Subscribe and unsubscribe in one renegotiation (each list optional, not both empty). */
  update(change: { subscribe?: SubscribeSpec[]; unsubscribe?: UnsubscribeSpec[] }): Promise<SubscriptionUpdate> {
    const body: Json = { request: 'update' };
    if (change.subscribe?.length) body.subscribe = change.subscribe;
    if (change.unsubscribe?.length) body.unsubscribe = change.unsubscribe;
    return this.change(body, 'update');
  }

  /** Completes a (re)negotiation with the client's answer, or resumes a paused subscription. */
  async start(answer?: Jsep): Promise<void> {
    const res = await this.handle.message({ request: 'start' }, answer);
    const d = check(res, 'event', 'start');
    if (d.started !== 'ok') throw new JanusError(VideoRoomError.UNKNOWN_ERROR, `start failed: ${JSON.stringify(d)}`, VIDEOROOM_PLUGIN);
  }

  async pause(): Promise<void> {
    const res = await this.handle.message({ request: 'pause' });
    check(res, 'event', 'pause');
  }

  /** Per-stream send on/off, or an ICE restart (`restart: true` gives a new offer). */
  async configure(opts: { streams?: Array<{ mid: string; send?: boolean; substream?: number; temporal?: number }>; restart?: boolean }): Promise<Jsep | undefined> {
    const res = await this.handle.message({ request: 'configure', ...opts });
    check(res, 'event', 'configure');
    return res.jsep;
  }

  async leave(): Promise<void> {
    const res = await this.handle.message({ request: 'leave' });
    check(res, 'event', 'leave');
  }
}
