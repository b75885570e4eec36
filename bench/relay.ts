/**
 * `npm run bench -- relay`: how many SIP legs with SRTP audio and video knude's relay carries
 * on this machine before more than 1 % of the packets are lost, and its CPU cost per packet.
 *
 * A leg is what a SIP video endpoint in a room costs the relay, both ways: G.711 audio, 50
 * packets/s of 160 bytes, and H.264 video, 30 frames/s of 5 packets of 1,200 bytes (150
 * packets/s), AES_CM_128_HMAC_SHA1_80. What is measured is the real relay path of a room call
 * (src/sip/app/room-call.ts), in this process and nothing else:
 *   endpoint --SRTP--> SipLegRelay (unprotect, RFC 6464 level added, SSRC rewrite) --RTP--> "Janus"
 *   "Janus" --RTP--> SipLegRelay (protect) --SRTP--> endpoint                          (audio mix)
 *   "Janus" rtp_forward --RTP--> RoomVideoSwitch (seq/ts rewrite) --> SipLegRelay (protect) --SRTP--> endpoint
 * Sockets come from a UdpPortRange on 127.0.0.1. Legs are paired in two-party rooms. The
 * endpoints and the Janus stand-in live in a child process (bench/_relay-load.ts), so the
 * load generator runs on the other core: the stand-in counts what the relay delivers and
 * sends it back as the room would (a leg's audio is its partner's mix; its video goes to the
 * room's tap port as Janus's rtp_forward sends it, and the switch passes it to the partner).
 * The endpoints count what comes back and check every 16th packet with the right key.
 *
 * Steps of more and more legs; each step has a warm-up round and ROUNDS rounds of ROUND_MS
 * (then a 300 ms drain), reported as medians. Per step: legs, packets/s into the relay (SRTP
 * from endpoints + RTP from "Janus"), packets/s delivered out of it (each endpoint audio packet
 * goes to Janus twice: AudioBridge and remote publisher), loss % of the worst of the five
 * streams (endpoint audio to the AudioBridge, to the remote publisher, endpoint video, the mix
 * back, the switched video back), relay CPU % of one core (process.cpuUsage from the round's
 * start to its counts, ÷ its sending time: above 100 the relay worked off a backlog after the
 * senders stopped), µs of relay CPU per packet in, and the p99 delay of the packets in (one
 * relay pass) and back (two passes). A packet that arrives more than LATE_IN_MS (in) or
 * LATE_BACK_MS (back) after it was sent counts as lost, as a jitter buffer would drop it, so a
 * saturated relay cannot pass a step by queueing in socket buffers. The ladder stops after
 * two steps in a row over 1 % loss; the headline is the highest step at or under 1 % (target:
 * at least 100 legs).
 *
 * Baseline, in the same run: a real embedded Janus carrying the same packets unencrypted, at
 * the relay's best leg count — each leg a VideoRoom remote publisher (audio + video) whose
 * streams Janus's own rtp_forward sends to a sink in the child; Janus's CPU from /proc.
 *
 * ratio = Janus CPU µs per packet (plain rtp_forward) ÷ knude relay CPU µs per packet (SRTP
 * relay), both at the relay's best leg count: 1.0 means the relay's crypto and rewriting
 * cost no more per packet than Janus's plain forwarding; below 1 is the price of SRTP.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { janusRoomId, JanusMediaPlane } from '../src/media/janus/media-plane.js';
import { JanusSupervisor } from '../src/media/janus/process.js';
import { SipLegRelay } from '../src/media/relay/leg-relay.js';
import { loopbackSocket, UdpPortRange } from '../src/media/relay/ports.js';
import { RoomVideoSwitch } from '../src/media/relay/video-switch.js';
import { generateKeyParams, type SrtpKeyParams } from '../src/media/srtp/index.js';
import { freePort } from '../test/helpers/ports.js';
import { LATE_BACK_MS, LATE_IN_MS, type FromLoad, type PlainLegInit, type RoundCounts, type SrtpLegInit, type ToLoad, type WireKey } from './_relay-load.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const STEPS = (process.env.BENCH_RELAY_STEPS ?? '10,26,50,76,90,100,126,150,200').split(',').map(Number);
const ROUNDS = 5;
const ROUND_MS = 1_000;
const WARMUP_MS = 700;
const DRAIN_MS = 300;
const MAX_LOSS = 0.01;
/** Hard bound of the whole bench: no new step starts after this. */
const BUDGET_MS = 150_000;
const SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;
const log = pino({ level: 'silent' });

