/**
 * The media plane (src/media/plane.ts) over Janus: each knude room is a VideoRoom (browsers
 * publish and subscribe there, audio included) plus an AudioBridge (the mix SIP endpoints
 * hear). A SIP leg (sip-leg.ts) is an AudioBridge plain-RTP participant plus a VideoRoom
 * remote publisher; while a room has SIP legs, browsers' audio is forwarded into the
 * AudioBridge (browser-audio.ts); a room's video tap (video-tap.ts) forwards every video
 * publisher to the relay for the SIP endpoints' voice-switched video. The last two follow
 * the room through one silent VideoRoom participant (room-watcher.ts).
 *
 * Nothing is persisted: the Janus room number and the room secret are derived from knude's
 * room id, so any node process finds its rooms again; a restarted Janus has no rooms, and
 * after `restarted` the rooms layer calls ensureRoom again.
 *
 * Connection states: 'idle' (not started), 'up', 'down' (Janus died or the socket closed:
 * `down` is emitted once, every leg ends with `hangup`, and the plane reconnects, for an
 * embedded Janus once its supervisor has it running again; then `restarted`), 'closed'.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import sdpTransform from 'sdp-transform';
import type { BrowserLeg, MediaPlane, MediaRoomSpec, RTCIceCandidateInit, SipLegSpec, SubscriberOffer, VideoTapTarget } from '../plane.js';
import { AUDIOBRIDGE_PLUGIN, AudioBridgeAdmin } from './audiobridge.js';
import { BrowserAudioBridge } from './browser-audio.js';
import {
  AudioBridgeError,
  JanusAdminClient,
  JanusClient,
  JanusConnectionError,
  JanusError,
  VideoRoomError,
  type HandleInfo,
  type JanusHandle,
  type JanusSession,
  type PluginEvent,
} from './client.js';
import type { JanusSupervisor } from './process.js';
import { RoomWatcher } from './room-watcher.js';
import { checkSipLegSpec, JanusSipLeg } from './sip-leg.js';
import { JanusVideoTap, VideoTapError } from './video-tap.js';
import {
  VIDEOROOM_PLUGIN,
  VideoRoomAdmin,
  VideoRoomPublisher,
  VideoRoomSubscriber,
  type PublisherInfo,
  type SubscriberStream,
  type SubscriptionUpdate,
} from './videoroom.js';

export interface JanusRoomDefaults {
  /** Per-publisher video bitrate cap in bps (REMB). */
  bitrate: number;
  /** Keyframe request period, seconds. */
  firFreq: number;
  videocodec: string;
  audiocodec: string;
  /** Packets with audio level before a talking decision (50 per second with 20 ms Opus). */
  audioActivePackets: number;
  /** Average level threshold for talking (0 loud .. 127 silent). */
  audioLevelAverage: number;
}

export const DEFAULT_ROOM: JanusRoomDefaults = {
  bitrate: 1_024_000,
  firFreq: 10,
  videocodec: 'vp8,h264',
  // SIP legs' remote publishers carry G.711 as negotiated; browsers still publish Opus.
  audiocodec: 'opus,pcmu,pcma',
  audioActivePackets: 50,
  audioLevelAverage: 40,
};

export interface JanusMediaPlaneOptions {
  /** Embedded or external Janus: where to connect and, embedded, who restarts it. */
  supervisor: JanusSupervisor;
  log: Logger;
  /** The plugins' admin_key (embedded: the one written into its config). */
  adminKey?: string;
  /** Key for the per-room secrets (default: adminKey, else random per process). */
  roomSecretKey?: string;
  room?: Partial<JanusRoomDefaults>;
  /** close() also stops the supervisor (default true). */
  ownsSupervisor?: boolean;
  requestTimeoutMs?: number;
  /** How long subscriberOffer waits for the answer to the previous offer (default 15 s). */
  answerWaitMs?: number;
}

/** knude room id -> Janus room number (stable, non-zero, safe integer, 48 bits). */
export function janusRoomId(roomId: string): number {
  const h = createHash('sha256').update(`knude-room:${roomId}`).digest();
  const n = h.readUIntBE(0, 6);
  return n === 0 ? 1 : n;
}

type PlaneState = 'idle' | 'up' | 'down' | 'closed';

type PlaneEvents = { restarted: []; down: [] };

