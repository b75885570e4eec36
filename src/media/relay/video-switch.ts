/**
 * Voice-switched video for the SIP endpoints of one room. Janus forwards every publisher's
 * video (browsers and SIP remote publishers) to one loopback socket of ours (rtp_forward
 * cannot be re-targeted, so the socket lives as long as the room). Each SIP endpoint gets one
 * continuous stream: the most recent speaker other than itself, switched only at a keyframe
 * (asked for with a PLI at every switch) and rewritten so SSRC, sequence numbers and
 * timestamps never jump — endpoints see a single well-behaved sender.
 */
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isKeyframeStart, isRtcp, readRtpHeader, writeRtpFields } from './rtp.js';

export interface TapStream {
  feedId: number;
  ssrc: number;
  codec: string;
  display?: string;
}

/** One endpoint's picture changed to another participant, at a keyframe. */
export interface SwitchEvent {
  ownFeedId: number;
  feedId: number;
  display?: string;
  /** When the switch was decided and the keyframe asked for (ms since epoch). */
  requestedAt: number;
  /** When the keyframe arrived and the endpoint's stream changed over. */
  switchedAt: number;
}

export interface SwitchSubscriber {
  /** The endpoint's own feed: never shown to itself while someone else is there. */
  ownFeedId: number;
  /** The codec the endpoint negotiated (H264 or VP8): only such streams can be switched to it. */
  codec: string;
  send(packet: Buffer): void;
}

/** Minimum time on one speaker before switching again (no flapping on short interjections). */
const HOLD_MS = 1_500;
/** How often a keyframe is asked for again while a switch waits for one. */
const KEYFRAME_RETRY_MS = 1_000;
/** Timestamp step across a switch: one frame at 30 fps in the 90 kHz video clock. */
const TS_STEP = 3_000;

class Subscription {
  current: number | undefined;
  pending: number | undefined;
  private pendingAskedAt = 0;
  private pendingSince = 0;
  private switchedAt = 0;
  private seqDelta = 0;
  private tsDelta = 0;
  private lastSeq = (Math.random() * 0xffff) | 0;
  private lastTs = (Math.random() * 0xffffffff) >>> 0;
  private started = false;

  constructor(
    readonly sub: SwitchSubscriber,
    private readonly sw: RoomVideoSwitch,
  ) {}

  /** Re-evaluates who this endpoint should see; asks for a keyframe when that changes. */
  evaluate(now: number, force = false): void {
    const want = this.sw.choose(this.sub.ownFeedId, this.sub.codec);
    if (want === undefined) {
      this.pending = undefined;
      if (this.current !== undefined && !this.sw.hasFeed(this.current)) this.current = undefined;
      return;
    }
    if (want === this.current) {
      this.pending = undefined;
      return;
    }
    const currentGone = this.current === undefined || !this.sw.hasFeed(this.current);
    if (!force && !currentGone && now - this.switchedAt < HOLD_MS) return;
    if (this.pending !== want) {
      this.pending = want;
      this.pendingAskedAt = now;
      this.pendingSince = now;
      this.sw.requestKeyframe(want);
    } else if (now - this.pendingAskedAt > KEYFRAME_RETRY_MS) {
      this.pendingAskedAt = now;
      this.sw.requestKeyframe(want);
    }
  }

