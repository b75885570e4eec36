/**
 * A silent participant in one VideoRoom: a publisher handle that joins and never publishes,
 * so Janus tells it about every publisher coming, changing and going (browsers and remote
 * publishers alike) and about talking/stopped-talking of every feed with audio levels.
 * The video tap and the browser-audio bridge of a room share one watcher.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { JanusClient, JanusSession, PluginEvent } from './client.js';
import { VIDEOROOM_PLUGIN, VideoRoomAdmin, VideoRoomPublisher, type PublisherInfo, type PublisherStream } from './videoroom.js';

export interface WatchedFeed {
  id: number;
  display: string;
  streams: PublisherStream[];
  /** A remote (plain-RTP) publisher, i.e. a SIP leg, rather than a WebRTC one. */
  remote: boolean;
}

type WatcherEvents = {
  /** A new feed, or a known feed whose streams changed. */
  feed: [WatchedFeed];
  'feed-gone': [number];
  talking: [{ feedId: number; talking: boolean; level?: number }];
  /** The watcher is over: room destroyed, session lost, or closed. */
  gone: [{ reason: string }];
};

export class RoomWatcher extends EventEmitter<WatcherEvents> {
  readonly feeds = new Map<number, WatchedFeed>();
  private session: JanusSession | undefined;
  private admin!: VideoRoomAdmin;
  private ended = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** Who holds this watcher (tap, audio bridge); it leaves when the last lets go. */
  private holders = 0;
  private ownId = 0;

  constructor(
    private readonly client: JanusClient,
    readonly janusRoom: number,
    private readonly log: Logger,
  ) {
    super();
  }

  get over(): boolean {
    return this.ended;
  }

  /** Joins the room; resolves once the current publishers are known (and announced). */
  async start(): Promise<void> {
    this.session = await this.client.createSession();
    try {
      const handle = await this.session.attach(VIDEOROOM_PLUGIN);
      this.admin = new VideoRoomAdmin(handle);
      handle.on('event', (e) => this.onEvent(e));
      this.session.on('lost', (e) => this.end(e.reason === 'destroyed' ? 'closed' : 'media server gone'));
      const joined = await new VideoRoomPublisher(handle).join(this.janusRoom, { display: 'knude:watcher' });
      this.ownId = joined.id;
      await this.serial(() => this.upsert(joined.publishers));
    } catch (err) {
      this.ended = true;
      await this.session.destroy().catch(() => {});
      throw err;
    }
  }

  hold(): void {
    this.holders++;
  }

  /** Lets go of the watcher; the last holder makes it leave. */
  async release(): Promise<void> {
    this.holders = Math.max(0, this.holders - 1);
    if (this.holders === 0) await this.close();
  }

  async close(): Promise<void> {
    const s = this.session;
    this.end('closed');
    await s?.destroy().catch(() => {});
  }

  /** @internal The media server went away. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('gone', { reason });
    this.removeAllListeners();
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: Error) => this.log.warn({ err: err.message, room: this.janusRoom }, 'room watcher update failed'));
    return run;
  }

  /** Learns which of the new feeds are remote publishers, then announces them. */
  private async upsert(list: PublisherInfo[]): Promise<void> {
    const fresh = list.filter((p) => p.id !== this.ownId && !p.dummy);
    if (fresh.length === 0 || this.ended) return;
    const remote = new Set<number>();
    const unknown = fresh.some((p) => !this.feeds.has(p.id));
    if (unknown) for (const p of await this.admin.listParticipants(this.janusRoom)) if (p.remote) remote.add(p.id);
    for (const p of fresh) {
      if (this.ended) return;
      const before = this.feeds.get(p.id);
      const feed: WatchedFeed = { id: p.id, display: p.display ?? '', streams: p.streams ?? [], remote: before?.remote ?? remote.has(p.id) };
      if (before && JSON.stringify(before) === JSON.stringify(feed)) continue;
      this.feeds.set(p.id, feed);
      this.emit('feed', feed);
    }
  }

  private onEvent(e: PluginEvent): void {
    if (this.ended) return;
    const d = e.data;
    switch (d.videoroom) {
      case 'talking':
      case 'stopped-talking': {
        const level = Number(d['audio-level-dBov-avg']);
        this.emit('talking', { feedId: Number(d.id), talking: d.videoroom === 'talking', ...(Number.isFinite(level) ? { level } : {}) });
        return;
      }
      case 'destroyed':
        this.end('room destroyed');
        return;
      case 'event': {
        if (Array.isArray(d.publishers)) void this.serial(() => this.upsert(d.publishers as PublisherInfo[]));
        for (const key of ['unpublished', 'leaving'] as const) {
          const v = d[key];
          if (v === undefined || v === 'ok') continue;
          const id = Number(v);
          void this.serial(async () => {
            if (this.feeds.delete(id)) this.emit('feed-gone', id);
          });
        }
        if ((d.leaving === 'ok' && d.reason === 'kicked') || (d.kicked !== undefined && Number(d.kicked) === this.ownId)) this.end('kicked');
        return;
      }
      default:
        return;
    }
  }
}