export class JanusMediaPlane implements MediaPlane {
  private readonly events = new EventEmitter<PlaneEvents>();
  private readonly log: Logger;
  private readonly room: JanusRoomDefaults;
  private readonly secretKey: string;
  private state: PlaneState = 'idle';
  private client: JanusClient | undefined;
  private control: { session: JanusSession; vr: VideoRoomAdmin; ab: AudioBridgeAdmin } | undefined;
  private admin: JanusAdminClient | undefined;
  private adminConnecting: Promise<JanusAdminClient | undefined> | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = 200;
  private janusVersion = 0;
  private leakWarned = false;
  readonly legs = new Set<JanusBrowserLeg>();
  readonly sipLegs = new Set<JanusSipLeg>();
  private readonly sipLegCleanup = new Map<JanusSipLeg, () => void>();
  private readonly taps = new Map<string, JanusVideoTap>();
  private readonly watchers = new Map<string, Promise<RoomWatcher>>();
  private readonly bridges = new Map<string, Promise<BrowserAudioBridge | undefined>>();

  constructor(private readonly opts: JanusMediaPlaneOptions) {
    this.log = opts.log.child({ component: 'media' });
    this.room = { ...DEFAULT_ROOM, ...opts.room };
    this.secretKey = opts.roomSecretKey ?? opts.adminKey ?? randomBytes(24).toString('base64url');
    const sup = opts.supervisor;
    sup.on('down', () => this.goDown('Janus died'));
    sup.on('ready', () => {
      if (this.state === 'down') this.reconnectNow();
    });
    sup.on('failed', (err) => this.log.fatal({ err: err.message }, 'Janus cannot be kept running; rooms are unavailable'));
  }

  /** Up and connected. */
  get isUp(): boolean {
    return this.state === 'up';
  }

  get supervisor(): JanusSupervisor {
    return this.opts.supervisor;
  }

  on(event: 'restarted' | 'down', fn: () => void): void {
    this.events.on(event, fn);
  }

