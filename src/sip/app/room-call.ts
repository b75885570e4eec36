/**
 * A SIP endpoint's call into a meeting room, as one object that owns everything the call
 * holds: its capacity reservation, its place in the room, its SRTP relay, its Janus leg and
 * its subscription to the room's voice-switched video. Every way a call ends (BYE from either
 * side, CANCEL, media timeout, session timer, Janus going away, node shutdown) goes through
 * `end()`, which gives each of them back exactly once.
 *
 * Steps of the INVITE, each refusing with the right code:
 *   SRTP policy (488 + Warning) -> capacity (503/486 + Reason) -> room admission (404/486/403/480)
 *   -> relay sockets + SDP answer (488 when nothing in common) -> Janus leg -> 200 OK.
 * Rooms with a PIN answer first and take the PIN as DTMF (RFC 4733 or SIP INFO) before joining.
 */
import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { sipRejection, type CapacityLedger, type LegKind, type Reservation } from '../../capacity/index.js';
import type { RouteCaller } from '../../dialplan/index.js';
import type { MediaPlane, SipMediaLeg } from '../../media/plane.js';
import { UdpPortRange } from '../../media/relay/ports.js';
import { SipLegRelay, type JanusTargets, type RelayStreamSpec, type StreamStats } from '../../media/relay/leg-relay.js';
import { dtlsCertificate } from '../../media/relay/dtls.js';
import type { RoomVideoSwitches } from '../../media/relay/room-switches.js';
import { buildOffer, checkOfferSecurity, negotiate, readAnswer, renegotiate, reoffer, type LocalCapabilities, type NegotiatedAudio, type NegotiatedSession, type NegotiatedVideo, type PendingOffer, type SrtpSuite } from '../../media/sdp/index.js';
import { promptFrames, type PromptCodec, type PromptName } from '../../media/prompts/index.js';
import { generateKeyParams } from '../../media/srtp/index.js';
import { AdmissionError, MediaUnavailableError, type RoomManager } from '../../rooms/manager.js';
import type { RoomStore } from '../../rooms/store.js';
import { parseNameAddr } from '../message/index.js';
import { ACK_TIMEOUT_MS, onAck } from './ack.js';
import { SessionTimer, tooBrief } from './session-timer.js';

export interface RoomCallConfig {
  /** The address endpoints send media to (c= line) and the relay binds. */
  bindAddress: string;
  advertisedAddress: string;
  portMin: number;
  portMax: number;
  suites: SrtpSuite[];
  mediaTimeoutMs: number;
  /** Session-Expires we grant (RFC 4028); the endpoint refreshes. */
  sessionExpiresSeconds: number;
  minSessionExpiresSeconds: number;
  /** Wrong PINs before the call is ended. */
  pinAttempts: number;
  /** How long an endpoint may take to enter its PIN. */
  pinTimeoutMs: number;
}

export interface RoomLegRecord {
  legId: string;
  callId: string;
  roomId: string;
  org: string;
  callerOrg?: string;
  caller: string;
  callee: string;
  kind: LegKind;
  startedAt: Date;
  answeredAt?: Date;
  endedAt: Date;
  srtpSuite?: string;
  media: string[];
  stats?: { audio: StreamStats; video?: StreamStats };
  /** SIP status or reason of the end, and who ended it. */
  cause: string;
  side: 'caller' | 'callee' | 'system';
}

export interface RoomCallDeps {
  srf: Srf;
  manager: RoomManager;
  store: RoomStore;
  media: MediaPlane;
  switches: RoomVideoSwitches;
  capacity?: CapacityLedger;
  config: RoomCallConfig;
  log: Logger;
  onLegEnd?: (rec: RoomLegRecord) => void;
}

function warning(text: string): string {
  return `399 knude "${text.replace(/["\\]/g, "'")}"`;
}

const ADMISSION_STATUS: Record<string, number> = {
  'not-found': 404,
  full: 486,
  locked: 403,
  'not-yet-valid': 480,
  expired: 404,
  'wrong-pin': 403,
  'pin-required': 403,
  'too-many-attempts': 403,
};

