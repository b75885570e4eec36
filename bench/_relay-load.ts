/**
 * The load side of `npm run bench -- relay`, run as a child process (forked by bench/relay.ts)
 * so that generating and checking packets never takes CPU from the process being measured.
 *
 * Two modes, driven over the IPC channel (see the message types below):
 *  - `srtp`: per leg, a SIP endpoint (one socket for audio, one for video) and a stand-in for
 *    Janus (an AudioBridge socket and a remote-publisher socket). Endpoints send SRTP to the
 *    relay; the stand-in counts the plain RTP the relay delivers and echoes it as the room
 *    would: the leg's audio becomes its partner's mix (sent to the partner relay's Janus-side
 *    audio port), the leg's video goes to the room's video tap port with the tap SSRC of the
 *    leg's feed (what Janus rtp_forward does), and the room's switch sends it to the partner.
 *    Endpoints count what comes back and check every 16th packet with their relay's key.
 *    Every packet's delay is measured (send and arrival times on this process's clock, matched
 *    by sequence number; every packet carries its sequence number in its payload too, since the
 *    relay and the switch renumber what goes back to an endpoint by a constant shift, learnt
 *    from the packets that are checked): one relay pass on the way in, two on the way
 *    back (the leg's relay, then its partner's). A packet later than LATE_IN_MS / LATE_BACK_MS
 *    is counted late: a jitter buffer would have dropped it.
 *  - `plain`: per leg, a sender of the same packets as plain RTP to a Janus remote publisher
 *    and a sink for what Janus's rtp_forward delivers.
 * Packets of a round are built (and SRTP-protected) before the round starts, then sent on a
 * timer by their due time, so the round's sending costs only the send calls.
 */
import dgram from 'node:dgram';
import { SrtpContext, type SrtpKeyParams, type SrtpSuite } from '../src/media/srtp/index.js';

export interface WireKey {
  suite: SrtpSuite;
  masterKey: string;
  masterSalt: string;
}

/** One SRTP leg: where its relay listens, the four keys, and where the stand-in sends its media back. */
export interface SrtpLegInit {
  id: number;
  /** The other leg of its two-party room: what this endpoint gets back is the partner's media. */
  partner: number;
  /** The relay's endpoint-side RTP ports (rtcp-mux) and its Janus-side audio port. */
  relay: { audio: number; video: number; janusAudio: number };
  /** The partner leg's relay Janus-side audio port: this leg's audio is the partner's mix. */
  partnerJanusAudio: number;
  /** The room's video tap and the SSRC this leg's feed carries there. */
  tap: { port: number; ssrc: number };
  /** up: endpoint -> relay (the endpoint protects, the relay's rx); down: relay -> endpoint (the relay's tx, checked here). */
  keys: { audioUp: WireKey; videoUp: WireKey; audioDown: WireKey; videoDown: WireKey };
}

export interface PlainLegInit {
  id: number;
  /** The Janus remote publisher's port (audio SSRC 1000, video SSRC 1010). */
  target: number;
}

export type ToLoad =
  | { type: 'add-srtp'; legs: SrtpLegInit[] }
  | { type: 'add-plain'; legs: PlainLegInit[] }
  | { type: 'round'; ms: number; drainMs: number }
  | { type: 'close' };

export interface RoundCounts {
  /** Packets the endpoints / plain senders sent. */
  sentAudio: number;
  sentVideo: number;
  /** At the Janus stand-in (srtp) or the rtp_forward sinks (plain). */
  gotBridgeAudio: number;
  gotPublisherAudio: number;
  gotVideo: number;
  /** Echoed by the stand-in towards the relay (srtp only). */
  echoedAudio: number;
  echoedVideo: number;
  /** Received back by the endpoints (srtp only). */
  backAudio: number;
  backVideo: number;
  /** Of the packets above, those later than LATE_IN_MS (in) / LATE_BACK_MS (back), or not from this round. */
  lateBridgeAudio: number;
  latePublisherAudio: number;
  lateVideo: number;
  lateBackAudio: number;
  lateBackVideo: number;
  /** p99 delay (ms) of the packets that arrived: one relay pass in, two passes back. */
  inP99Ms: number;
  backP99Ms: number;
  verified: number;
  verifyFailed: number;
  /** Wall time of the sending, and how late the last packet went out (a saturated generator shows here). */
  sendMs: number;
  lateMs: number;
  cpuUs: number;
}