  /** Starts Janus (embedded) or waits for it (external), then connects. */
  async start(): Promise<void> {
    if (this.state === 'closed') throw new Error('the media plane is closed');
    if (this.state === 'up') return;
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      if (!this.opts.supervisor.ready) await this.opts.supervisor.start();
      await this.connect();
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * False on Janus < 1.2.2: there a remote publisher that received any RTP is never freed
   * (an extra reference per packet, meetecho/janus-gateway#3345, fixed by 85f781de), so each
   * SIP leg with media leaves its two UDP sockets and its forwarding socket open until Janus
   * restarts.
   */
  get remotePublisherLeakFixed(): boolean {
    return this.janusVersion >= 1202;
  }

  /** The Janus room number behind a knude room. */
  janusRoomId(roomId: string): number {
    return janusRoomId(roomId);
  }

  /** The secret that guards a room's edit/destroy/kick (derived, never stored). */
  roomSecret(roomId: string): string {
    return createHmac('sha256', this.secretKey).update(`room:${roomId}`).digest('base64url').slice(0, 32);
  }

  private async connect(): Promise<void> {
    const sup = this.opts.supervisor;
    const client = await JanusClient.connect(sup.url, { apiSecret: sup.apiSecret, requestTimeoutMs: this.opts.requestTimeoutMs, log: this.log });
    try {
      const info = await client.info();
      this.janusVersion = Number(info.version) || 0;
      const session = await client.createSession();
      const [vrHandle, abHandle] = await Promise.all([session.attach(VIDEOROOM_PLUGIN), session.attach(AUDIOBRIDGE_PLUGIN)]);
      if (this.state === 'closed') throw new Error('the media plane was closed while connecting');
      this.client = client;
      this.control = { session, vr: new VideoRoomAdmin(vrHandle, this.opts.adminKey), ab: new AudioBridgeAdmin(abHandle, this.opts.adminKey) };
      const wasDown = this.state === 'down';
      this.state = 'up';
      this.reconnectDelay = 200;
      client.on('close', (e) => {
        if (this.client !== client) return;
        if (!e.expected) this.goDown(`Janus socket closed (${e.code})`);
      });
      session.on('lost', (e) => {
        if (this.control?.session !== session || e.reason === 'destroyed') return;
        this.goDown(`control session lost (${e.reason})`);
      });
      this.log.info({ url: sup.url, restarted: wasDown }, 'connected to Janus');
      if (wasDown) this.events.emit('restarted');
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
  }

  private goDown(why: string): void {
    if (this.state !== 'up') return;
    this.state = 'down';
    this.log.warn({ why, legs: this.legs.size }, 'media plane down');
    const client = this.client;
    this.client = undefined;
    this.control = undefined;
    void client?.close().catch(() => {});
    const admin = this.admin;
    this.admin = undefined;
    void admin?.close().catch(() => {});
    for (const leg of [...this.legs]) leg.mediaServerGone();
    for (const leg of [...this.sipLegs]) leg.mediaServerGone();
    for (const tap of [...this.taps.values()]) tap.end('media server gone');
    for (const w of this.watchers.values()) void w.then((x) => x.end('media server gone')).catch(() => {});
    this.taps.clear();
    this.watchers.clear();
    this.bridges.clear();
    this.events.emit('down');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state !== 'down' || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnectNow();
    }, delay);
    this.reconnectTimer.unref();
  }

  private reconnectNow(): void {
    if (this.state !== 'down' || this.connecting) return;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
    const sup = this.opts.supervisor;
    // An embedded Janus that is being restarted: its `ready` event brings us back.
    if (sup.embedded && !sup.ready) return;
    this.connecting = this.connect()
      .catch((err: Error) => {
        this.log.debug({ err: err.message }, 'reconnecting to Janus failed');
        this.scheduleReconnect();
      })
      .finally(() => {
        this.connecting = undefined;
      });
  }

  /** The control handles, starting the plane on first use. */
  private async up(): Promise<{ session: JanusSession; vr: VideoRoomAdmin; ab: AudioBridgeAdmin; client: JanusClient }> {
    if (this.state === 'idle') await this.start();
    else if (this.connecting) await this.connecting.catch(() => {});
    if (this.state !== 'up' || !this.control || !this.client) throw new JanusConnectionError(`the media server is ${this.state === 'closed' ? 'closed' : 'down'}`);
    return { ...this.control, client: this.client };
  }

  async ensureRoom(spec: MediaRoomSpec): Promise<void> {
    const { vr, ab } = await this.up();
    const room = janusRoomId(spec.roomId);
    const secret = this.roomSecret(spec.roomId);
    const description = (spec.description ?? spec.roomId).slice(0, 120);
    const max = Math.max(1, Math.floor(spec.maxParticipants));
    if (!(await vr.exists(room))) {
      try {
        await vr.create({
          room,
          description,
          secret,
          is_private: true,
          publishers: max,
          bitrate: this.room.bitrate,
          fir_freq: this.room.firFreq,
          videocodec: this.room.videocodec,
          audiocodec: this.room.audiocodec,
          audiolevel_ext: true,
          audiolevel_event: true,
          audio_active_packets: this.room.audioActivePackets,
          audio_level_average: this.room.audioLevelAverage,
          notify_joining: false,
          require_pvtid: false,
        });
        this.log.info({ room: spec.roomId, janusRoom: room }, 'VideoRoom created');
      } catch (err) {
        if (!(err instanceof JanusError && err.code === VideoRoomError.ROOM_EXISTS)) throw err;
      }
    }
    if (!(await ab.exists(room))) {
      try {
        await ab.create({
          room,
          description,
          secret,
          is_private: true,
          sampling_rate: 48000,
          audiolevel_ext: true,
          audiolevel_event: true,
          audio_active_packets: this.room.audioActivePackets,
          audio_level_average: this.room.audioLevelAverage,
          allow_rtp_participants: true,
        });
        this.log.info({ room: spec.roomId, janusRoom: room }, 'AudioBridge created');
      } catch (err) {
        if (!(err instanceof JanusError && err.code === AudioBridgeError.ROOM_EXISTS)) throw err;
      }
    }
  }

  async destroyRoom(roomId: string): Promise<void> {
    const { vr, ab } = await this.up();
    const room = janusRoomId(roomId);
    const secret = this.roomSecret(roomId);
    // Forwarders and SIP legs first (their remote publishers would leak sockets), then the watcher.
    await this.taps.get(roomId)?.close();
    await Promise.allSettled([...this.sipLegs].filter((l) => l.roomId === roomId).map((l) => l.roomDestroyed()));
    await this.closeBridge(roomId);
    const watcher = this.watchers.get(roomId);
    this.watchers.delete(roomId);
    await watcher?.then((w) => w.close()).catch(() => {});
    const ignore = (...codes: number[]) => (err: unknown) => {
      if (err instanceof JanusError && codes.includes(err.code)) return;
      throw err;
    };
    // VideoRoom: remote publishers first (destroying a room leaks their sockets), then the rest.
    const noneIf =
      (code: number) =>
      (err: unknown): [] => {
        ignore(code)(err);
        return [];
      };
    // (Checking existence first keeps Janus from logging errors for rooms already gone.)
    let vrParticipants: Awaited<ReturnType<VideoRoomAdmin['listParticipants']>> = [];
    if (await vr.exists(room)) {
      vrParticipants = await vr.listParticipants(room).catch(noneIf(VideoRoomError.NO_SUCH_ROOM));
      for (const p of vrParticipants.filter((x) => x.remote)) await vr.removeRemotePublisher(room, p.id, secret).catch(ignore(VideoRoomError.NO_SUCH_FEED));
      for (const p of vrParticipants.filter((x) => !x.remote)) await vr.kick(room, p.id, secret).catch(ignore(VideoRoomError.NO_SUCH_FEED));
      await vr.destroy(room, secret).catch(ignore(VideoRoomError.NO_SUCH_ROOM));
    }
    let abParticipants: Awaited<ReturnType<AudioBridgeAdmin['listParticipants']>> = [];
    if (await ab.exists(room)) {
      abParticipants = await ab.listParticipants(room).catch(noneIf(AudioBridgeError.NO_SUCH_ROOM));
      for (const p of abParticipants) await ab.kick(room, p.id, secret).catch(ignore(AudioBridgeError.NO_SUCH_USER));
      await ab.destroy(room, secret).catch(ignore(AudioBridgeError.NO_SUCH_ROOM));
    }
    this.log.info({ room: roomId, janusRoom: room, kicked: vrParticipants.length + abParticipants.length }, 'media room destroyed');
  }

  async roomExists(roomId: string): Promise<boolean> {
    const { vr, ab } = await this.up();
    const room = janusRoomId(roomId);
    const [v, a] = await Promise.all([vr.exists(room), ab.exists(room)]);
    return v && a;
  }

  /** Both plugins' view of a room, for tests and the management view. */
  async roomState(roomId: string): Promise<{ videoroom: boolean; audiobridge: boolean; publishers: number }> {
    const { vr, ab } = await this.up();
    const room = janusRoomId(roomId);
    const [v, a] = await Promise.all([vr.exists(room), ab.exists(room)]);
    const publishers = v ? (await vr.listParticipants(room)).length : 0;
    return { videoroom: v, audiobridge: a, publishers };
  }

  /** The control VideoRoom/AudioBridge wrappers (for SIP legs: remote publishers, RTP participants). */
  async controlHandles(): Promise<{ videoroom: VideoRoomAdmin; audiobridge: AudioBridgeAdmin }> {
    const { vr, ab } = await this.up();
    return { videoroom: vr, audiobridge: ab };
  }

  async join(roomId: string, displayName: string): Promise<JanusBrowserLeg> {
    const { client } = await this.up();
    const leg = new JanusBrowserLeg(this, client, roomId, janusRoomId(roomId), displayName, this.log, this.opts.answerWaitMs ?? 15_000);
    await leg.init();
    this.legs.add(leg);
    return leg;
  }

  /** @internal */
  forget(leg: JanusBrowserLeg): void {
    this.legs.delete(leg);
  }

  /**
   * One SIP endpoint: an AudioBridge plain-RTP participant (mix to spec.audio.relayPort)
   * and a VideoRoom remote publisher; the room's browsers' audio starts flowing into the
   * AudioBridge with the room's first SIP leg.
   */
  async joinSip(roomId: string, displayName: string, spec: SipLegSpec): Promise<JanusSipLeg> {
    checkSipLegSpec(spec);
    const { client, vr } = await this.up();
    const room = janusRoomId(roomId);
    const leg = new JanusSipLeg(
      {
        videoroom: () => this.control?.vr,
        dropTapFeed: (r, feed) => this.taps.get(r)?.dropFeed(feed) ?? Promise.resolve(),
        forgetSip: (l) => this.forgetSip(l),
      },
      client,
      vr,
      roomId,
      room,
      this.roomSecret(roomId),
      displayName,
      spec,
      this.log,
    );
    await leg.init();
    this.sipLegs.add(leg);
    if (!this.remotePublisherLeakFixed && !this.leakWarned) {
      this.leakWarned = true;
      this.log.warn(
        { janusVersion: this.janusVersion },
        'this Janus leaks the UDP sockets of every SIP leg that sent media (remote publishers are never freed before Janus 1.2.2, bug #3345); restart Janus when idle or upgrade',
      );
    }
    this.log.info({ room: roomId, feed: leg.feedId, audio: spec.audio.codec, video: spec.video?.codec ?? 'none' }, 'SIP leg joined the media room');
    try {
      await this.bridgeFor(roomId);
      // Talking for the leg: the VideoRoom's events for its feed, seen by the room's watcher.
      const watcher = await this.watchers.get(roomId);
      if (watcher) {
        const onTalking = (t: Parameters<JanusSipLeg['talkingChanged']>[0] & { feedId: number }) => {
          if (t.feedId === leg.feedId) leg.talkingChanged(t);
        };
        watcher.on('talking', onTalking);
        // The watcher outlives the leg (it serves the room): take the listener off when the leg goes.
        this.sipLegCleanup.set(leg, () => watcher.off('talking', onTalking));
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, room: roomId }, "the room's browser audio cannot reach the AudioBridge");
    }
    return leg;
  }

