/**
 * One voice-switched video source per room with SIP endpoints in it: the room's video tap
 * (Janus forwards every publisher to our loopback socket) and the switch that serves each
 * endpoint. Created with the first SIP video leg, closed with the last, so a room of browsers
 * alone costs no forwarders.
 */
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { MediaPlane, VideoTap } from '../plane.js';
import { loopbackSocket } from './ports.js';
import { buildPli } from './rtp.js';
import { RoomVideoSwitch, type SwitchEvent } from './video-switch.js';

interface Entry {
  ready: Promise<{ sw: RoomVideoSwitch; tap: VideoTap }>;
  users: number;
}

export class RoomVideoSwitches extends EventEmitter<{ switched: [SwitchEvent & { roomId: string }] }> {
  private readonly rooms = new Map<string, Entry>();

  constructor(
    private readonly media: MediaPlane,
    private readonly log: Logger,
  ) {
    super();
  }

  /** The room's switch, creating its tap on first use; pair every acquire with a release. */
  acquire(roomId: string): Promise<RoomVideoSwitch> {
    let e = this.rooms.get(roomId);
    if (!e) {
      e = { ready: this.open(roomId), users: 0 };
      this.rooms.set(roomId, e);
      e.ready.catch(() => this.rooms.delete(roomId));
    }
    e.users++;
    return e.ready.then((r) => r.sw);
  }

  async release(roomId: string): Promise<void> {
    const e = this.rooms.get(roomId);
    if (!e || --e.users > 0) return;
    this.rooms.delete(roomId);
    const r = await e.ready.catch(() => undefined);
    if (!r) return;
    r.sw.close();
    await r.tap.close().catch((err: Error) => this.log.debug({ err: err.message, roomId }, 'closing the video tap failed'));
  }

  private async open(roomId: string): Promise<{ sw: RoomVideoSwitch; tap: VideoTap }> {
    const rtp = await loopbackSocket();
    const rtcp = await loopbackSocket();
    // Janus's forwarders latch their RTCP peer from our port; PLIs go back to each forwarder's own port.
    rtcp.socket.on('message', () => {});
    rtcp.socket.on('error', () => {});
    let tap: VideoTap | undefined;
    const rtcpPorts = new Map<number, number>();
    const sw = new RoomVideoSwitch(
      rtp.socket,
      (feedId, ssrc) => {
        const port = rtcpPorts.get(feedId);
        if (port) rtcp.socket.send(buildPli(0x6b6e7564, ssrc), port, '127.0.0.1');
      },
      this.log,
    );
    sw.on('switched', (e) => this.emit('switched', { ...e, roomId }));
    const closeRtcp = (s: dgram.Socket) => {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    };
    try {
      tap = await this.media.videoTap(roomId, { host: '127.0.0.1', port: rtp.port, rtcpPort: rtcp.port });
    } catch (err) {
      sw.close();
      closeRtcp(rtcp.socket);
      throw err;
    }
    const onStreams = (list: VideoTap['streams']) => {
      rtcpPorts.clear();
      for (const s of list) if (s.rtcpPort) rtcpPorts.set(s.feedId, s.rtcpPort);
      sw.setStreams(list.map((s) => ({ feedId: s.feedId, ssrc: s.ssrc, codec: s.codec, display: s.display })));
    };
    tap.on('streams', onStreams);
    tap.on('talking', (e) => {
      this.log.debug({ roomId, feedId: e.feedId, talking: e.talking, level: e.level }, 'talking');
      if (e.talking) sw.talking(e.feedId);
    });
    onStreams(tap.streams);
    const origClose = sw.close.bind(sw);
    sw.close = () => {
      origClose();
      closeRtcp(rtcp.socket);
    };
    return { sw, tap };
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.rooms.keys()]) {
      const e = this.rooms.get(id)!;
      e.users = 1;
      await this.release(id);
    }
  }
}