/** The load child: request/answer over IPC, one request at a time. */
class LoadProcess {
  private readonly child: ChildProcess;
  private waiting: { resolve: (m: FromLoad) => void; reject: (e: Error) => void } | undefined;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./_relay-load.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromLoad) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (m.type === 'error') w?.reject(new Error(`load process: ${m.message}`));
      else w?.resolve(m);
    });
    this.child.on('exit', (code) => this.waiting?.reject(new Error(`load process exited (${code})`)));
  }

  ask<T extends FromLoad['type']>(m: ToLoad, answer: T): Promise<Extract<FromLoad, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting = {
        resolve: (r) => (r.type === answer ? resolve(r as Extract<FromLoad, { type: T }>) : reject(new Error(`load process answered ${r.type}, not ${answer}`))),
        reject,
      };
      this.child.send(m);
    });
  }

  close(): void {
    if (this.child.connected) this.child.send({ type: 'close' } satisfies ToLoad);
    setTimeout(() => this.child.kill(), 500).unref();
  }
}

const wire = (k: SrtpKeyParams): WireKey => ({ suite: k.suite, masterKey: k.masterKey.toString('base64'), masterSalt: k.masterSalt.toString('base64') });

interface Leg {
  relay: SipLegRelay;
  up: { audio: SrtpKeyParams; video: SrtpKeyParams };
  down: { audio: SrtpKeyParams; video: SrtpKeyParams };
}

interface Room {
  sw: RoomVideoSwitch;
  legs: [Leg, Leg];
  subs: Array<{ close(): void }>;
}

interface StepRow {
  legs: number;
  inPps: number;
  outPps: number;
  loss: number;
  cpuPct: number;
  usPerPacket: number;
  /** p99 delay (ms) of the packets in (one relay pass) and back (two relay passes); NaN when not measured. */
  inP99Ms: number;
  backP99Ms: number;
  loadCpuPct: number;
}

/** Adds one two-party room (two legs) to the relay process and the load child. */
async function addRoom(ports: UdpPortRange, load: LoadProcess, firstId: number): Promise<Room> {
  const key = (): SrtpKeyParams => ({ suite: SUITE, ...generateKeyParams(SUITE) });
  const keys = () => ({ audio: key(), video: key() });
  const legs = [0, 1].map(() => ({ up: keys(), down: keys() }));
  const relays = [
    await SipLegRelay.allocate({ ports, video: true, log, mediaTimeoutMs: 600_000 }),
    await SipLegRelay.allocate({ ports, video: true, log, mediaTimeoutMs: 600_000 }),
  ];
  const tap = await loopbackSocket();
  const sw = new RoomVideoSwitch(tap.socket, () => {}, log);
  const tapSsrc = [0x5000_0000 + firstId, 0x5000_0000 + firstId + 1];
  sw.setStreams([0, 1].map((i) => ({ feedId: firstId + i, ssrc: tapSsrc[i]!, codec: 'h264' })));
  const inits: SrtpLegInit[] = [0, 1].map((i) => {
    const r = relays[i]!.localPorts;
    return {
      id: firstId + i,
      partner: firstId + 1 - i,
      relay: { audio: r.audio.rtpPort, video: r.video!.rtpPort, janusAudio: relays[i]!.janusAudio.port },
      partnerJanusAudio: relays[1 - i]!.janusAudio.port,
      tap: { port: tap.port, ssrc: tapSsrc[i]! },
      // What the endpoint receives is protected by its own relay with that relay's tx key.
      keys: { audioUp: wire(legs[i]!.up.audio), videoUp: wire(legs[i]!.up.video), audioDown: wire(legs[i]!.down.audio), videoDown: wire(legs[i]!.down.video) },
    };
  });
  const { ports: child } = await load.ask({ type: 'add-srtp', legs: inits }, 'srtp-added');
  const room: Room = { sw, legs: [0, 1].map((i) => ({ relay: relays[i]!, ...legs[i]! })) as [Leg, Leg], subs: [] };
  for (const i of [0, 1]) {
    const c = child[i]!;
    const leg = room.legs[i]!;
    const remote = (port: number) => ({ address: '127.0.0.1', rtpPort: port, rtcpPort: port, rtcpMux: true });
    leg.relay.configure(
      {
        audio: { codec: 'PCMU', clockRate: 8000, payloadType: 0, telephoneEventPayloadType: 101, remote: remote(c.audio), rx: leg.up.audio, tx: leg.down.audio, direction: 'sendrecv' },
        video: { codec: 'H264', clockRate: 90000, payloadType: 96, remote: remote(c.video), rx: leg.up.video, tx: leg.down.video, direction: 'sendrecv', fir: true },
      },
      {
        audio: { host: '127.0.0.1', port: c.bridge },
        publisherAudio: { host: '127.0.0.1', port: c.publisher, ssrc: 1000 },
        video: { host: '127.0.0.1', port: c.publisher, ssrc: 1010 },
        audioLevelExtId: 1,
      },
    );
    room.subs.push(sw.subscribe({ ownFeedId: firstId + i, codec: 'H264', send: (p) => leg.relay.sendVideo(p) }));
  }
  return room;
}

