/**
 * A SIP endpoint in a room, as Janus sees it (plain RTP on loopback from knude's SRTP relay):
 *
 * - an AudioBridge plain-RTP participant on its own handle: it takes the endpoint's audio
 *   and sends the mix of everyone else to `relayPort`. Janus `connect()`s that socket to
 *   127.0.0.1:relayPort, so the relay must send from relayPort, and Janus starts sending
 *   only after the first RTP packet arrived;
 * - a VideoRoom remote publisher with the endpoint's audio (mindex 0) and, when negotiated,
 *   video (mindex 1), all on one port, told apart by SSRC 1000 + 10 * mindex: browsers see
 *   and hear the endpoint, and talking events cover it. Janus answers PLIs for the video to
 *   the address that last sent anything to the publisher's RTCP port. Talking events come
 *   from the VideoRoom (the remote publisher's audio with the RFC 6464 extension): the
 *   AudioBridge of 1.1.2 ignores that extension on plain-RTP participants.
 *
 * Janus 1.1.2 facts behind the request fields: add_remote_publisher assigns mids "0", "1"
 * by position and ignores the ones sent; its `h264_profile` is validated as a boolean but
 * read as a string, so no profile can be passed (subscribers get no H.264 fmtp unless the
 * room has an h264_profile); the room must allow the audio codec (rooms allow opus, pcmu and pcma).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { RtpTarget, SipLegSpec, SipMediaLeg } from '../plane.js';
import { AUDIOBRIDGE_PLUGIN, AudioBridgeParticipant } from './audiobridge.js';
import { AudioBridgeError, JanusConnectionError, JanusError, VideoRoomError, type JanusClient, type JanusSession, type PluginEvent } from './client.js';
import type { RemotePublisherStream, VideoRoomAdmin } from './videoroom.js';

export const REMOTE_PUBLISHER_BASE_SSRC = 1000;
export const REMOTE_PUBLISHER_SSRC_STEP = 10;

/** The SSRC a remote publisher's stream at `mindex` must carry. */
export function remotePublisherSsrc(mindex: number): number {
  return REMOTE_PUBLISHER_BASE_SSRC + REMOTE_PUBLISHER_SSRC_STEP * mindex;
}

/** A SipLegSpec that Janus cannot take. */
export class SipLegSpecError extends Error {
  override name = 'SipLegSpecError';
}

const AUDIO_CODECS = { opus: 'opus', PCMU: 'pcmu', PCMA: 'pcma' } as const;
const VIDEO_CODECS = { H264: 'h264', VP8: 'vp8' } as const;

function validPort(p: unknown): boolean {
  return Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;
}

/** Checks a spec from the SIP side before anything is created in Janus. */
export function checkSipLegSpec(spec: SipLegSpec): void {
  const a = spec?.audio;
  if (!a || !(a.codec in AUDIO_CODECS)) throw new SipLegSpecError(`unsupported SIP audio codec ${JSON.stringify(a?.codec)} (opus, PCMU or PCMA)`);
  if (!Number.isInteger(a.payloadType) || a.payloadType < 0 || a.payloadType > 127) throw new SipLegSpecError(`invalid audio payload type ${a.payloadType}`);
  if (!validPort(a.relayPort)) throw new SipLegSpecError(`invalid relay port ${a.relayPort}`);
  if (a.audioLevelExtId !== undefined && (!Number.isInteger(a.audioLevelExtId) || a.audioLevelExtId < 1 || a.audioLevelExtId > 14))
    throw new SipLegSpecError(`invalid audio level extension id ${a.audioLevelExtId} (1..14)`);
  const v = spec.video;
  if (v) {
    if (!(v.codec in VIDEO_CODECS)) throw new SipLegSpecError(`unsupported SIP video codec ${JSON.stringify(v.codec)} (H264 or VP8)`);
    if (!Number.isInteger(v.payloadType) || v.payloadType < 0 || v.payloadType > 127) throw new SipLegSpecError(`invalid video payload type ${v.payloadType}`);
  }
}

export interface SipLegHost {
  /** The control VideoRoom wrapper (remote publishers are added and removed there). */
  videoroom(): VideoRoomAdmin | undefined;
  /** Stops the room's tap forwarder for a feed before its publisher goes. */
  dropTapFeed(roomId: string, feedId: number): Promise<void>;
  forgetSip(leg: JanusSipLeg): void;
}

