/**
 * The media of one SIP call in a room: SRTP with the endpoint on one side, plain RTP to Janus
 * on loopback on the other (Janus 1.1.2 takes only plain RTP from AudioBridge RTP participants
 * and VideoRoom remote publishers).
 *
 *   endpoint --SRTP--> [unprotect] --RTP--> AudioBridge (audio) / remote publisher (video)
 *   AudioBridge mix  --RTP--> [protect] --SRTP--> endpoint
 *   room video switch (active speaker) --RTP--> [protect] --SRTP--> endpoint
 *
 * Packets that fail SRTP authentication are dropped and counted; only authenticated packets
 * latch the endpoint's address (symmetric RTP, RFC 4961), so a NATed endpoint is reached where
 * it really sends from and a stranger cannot steal the stream.
 */
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { SrtpContext, SrtpError, type SrtpKeyParams } from '../srtp/index.js';
import { dtlsHandshake, isDtls } from './dtls.js';
import { loopbackSocket, type SocketPair, type UdpPortRange } from './ports.js';
import { ReceiveStats } from './receive-stats.js';
import {
  opusLevelEstimate,
  buildFir,
  buildRtp,
  buildPli,
  buildSenderReport,
  findExtension,
  g711LevelDbov,
  isRtcp,
  readRtcp,
  readRtpHeader,
  readTelephoneEvent,
  withAudioLevel,
  writeRtpFields,
  type ReportBlock,
} from './rtp.js';

export type MediaKind = 'audio' | 'video';

/** One negotiated m-line of the SIP leg, as the relay needs it. */
export interface RelayStreamSpec {
  codec: string;
  clockRate: number;
  payloadType: number;
  /** RFC 4733 events (audio only): read as DTMF, never forwarded to Janus. */
  telephoneEventPayloadType?: number;
  remote: { address: string; rtpPort: number; rtcpPort: number; rtcpMux: boolean };
  /** The endpoint's key: unprotects what it sends. */
  rx: SrtpKeyParams;
  /** Our key: protects what we send. */
  tx: SrtpKeyParams;
  /** The endpoint's RFC 6464 extension id, when it sends levels itself. */
  audioLevelExtId?: number;
  /** The endpoint answered `ccm fir`: ask it for keyframes with FIR as well as PLI. */
  fir?: boolean;
  /** sendrecv/sendonly/recvonly/inactive from the endpoint's point of view. */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** DTLS-SRTP: rx/tx come from this handshake (run on the RTP socket), not from the SDP. */
  dtls?: { role: 'client' | 'server'; fingerprints: Array<{ algorithm: string; value: string }> };
}

/** A loopback RTP destination inside Janus (see src/media/plane.ts RtpTarget). */
export interface JanusRtpTarget {
  host: string;
  port: number;
  rtcpPort?: number;
  ssrc: number;
}

/** Where Janus takes this leg's media. */
export interface JanusTargets {
  /** AudioBridge: the endpoint's audio, sent from the port Janus sends the mix to. */
  audio: { host: string; port: number };
  /** VideoRoom remote publisher's audio stream: browsers hear the endpoint from here. */
  publisherAudio?: JanusRtpTarget;
  /** VideoRoom remote publisher's video stream. */
  video?: JanusRtpTarget;
  /** The RFC 6464 id Janus was told to read levels from (added by us where the endpoint has none). */
  audioLevelExtId?: number;
}

export interface StreamStats {
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  jitterMs: number;
  packetsSent: number;
  bytesSent: number;
  authFailures: number;
  replayed: number;
  /** Loss and jitter of what we send, as the endpoint reports them (RTCP). */
  remoteFractionLost?: number;
  remoteJitterMs?: number;
}

export interface LegRelayEvents {
  /** DTLS-SRTP keys are in place for a stream (its suite). */
  'dtls-connected': [kind: MediaKind, suite: string];
  /** A DTLS-SRTP handshake failed (timeout, bad certificate, fingerprint mismatch). */
  'dtls-failed': [kind: MediaKind];
  dtmf: [digit: string];
  /** No authenticated media from the endpoint for the timeout (not on hold). */
  'media-timeout': [];
  /** The endpoint asks for a keyframe of the video we send it. */
  'keyframe-request': [];
}