export type FromLoad =
  | { type: 'srtp-added'; ports: Array<{ id: number; audio: number; video: number; bridge: number; publisher: number }> }
  | { type: 'plain-added'; ports: Array<{ id: number; sink: number }> }
  | { type: 'counts'; counts: RoundCounts }
  | { type: 'error'; message: string };

export const AUDIO_PAYLOAD = 160;
export const VIDEO_PAYLOAD = 1_200;
export const AUDIO_PPS = 50;
/** 30 frames/s of 5 packets: ~150 packets/s, sent as frames are (back to back). */
export const VIDEO_FPS = 30;
export const VIDEO_PACKETS_PER_FRAME = 5;
/** A keyframe (IDR) every this many frames, and as the first frame of every round. */
const IDR_EVERY = 30;
const PUBLISHER_AUDIO_SSRC = 1000;
const PUBLISHER_VIDEO_SSRC = 1010;
const VERIFY_EVERY = 16;
/** The delay (ms) after which a packet counts as lost: one relay pass; two passes and the echo. */
export const LATE_IN_MS = 100;
export const LATE_BACK_MS = 200;

/** RTCP packet types 192-223 (RFC 5761 4): never RTP with the payload types used here. */
const isRtcp = (msg: Buffer) => msg[1]! >= 192 && msg[1]! <= 223;

const wireToKey = (k: WireKey): SrtpKeyParams => ({ suite: k.suite, masterKey: Buffer.from(k.masterKey, 'base64'), masterSalt: Buffer.from(k.masterSalt, 'base64') });

function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: '127.0.0.1', port: 0 }, () => {
      s.removeListener('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
  });
}

/** An RTP stream's running header state, continued across rounds. */
class RtpStream {
  /** When each sequence number of this round went out (performance.now()). */
  readonly sentAt = new Map<number, number>();
  seq = (Math.random() * 0xffff) | 0;
  ts = (Math.random() * 0xffffffff) >>> 0;
  constructor(
    readonly ssrc: number,
    readonly pt: number,
  ) {}

  packet(payload: Buffer, marker: boolean): Buffer {
    const p = Buffer.allocUnsafe(12 + payload.length);
    p[0] = 0x80;
    p[1] = (marker ? 0x80 : 0) | this.pt;
    p.writeUInt16BE(this.seq, 2);
    p.writeUInt32BE(this.ts, 4);
    p.writeUInt32BE(this.ssrc, 8);
    payload.copy(p, 12);
    this.seq = (this.seq + 1) & 0xffff;
    return p;
  }
}

const ulawPayload = Buffer.alloc(AUDIO_PAYLOAD, 0xd5); // quiet, non-silent G.711 µ-law
/** H.264 FU-A fragments of one frame: start/end bits, NAL type 5 (IDR) or 1. */
function videoPayload(first: boolean, last: boolean, idr: boolean): Buffer {
  const p = Buffer.alloc(VIDEO_PAYLOAD, 0x42);
  p[0] = 0x7c; // F=0, NRI=3, type 28 (FU-A)
  p[1] = (first ? 0x80 : 0) | (last ? 0x40 : 0) | (idr ? 5 : 1);
  return p;
}

interface Due {
  at: number;
  packet: Buffer;
  sock: dgram.Socket;
  port: number;
  kind: 'audio' | 'video';
  stream: RtpStream;
  seq: number;
}