type LegEvent = 'talking' | 'stopped-talking' | 'hangup';

export class JanusSipLeg implements SipMediaLeg {
  private readonly events = new EventEmitter();
  private session!: JanusSession;
  private participant!: AudioBridgeParticipant;
  private abId = 0;
  private id = 0;
  private audio!: { host: string; port: number };
  private pubAudio!: RtpTarget;
  private video: RtpTarget | undefined;
  private ended = false;
  private leaving: Promise<void> | undefined;

  constructor(
    private readonly host: SipLegHost,
    private readonly client: JanusClient,
    private readonly vr: VideoRoomAdmin,
    readonly roomId: string,
    readonly janusRoom: number,
    private readonly secret: string,
    readonly displayName: string,
    readonly spec: SipLegSpec,
    private readonly log: Logger,
  ) {
    this.events.on('error', () => {});
  }

  get feedId(): number {
    return this.id;
  }

  /** The AudioBridge participant id. */
  get audioBridgeId(): number {
    return this.abId;
  }

  get audioTarget(): { host: string; port: number } {
    return this.audio;
  }

  get publisherAudioTarget(): RtpTarget {
    return this.pubAudio;
  }

  get videoTarget(): RtpTarget | undefined {
    return this.video;
  }

  get over(): boolean {
    return this.ended;
  }

  /** @internal Joins the AudioBridge, then adds the remote publisher; undoes the first if the second fails. */
  async init(): Promise<void> {
    const { audio, video } = this.spec;
    this.session = await this.client.createSession();
    try {
      const handle = await this.session.attach(AUDIOBRIDGE_PLUGIN);
      this.participant = new AudioBridgeParticipant(handle);
      handle.on('event', (e) => this.onAudioBridgeEvent(e));
      handle.on('hangup', (e) => this.end(`AudioBridge hangup: ${e.reason}`));
      this.session.on('lost', (e) => {
        if (e.reason !== 'destroyed') this.mediaServerGone();
      });
      const joined = await this.participant.join(this.janusRoom, {
        display: this.displayName,
        codec: AUDIO_CODECS[audio.codec],
        rtp: {
          ip: '127.0.0.1',
          port: audio.relayPort,
          ...(audio.codec === 'opus' ? { payload_type: audio.payloadType } : {}),
          ...(audio.audioLevelExtId ? { audiolevel_ext: audio.audioLevelExtId } : {}),
        },
      });
      if (!joined.rtp) throw new JanusError(AudioBridgeError.UNKNOWN_ERROR, 'the AudioBridge gave no RTP address for a plain-RTP participant', AUDIOBRIDGE_PLUGIN);
      this.abId = joined.id;
      this.audio = { host: joined.rtp.ip, port: Number(joined.rtp.port) };

      const streams: RemotePublisherStream[] = [
        { type: 'audio', mindex: 0, mid: '0', codec: AUDIO_CODECS[audio.codec], ...(audio.audioLevelExtId ? { audiolevel_ext_id: audio.audioLevelExtId } : {}) },
      ];
      if (video) streams.push({ type: 'video', mindex: 1, mid: '1', codec: VIDEO_CODECS[video.codec] });
      const added = await this.vr.addRemotePublisher({ room: this.janusRoom, secret: this.secret, display: this.displayName, iface: '127.0.0.1', streams });
      this.id = added.id;
      await this.untilInRoom();
      const host = added.ip && added.ip !== '0.0.0.0' ? added.ip : '127.0.0.1';
      const rtcp = added.rtcp_port !== undefined ? { rtcpPort: added.rtcp_port } : {};
      this.pubAudio = { host, port: added.port, ...rtcp, ssrc: remotePublisherSsrc(0) };
      if (video) this.video = { host, port: added.port, ...rtcp, ssrc: remotePublisherSsrc(1) };
    } catch (err) {
      this.ended = true;
      if (this.id) await this.vr.removeRemotePublisher(this.janusRoom, this.id, this.secret).catch(() => {});
      await this.session.destroy().catch(() => {});
      throw err;
    }
  }

  /**
   * Janus answers add_remote_publisher before the publisher's thread has put it in the room:
   * until then, moderate, rtp_forward and listparticipants do not know the feed.
   */
  private async untilInRoom(): Promise<void> {
    if (!(await this.untilFeed(this.vr, true))) throw new JanusError(VideoRoomError.NO_SUCH_FEED, `the remote publisher ${this.id} did not appear in the room within 2 s`, 'janus.plugin.videoroom');
  }

