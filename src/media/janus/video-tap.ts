/**
 * A room's video tap: one VideoRoom `rtp_forward` per video publisher (browsers and SIP
 * remote publishers, now and as they come and go) to one fixed loopback port, each feed
 * with its own SSRC, so the SRTP relay can pick the active speaker's video for SIP
 * endpoints. Janus forwarders cannot be re-targeted, so the port is fixed for the tap's life.
 *
 * Keyframes: with `rtcpPort`, Janus binds an RTCP socket per forwarder (reported as the
 * stream's `rtcpPort`), sends two empty 12-byte RTP packets from it to the relay's RTCP
 * port (latching), and turns any PLI or FIR received on it into a keyframe request to the
 * publisher: a browser gets a PLI from Janus, a remote publisher (SIP leg) gets a PLI on its
 * latched RTCP address (at most one a second).
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { VideoTap, VideoTapStream, VideoTapTalking, VideoTapTarget } from '../plane.js';
import { JanusError, VideoRoomError } from './client.js';
import type { RoomWatcher, WatchedFeed } from './room-watcher.js';
import type { VideoRoomAdmin } from './videoroom.js';

/** Janus's own payload type per video codec (rtp.c): what the tap's packets carry. */
export const JANUS_VIDEO_PT: Record<string, number> = { vp8: 96, vp9: 101, h264: 107, av1: 98, h265: 100 };

/** A tap target knude cannot use (not loopback, bad port, a second target for a room). */
export class VideoTapError extends Error {
  override name = 'VideoTapError';
}

interface Forwarding extends VideoTapStream {
  streamId: number;
  mid: string;
}

type TapEvents = { streams: [VideoTapStream[]]; talking: [VideoTapTalking]; hangup: [{ reason: string }] };

export class JanusVideoTap implements VideoTap {
  private readonly events = new EventEmitter<TapEvents>();
  private readonly forwarding = new Map<number, Forwarding>();
  private chain: Promise<unknown> = Promise.resolve();
  private ended = false;
  private nextSsrc: number;

  constructor(
    readonly roomId: string,
    readonly janusRoom: number,
    readonly target: VideoTapTarget,
    private readonly vr: VideoRoomAdmin,
    private readonly secret: string,
    private readonly watcher: RoomWatcher,
    private readonly log: Logger,
    private readonly onClosed: (tap: JanusVideoTap) => void,
  ) {
    // Random base, stepping by one per feed; kept clear of the remote publishers' 1000.. range.
    this.nextSsrc = randomInt(0x1000_0000, 0x7000_0000);
  }

  get streams(): VideoTapStream[] {
    return [...this.forwarding.values()].map(({ feedId, ssrc, display, payloadType, codec, rtcpPort }) => ({
      feedId,
      ssrc,
      display,
      payloadType,
      codec,
      ...(rtcpPort !== undefined ? { rtcpPort } : {}),
    }));
  }

  get closed(): boolean {
    return this.ended;
  }

  on(event: 'streams', fn: (list: VideoTapStream[]) => void): void;
  on(event: 'talking', fn: (e: VideoTapTalking) => void): void;
  on(event: 'hangup', fn: (e: { reason: string }) => void): void;
  on(event: keyof TapEvents, fn: (arg: never) => void): void {
    this.events.on(event, fn as () => void);
  }

  /** @internal Forwards the feeds the watcher knows and follows it from now on. */
  async start(): Promise<void> {
    this.watcher.hold();
    this.watcher.on('feed', (f) => void this.serial(() => this.add(f)));
    this.watcher.on('feed-gone', (id) => void this.serial(async () => this.forgetFeed(id)));
    this.watcher.on('talking', (t) => {
      if (!this.ended) this.events.emit('talking', t);
    });
    this.watcher.on('gone', ({ reason }) => this.end(reason));
    for (const f of this.watcher.feeds.values()) await this.serial(() => this.add(f));
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: Error) => this.log.warn({ err: err.message, room: this.roomId }, 'video tap update failed'));
    return run;
  }

  private allocSsrc(): number {
    const used = new Set([...this.forwarding.values()].map((f) => f.ssrc));
    let s = this.nextSsrc++;
    while (used.has(s)) s = this.nextSsrc++;
    return s;
  }

  private async add(feed: WatchedFeed): Promise<void> {
    if (this.ended) return;
    const video = feed.streams.find((s) => s.type === 'video' && !s.disabled && s.codec);
    const have = this.forwarding.get(feed.id);
    if (have && video && have.mid === String(video.mid)) {
      if (have.display !== feed.display) {
        have.display = feed.display;
        this.announce();
      }
      return;
    }
    if (have) await this.stop(feed.id);
    if (!video) return;
    const codec = String(video.codec).toLowerCase();
    const payloadType = JANUS_VIDEO_PT[codec] ?? 96;
    const ssrc = this.allocSsrc();
    const [fwd] = await this.vr.rtpForward({
      room: this.janusRoom,
      publisher_id: feed.id,
      secret: this.secret,
      host: this.target.host,
      streams: [{ mid: String(video.mid), port: this.target.port, ssrc, pt: payloadType, ...(this.target.rtcpPort ? { rtcp_port: this.target.rtcpPort } : {}) }],
    });
    if (!fwd) {
      this.log.warn({ room: this.roomId, feed: feed.id, mid: video.mid }, 'Janus created no forwarder for the feed');
      return;
    }
    if (this.ended) {
      await this.vr.stopRtpForward(this.janusRoom, feed.id, fwd.stream_id, this.secret).catch(() => {});
      return;
    }
    this.forwarding.set(feed.id, {
      feedId: feed.id,
      ssrc,
      display: feed.display,
      payloadType,
      codec,
      ...(fwd.local_rtcp_port ? { rtcpPort: Number(fwd.local_rtcp_port) } : {}),
      streamId: Number(fwd.stream_id),
      mid: String(video.mid),
    });
    this.announce();
  }

  private announce(): void {
    if (!this.ended) this.events.emit('streams', this.streams);
  }

  /** The publisher left: Janus dropped its forwarders with it. */
  private forgetFeed(feedId: number): void {
    if (this.forwarding.delete(feedId)) this.announce();
  }

  private async stop(feedId: number): Promise<void> {
    const f = this.forwarding.get(feedId);
    if (!f) return;
    this.forwarding.delete(feedId);
    try {
      await this.vr.stopRtpForward(this.janusRoom, feedId, f.streamId, this.secret);
    } catch (err) {
      const gone = err instanceof JanusError && (err.code === VideoRoomError.NO_SUCH_FEED || err.code === VideoRoomError.NO_SUCH_ROOM);
      if (!gone) throw err;
    }
  }

  /** @internal Stops the forwarder of one feed before its publisher is removed. */
  dropFeed(feedId: number): Promise<void> {
    return this.serial(async () => {
      if (!this.forwarding.has(feedId)) return;
      await this.stop(feedId);
      this.announce();
    });
  }

  /** @internal The tap is over without our asking (room destroyed, media server gone). */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.forwarding.clear();
    this.onClosed(this);
    this.events.emit('hangup', { reason });
    this.events.removeAllListeners();
  }

  async close(): Promise<void> {
    if (this.ended) return;
    await this.serial(async () => {
      for (const id of [...this.forwarding.keys()]) await this.stop(id).catch(() => {});
    });
    this.ended = true;
    this.onClosed(this);
    this.events.removeAllListeners();
    await this.watcher.release();
  }
}