/**
 * Packets into the relay and out of it for one round of the SRTP case; the loss is that of the
 * worst of the five streams the relay carries (a video stream losing 2 % is not saved by
 * audio losing none): endpoint audio to the AudioBridge and to the remote publisher, endpoint
 * video to the remote publisher, the mix back, the switched video back.
 */
function relayRound(c: RoundCounts, cpuUs: number): Omit<StepRow, 'legs'> {
  const packetsIn = c.sentAudio + c.sentVideo + c.echoedAudio + c.echoedVideo;
  const delivered = c.gotBridgeAudio + c.gotPublisherAudio + c.gotVideo + c.backAudio + c.backVideo;
  const lost = (got: number, late: number, of: number) => (of === 0 ? 0 : Math.max(0, 1 - (got - late) / of));
  const seconds = c.sendMs / 1000;
  return {
    inPps: packetsIn / seconds,
    outPps: delivered / seconds,
    loss: Math.max(
      lost(c.gotBridgeAudio, c.lateBridgeAudio, c.sentAudio),
      lost(c.gotPublisherAudio, c.latePublisherAudio, c.sentAudio),
      lost(c.gotVideo, c.lateVideo, c.sentVideo),
      lost(c.backAudio, c.lateBackAudio, c.echoedAudio),
      lost(c.backVideo, c.lateBackVideo, c.echoedVideo),
    ),
    cpuPct: (cpuUs / 1e6 / seconds) * 100,
    usPerPacket: cpuUs / packetsIn,
    inP99Ms: c.inP99Ms,
    backP99Ms: c.backP99Ms,
    loadCpuPct: (c.cpuUs / 1e6 / seconds) * 100,
  };
}

function medianRow(legs: number, rounds: Array<Omit<StepRow, 'legs'>>): StepRow {
  const m = (k: keyof Omit<StepRow, 'legs'>) => median(rounds.map((r) => r[k]));
  return { legs, inPps: m('inPps'), outPps: m('outPps'), loss: m('loss'), cpuPct: m('cpuPct'), usPerPacket: m('usPerPacket'), inP99Ms: m('inP99Ms'), backP99Ms: m('backP99Ms'), loadCpuPct: m('loadCpuPct') };
}

async function srtpLadder(deadline: number): Promise<StepRow[]> {
  const base = 20_000 + 2 * Math.floor(Math.random() * 10_000);
  const ports = new UdpPortRange('127.0.0.1', base, base + 3_999);
  const load = new LoadProcess();
  const rooms: Room[] = [];
  const rows: StepRow[] = [];
  try {
    for (const step of STEPS) {
      if (Date.now() > deadline) break;
      while (rooms.length * 2 < step) rooms.push(await addRoom(ports, load, rooms.length * 2 + 1));
      const legs = rooms.length * 2;
      const rounds: Array<Omit<StepRow, 'legs'>> = [];
      for (let r = 0; r <= ROUNDS; r++) {
        const cpu0 = process.cpuUsage();
        const { counts } = await load.ask({ type: 'round', ms: r === 0 ? WARMUP_MS : ROUND_MS, drainMs: DRAIN_MS }, 'counts');
        const cpu = process.cpuUsage(cpu0);
        if (counts.verifyFailed > 0) throw new Error(`${counts.verifyFailed} packets from the relay failed SRTP authentication at the endpoint`);
        if (r > 0) rounds.push(relayRound(counts, cpu.user + cpu.system));
      }
      const row = medianRow(legs, rounds);
      rows.push(row);
      // Two failing steps in a row end the ladder (one can be a noisy neighbour on a shared machine).
      if (row.loss > MAX_LOSS && (rows.at(-2)?.loss ?? 0) > MAX_LOSS) break;
    }
  } finally {
    for (const room of rooms) {
      for (const s of room.subs) s.close();
      room.sw.close();
      for (const l of room.legs) l.relay.close();
    }
    load.close();
  }
  return rows;
}