  /** Polls listparticipants until the feed is (or is no longer) in the room; false after 2 s. */
  private async untilFeed(vr: VideoRoomAdmin, present: boolean): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
      const ids = (await vr.listParticipants(this.janusRoom)).map((p) => p.id);
      if (ids.includes(this.id) === present) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  on(event: LegEvent, fn: (data?: unknown) => void): void {
    this.events.on(event, fn);
  }

  private onAudioBridgeEvent(e: PluginEvent): void {
    if (this.ended) return;
    const d = e.data;
    switch (d.audiobridge) {
      // (No talking here: Janus 1.1.2's AudioBridge never parses the audio-level extension of
      // plain-RTP participants; the VideoRoom does, for the remote publisher's audio.)
      case 'destroyed':
        this.end('room destroyed');
        return;
      case 'event':
        if (d.kicked !== undefined && Number(d.kicked) === this.abId) this.end('kicked');
        if (d.leaving === 'ok' && d.reason === 'kicked') this.end('kicked');
        return;
      default:
        return;
    }
  }

  /** @internal The room's VideoRoom talking event for this leg's feed (RFC 6464 levels the relay sends). */
  talkingChanged(t: { talking: boolean; level?: number }): void {
    if (this.ended) return;
    this.events.emit(t.talking ? 'talking' : 'stopped-talking', { feedId: this.id, talking: t.talking, ...(t.level !== undefined ? { level: t.level } : {}) });
  }

  /** Ends the leg from Janus's side: what is left is removed, then `hangup`. */
  private end(reason: string): void {
    if (this.ended) return;
    void this.leave().finally(() => this.events.emit('hangup', { reason }));
  }

  /** @internal The media server went away: nothing to remove, only to report. */
  mediaServerGone(): void {
    if (this.ended) return;
    this.ended = true;
    this.host.forgetSip(this);
    this.events.emit('hangup', { reason: 'media server gone' });
  }

  /** @internal The room is being destroyed (the plane removes what is left). */
  roomDestroyed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    const done = this.leave();
    return done.finally(() => this.events.emit('hangup', { reason: 'room destroyed' }));
  }

  /** Mutes what the endpoint sends, in the mix and in its VideoRoom audio. */
  async setMuted(muted: boolean): Promise<void> {
    if (this.ended) throw new JanusConnectionError('this SIP media leg has ended');
    await this.participant.configure({ muted });
    await this.vr.moderate(this.janusRoom, this.id, '0', muted, this.secret);
  }

  leave(): Promise<void> {
    this.leaving ??= this.doLeave();
    return this.leaving;
  }

  private async doLeave(): Promise<void> {
    const wasEnded = this.ended;
    this.ended = true;
    this.host.forgetSip(this);
    if (wasEnded && this.session.lost) return;
    const ignore = (...codes: number[]) => (err: unknown) => {
      if (err instanceof JanusError && codes.includes(err.code)) return;
      if (err instanceof JanusConnectionError) return;
      this.log.warn({ err: (err as Error).message, room: this.roomId, feed: this.id }, 'removing a SIP leg from Janus failed');
    };
    if (this.id) {
      // Forwarders first, then the publisher: destroying a room leaks remote publishers' sockets.
      await this.host.dropTapFeed(this.roomId, this.id).catch(ignore());
      const vr = this.host.videoroom() ?? this.vr;
      // Janus's publisher thread does the removal after answering: wait for it, so that the
      // room can be destroyed right after (and listparticipants is accurate).
      const removed = await vr.removeRemotePublisher(this.janusRoom, this.id, this.secret).then(
        () => true,
        (err: unknown) => (ignore(VideoRoomError.NO_SUCH_FEED, VideoRoomError.NO_SUCH_ROOM)(err), false),
      );
      if (removed) await this.untilFeed(vr, false).catch(ignore(VideoRoomError.NO_SUCH_ROOM));
    }
    // `leave` answers once the participant is out of the AudioBridge; destroying the session alone would not wait.
    if (!this.session.lost) await this.participant.leave().catch(ignore(AudioBridgeError.NOT_JOINED, AudioBridgeError.NO_SUCH_ROOM));
    await this.session.destroy().catch(ignore());
  }
}