  private forgetSip(leg: JanusSipLeg): void {
    this.sipLegCleanup.get(leg)?.();
    this.sipLegCleanup.delete(leg);
    if (!this.sipLegs.delete(leg)) return;
    if (![...this.sipLegs].some((l) => l.roomId === leg.roomId)) void this.closeBridge(leg.roomId);
  }

  /** The room's silent VideoRoom participant, shared by its tap and browser-audio bridge. */
  private watcherFor(roomId: string, client: JanusClient): Promise<RoomWatcher> {
    let w = this.watchers.get(roomId);
    if (!w) {
      const watcher = new RoomWatcher(client, janusRoomId(roomId), this.log);
      // One talking listener per SIP leg of the room (bounded by the room's size), removed as it leaves.
      watcher.setMaxListeners(0);
      w = watcher.start().then(() => {
        watcher.on('gone', () => {
          if (this.watchers.get(roomId) === w) this.watchers.delete(roomId);
        });
        return watcher;
      });
      this.watchers.set(roomId, w);
      w.catch(() => {
        if (this.watchers.get(roomId) === w) this.watchers.delete(roomId);
      });
    }
    return w;
  }

  private bridgeFor(roomId: string): Promise<BrowserAudioBridge | undefined> {
    let b = this.bridges.get(roomId);
    if (!b) {
      b = (async () => {
        const { client, vr } = await this.up();
        const watcher = await this.watcherFor(roomId, client);
        const bridge = new BrowserAudioBridge(client, janusRoomId(roomId), vr, this.roomSecret(roomId), watcher, this.log);
        await bridge.start();
        return bridge;
      })();
      this.bridges.set(roomId, b);
      b.catch(() => {
        if (this.bridges.get(roomId) === b) this.bridges.delete(roomId);
      });
    }
    return b;
  }