/** One leg's senders: audio every 20 ms and a video frame every 1/30 s, each at a random phase. */
interface Sender {
  audioSock: dgram.Socket;
  videoSock: dgram.Socket;
  audioPort: number;
  videoPort: number;
  audio: RtpStream;
  video: RtpStream;
  audioPhase: number;
  videoPhase: number;
  frame: number;
  protectAudio?: SrtpContext;
  protectVideo?: SrtpContext;
}

function schedule(s: Sender, ms: number, out: Due[]): void {
  for (let t = s.audioPhase; t < ms; t += 1000 / AUDIO_PPS) {
    const seq = s.audio.seq;
    const payload = Buffer.from(ulawPayload);
    payload.writeUInt16BE(seq, 0);
    let p = s.audio.packet(payload, false);
    s.audio.ts = (s.audio.ts + AUDIO_PAYLOAD) >>> 0;
    if (s.protectAudio) p = s.protectAudio.protectRtp(p);
    out.push({ at: t, packet: p, sock: s.audioSock, port: s.audioPort, kind: 'audio', stream: s.audio, seq });
  }
  let firstOfRound = true;
  for (let t = s.videoPhase; t < ms; t += 1000 / VIDEO_FPS) {
    const idr = firstOfRound || s.frame % IDR_EVERY === 0;
    firstOfRound = false;
    for (let i = 0; i < VIDEO_PACKETS_PER_FRAME; i++) {
      const last = i === VIDEO_PACKETS_PER_FRAME - 1;
      const seq = s.video.seq;
      const payload = videoPayload(i === 0, last, idr);
      payload.writeUInt16BE(seq, 2);
      let p = s.video.packet(payload, last);
      if (s.protectVideo) p = s.protectVideo.protectRtp(p);
      out.push({ at: t, packet: p, sock: s.videoSock, port: s.videoPort, kind: 'video', stream: s.video, seq });
    }
    s.video.ts = (s.video.ts + 3000) >>> 0;
    s.frame++;
  }
}

const senders: Sender[] = [];
const byId = new Map<number, Sender>();
let inDelays: number[] = [];
let backDelays: number[] = [];

/** The packet's delay since its sender sent it (ms); undefined when it was not sent this round. */
function delay(stream: RtpStream | undefined, seq: number): number | undefined {
  const at = stream?.sentAt.get(seq);
  return at === undefined ? undefined : performance.now() - at;
}

/** Fixed header, CSRCs and header extension (the relay adds an RFC 6464 one to audio). */
function rtpHeaderLength(p: Buffer): number {
  let n = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) n += 4 + 4 * p.readUInt16BE(n + 2);
  return n;
}