  /** One packet of feedId (a private copy, rewritten here). */
  offer(feedId: number, packet: Buffer, now: number): void {
    const h = readRtpHeader(packet);
    if (!h) return;
    if (feedId === this.pending && isKeyframeStart(this.sub.codec as 'H264' | 'VP8', packet.subarray(h.headerLength, h.headerLength + h.payloadLength))) {
      this.current = feedId;
      this.pending = undefined;
      this.switchedAt = now;
      this.sw.switched({ ownFeedId: this.sub.ownFeedId, feedId, display: this.sw.display(feedId), requestedAt: this.pendingSince, switchedAt: now });
      this.seqDelta = (this.lastSeq + 1 - h.sequence) & 0xffff;
      this.tsDelta = (this.lastTs + (this.started ? TS_STEP : 0) - h.timestamp) >>> 0;
      this.started = true;
    }
    if (feedId !== this.current) return;
    const seq = (h.sequence + this.seqDelta) & 0xffff;
    const ts = (h.timestamp + this.tsDelta) >>> 0;
    // Reordered packets keep their place; only the newest advances the continuation point.
    if (((seq - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = seq;
      this.lastTs = ts;
    }
    writeRtpFields(packet, { sequence: seq, timestamp: ts });
    this.sub.send(packet);
  }
}

export class RoomVideoSwitch extends EventEmitter<{ switched: [SwitchEvent] }> {
  private readonly streams = new Map<number, TapStream>();
  private readonly byFeed = new Map<number, TapStream>();
  /** Feed ids, most recent speaker first. */
  private speakers: number[] = [];
  private readonly subs = new Set<Subscription>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly keyframe: (feedId: number, ssrc: number) => void,
    private readonly log: Logger,
  ) {
    super();
    socket.on('message', (msg) => this.onPacket(msg));
    socket.on('error', (err) => log.warn({ err: err.message }, 'video switch socket error'));
    this.timer = setInterval(() => this.evaluateAll(false), 500);
    this.timer.unref();
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The forwarded streams now in the room (from the media plane's tap). */
  setStreams(list: TapStream[]): void {
    this.streams.clear();
    this.byFeed.clear();
    for (const s of list) {
      this.streams.set(s.ssrc >>> 0, s);
      this.byFeed.set(s.feedId, s);
    }
    this.speakers = this.speakers.filter((f) => this.byFeed.has(f));
    this.evaluateAll(false);
  }

  /** A participant started talking: they become the most recent speaker. */
  talking(feedId: number): void {
    this.speakers = [feedId, ...this.speakers.filter((f) => f !== feedId)];
    this.evaluateAll(false);
  }

  /** @internal A subscription switched: told to observers (tests, logs), never changes behaviour. */
  switched(e: SwitchEvent): void {
    this.log.debug(e, 'voice-switched video changed speaker');
    this.emit('switched', e);
  }

  display(feedId: number): string | undefined {
    return this.byFeed.get(feedId)?.display;
  }

  hasFeed(feedId: number): boolean {
    return this.byFeed.has(feedId);
  }

  /** The feed an endpoint should see: the latest speaker not itself, else anyone else with video. */
  choose(ownFeedId: number, codec: string): number | undefined {
    const ok = (f: number) => f !== ownFeedId && this.byFeed.get(f)?.codec.toUpperCase() === codec.toUpperCase();
    return this.speakers.find(ok) ?? [...this.byFeed.keys()].find(ok);
  }

  requestKeyframe(feedId: number): void {
    const s = this.byFeed.get(feedId);
    if (s) this.keyframe(feedId, s.ssrc);
  }

  subscribe(sub: SwitchSubscriber): { close(): void; current(): number | undefined; refresh(): void } {
    const s = new Subscription(sub, this);
    this.subs.add(s);
    s.evaluate(Date.now(), true);
    return {
      close: () => this.subs.delete(s),
      current: () => s.current,
      refresh: () => {
        // The endpoint lost its picture (PLI from it): a keyframe of what it sees now.
        if (s.current !== undefined) this.requestKeyframe(s.current);
      },
    };
  }

  private evaluateAll(force: boolean): void {
    const now = Date.now();
    for (const s of this.subs) s.evaluate(now, force);
  }

  private onPacket(msg: Buffer): void {
    if (this.closed || isRtcp(msg) || msg.length < 12) return;
    const stream = this.streams.get(msg.readUInt32BE(8));
    if (!stream) return;
    const now = Date.now();
    for (const s of this.subs) {
      if (s.current === stream.feedId || s.pending === stream.feedId) s.offer(stream.feedId, Buffer.from(msg), now);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.subs.clear();
    this.socket.close();
  }
}