  private async closeBridge(roomId: string): Promise<void> {
    const b = this.bridges.get(roomId);
    if (!b) return;
    this.bridges.delete(roomId);
    await b.then((x) => x?.close()).catch(() => {});
  }

  /** @internal The browser-audio bridge of a room, when it has one (tests, management view). */
  async browserAudioBridge(roomId: string): Promise<BrowserAudioBridge | undefined> {
    return this.bridges.get(roomId)?.catch(() => undefined);
  }

  /**
   * The room's video tap to one fixed loopback target. One tap per room: asking again with
   * the same target returns it; another target is refused (forwarders cannot be re-targeted:
   * close the tap first).
   */
  async videoTap(roomId: string, target: VideoTapTarget): Promise<JanusVideoTap> {
    if (target?.host !== '127.0.0.1') throw new VideoTapError(`a video tap targets 127.0.0.1 only, not ${JSON.stringify(target?.host)}`);
    for (const p of [target.port, target.rtcpPort]) {
      if (p !== undefined && !(Number.isInteger(p) && p > 0 && p < 65536)) throw new VideoTapError(`invalid video tap port ${p}`);
    }
    const existing = this.taps.get(roomId);
    if (existing && !existing.closed) {
      const t = existing.target;
      if (t.port === target.port && t.rtcpPort === target.rtcpPort) return existing;
      throw new VideoTapError(`room ${roomId} already has a video tap to port ${t.port}; close it before tapping to ${target.port}`);
    }
    const { client, vr } = await this.up();
    const watcher = await this.watcherFor(roomId, client);
    const tap = new JanusVideoTap(roomId, janusRoomId(roomId), { ...target }, vr, this.roomSecret(roomId), watcher, this.log, (t) => {
      if (this.taps.get(roomId) === t) this.taps.delete(roomId);
    });
    this.taps.set(roomId, tap);
    try {
      await tap.start();
    } catch (err) {
      await tap.close().catch(() => {});
      throw err;
    }
    return tap;
  }

  /** Admin API handle_info's WebRTC part (ICE and DTLS state, the negotiated SRTP profile). */
  async handleInfo(sessionId: number, handleId: number): Promise<HandleInfo | undefined> {
    const admin = await this.adminClient();
    if (!admin) return undefined;
    return admin.handleInfo(sessionId, handleId);
  }