function p99(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

/** Records a delay; true when the packet is late (or from an earlier round). */
function late(d: number | undefined, limit: number, into: number[]): boolean {
  if (d === undefined) return true;
  into.push(d);
  return d > limit;
}
const sockets: dgram.Socket[] = [];
const zero = (): RoundCounts => ({
  sentAudio: 0,
  sentVideo: 0,
  gotBridgeAudio: 0,
  gotPublisherAudio: 0,
  gotVideo: 0,
  echoedAudio: 0,
  echoedVideo: 0,
  backAudio: 0,
  backVideo: 0,
  lateBridgeAudio: 0,
  latePublisherAudio: 0,
  lateVideo: 0,
  lateBackAudio: 0,
  lateBackVideo: 0,
  inP99Ms: 0,
  backP99Ms: 0,
  verified: 0,
  verifyFailed: 0,
  sendMs: 0,
  lateMs: 0,
  cpuUs: 0,
});
let counts = zero();

async function addSrtp(legs: SrtpLegInit[]): Promise<FromLoad> {
  const ports: Array<{ id: number; audio: number; video: number; bridge: number; publisher: number }> = [];
  for (const leg of legs) {
    const [audio, video, bridge, publisher] = [await socket(), await socket(), await socket(), await socket()];
    sockets.push(audio, video, bridge, publisher);
    // What comes back to the endpoint: the partner's media, protected by this leg's relay.
    const checkAudio = new SrtpContext(wireToKey(leg.keys.audioDown));
    const checkVideo = new SrtpContext(wireToKey(leg.keys.videoDown));
    let na = 0;
    let nv = 0;
    /** The relay (and the switch) shift the sequence numbers sent back by a constant: learnt from checked packets. */
    let audioShift: number | undefined;
    let videoShift: number | undefined;
    const verify = (ctx: SrtpContext, msg: Buffer): Buffer | undefined => {
      try {
        const clear = ctx.unprotectRtp(msg);
        counts.verified++;
        return clear;
      } catch {
        counts.verifyFailed++;
        return undefined;
      }
    };
    const self: Sender = {
      audioSock: audio,
      videoSock: video,
      audioPort: leg.relay.audio,
      videoPort: leg.relay.video,
      audio: new RtpStream((Math.random() * 0xffffffff) >>> 0, 0),
      video: new RtpStream((Math.random() * 0xffffffff) >>> 0, 96),
      audioPhase: Math.random() * (1000 / AUDIO_PPS),
      videoPhase: Math.random() * (1000 / VIDEO_FPS),
      frame: 0,
      protectAudio: new SrtpContext(wireToKey(leg.keys.audioUp)),
      protectVideo: new SrtpContext(wireToKey(leg.keys.videoUp)),
    };
    senders.push(self);
    byId.set(leg.id, self);
    // SRTCP from the relay (sender reports every 5 s, rtcp-mux) is not media: not counted.
    audio.on('message', (msg) => {
      if (isRtcp(msg)) return;
      counts.backAudio++;
      const seq = msg.readUInt16BE(2);
      if (na++ % VERIFY_EVERY === 0) {
        const clear = verify(checkAudio, msg);
        if (clear) audioShift = (seq - clear.readUInt16BE(rtpHeaderLength(clear))) & 0xffff;
      }
      // The mix is the partner's audio.
      const d = audioShift === undefined ? undefined : delay(byId.get(leg.partner)?.audio, (seq - audioShift) & 0xffff);
      if (late(d, LATE_BACK_MS, backDelays)) counts.lateBackAudio++;
    });
    video.on('message', (msg) => {
      if (isRtcp(msg)) return;
      counts.backVideo++;
      const seq = msg.readUInt16BE(2);
      if (nv++ % VERIFY_EVERY === 0) {
        const clear = verify(checkVideo, msg);
        // After the FU indicator and header: the original sequence number.
        if (clear) videoShift = (seq - clear.readUInt16BE(rtpHeaderLength(clear) + 2)) & 0xffff;
      }
      const d = videoShift === undefined ? undefined : delay(byId.get(leg.partner)?.video, (seq - videoShift) & 0xffff);
      if (late(d, LATE_BACK_MS, backDelays)) counts.lateBackVideo++;
    });
    // The AudioBridge stand-in: this leg's audio is its partner's mix.
    bridge.on('message', (msg) => {
      counts.gotBridgeAudio++;
      if (late(delay(self.audio, msg.readUInt16BE(2)), LATE_IN_MS, inDelays)) counts.lateBridgeAudio++;
      counts.echoedAudio++;
      bridge.send(msg, leg.partnerJanusAudio, '127.0.0.1');
    });
    // The remote-publisher stand-in: audio is counted, video goes to the room's tap as rtp_forward would send it.
    publisher.on('message', (msg) => {
      if (msg.length < 12 || isRtcp(msg)) return;
      const ssrc = msg.readUInt32BE(8);
      const seq = msg.readUInt16BE(2);
      if (ssrc === PUBLISHER_AUDIO_SSRC) {
        counts.gotPublisherAudio++;
        if (late(delay(self.audio, seq), LATE_IN_MS, [])) counts.latePublisherAudio++;
      } else if (ssrc === PUBLISHER_VIDEO_SSRC) {
        counts.gotVideo++;
        if (late(delay(self.video, seq), LATE_IN_MS, inDelays)) counts.lateVideo++;
        counts.echoedVideo++;
        msg.writeUInt32BE(leg.tap.ssrc, 8);
        publisher.send(msg, leg.tap.port, '127.0.0.1');
      }
    });
    ports.push({ id: leg.id, audio: audio.address().port, video: video.address().port, bridge: bridge.address().port, publisher: publisher.address().port });
  }
  return { type: 'srtp-added', ports };
}

async function addPlain(legs: PlainLegInit[]): Promise<FromLoad> {
  const ports: Array<{ id: number; sink: number }> = [];
  for (const leg of legs) {
    const [send, sink] = [await socket(), await socket()];
    sockets.push(send, sink);
    sink.on('message', (msg) => {
      if (msg.length < 12 || isRtcp(msg)) return;
      // Janus rewrites the SSRC only when asked: the forwarded packets still carry the publisher's.
      if ((msg[1] & 0x7f) === 0) counts.gotPublisherAudio++;
      else counts.gotVideo++;
    });
    senders.push({
      audioSock: send,
      videoSock: send,
      audioPort: leg.target,
      videoPort: leg.target,
      audio: new RtpStream(PUBLISHER_AUDIO_SSRC, 0),
      video: new RtpStream(PUBLISHER_VIDEO_SSRC, 96),
      audioPhase: Math.random() * (1000 / AUDIO_PPS),
      videoPhase: Math.random() * (1000 / VIDEO_FPS),
      frame: 0,
    });
    ports.push({ id: leg.id, sink: sink.address().port });
  }
  return { type: 'plain-added', ports };
}

/** Builds the round's packets, then sends each at its due time; counts what arrived after a drain. */
async function round(ms: number, drainMs: number): Promise<FromLoad> {
  const due: Due[] = [];
  for (const s of senders) schedule(s, ms, due);
  due.sort((a, b) => a.at - b.at);
  for (const snd of senders) {
    snd.audio.sentAt.clear();
    snd.video.sentAt.clear();
  }
  counts = zero();
  inDelays = [];
  backDelays = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now() - start;
      while (next < due.length && due[next]!.at <= now) {
        const d = due[next++]!;
        d.stream.sentAt.set(d.seq, performance.now());
        d.sock.send(d.packet, d.port, '127.0.0.1');
        if (d.kind === 'audio') counts.sentAudio++;
        else counts.sentVideo++;
      }
      if (next >= due.length) {
        counts.lateMs = Math.max(0, now - due[due.length - 1]!.at);
        resolve();
      } else setTimeout(tick, 1);
    };
    tick();
  });
  counts.sendMs = performance.now() - start;
  await new Promise((r) => setTimeout(r, drainMs));
  const cpu = process.cpuUsage(cpu0);
  counts.cpuUs = cpu.user + cpu.system;
  counts.inP99Ms = p99(inDelays);
  counts.backP99Ms = p99(backDelays);
  return { type: 'counts', counts };
}

async function handle(m: ToLoad): Promise<FromLoad | undefined> {
  switch (m.type) {
    case 'add-srtp':
      return addSrtp(m.legs);
    case 'add-plain':
      return addPlain(m.legs);
    case 'round':
      return round(m.ms, m.drainMs);
    case 'close':
      for (const s of sockets) s.close();
      process.disconnect?.();
      return undefined;
  }
}

process.on('message', (m: ToLoad) => {
  handle(m).then(
    (reply) => reply && process.send?.(reply),
    (err: unknown) => process.send?.({ type: 'error', message: (err as Error).message } satisfies FromLoad),
  );
});
// The parent went away (crash, Ctrl-C): never outlive it.
process.on('disconnect', () => process.exit(0));
