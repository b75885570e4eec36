/**
 * Browser audio into a room's AudioBridge, so SIP endpoints hear the browsers: every WebRTC
 * publisher's audio stream is forwarded (VideoRoom `rtp_forward`, Opus) to its own
 * AudioBridge plain-RTP participant. That participant joins without `rtp.ip`/`port`, so
 * Janus binds a loopback socket, takes packets from anyone and sends no mix back (browsers
 * hear SIP endpoints through their remote publishers' audio in the VideoRoom instead).
 *
 * Remote publishers (SIP legs) are skipped: their audio reaches the AudioBridge directly.
 * A room has a bridge while it has SIP legs.
 */
import type { Logger } from 'pino';
import { AUDIOBRIDGE_PLUGIN, AudioBridgeParticipant } from './audiobridge.js';
import type { JanusClient, JanusHandle, JanusSession } from './client.js';
import type { RoomWatcher, WatchedFeed } from './room-watcher.js';
import type { VideoRoomAdmin } from './videoroom.js';

/** The payload type of the forwarded Opus (the forwarder rewrites it; the participant expects it). */
const OPUS_PT = 111;

interface Bridged {
  handle: JanusHandle;
  abId: number;
  mid: string;
  streamId: number;
}

export class BrowserAudioBridge {
  private session: JanusSession | undefined;
  private readonly bridged = new Map<number, Bridged>();
  private chain: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly client: JanusClient,
    readonly janusRoom: number,
    private readonly vr: VideoRoomAdmin,
    private readonly secret: string,
    private readonly watcher: RoomWatcher,
    private readonly log: Logger,
  ) {}

  /** AudioBridge participant ids of the bridged browsers, by feed. */
  get participants(): Map<number, number> {
    return new Map([...this.bridged].map(([feed, b]) => [feed, b.abId]));
  }

  async start(): Promise<void> {
    this.session = await this.client.createSession();
    this.watcher.hold();
    this.watcher.on('feed', (f) => void this.serial(() => this.add(f)));
    this.watcher.on('feed-gone', (id) => void this.serial(() => this.remove(id)));
    this.watcher.on('gone', () => this.end());
    for (const f of this.watcher.feeds.values()) await this.serial(() => this.add(f));
  }

  /** Resolves when the changes seen so far are applied (tests, orderly shutdown). */
  settled(): Promise<void> {
    return this.chain.then(() => {});
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: Error) => this.log.warn({ err: err.message, room: this.janusRoom }, 'browser audio bridge update failed'));
    return run;
  }

  private async add(feed: WatchedFeed): Promise<void> {
    if (this.ended || feed.remote || !this.session) return;
    const audio = feed.streams.find((s) => s.type === 'audio' && !s.disabled && String(s.codec ?? 'opus').toLowerCase() === 'opus');
    const have = this.bridged.get(feed.id);
    if (have && audio && have.mid === String(audio.mid)) return;
    if (have) await this.remove(feed.id);
    if (!audio) return;
    const handle = await this.session.attach(AUDIOBRIDGE_PLUGIN);
    try {
      const joined = await new AudioBridgeParticipant(handle).join(this.janusRoom, {
        display: feed.display,
        codec: 'opus',
        rtp: { payload_type: OPUS_PT } as never,
      });
      if (!joined.rtp) throw new Error('the AudioBridge gave no RTP port for a plain-RTP participant');
      const [fwd] = await this.vr.rtpForward({
        room: this.janusRoom,
        publisher_id: feed.id,
        secret: this.secret,
        host: joined.rtp.ip,
        streams: [{ mid: String(audio.mid), port: joined.rtp.port, pt: OPUS_PT }],
      });
      if (!fwd) throw new Error(`Janus created no audio forwarder for feed ${feed.id}`);
      this.bridged.set(feed.id, { handle, abId: joined.id, mid: String(audio.mid), streamId: Number(fwd.stream_id) });
    } catch (err) {
      await handle.detach().catch(() => {});
      throw err;
    }
  }

  /**
   * The browser left (its forwarders went with it) or changed its audio stream, or the
   * bridge closes: the forwarder stops (an error when it is gone already is fine) and the
   * AudioBridge participant leaves.
   */
  private async remove(feedId: number): Promise<void> {
    const b = this.bridged.get(feedId);
    if (!b) return;
    this.bridged.delete(feedId);
    if (this.watcher.feeds.has(feedId)) await this.vr.stopRtpForward(this.janusRoom, feedId, b.streamId, this.secret).catch(() => {});
    await b.handle.detach().catch(() => {});
  }

  private end(): void {
    this.ended = true;
    this.bridged.clear();
  }

  async close(): Promise<void> {
    if (this.ended) return;
    await this.serial(async () => {
      for (const id of [...this.bridged.keys()]) await this.remove(id);
    });
    this.ended = true;
    await this.session?.destroy().catch(() => {});
    await this.watcher.release();
  }
}
