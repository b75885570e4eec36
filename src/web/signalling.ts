import type http from 'node:http';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BrowserLeg, MediaPlane, RTCIceCandidateInit } from '../media/plane.js';
import { browserRefusal, type CapacityLedger, type Reservation } from '../capacity/index.js';
import { AdmissionError, type RoomManager } from '../rooms/manager.js';
import { clientAddress } from './client-address.js';

interface SignallingDeps {
  manager: RoomManager;
  media: MediaPlane;
  /** Every browser participant takes a port; absent: no accounting (tests of signalling alone). */
  capacity?: CapacityLedger;
  log: Logger;
  /** Reverse proxies whose X-Forwarded-For names the browser (see clientAddress). */
  trustedProxies?: ReadonlySet<string>;
}

/** What a browser may send; anything else is answered with an error and ignored. */
type ClientMessage =
  | { type: 'join'; alias: string; displayName: string; pin?: string }
  | { type: 'publish'; sdp: string }
  | { type: 'subscriber-answer'; sdp: string }
  | { type: 'candidate'; target: 'publisher' | 'subscriber'; candidate: RTCIceCandidateInit | null }
  | { type: 'mute'; kind: 'audio' | 'video'; muted: boolean }
  | { type: 'leave' };

const MAX_MESSAGE = 64 * 1024;
/** Retries of a failed subscriber renegotiation, 250 ms, 500 ms, 1 s and 2 s apart. */
const RENEGOTIATION_RETRIES = 4;

function parse(data: string): ClientMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') return undefined;
  const msg = m as Record<string, unknown>;
  switch (msg.type) {
    case 'join':
      return typeof msg.alias === 'string' && typeof msg.displayName === 'string' && msg.displayName.trim().length > 0 && msg.displayName.length <= 64 && (msg.pin === undefined || typeof msg.pin === 'string')
        ? (msg as ClientMessage)
        : undefined;
    case 'publish':
    case 'subscriber-answer':
      return typeof msg.sdp === 'string' ? (msg as ClientMessage) : undefined;
    case 'candidate':
      return (msg.target === 'publisher' || msg.target === 'subscriber') && typeof msg.candidate === 'object' ? (msg as ClientMessage) : undefined;
    case 'mute':
      return (msg.kind === 'audio' || msg.kind === 'video') && typeof msg.muted === 'boolean' ? (msg as ClientMessage) : undefined;
    case 'leave':
      return msg as ClientMessage;
    default:
      return undefined;
  }
}

/**
 * One browser's signalling session: admission through the room manager, then its media leg
 * (publisher and multistream subscriber) relayed between the browser and the media plane.
 * The browser never talks to the media server's API itself.
 */