/** CPU time (user + system) of a process, µs, from /proc/PID/stat (clock ticks of 10 ms). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at 3 (state): utime is 14, stime 15.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function janusBaseline(legs: number): Promise<StepRow> {
  const dir = mkdtempSync(join(tmpdir(), 'knude-bench-relay-'));
  const [wsPort, adminWsPort, rtp] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
  const adminKey = 'bench-admin-key';
  const rtpMin = Math.min(rtp, 60_000);
  const sup = JanusSupervisor.embedded({
    log,
    config: { dataDir: dir, wsPort, adminWsPort, adminSecret: 'bench-admin', adminKey, rtpPortRange: [rtpMin, rtpMin + 2 * legs + 200], debugLevel: 3 },
  });
  const plane = new JanusMediaPlane({ supervisor: sup, log, adminKey });
  const load = new LoadProcess();
  try {
    await plane.start();
    const { videoroom: vr } = await plane.controlHandles();
    const PER_ROOM = 20;
    const publishers: Array<{ room: number; secret: string; id: number; port: number }> = [];
    for (let i = 0; i < legs; i++) {
      const roomId = `bench-relay-${Math.floor(i / PER_ROOM)}`;
      if (i % PER_ROOM === 0) await plane.ensureRoom({ roomId, maxParticipants: PER_ROOM + 1 });
      const room = janusRoomId(roomId);
      const secret = plane.roomSecret(roomId);
      const added = await vr.addRemotePublisher({
        room,
        secret,
        display: `leg ${i}`,
        iface: '127.0.0.1',
        streams: [
          { type: 'audio', mindex: 0, mid: '0', codec: 'pcmu' },
          { type: 'video', mindex: 1, mid: '1', codec: 'h264' },
        ],
      });
      publishers.push({ room, secret, id: added.id, port: added.port });
    }
    const inits: PlainLegInit[] = publishers.map((p, i) => ({ id: i, target: p.port }));
    const { ports } = await load.ask({ type: 'add-plain', legs: inits }, 'plain-added');
    for (const [i, p] of publishers.entries()) {
      // Janus answers add_remote_publisher before the publisher is in the room: retry briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          await vr.rtpForward({ room: p.room, publisher_id: p.id, secret: p.secret, host: '127.0.0.1', streams: [{ mid: '0', port: ports[i]!.sink }, { mid: '1', port: ports[i]!.sink }] });
          break;
        } catch (err) {
          if (attempt >= 100) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    const pid = sup.pid;
    if (pid === undefined) throw new Error('Janus is not running');
    const rounds: Array<Omit<StepRow, 'legs'>> = [];
    for (let r = 0; r <= ROUNDS; r++) {
      const cpu0 = processCpuUs(pid);
      const { counts: c } = await load.ask({ type: 'round', ms: r === 0 ? WARMUP_MS : ROUND_MS, drainMs: DRAIN_MS }, 'counts');
      const cpuUs = processCpuUs(pid) - cpu0;
      if (r === 0) continue;
      const sent = c.sentAudio + c.sentVideo;
      const delivered = c.gotPublisherAudio + c.gotVideo;
      const seconds = c.sendMs / 1000;
      rounds.push({
        inPps: sent / seconds,
        outPps: delivered / seconds,
        loss: Math.max(0, 1 - delivered / sent),
        cpuPct: (cpuUs / 1e6 / seconds) * 100,
        usPerPacket: cpuUs / sent,
        inP99Ms: Number.NaN,
        backP99Ms: Number.NaN,
        loadCpuPct: (c.cpuUs / 1e6 / seconds) * 100,
      });
    }
    return medianRow(legs, rounds);
  } finally {
    load.close();
    await plane.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const started = Date.now();
  const ladder = await srtpLadder(started + BUDGET_MS);
  const passing = ladder.filter((r) => r.loss <= MAX_LOSS);
  const best = passing.at(-1);
  if (!best) throw new Error(`the relay lost more than ${MAX_LOSS * 100} % already at ${ladder[0]?.legs ?? STEPS[0]} legs`);
  const janus = await janusBaseline(best.legs);
  const row = (label: string, r: StepRow) => ({
    case: label,
    legs: r.legs,
    'in pkts/s': Math.round(r.inPps),
    'out pkts/s': Math.round(r.outPps),
    'loss %': Number((r.loss * 100).toFixed(2)),
    'CPU %': Math.round(r.cpuPct),
    'µs/pkt': Number(r.usPerPacket.toFixed(2)),
    ...(Number.isNaN(r.inP99Ms) ? {} : { 'in p99 ms': Number(r.inP99Ms.toFixed(1)), 'back p99 ms': Number(r.backP99Ms.toFixed(1)) }),
    'load CPU %': Math.round(r.loadCpuPct),
  });
  const rows = [
    ...ladder.map((r) => row(r === best ? 'knude SRTP relay (best)' : r.loss > MAX_LOSS ? 'knude SRTP relay (> 1 % loss)' : 'knude SRTP relay', r)),
    row('Janus rtp_forward, plain (baseline)', janus),
  ];
  return {
    name: 'relay',
    rows,
    ratio: janus.usPerPacket / best.usPerPacket,
    ratioLabel: `Janus rtp_forward CPU µs/packet (plain RTP) ÷ knude SRTP relay CPU µs/packet, both at ${best.legs} legs, the relay's most with loss <= 1 % on every stream, packets later than ${LATE_IN_MS} ms in / ${LATE_BACK_MS} ms back counted lost (higher is better; target >= 100 legs)`,
  };
}