interface Stream {
  kind: MediaKind;
  spec?: RelayStreamSpec;
  sockets: SocketPair;
  rx?: SrtpContext;
  tx?: SrtpContext;
  /** Where the endpoint is reached: from the SDP until its first authenticated packet. */
  rtpTo?: { address: string; port: number };
  rtcpTo?: { address: string; port: number };
  latched: boolean;
  recv: ReceiveStats;
  sent: { packets: number; bytes: number; lastTs: number; ssrc: number };
  /**
   * Audio towards the endpoint comes from more than one source over a call (a spoken prompt,
   * then the room's mix, a new mix after a media restart): one continuous sequence and clock
   * under our SSRC, re-based at every change of source.
   */
  continuity: { source: string | undefined; seqDelta: number; tsDelta: number; lastSeq: number; lastTs: number };
  remote?: ReportBlock;
  lastDtmfTs?: number;
  firSeq: number;
  /** The DTLS handshake of a DTLS-SRTP stream (its datagrams go here). */
  dtls?: { feed: (data: Buffer) => void; close: () => void };
}

const MEDIA_TIMEOUT_CHECK_MS = 2_000;
const RTCP_INTERVAL_MS = 5_000;

export class SipLegRelay extends EventEmitter<LegRelayEvents> {
  readonly audio: Stream;
  readonly video: Stream | undefined;
  /** Our loopback side towards Janus: AudioBridge sends the mix here. */
  readonly janusAudio: { socket: dgram.Socket; port: number };
  /** Our loopback side towards the VideoRoom remote publisher (audio and video, one port). */
  readonly janusVideo: { socket: dgram.Socket; port: number };
  private targets: JanusTargets | undefined;
  private lastMediaAt = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    audio: SocketPair,
    video: SocketPair | undefined,
    janusAudio: { socket: dgram.Socket; port: number },
    janusVideo: { socket: dgram.Socket; port: number },
    private readonly log: Logger,
    private readonly mediaTimeoutMs: number,
  ) {
    super();
    this.audio = newStream('audio', audio);
    this.video = video ? newStream('video', video) : undefined;
    this.janusAudio = janusAudio;
    this.janusVideo = janusVideo;
  }

  /**
   * Binds the sockets (the SDP answer needs their ports before anything is negotiated).
   * `video` false: an audio-only call.
   */
  static async allocate(o: { ports: UdpPortRange; video: boolean; log: Logger; mediaTimeoutMs: number }): Promise<SipLegRelay> {
    const opened: Array<dgram.Socket> = [];
    try {
      const a = await o.ports.pair();
      opened.push(a.rtp, a.rtcp);
      const v = o.video ? await o.ports.pair() : undefined;
      if (v) opened.push(v.rtp, v.rtcp);
      const ja = await loopbackSocket();
      opened.push(ja.socket);
      const jv = await loopbackSocket();
      opened.push(jv.socket);
      return new SipLegRelay(a, v, ja, jv, o.log, o.mediaTimeoutMs);
    } catch (err) {
      for (const s of opened) s.close();
      throw err;
    }
  }

  get localPorts(): { audio: { rtpPort: number; rtcpPort: number }; video?: { rtpPort: number; rtcpPort: number } } {
    const p = (s: Stream) => ({ rtpPort: s.sockets.rtpPort, rtcpPort: s.sockets.rtcpPort });
    return { audio: p(this.audio), ...(this.video ? { video: p(this.video) } : {}) };
  }

  /**
   * Starts (or, after a re-INVITE, updates) the relay with the negotiated streams. Keys that
   * stay the same keep their SRTP state (rollover counters, replay windows).
   */
  configure(spec: { audio: RelayStreamSpec; video?: RelayStreamSpec }, targets: JanusTargets): void {
    const first = !this.targets;
    this.targets = targets;
    if (first) {
      // Janus latches the remote publisher's RTCP peer from the first packet it gets there:
      // an empty receiver report opens the way for its keyframe requests.
      const rtcp = targets.video?.rtcpPort ?? targets.publisherAudio?.rtcpPort;
      const host = targets.video?.host ?? targets.publisherAudio?.host;
      if (rtcp && host) this.janusVideo.socket.send(Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 0]), rtcp, host);
    }
    this.apply(this.audio, spec.audio);
    if (this.video) {
      if (spec.video) this.apply(this.video, spec.video);
      else this.video.spec = undefined;
    }
    if (this.timers.length === 0) this.start();
  }

  private apply(s: Stream, spec: RelayStreamSpec): void {
    const sameKey = (a: SrtpKeyParams | undefined, b: SrtpKeyParams) =>
      !!a && a.suite === b.suite && a.masterKey.equals(b.masterKey) && a.masterSalt.equals(b.masterSalt);
    if (spec.dtls) {
      // Keys from the handshake; a re-INVITE keeps the association it has (RFC 5763 5).
      if (!s.dtls) this.startDtls(s, spec.dtls);
    } else {
      if (!sameKey(s.spec?.rx, spec.rx)) s.rx = new SrtpContext(spec.rx);
      if (!sameKey(s.spec?.tx, spec.tx)) s.tx = new SrtpContext(spec.tx);
    }
    const moved = !s.spec || s.spec.remote.address !== spec.remote.address || s.spec.remote.rtpPort !== spec.remote.rtpPort;
    if (moved) {
      // A new address in the SDP (re-INVITE): send there until the endpoint's packets say otherwise.
      s.latched = false;
      s.rtpTo = { address: spec.remote.address, port: spec.remote.rtpPort };
      s.rtcpTo = { address: spec.remote.address, port: spec.remote.rtcpMux ? spec.remote.rtpPort : spec.remote.rtcpPort };
    }
    if (s.spec?.clockRate !== spec.clockRate) s.recv = new ReceiveStats(spec.clockRate);
    s.spec = spec;
  }

  private startDtls(s: Stream, params: NonNullable<RelayStreamSpec['dtls']>): void {
    const pending = { feed: (_d: Buffer) => {}, close: () => {} };
    s.dtls = pending;
    const queued: Buffer[] = [];
    pending.feed = (d) => void queued.push(d);
    void dtlsHandshake({
      role: params.role,
      fingerprints: params.fingerprints,
      send: (data) => {
        if (!this.closed && s.rtpTo) s.sockets.rtp.send(data, s.rtpTo.port, s.rtpTo.address);
      },
      log: this.log,
    }).then(
      (h) => {
        if (this.closed) return h.close();
        s.dtls = h;
        for (const d of queued.splice(0)) h.feed(d);
        h.keys.then(
          (k) => {
            if (this.closed) return;
            s.rx = new SrtpContext(k.rx);
            s.tx = new SrtpContext(k.tx);
            this.log.info({ kind: s.kind, suite: k.tx.suite }, 'DTLS-SRTP keys in place');
            this.emit('dtls-connected', s.kind, k.tx.suite);
          },
          () => this.emit('dtls-failed', s.kind),
        );
      },
      (err: Error) => this.log.warn({ err: err.message }, 'DTLS could not start'),
    );
  }

  private start(): void {
    for (const s of [this.audio, this.video]) {
      if (!s) continue;
      s.sockets.rtp.on('message', (msg, rinfo) => this.fromEndpoint(s, msg, rinfo, 'rtp'));
      s.sockets.rtcp.on('message', (msg, rinfo) => this.fromEndpoint(s, msg, rinfo, 'rtcp'));
      s.sockets.rtp.on('error', (err) => this.log.warn({ err: err.message, kind: s.kind }, 'relay socket error'));
      s.sockets.rtcp.on('error', (err) => this.log.warn({ err: err.message, kind: s.kind }, 'relay socket error'));
    }
    this.janusAudio.socket.on('message', (msg) => {
      // The room's mix takes over from a prompt the moment it arrives.
      if (this.prompt) this.stopPrompt();
      this.toEndpoint(this.audio, msg);
    });
    this.janusAudio.socket.on('error', () => {});
    // Janus's RTCP for the remote publisher (PLI when a browser needs a keyframe) comes back here.
    this.janusVideo.socket.on('message', (msg) => {
      if (isRtcp(msg) && readRtcp(msg).keyframeRequested) this.requestKeyframeFromEndpoint();
    });
    this.janusVideo.socket.on('error', () => {});
    this.timers.push(
      setInterval(() => this.checkTimeout(), MEDIA_TIMEOUT_CHECK_MS),
      setInterval(() => this.sendReports(), RTCP_INTERVAL_MS),
    );
    for (const t of this.timers) t.unref();
    this.lastMediaAt = Date.now();
  }

  private fromEndpoint(s: Stream, msg: Buffer, rinfo: dgram.RemoteInfo, port: 'rtp' | 'rtcp'): void {
    if (this.closed || !s.spec) return;
    if (s.dtls && isDtls(msg)) {
      // The handshake's datagrams: the endpoint's address is where it runs DTLS from (its
      // certificate is checked against the SDP fingerprint, so a stranger gains nothing).
      if (!s.latched) {
        s.rtpTo = { address: rinfo.address, port: rinfo.port };
        if (s.spec.remote.rtcpMux) s.rtcpTo = { ...s.rtpTo };
      }
      s.dtls.feed(msg);
      return;
    }
    if (!s.rx) return;
    const rtcp = port === 'rtcp' || isRtcp(msg);
    let clear: Buffer;
    try {
      clear = rtcp ? s.rx.unprotectRtcp(msg) : s.rx.unprotectRtp(msg);
    } catch (err) {
      if (!(err instanceof SrtpError)) this.log.warn({ err: (err as Error).message }, 'SRTP unprotect failed');
      return;
    }
    this.lastMediaAt = Date.now();
    if (!s.latched || (rtcp ? s.rtcpTo : s.rtpTo)?.port !== rinfo.port || (rtcp ? s.rtcpTo : s.rtpTo)?.address !== rinfo.address) {
      if (rtcp) s.rtcpTo = { address: rinfo.address, port: rinfo.port };
      else {
        s.rtpTo = { address: rinfo.address, port: rinfo.port };
        s.latched = true;
        if (s.spec.remote.rtcpMux) s.rtcpTo = { ...s.rtpTo };
      }
    }
    if (rtcp) return this.onEndpointRtcp(s, clear);
    const h = readRtpHeader(clear);
    if (!h) return;
    s.recv.update(h.ssrc, h.sequence, h.timestamp, clear.length, performance.now());
    if (s.kind === 'audio') {
      if (h.payloadType === s.spec.telephoneEventPayloadType) return this.onTelephoneEvent(s, clear, h.timestamp, h.headerLength);
      if (h.payloadType !== s.spec.payloadType || !this.targets) return;
      let out = clear;
      const ours = this.targets.audioLevelExtId;
      if (ours && !findExtension(clear, ours)) {
        // Janus detects talking from RFC 6464 levels only; add them for endpoints that send none.
        const payload = clear.subarray(h.headerLength, h.headerLength + h.payloadLength);
        const level = s.spec.codec === 'PCMU' || s.spec.codec === 'PCMA' ? g711LevelDbov(payload, s.spec.codec) : s.spec.codec === 'opus' ? opusLevelEstimate(payload) : undefined;
        if (level !== undefined) out = withAudioLevel(clear, h, ours, level, level < 50);
      }
      this.janusAudio.socket.send(out, this.targets.audio.port, this.targets.audio.host);
      const pa = this.targets.publisherAudio;
      if (pa) {
        // A copy: the remote publisher wants its own SSRC, and the first send may still be queued.
        const copy = Buffer.from(out);
        writeRtpFields(copy, { ssrc: pa.ssrc });
        this.janusVideo.socket.send(copy, pa.port, pa.host);
      }
      return;
    }
    const v = this.targets?.video;
    if (!v || h.payloadType !== s.spec.payloadType) return;
    // Janus knows a remote publisher's stream by a fixed SSRC (1000 + 10 * mindex).
    writeRtpFields(clear, { ssrc: v.ssrc });
    this.janusVideo.socket.send(clear, v.port, v.host);
  }

  private onTelephoneEvent(s: Stream, p: Buffer, ts: number, headerLength: number): void {
    const ev = readTelephoneEvent(p.subarray(headerLength));
    // One digit is several packets with the same timestamp; the end packet is sent three times.
    if (!ev || !ev.end || s.lastDtmfTs === ts) return;
    s.lastDtmfTs = ts;
    this.emit('dtmf', ev.digit);
  }

  private onEndpointRtcp(s: Stream, clear: Buffer): void {
    const r = readRtcp(clear);
    const mine = r.reports.find((b) => b.ssrc === s.sent.ssrc) ?? r.reports[0];
    if (mine) s.remote = mine;
    if (r.keyframeRequested && s.kind === 'video') this.emit('keyframe-request');
  }

  /** Sends one packet of ours to the endpoint: protected with our key, our SSRC. */
  private toEndpoint(s: Stream, packet: Buffer, sourceKey?: string): void {
    if (this.closed || !s.spec || !s.tx || !s.rtpTo) return;
    if (s.spec.direction === 'sendonly' || s.spec.direction === 'inactive') return;
    if (isRtcp(packet)) return;
    const h = readRtpHeader(packet);
    if (!h) return;
    if (s.kind === 'audio') {
      const c = s.continuity;
      const source = sourceKey ?? `ssrc:${h.ssrc}`;
      if (source !== c.source) {
        c.source = source;
        c.seqDelta = (c.lastSeq + 1 - h.sequence) & 0xffff;
        c.tsDelta = (c.lastTs + s.spec.clockRate / 50 - h.timestamp) >>> 0;
      }
      const seq = (h.sequence + c.seqDelta) & 0xffff;
      const ts = (h.timestamp + c.tsDelta) >>> 0;
      if (((seq - c.lastSeq) & 0xffff) < 0x8000) {
        c.lastSeq = seq;
        c.lastTs = ts;
      }
      writeRtpFields(packet, { sequence: seq, timestamp: ts });
    }
    writeRtpFields(packet, { ssrc: s.sent.ssrc, payloadType: s.spec.payloadType });
    let out: Buffer;
    try {
      out = s.tx.protectRtp(packet);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, kind: s.kind }, 'SRTP protect failed');
      return;
    }
    s.sent.packets++;
    s.sent.bytes += h.payloadLength;
    s.sent.lastTs = h.timestamp;
    s.sockets.rtp.send(out, s.rtpTo.port, s.rtpTo.address);
  }

  private prompt: { timer: NodeJS.Timeout; done: () => void } | undefined;

  /**
   * Plays 20 ms audio payloads (a spoken prompt in the call's codec) to the endpoint; resolves
   * when they have all gone out or the prompt was stopped.
   */
  playPrompt(payloads: Buffer[], timestampStep: number): Promise<void> {
    this.stopPrompt();
    return new Promise((resolve) => {
      let i = 0;
      let seq = 0;
      const key = `prompt:${Math.random()}`;
      const timer = setInterval(() => {
        if (this.closed || i >= payloads.length) return this.stopPrompt();
        const pt = this.audio.spec?.payloadType ?? 0;
        this.toEndpoint(this.audio, buildRtp({ payloadType: pt, sequence: seq++, timestamp: i * timestampStep, ssrc: 1, marker: i === 0, payload: payloads[i] }), key);
        i++;
      }, 20);
      this.prompt = { timer, done: resolve };
    });
  }

  stopPrompt(): void {
    const p = this.prompt;
    if (!p) return;
    this.prompt = undefined;
    clearInterval(p.timer);
    p.done();
  }

  /** The room's voice-switched video for this endpoint (already rewritten to one continuous stream). */
  sendVideo(packet: Buffer): void {
    if (this.video) this.toEndpoint(this.video, packet);
  }

  /** Asks the endpoint for a keyframe of the video it sends (a browser joined or asked). */
  requestKeyframeFromEndpoint(): void {
    const s = this.video;
    if (!s?.spec || !s.tx || !s.rtcpTo) return;
    const ssrc = s.recv.source;
    if (ssrc === undefined) return;
    this.sendRtcp(s, buildPli(s.sent.ssrc, ssrc));
    if (s.spec.fir) this.sendRtcp(s, buildFir(s.sent.ssrc, ssrc, ++s.firSeq));
  }

  private sendRtcp(s: Stream, clear: Buffer): void {
    if (!s.tx || !s.rtcpTo) return;
    try {
      const out = s.tx.protectRtcp(clear);
      const sock = s.spec?.remote.rtcpMux ? s.sockets.rtp : s.sockets.rtcp;
      sock.send(out, s.rtcpTo.port, s.rtcpTo.address);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'SRTCP protect failed');
    }
  }

  private sendReports(): void {
    for (const s of [this.audio, this.video]) {
      if (!s?.spec) continue;
      const report = s.recv.reportBlock();
      this.sendRtcp(
        s,
        buildSenderReport({ ssrc: s.sent.ssrc, ntpMs: Date.now(), rtpTimestamp: s.sent.lastTs, packets: s.sent.packets, octets: s.sent.bytes, report }),
      );
    }
  }

  private checkTimeout(): void {
    const held = [this.audio, this.video].every((s) => !s?.spec || s.spec.direction === 'inactive' || s.spec.direction === 'recvonly');
    if (held) {
      this.lastMediaAt = Date.now();
      return;
    }
    if (Date.now() - this.lastMediaAt > this.mediaTimeoutMs) {
      this.lastMediaAt = Date.now();
      this.emit('media-timeout');
    }
  }

  stats(): { audio: StreamStats; video?: StreamStats } {
    const one = (s: Stream): StreamStats => ({
      packetsReceived: s.recv.packets,
      bytesReceived: s.recv.bytes,
      packetsLost: Math.max(0, s.recv.lost),
      jitterMs: s.recv.jitterMs,
      packetsSent: s.sent.packets,
      bytesSent: s.sent.bytes,
      authFailures: s.rx?.stats.authFailures ?? 0,
      replayed: s.rx?.stats.replayed ?? 0,
      ...(s.remote ? { remoteFractionLost: s.remote.fractionLost, remoteJitterMs: s.spec ? (s.remote.jitter * 1000) / s.spec.clockRate : undefined } : {}),
    });
    return { audio: one(this.audio), ...(this.video?.spec ? { video: one(this.video) } : {}) };
  }

  close(): void {
    if (this.closed) return;
    this.stopPrompt();
    this.audio.dtls?.close();
    this.video?.dtls?.close();
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of [this.audio, this.video]) {
      if (!s) continue;
      s.sockets.rtp.close();
      s.sockets.rtcp.close();
    }
    this.janusAudio.socket.close();
    this.janusVideo.socket.close();
    this.removeAllListeners();
  }
}

function newStream(kind: MediaKind, sockets: SocketPair): Stream {
  return {
    kind,
    sockets,
    latched: false,
    recv: new ReceiveStats(kind === 'audio' ? 8000 : 90000),
    sent: { packets: 0, bytes: 0, lastTs: 0, ssrc: (Math.random() * 0xffffffff) >>> 0 },
    continuity: { source: undefined, seqDelta: 0, tsDelta: 0, lastSeq: (Math.random() * 0xffff) | 0, lastTs: (Math.random() * 0xffffffff) >>> 0 },
    firSeq: 0,
  };
}