class BrowserSession {
  private participantId: string | undefined;
  private leg: BrowserLeg | undefined;
  private pending: Record<'publisher' | 'subscriber', Array<RTCIceCandidateInit | null>> = { publisher: [], subscriber: [] };
  private ready: Record<'publisher' | 'subscriber', boolean> = { publisher: false, subscriber: false };
  private closed = false;
  private renegotiating = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: SignallingDeps,
    /** The browser's address (behind a trusted proxy, as the proxy says). */
    private readonly source: string | undefined,
  ) {}

  private reservation: Reservation | undefined;

  send(msg: Record<string, unknown>): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  async onMessage(raw: string): Promise<void> {
    const msg = parse(raw);
    if (!msg) return this.send({ type: 'error', reason: 'bad-request', message: 'unreadable signalling message' });
    try {
      switch (msg.type) {
        case 'join':
          return await this.join(msg.alias, msg.displayName.trim(), msg.pin);
        case 'publish': {
          if (!this.leg) return this.send({ type: 'error', reason: 'bad-request', message: 'join first' });
          if (!/^m=(audio|video) [1-9]/m.test(msg.sdp)) return this.send({ type: 'error', reason: 'bad-request', message: 'the offer carries no audio or video to publish' });
          const answer = await this.leg.publish({ type: 'offer', sdp: msg.sdp });
          this.send({ type: 'publish-answer', sdp: answer.sdp });
          await this.flush('publisher');
          return;
        }
        case 'subscriber-answer':
          if (!this.leg) return;
          await this.leg.subscriberAnswer({ type: 'answer', sdp: msg.sdp });
          await this.flush('subscriber');
          return;
        case 'candidate':
          if (!this.leg) return;
          if (!this.ready[msg.target]) this.pending[msg.target].push(msg.candidate);
          else await this.leg.trickle(msg.target, msg.candidate);
          return;
        case 'mute':
          await this.leg?.setMuted(msg.kind, msg.muted);
          return;
        case 'leave':
          await this.close('left');
          return;
      }
    } catch (err) {
      if (err instanceof AdmissionError) {
        this.send({ type: 'error', reason: err.reason, message: err.message });
        return;
      }
      this.deps.log.warn({ err: (err as Error).message, participant: this.participantId }, 'browser signalling failed');
      this.send({ type: 'error', reason: 'media-unavailable', message: 'The meeting service could not set up your media.' });
    }
  }

  /** Candidates that came before the description they belong to reached the media server. */
  private async flush(target: 'publisher' | 'subscriber'): Promise<void> {
    this.ready[target] = true;
    const queued = this.pending[target];
    this.pending[target] = [];
    for (const c of queued) await this.leg!.trickle(target, c);
  }

  private async join(alias: string, displayName: string, pin: string | undefined): Promise<void> {
    if (this.participantId || this.reservation) return this.send({ type: 'error', reason: 'bad-request', message: 'already joined' });
    const p = await this.deps.manager.join(alias, { kind: 'browser', displayName, pin, ...(this.source ? { source: this.source } : {}) });
    if (this.closed) {
      // The browser went away while it was being admitted.
      this.deps.manager.leave(p.id, 'disconnected');
      return;
    }
    this.participantId = p.id;
    if (this.deps.capacity) {
      // Admission first (it says why a room cannot be entered), then the port: a refusal here
      // takes the participant out again.
      const r = await this.deps.capacity.reserve({ legId: p.id, kind: 'browser', org: p.org });
      if (!r.ok) {
        this.deps.manager.leave(p.id, 'capacity');
        this.participantId = undefined;
        const refusal = browserRefusal(r.refusal);
        this.send({ type: 'error', reason: 'capacity', message: refusal.message, ...(refusal.retryAfterSeconds ? { retryAfterSeconds: refusal.retryAfterSeconds } : {}) });
        return;
      }
      this.reservation = r.reservation;
      if (this.closed) {
        await this.reservation.release();
        return;
      }
    }
    const leg = await this.deps.media.join(p.roomId, displayName);
    if (this.closed) {
      await leg.leave();
      return;
    }
    this.leg = leg;
    leg.on('feeds-changed', () => this.renegotiate());
    leg.on('webrtcup', () => this.renegotiate());
    leg.on('talking', (d) => this.send({ type: 'talking', feedId: (d as { feedId?: number })?.feedId, talking: true }));
    leg.on('stopped-talking', (d) => this.send({ type: 'talking', feedId: (d as { feedId?: number })?.feedId, talking: false }));
    leg.on('srtp-profile', (d) => this.send({ type: 'srtp', profile: String(d) }));
    leg.on('hangup', () => this.send({ type: 'error', reason: 'media-unavailable', message: 'The media connection was closed.' }));
    this.send({ type: 'joined', participantId: p.id, roomId: p.roomId, role: p.role, lobby: !!p.waitingInLobby, feedId: leg.feedId });
  }

  /**
   * Offers the browser the current set of other participants' streams (serialised). A failed
   * attempt is tried again a few times, a little later each time: a publisher can be announced
   * a moment before the media server lets anyone subscribe to it ("No such feed"), and
   * without a retry nothing would offer its streams until the next change in the room.
   */
  private renegotiate(attempt = 0): void {
    this.renegotiating = this.renegotiating.then(async () => {
      if (!this.leg || this.closed) return;
      const offer = await this.leg.subscriberOffer();
      if (!offer) return;
      this.ready.subscriber = false;
      this.send({ type: 'subscriber-offer', sdp: offer.sdp, streams: offer.streams });
    }).catch((err) => {
      const retry = attempt < RENEGOTIATION_RETRIES && !this.closed;
      this.deps.log.warn({ err: (err as Error).message, participant: this.participantId, attempt, retry }, 'subscriber renegotiation failed');
      if (retry) setTimeout(() => this.renegotiate(attempt + 1), 250 * 2 ** attempt).unref();
    });
  }

  onLobbyReleased(participantId: string): void {
    if (participantId === this.participantId) this.send({ type: 'lobby-released' });
  }

  onMediaRestarted(): void {
    if (!this.leg) return;
    this.send({ type: 'media-restarted' });
    void this.close('media restarted');
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const leg = this.leg;
    this.leg = undefined;
    await leg?.leave().catch(() => {});
    if (this.participantId) this.deps.manager.leave(this.participantId, reason);
    await this.reservation?.release();
    this.ws.close();
  }
}

/** Browser signalling at `/ws/rooms` on the node's HTTP server. */
export function attachRoomSignalling(server: http.Server, deps: SignallingDeps): WebSocketServer {
  const wss = new WebSocketServer({ server, path: '/ws/rooms', maxPayload: MAX_MESSAGE });
  const sessions = new Set<BrowserSession>();
  deps.manager.on('lobby-released', (e: { participantId: string }) => {
    for (const s of sessions) s.onLobbyReleased(e.participantId);
  });
  deps.manager.on('media-restarted', () => {
    for (const s of sessions) s.onMediaRestarted();
  });
  wss.on('connection', (ws, request) => {
    const session = new BrowserSession(ws, deps, clientAddress(request, deps.trustedProxies ?? new Set()));
    sessions.add(session);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      void session.onMessage(data.toString());
    });
    ws.on('close', () => {
      sessions.delete(session);
      void session.close('disconnected');
    });
    ws.on('error', () => {});
  });
  return wss;
}