/** The display name a SIP caller shows in the room: From's display name, else its user part. */
function callerName(req: Srf.SrfRequest): string {
  try {
    const na = parseNameAddr(req.get('From'));
    const name = na.displayName?.trim();
    if (name) return name.slice(0, 64);
    const m = /^sips?:([^@;]+)@/i.exec(na.uri);
    return m ? decodeURIComponent(m[1]).slice(0, 64) : 'SIP endpoint';
  } catch {
    return 'SIP endpoint';
  }
}

/** BYE (drachtio-srf's typings say void; without a callback it returns a promise). */
async function hangUp(dialog: Srf.Dialog, reason?: string): Promise<void> {
  try {
    await (dialog.destroy(reason ? { headers: { Reason: reason } } : undefined) as unknown as Promise<void>);
  } catch {
    /* the dialog is gone already */
  }
}

function dtmfFromInfo(req: Srf.SrfRequest): string | undefined {
  const type = (req.get('Content-Type') ?? '').toLowerCase();
  const body = String(req.body ?? '');
  if (type.startsWith('application/dtmf-relay')) return /Signal\s*=\s*([0-9*#A-D])/i.exec(body)?.[1]?.toUpperCase();
  if (type.startsWith('application/dtmf')) return /^\s*([0-9*#A-D]|1[01])\s*$/i.exec(body)?.[1]?.replace('10', '*').replace('11', '#');
  return undefined;
}

export class RoomCalls {
  private readonly ports: UdpPortRange;
  private readonly calls = new Set<RoomCall>();

  constructor(private readonly deps: RoomCallDeps) {
    this.ports = new UdpPortRange(deps.config.bindAddress, deps.config.portMin, deps.config.portMax);
  }

  get active(): number {
    return this.calls.size;
  }

  /** The rooms' voice-switched video (observers watch its 'switched' events). */
  get switches(): RoomVideoSwitches {
    return this.deps.switches;
  }

  /** The pipeline's connect step for `{ action: 'room' }` decisions. */
  async connect(req: Srf.SrfRequest, res: Srf.SrfResponse, caller: RouteCaller, roomId: string): Promise<void> {
    const call = new RoomCall(this.deps, this.ports, req, res, caller, roomId, () => this.calls.delete(call));
    this.calls.add(call);
    await call.run();
  }

  /** Ends every call (node shutdown): BYE to each endpoint, everything given back. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.calls].map((c) => c.end('node shutting down', 'system', 'SIP;cause=503;text="node shutting down"')));
  }
}

class RoomCall {
  private readonly legId = randomUUID();
  private readonly startedAt = new Date();
  private answeredAt: Date | undefined;
  private reservation: Reservation | undefined;
  private participantId: string | undefined;
  private relay: SipLegRelay | undefined;
  private leg: SipMediaLeg | undefined;
  private video: { roomId: string; sub: { close(): void; refresh(): void } } | undefined;
  private dialog: Srf.Dialog | undefined;
  private negotiated: NegotiatedSession | undefined;
  private sessionTimer: SessionTimer | undefined;
  private ended = false;
  private kind: LegKind = 'audio';
  private dtlsFingerprint: { algorithm: string; value: string } | undefined;
  /** The suite DTLS-SRTP settled on, once its handshake is done. */
  private dtlsSuite: string | undefined;
  private readonly log: Logger;

  constructor(
    private readonly deps: RoomCallDeps,
    private readonly ports: UdpPortRange,
    private readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    private readonly caller: RouteCaller,
    private readonly roomId: string,
    private readonly forget: () => void,
  ) {
    this.log = deps.log.child({ callId: req.get('Call-ID'), room: roomId });
  }

  private get org(): string {
    return this.deps.store.get(this.roomId)?.org ?? '';
  }

  private get callerOrg(): string | undefined {
    return this.caller.kind === 'external' ? undefined : this.caller.org;
  }

  private refuse(status: number, headers: Record<string, string>): void {
    if (!this.res.finalResponseSent) this.res.send(status, { headers });
  }

  async run(): Promise<void> {
    // The SIP server answers the CANCEL and the INVITE (487); whatever is set up so far goes.
    this.req.on('cancel', () => void this.end('CANCEL', 'caller'));
    try {
      await this.setUp();
    } catch (err) {
      if (err instanceof MediaUnavailableError) {
        // The media server is restarting: a retry in a moment will work.
        this.log.warn({ err: err.message }, 'room call refused: media unavailable');
        this.refuse(503, { 'Retry-After': '5', Reason: 'SIP;cause=503;text="meeting media is restarting"', Warning: warning('the meeting media service is restarting; try again shortly') });
        await this.end('503 media unavailable', 'system');
        return;
      }
      this.log.error({ err }, 'room call failed');
      this.refuse(500, { Warning: warning('the meeting service failed to set up the call') });
      await this.end('setup failed', 'system');
    }
  }

  private async setUp(): Promise<void> {
    const { config } = this.deps;
    const offer = String(this.req.body ?? '');
    // Late offer (no SDP in the INVITE, as behind some call managers): knude offers in the 200
    // and the endpoint answers in the ACK, checked by the same policy.
    const lateOffer = !offer.trim();
    // 1. Security first: it costs nothing and must refuse before anything is reserved.
    const security = lateOffer ? undefined : checkOfferSecurity(offer, { allowedSuites: config.suites, allowDtls: true });
    if (security && !security.ok) {
      this.log.info({ reason: security.reason }, 'room call refused by the SRTP policy');
      this.refuse(security.status, { Warning: security.warning });
      return this.end(`${security.status} ${security.reason}`, 'system');
    }
    const wantsVideo = security ? security.media.some((m) => m.type === 'video' && m.port !== 0 && m.keying !== 'none') : true;
    if (security?.media.some((m) => m.keying === 'dtls')) this.dtlsFingerprint = (await dtlsCertificate()).fingerprint;

    // 2. Session timer bounds (RFC 4028 5): too short an interval is answered 422 with our minimum.
    const brief = tooBrief(this.req, config);
    if (brief) {
      this.refuse(brief.status, brief.headers);
      return this.end('422 session interval too small', 'system');
    }

    // 3. Capacity.
    this.kind = wantsVideo ? 'video' : 'audio';
    const room = this.deps.store.get(this.roomId);
    if (!room) {
      this.refuse(404, { Warning: warning('there is no meeting room at this address') });
      return this.end('404 no room', 'system');
    }
    if (this.deps.capacity) {
      const r = await this.deps.capacity.reserve({ legId: this.legId, kind: this.kind, org: room.org, ...(this.callerOrg ? { callerOrg: this.callerOrg } : {}) });
      if (!r.ok) {
        const rej = sipRejection(r.refusal);
        this.refuse(rej.status, rej.headers as Record<string, string>);
        return this.end(`${rej.status} ${r.refusal.cause}`, 'system');
      }
      // end() may have run while we waited (CANCEL): what arrives after it is given back here.
      if (this.ended) return void (await r.reservation.release());
      this.reservation = r.reservation;
    }

    // 4. Relay sockets, then the answer (the answer names their ports).
    const relay = await SipLegRelay.allocate({ ports: this.ports, video: wantsVideo, log: this.log, mediaTimeoutMs: config.mediaTimeoutMs });
    if (this.ended) return relay.close();
    this.relay = relay;
    relay.on('dtls-connected', (_kind, suite) => (this.dtlsSuite = `DTLS-SRTP ${suite}`));
    relay.on('dtls-failed', () => void this.end('DTLS-SRTP handshake failed', 'system', 'SIP;cause=488;text="DTLS-SRTP handshake failed"'));
    relay.on('dtmf', (d) => this.onDigit(d));
    relay.on('media-timeout', () => void this.end('media timeout', 'system', 'SIP;cause=408;text="no media received"'));
    if (lateOffer) return this.lateOffer(room);
    const answer = negotiate(offer, this.capabilities());
    if (!answer.ok) {
      this.refuse(answer.status, { Warning: answer.warning });
      return this.end(`${answer.status} ${answer.reason}`, 'system');
    }
    this.negotiated = answer;
    if (!answer.video && this.kind === 'video') this.kind = 'audio';

    // 5. The room: rooms with a PIN answer first and ask for it; others admit now.
    const needsPin = !!(room.hostPin || room.guestPin);
    if (!needsPin) {
      if (!(await this.admit(undefined))) return;
      await this.joinMedia();
      if (this.ended) return;
      await this.answer(answer.answerSdp);
    } else {
      await this.answer(answer.answerSdp, true);
      await this.collectPin();
    }
  }

  /**
   * The late-offer path: our offer goes in the 200, the endpoint's answer comes in the ACK.
   * Rooms without a PIN admit before answering (a refusal is still a final response); media
   * joins once the answer is read, since only then are codecs and keys known.
   */
  private async lateOffer(room: { hostPin?: string; guestPin?: string }): Promise<void> {
    const pending = buildOffer(this.capabilities());
    const needsPin = !!(room.hostPin || room.guestPin);
    if (!needsPin && !(await this.admit(undefined))) return;
    const acked = new Promise<string | undefined>((resolve) => {
      this.ackWaiter = resolve;
      setTimeout(() => resolve(undefined), ACK_TIMEOUT_MS).unref(); // the 200 was never ACKed
    });
    await this.answer(pending.offerSdp, false, true);
    if (this.ended || !this.dialog) return;
    const ackSdp = await acked;
    if (this.ended) return;
    if (!ackSdp?.trim()) return void this.end('no SDP answer in the ACK', 'system', 'SIP;cause=488;text="the ACK carried no SDP answer to our offer"');
    const answer = readAnswer(pending, ackSdp);
    if (!answer.ok) {
      this.log.info({ reason: answer.reason }, 'late-offer answer refused by the SRTP policy');
      return void this.end(`488 ${answer.reason}`, 'system', `SIP;cause=488;text="${answer.warning.replace(/^399 knude "|"$/g, '').replace(/"/g, "'")}"`);
    }
    this.negotiated = answer;
    if (!answer.video && this.kind === 'video') this.kind = 'audio';
    if (needsPin) {
      this.startPinMedia();
      await this.collectPin();
    } else {
      await this.joinMedia();
    }
    this.log.info({ kind: this.kind, srtp: answer.audio.crypto.suite, video: answer.video?.codec }, 'SIP endpoint in the room (late offer)');
  }

  private ackWaiter: ((sdp: string | undefined) => void) | undefined;

  /** Before admission (PIN rooms): the relay runs so the prompt plays and DTMF is read. */
  private startPinMedia(): void {
    this.relay!.configure(this.relaySpecs(this.negotiated!), { audio: { host: '127.0.0.1', port: 9 } });
  }

  private capabilities(): LocalCapabilities {
    const { config } = this.deps;
    const ports = this.relay!.localPorts;
    return {
      address: config.advertisedAddress,
      audio: { port: ports.audio.rtpPort, rtcpPort: ports.audio.rtcpPort, codecs: ['opus', 'PCMU', 'PCMA'] },
      // VP8 first: browsers in the room publish VP8, and the switch can only pass a codec through.
      ...(ports.video ? { video: { port: ports.video.rtpPort, rtcpPort: ports.video.rtcpPort, codecs: ['VP8', 'H264'] as Array<'VP8' | 'H264'> } } : {}),
      suites: config.suites,
      keys: (suite) => generateKeyParams(suite),
      ...(this.dtlsFingerprint ? { dtls: { fingerprint: this.dtlsFingerprint } } : {}),
    };
  }

  /** Admission to the room; refusals answer the INVITE (or end the answered call). */
  private async admit(pin: string | undefined): Promise<boolean> {
    try {
      const p = await this.deps.manager.join(this.roomId, { kind: 'sip', displayName: callerName(this.req), source: this.req.source_address, ...(pin ? { pin } : {}), ...(this.callerOrg ? { org: this.callerOrg } : {}) });
      if (this.ended) {
        this.deps.manager.leave(p.id, 'cancelled');
        return false;
      }
      this.participantId = p.id;
      return true;
    } catch (err) {
      if (err instanceof AdmissionError) {
        if (err.reason === 'wrong-pin') throw err;
        const status = ADMISSION_STATUS[err.reason] ?? 403;
        this.log.info({ reason: err.reason }, 'room admission refused');
        if (this.dialog) await this.end(`${status} ${err.reason}`, 'system', `SIP;cause=${status};text="${err.message.replace(/"/g, "'")}"`);
        else {
          this.refuse(status, { Warning: warning(err.message), Reason: `SIP;cause=${status};text="${err.message.replace(/"/g, "'")}"` });
          await this.end(`${status} ${err.reason}`, 'system');
        }
        return false;
      }
      throw err;
    }
  }

  private async joinMedia(): Promise<void> {
    const n = this.negotiated!;
    const audioLevelExtId = n.audio.audioLevelExtId ?? 1;
    const audioCodec = n.audio.codec.toLowerCase() === 'opus' ? 'opus' : (n.audio.codec.toUpperCase() as 'PCMU' | 'PCMA');
    const video = n.video && (n.video.codec.toUpperCase() as 'H264' | 'VP8');
    this.leg = await this.deps.media.joinSip(this.roomId, callerName(this.req), {
      audio: { codec: audioCodec, payloadType: n.audio.payloadType, relayPort: this.relay!.janusAudio.port, audioLevelExtId },
      ...(n.video && video
        ? { video: { codec: video, payloadType: n.video.payloadType, ...(n.video.h264 ? { h264ProfileLevelId: n.video.h264.profileLevelId, packetizationMode: n.video.h264.packetizationMode } : {}) } }
        : {}),
    });
    if (this.ended) {
      await this.leg.leave().catch(() => {});
      return;
    }
    this.leg.on('hangup', (d) => void this.end(`media server: ${(d as { reason?: string })?.reason ?? 'gone'}`, 'system', 'SIP;cause=503;text="meeting media restarted"'));
    this.relay!.configure(this.relaySpecs(n), this.janusTargets(audioLevelExtId));
    if (n.video && video) {
      const sw = await this.deps.switches.acquire(this.roomId);
      const relay = this.relay!;
      const sub = sw.subscribe({ ownFeedId: this.leg.feedId, codec: video, send: (p) => relay.sendVideo(p) });
      this.video = { roomId: this.roomId, sub };
      relay.on('keyframe-request', () => sub.refresh());
      if (this.ended) {
        sub.close();
        await this.deps.switches.release(this.roomId);
        this.video = undefined;
      }
    }
  }

  private relaySpecs(n: NegotiatedSession): { audio: RelayStreamSpec; video?: RelayStreamSpec } {
    const one = (m: NegotiatedAudio | NegotiatedVideo): RelayStreamSpec => ({
      codec: m.codec.toLowerCase() === 'opus' ? 'opus' : m.codec.toUpperCase(),
      clockRate: m.clockRate,
      payloadType: m.payloadType,
      remote: m.remote,
      rx: m.rx,
      tx: m.tx,
      direction: m.direction,
      ...('telephoneEvent' in m && m.telephoneEvent ? { telephoneEventPayloadType: m.telephoneEvent.payloadType } : {}),
      ...('audioLevelExtId' in m && m.audioLevelExtId ? { audioLevelExtId: m.audioLevelExtId } : {}),
      ...('rtcpFb' in m ? { fir: m.rtcpFb.some((f) => f.type === 'ccm' && f.subtype === 'fir') } : {}),
      ...(m.dtls ? { dtls: m.dtls } : {}),
    });
    return { audio: one(n.audio), ...(n.video ? { video: one(n.video) } : {}) };
  }

  private janusTargets(audioLevelExtId: number): JanusTargets {
    const l = this.leg!;
    return { audio: l.audioTarget, publisherAudio: l.publisherAudioTarget, ...(l.videoTarget ? { video: l.videoTarget } : {}), audioLevelExtId };
  }

  /** 200 OK, the dialog, and its in-dialog handlers. */
  private async answer(sdp: string, pinPending = false, offerInAnswer = false): Promise<void> {
    this.sessionTimer = new SessionTimer(this.req, this.deps.config, () => void this.end('session timer expired', 'system', 'SIP;cause=408;text="session timer expired"'));
    const headers = this.sessionTimer.headers();
    if (this.ended) return;
    let dialog: Srf.Dialog;
    try {
      dialog = await this.deps.srf.createUAS(this.req, this.res, { localSdp: sdp, headers });
    } catch (err) {
      // The caller cancelled (487) or the 200 was never ACKed.
      await this.end(`not answered: ${(err as Error).message}`, 'caller');
      return;
    }
    this.dialog = dialog;
    this.answeredAt = new Date();
    if (this.ended) {
      await hangUp(dialog);
      return;
    }
    // The relay runs from the answer on so DTMF (RFC 4733) arrives; Janus is joined after the PIN.
    if (pinPending) this.startPinMedia();
    if (offerInAnswer) onAck(dialog, (ack) => this.ackWaiter?.(String(ack.body ?? '')));
    dialog.on('destroy', () => void this.end('BYE from the endpoint', 'caller'));
    dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.onModify(req, res));
    dialog.on('update', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.onModify(req, res));
    dialog.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const digit = dtmfFromInfo(req);
      res.send(200);
      if (digit) this.onDigit(digit);
    });
    this.sessionTimer.refreshed();
    if (!offerInAnswer) this.log.info({ kind: this.kind, srtp: this.negotiated?.audio.dtls ? 'DTLS-SRTP' : this.negotiated?.audio.crypto.suite, video: this.negotiated?.video?.codec }, 'SIP endpoint in the room');
  }

  private onModify(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    this.sessionTimer?.refreshed();
    const headers = this.sessionTimer?.headers() ?? {};
    const offer = String(req.body ?? '');
    if (!offer.trim() || !this.negotiated) {
      // A re-INVITE without SDP asks for an offer: the session as it stands, whose answer comes
      // in the ACK and may carry the endpoint's new keys. An UPDATE without SDP is a refresh.
      const pending = req.method === 'INVITE' && this.negotiated ? reoffer(this.negotiated) : undefined;
      if (pending && this.dialog) {
        onAck(this.dialog, (ack) => this.onReofferAnswer(pending, String(ack.body ?? '')));
        res.send(200, { headers: { ...headers, 'Content-Type': 'application/sdp' }, body: pending.offerSdp });
        return;
      }
      res.send(200, { headers, ...(req.method === 'INVITE' && this.negotiated ? { body: this.negotiated.localSdp } : {}) });
      return;
    }
    const answer = renegotiate(this.negotiated, offer, this.capabilities());
    if (!answer.ok) {
      // RFC 3261 14.2: a refused re-INVITE leaves the session as it was.
      res.send(answer.status === 400 ? 400 : 488, { headers: { Warning: answer.warning } });
      return;
    }
    try {
      this.renegotiated(answer);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'applying the re-INVITE failed');
    }
    res.send(200, { body: answer.answerSdp, headers: { ...headers, 'Content-Type': 'application/sdp' } });
  }

  /** A new offer/answer in the call: the relay takes its keys, addresses and codecs now. */
  private renegotiated(n: NegotiatedSession): void {
    this.negotiated = n;
    // Before the PIN is entered (no Janus leg yet) media goes nowhere but the prompt plays.
    if (this.leg) this.relay?.configure(this.relaySpecs(n), this.janusTargets(n.audio.audioLevelExtId ?? 1));
    else this.relay?.configure(this.relaySpecs(n), { audio: { host: '127.0.0.1', port: 9 } });
  }

  /** The answer (from the ACK) to the session offered again: its keys and address apply now. */
  private onReofferAnswer(pending: PendingOffer, sdp: string): void {
    if (this.ended) return;
    if (!sdp.trim()) return void this.end('no SDP answer in the ACK', 'system', 'SIP;cause=488;text="the ACK carried no SDP answer to our offer"');
    const answer = readAnswer(pending, sdp);
    if (!answer.ok) {
      this.log.info({ reason: answer.reason }, 'answer to a re-INVITE without SDP refused by the SRTP policy');
      return void this.end(`488 ${answer.reason}`, 'system', `SIP;cause=488;text="${answer.warning.replace(/^399 knude "|"$/g, '').replace(/"/g, "'")}"`);
    }
    try {
      this.renegotiated(answer);
      this.log.info({ srtp: answer.audio.crypto.suite }, 'session offered again (re-INVITE without SDP); the answer applies');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'applying the answer to a re-INVITE without SDP failed');
    }
  }

  // --- PIN entry ---------------------------------------------------------------------------

  private digits = '';
  private pinTries = 0;
  private pinWaiter: ((pin: string | undefined) => void) | undefined;

  /** Speaks a prompt to the caller (barge-in: the first digit stops it). */
  private say(...names: PromptName[]): void {
    const relay = this.relay;
    const codec = this.negotiated?.audio.codec;
    if (!relay || !codec) return;
    const c: PromptCodec = codec.toLowerCase() === 'opus' ? 'opus' : (codec.toUpperCase() as PromptCodec);
    void (async () => {
      for (const name of names) {
        if (this.ended || this.digits.length > 0) return;
        try {
          const f = promptFrames(name, c);
          await relay.playPrompt(f.payloads, f.timestampStep);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, prompt: name }, 'prompt not played');
          return;
        }
      }
    })();
  }

  private onDigit(d: string): void {
    if (!this.pinWaiter) return;
    this.relay?.stopPrompt();
    if (d === '#') {
      const w = this.pinWaiter;
      this.pinWaiter = undefined;
      const pin = this.digits;
      this.digits = '';
      w(pin);
    } else if (/^[0-9]$/.test(d) && this.digits.length < 16) this.digits += d;
  }

  private async collectPin(): Promise<void> {
    while (!this.ended && this.pinTries < this.deps.config.pinAttempts) {
      if (this.pinTries === 0) this.say('enter-pin');
      else this.say('wrong-pin', 'enter-pin');
      this.pinTries++;
      const pin = await new Promise<string | undefined>((resolve) => {
        this.pinWaiter = resolve;
        setTimeout(() => {
          if (this.pinWaiter === resolve) {
            this.pinWaiter = undefined;
            resolve(undefined);
          }
        }, this.deps.config.pinTimeoutMs).unref();
      });
      if (this.ended) return;
      if (pin === undefined) return void this.end('no PIN entered', 'system', 'SIP;cause=408;text="no PIN entered"');
      try {
        if (!(await this.admit(pin))) return;
      } catch (err) {
        if (err instanceof AdmissionError && err.reason === 'wrong-pin') {
          this.log.info({ attempt: this.pinTries }, 'wrong PIN from a SIP endpoint');
          continue;
        }
        throw err;
      }
      await this.joinMedia();
      return;
    }
    if (!this.ended) await this.end('wrong PIN', 'system', 'SIP;cause=403;text="wrong PIN"');
  }

  // --- The end ---------------------------------------------------------------------------------

  async end(cause: string, side: 'caller' | 'callee' | 'system', reason?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    this.sessionTimer?.stop();
    if (this.pinWaiter) this.pinWaiter(undefined);
    this.ackWaiter?.(undefined);
    const stats = this.relay?.stats();
    if (this.dialog && side !== 'caller') await hangUp(this.dialog, reason);
    this.video?.sub.close();
    if (this.video) await this.deps.switches.release(this.video.roomId).catch(() => {});
    this.relay?.close();
    await this.leg?.leave().catch((err: Error) => this.log.warn({ err: err.message }, 'leaving the Janus room failed'));
    if (this.participantId) this.deps.manager.leave(this.participantId, cause);
    await this.reservation?.release();
    const media = [this.negotiated ? 'audio' : undefined, this.negotiated?.video ? 'video' : undefined].filter((m): m is string => !!m);
    this.deps.onLegEnd?.({
      legId: this.legId,
      callId: this.req.get('Call-ID'),
      roomId: this.roomId,
      org: this.org,
      ...(this.callerOrg ? { callerOrg: this.callerOrg } : {}),
      caller: this.req.get('From'),
      callee: this.req.uri,
      kind: this.kind,
      startedAt: this.startedAt,
      ...(this.answeredAt ? { answeredAt: this.answeredAt } : {}),
      endedAt: new Date(),
      ...(this.dtlsSuite ? { srtpSuite: this.dtlsSuite } : this.negotiated && !this.negotiated.audio.dtls ? { srtpSuite: this.negotiated.audio.crypto.suite } : {}),
      media,
      ...(stats ? { stats } : {}),
      cause,
      side,
    });
    this.log.info({ cause, side }, 'room call ended');
  }
}