  private adminClient(): Promise<JanusAdminClient | undefined> {
    if (this.admin?.connected) return Promise.resolve(this.admin);
    const sup = this.opts.supervisor;
    if (!sup.adminUrl || !sup.adminSecret || this.state !== 'up') return Promise.resolve(undefined);
    this.adminConnecting ??= JanusAdminClient.connect(sup.adminUrl, sup.adminSecret, { log: this.log })
      .then((a) => {
        this.admin = a;
        return a;
      })
      .finally(() => {
        this.adminConnecting = undefined;
      });
    return this.adminConnecting;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await Promise.allSettled([...this.legs].map((l) => withTimeout(l.leave(), 2000)));
    await Promise.allSettled([...this.taps.values()].map((t) => withTimeout(t.close(), 2000)));
    await Promise.allSettled([...this.sipLegs].map((l) => withTimeout(l.leave(), 2000)));
    await this.control?.session.destroy().catch(() => {});
    await this.client?.close().catch(() => {});
    await this.admin?.close().catch(() => {});
    this.client = undefined;
    this.control = undefined;
    this.admin = undefined;
    if (this.opts.ownsSupervisor !== false) await this.opts.supervisor.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

type LegEvent = 'feeds-changed' | 'talking' | 'stopped-talking' | 'webrtcup' | 'hangup' | 'srtp-profile';

interface Feed {
  id: number;
  display: string;
  streams: Array<{ mid: string; type: 'audio' | 'video' | 'data'; disabled?: boolean }>;
}

interface ActiveStream {
  mid: string;
  feedId: number;
  display: string;
  kind: 'audio' | 'video';
  feedMid?: string;
}

/** One browser: a publisher handle and a multistream subscriber handle in their own session. */
export class JanusBrowserLeg implements BrowserLeg {
  private readonly events = new EventEmitter();
  private session!: JanusSession;
  private pub!: VideoRoomPublisher;
  private sub!: VideoRoomSubscriber;
  private id = 0;
  private privateId = 0;
  private readonly feeds = new Map<number, Feed>();
  private ownMids: Record<'audio' | 'video', string[]> = { audio: [], video: [] };
  private readonly muted: Record<'audio' | 'video', boolean> = { audio: false, video: false };
  private published = false;
  private subJoined = false;
  private subStreams: ActiveStream[] = [];
  private awaitingAnswer = false;
  private answerWaiters: Array<() => void> = [];
  private storedOffer: { sdp: string; streams?: SubscriberStream[] } | undefined;
  private postponedWaiter: ((u: SubscriptionUpdate) => void) | undefined;
  private subChain: Promise<unknown> = Promise.resolve();
  private ended = false;
  private srtp: string | undefined;

  constructor(
    private readonly plane: JanusMediaPlane,
    private readonly client: JanusClient,
    readonly roomId: string,
    readonly janusRoom: number,
    readonly displayName: string,
    private readonly log: Logger,
    private readonly answerWaitMs: number,
  ) {
    this.events.on('error', () => {});
  }

  get feedId(): number {
    return this.id;
  }

  /** The Janus session and handle ids (for the Admin API). */
  get ids(): { session: number; publisher: number; subscriber: number } {
    return { session: this.session.id, publisher: this.pub.handle.id, subscriber: this.sub.handle.id };
  }

  /** The other publishers this leg knows of. */
  get knownFeeds(): Array<{ id: number; display: string }> {
    return [...this.feeds.values()].map((f) => ({ id: f.id, display: f.display }));
  }

  /** The SRTP profile DTLS negotiated for the publisher, once known. */
  get srtpProfile(): string | undefined {
    return this.srtp;
  }

  /** @internal */
  async init(): Promise<void> {
    this.session = await this.client.createSession();
    try {
      const [p, s] = await Promise.all([this.session.attach(VIDEOROOM_PLUGIN), this.session.attach(VIDEOROOM_PLUGIN)]);
      this.pub = new VideoRoomPublisher(p);
      this.sub = new VideoRoomSubscriber(s);
      p.on('event', (e) => this.onPublisherEvent(e));
      s.on('event', (e) => this.onSubscriberEvent(e));
      p.on('webrtcup', () => {
        this.emit('webrtcup', { target: 'publisher' });
        void this.querySrtpProfile();
      });
      s.on('webrtcup', () => this.emit('webrtcup', { target: 'subscriber' }));
      p.on('hangup', (e) => this.emitHangup('publisher', e.reason));
      s.on('hangup', (e) => this.emitHangup('subscriber', e.reason));
      this.session.on('lost', (e) => {
        if (e.reason !== 'destroyed') this.mediaServerGone();
      });
      const joined = await this.pub.join(this.janusRoom, { display: this.displayName });
      this.id = joined.id;
      this.privateId = joined.private_id;
      for (const pi of joined.publishers) this.upsertFeed(pi);
    } catch (err) {
      this.ended = true;
      await this.session.destroy().catch(() => {});
      throw err;
    }
  }

  on(event: LegEvent, fn: (data?: unknown) => void): void {
    this.events.on(event, fn);
  }

  private emit(event: LegEvent, data?: unknown): void {
    if (this.ended && event !== 'hangup') return;
    this.events.emit(event, data);
  }

  private emitHangup(target: 'publisher' | 'subscriber' | 'room', reason: string): void {
    if (this.ended) return;
    this.events.emit('hangup', { target, reason });
  }

  /** @internal The media server went away: this leg is over. */
  mediaServerGone(): void {
    if (this.ended) return;
    this.emitHangup('room', 'media server gone');
    this.ended = true;
    this.wakeAnswerWaiters();
    this.plane.forget(this);
  }

  private upsertFeed(pi: PublisherInfo): boolean {
    if (pi.id === this.id || pi.dummy) return false;
    const streams = (pi.streams ?? []).map((s) => ({ mid: String(s.mid), type: s.type, ...(s.disabled ? { disabled: true } : {}) }));
    const before = this.feeds.get(pi.id);
    const feed: Feed = { id: pi.id, display: pi.display ?? '', streams };
    this.feeds.set(pi.id, feed);
    return !before || JSON.stringify(before) !== JSON.stringify(feed);
  }

  private onPublisherEvent(e: PluginEvent): void {
    const d = e.data;
    switch (d.videoroom) {
      case 'talking':
      case 'stopped-talking':
        this.emit(d.videoroom, { feedId: Number(d.id), level: d['audio-level-dBov-avg'] });
        return;
      case 'destroyed':
        this.emitHangup('room', 'room destroyed');
        return;
      case 'event': {
        let changed = false;
        if (Array.isArray(d.publishers)) for (const pi of d.publishers as PublisherInfo[]) changed = this.upsertFeed(pi) || changed;
        for (const key of ['unpublished', 'leaving'] as const) {
          const v = d[key];
          if (v === undefined || v === 'ok') continue;
          if (this.feeds.delete(Number(v))) changed = true;
        }
        // Our own participant was thrown out ({leaving: 'ok', reason: 'kicked'} in 1.1.x).
        if ((d.leaving === 'ok' && d.reason === 'kicked') || (d.kicked !== undefined && Number(d.kicked) === this.id)) this.emitHangup('room', 'kicked');
        if (changed) this.emit('feeds-changed', { feeds: this.knownFeeds });
        return;
      }
      default:
        return;
    }
  }

  private onSubscriberEvent(e: PluginEvent): void {
    const d = e.data;
    // A postponed renegotiation's offer (we asked while the previous offer was unanswered).
    if (d.videoroom === 'updated' && e.jsep?.type === 'offer') {
      const update: SubscriptionUpdate = { postponed: false, offer: e.jsep, ...(d.streams ? { streams: d.streams as SubscriberStream[] } : {}) };
      if (this.postponedWaiter) {
        const w = this.postponedWaiter;
        this.postponedWaiter = undefined;
        w(update);
      } else {
        this.storedOffer = { sdp: e.jsep.sdp, ...(update.streams ? { streams: update.streams } : {}) };
        this.emit('feeds-changed', { feeds: this.knownFeeds });
      }
    }
  }

  private async querySrtpProfile(): Promise<void> {
    try {
      const info = await this.plane.handleInfo(this.session.id, this.pub.handle.id);
      const profile = info?.webrtc?.dtls?.['srtp-profile'];
      if (profile && profile !== 'none') {
        this.srtp = profile;
        this.emit('srtp-profile', profile);
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'handle_info for the SRTP profile failed');
    }
  }

  private live(): void {
    if (this.ended) throw new JanusConnectionError('this media leg has ended');
  }

  async publish(offer: { type: 'offer'; sdp: string }): Promise<{ type: 'answer'; sdp: string }> {
    this.live();
    const mids: Record<'audio' | 'video', string[]> = { audio: [], video: [] };
    for (const m of sdpTransform.parse(offer.sdp).media ?? []) {
      if ((m.type === 'audio' || m.type === 'video') && m.mid !== undefined) mids[m.type].push(String(m.mid));
    }
    this.ownMids = mids;
    const jsep = { type: 'offer' as const, sdp: offer.sdp };
    const answer = this.published ? await this.pub.configure({}, jsep) : await this.pub.publish(jsep, { audiocodec: 'opus' });
    if (!answer || answer.type !== 'answer') throw new JanusError(VideoRoomError.UNKNOWN_ERROR, 'Janus gave no answer to the publisher offer', VIDEOROOM_PLUGIN);
    const first = !this.published;
    this.published = true;
    // A mute asked for before publishing applies now.
    if (first && (this.muted.audio || this.muted.video)) {
      const streams = (['audio', 'video'] as const).flatMap((k) => (this.muted[k] ? this.ownMids[k].map((mid) => ({ mid, send: false })) : []));
      if (streams.length) await this.pub.configure({ streams });
    }
    return { type: 'answer', sdp: answer.sdp };
  }

  /** Runs subscriber operations one after another. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.subChain.then(fn, fn);
    this.subChain = run.catch(() => {});
    return run;
  }

  private wakeAnswerWaiters(): void {
    const ws = this.answerWaiters;
    this.answerWaiters = [];
    for (const w of ws) w();
  }

  private waitForAnswer(): Promise<void> {
    if (!this.awaitingAnswer) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.answerWaiters = this.answerWaiters.filter((w) => w !== done);
        resolve();
      }, this.answerWaitMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.answerWaiters.push(done);
    });
  }

  private waitForPostponed(): Promise<SubscriptionUpdate> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        if (this.postponedWaiter === done) this.postponedWaiter = undefined;
        resolve({ postponed: true });
      }, this.answerWaitMs);
      const done = (u: SubscriptionUpdate) => {
        clearTimeout(t);
        resolve(u);
      };
      this.postponedWaiter = done;
    });
  }

  private setStreams(streams: SubscriberStream[]): void {
    this.subStreams = streams
      .filter((s) => s.active !== false && s.feed_id !== undefined && (s.type === 'audio' || s.type === 'video'))
      .map((s) => ({
        mid: String(s.mid),
        feedId: Number(s.feed_id),
        display: s.feed_display ?? this.feeds.get(Number(s.feed_id))?.display ?? '',
        kind: s.type as 'audio' | 'video',
        ...(s.feed_mid !== undefined ? { feedMid: String(s.feed_mid) } : {}),
      }));
  }

  private offer(sdp: string): SubscriberOffer {
    this.awaitingAnswer = true;
    return { type: 'offer', sdp, streams: this.subStreams.map(({ mid, feedId, display, kind }) => ({ mid, feedId, display, kind })) };
  }

  subscriberOffer(): Promise<SubscriberOffer | undefined> {
    return this.serial(async () => {
      this.live();
      await this.waitForAnswer();
      this.live();
      if (this.storedOffer) {
        const stored = this.storedOffer;
        this.storedOffer = undefined;
        if (stored.streams) this.setStreams(stored.streams);
        return this.offer(stored.sdp);
      }
      // What to receive: every audio/video stream of every other publisher.
      const wanted = new Map<number, string[]>();
      for (const f of this.feeds.values()) {
        const mids = f.streams.filter((s) => (s.type === 'audio' || s.type === 'video') && !s.disabled).map((s) => s.mid);
        if (mids.length) wanted.set(f.id, mids);
      }
      const have = new Set(this.subStreams.map((s) => s.feedId));
      const add = [...wanted.keys()].filter((id) => !have.has(id));
      const remove = [...have].filter((id) => !wanted.has(id));
      const specs = (ids: number[]) => ids.flatMap((feed) => wanted.get(feed)!.map((mid) => ({ feed, mid })));
      if (!this.subJoined) {
        if (add.length === 0) return undefined;
        const res = await this.sub.join(this.janusRoom, specs(add), { private_id: this.privateId, autoupdate: false, use_msid: false });
        this.subJoined = true;
        this.setStreams(res.streams);
        return res.offer ? this.offer(res.offer.sdp) : undefined;
      }
      if (add.length === 0 && remove.length === 0) return undefined;
      let res = await this.sub.update({ subscribe: specs(add), unsubscribe: remove.map((feed) => ({ feed })) });
      if (res.postponed) res = await this.waitForPostponed();
      if (res.streams) this.setStreams(res.streams);
      else this.subStreams = this.subStreams.filter((s) => !remove.includes(s.feedId));
      return res.offer ? this.offer(res.offer.sdp) : undefined;
    });
  }

  async subscriberAnswer(answer: { type: 'answer'; sdp: string }): Promise<void> {
    this.live();
    try {
      await this.sub.start({ type: 'answer', sdp: answer.sdp });
    } finally {
      this.awaitingAnswer = false;
      this.wakeAnswerWaiters();
    }
  }

  async trickle(target: 'publisher' | 'subscriber', candidate: RTCIceCandidateInit | null): Promise<void> {
    this.live();
    if (target === 'subscriber' && !this.subJoined) return;
    const handle: JanusHandle = target === 'publisher' ? this.pub.handle : this.sub.handle;
    await handle.trickle(candidate && candidate.candidate ? candidate : null);
  }

  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    this.live();
    this.muted[kind] = muted;
    const mids = this.ownMids[kind];
    if (!this.published || mids.length === 0) return;
    await this.pub.configure({ streams: mids.map((mid) => ({ mid, send: !muted })) });
  }

  async leave(): Promise<void> {
    if (this.ended) {
      this.plane.forget(this);
      return;
    }
    this.ended = true;
    this.wakeAnswerWaiters();
    this.plane.forget(this);
    await withTimeout(this.session.destroy(), 3000).catch(() => {});
    this.events.removeAllListeners();
  }
}
