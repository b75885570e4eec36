/**
 * Statistics of a running node in one place: call detail records for every leg that ends
 * (SIP legs into rooms with their media figures, browser participants), meeting records from
 * the room manager's events, availability samples, and the Prometheus metrics fed by the
 * same events. node.ts creates it and closes it last, so a clean shutdown writes everything.
 */
import type Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import type { CapacityConfig, CapacityLedger, CapacityUsage, LegKind } from '../capacity/index.js';
import type { MediaPlane } from '../media/plane.js';
import type { RoomManager } from '../rooms/manager.js';
import type { BridgedCallEnd } from '../sip/app/invite.js';
import type { RoomLegRecord } from '../sip/app/room-call.js';
import type { Db } from '../store/database.js';
import { AvailabilityStore, sampleAvailability } from './availability.js';
import { CdrStore, MeetingTracker } from './cdr.js';
import { createMetrics, type KnudeMetrics } from './metrics.js';

export interface NodeStatsDeps {
  db: Db;
  node: string;
  capacity: CapacityLedger;
  capacityConfig: CapacityConfig;
  manager?: RoomManager;
  media?: MediaPlane;
  registrations: () => number;
  sipUp: () => boolean;
  log: Logger;
}

const USAGE_REFRESH_MS = 5_000;

export class NodeStats {
  readonly cdr: CdrStore;
  readonly availability: AvailabilityStore;
  readonly metrics: KnudeMetrics;
  private readonly meetings: MeetingTracker;
  private usage: CapacityUsage | undefined;
  private janusUp = true;
  private apiUp = false;
  private readonly timers: Array<{ stop(): void }> = [];
  private readonly refresh: NodeJS.Timeout;

  constructor(private readonly deps: NodeStatsDeps) {
    this.cdr = new CdrStore(deps.db, { node: deps.node });
    this.availability = new AvailabilityStore(deps.db, { node: deps.node });
    this.meetings = new MeetingTracker(this.cdr);
    this.metrics = createMetrics({
      node: deps.node,
      sources: {
        registrations: deps.registrations,
        activeLegs: () => this.usage?.byKind ?? {},
        activeCalls: () => this.usage?.nodePorts ?? 0,
        capacity: () => {
          const u = this.usage;
          if (!u) throw new Error('no capacity figures yet');
          const lim = (v: number | null) => (v === null ? Number.POSITIVE_INFINITY : v);
          return {
            node: {
              portsInUse: u.nodePorts,
              portsLimit: lim(u.limits.maxPorts),
              licencesInUse: u.licences,
              licencesLimit: lim(u.limits.maxLicences),
              mediaInUse: u.nodeMedia,
              ...(u.limits.mediaCapacity !== null ? { mediaLimit: u.limits.mediaCapacity } : {}),
            },
            orgs: Object.entries(u.orgs).map(([org, o]) => ({ org, portsInUse: o.ports, ...(o.quota !== null && o.quota !== undefined ? { portsLimit: o.quota } : {}) })),
          };
        },
      },
    });
    const capacity = deps.capacity;
    // One query in flight at a time: at hundreds of calls per second every reserve and release
    // would otherwise cost a usage() query (a round trip to PostgreSQL when shared). A change
    // during a query is picked up by one more query after it.
    let inFlight = false;
    let again = false;
    const update = () => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      capacity
        .usage()
        .then(
          (u) => (this.usage = u),
          (err: Error) => deps.log.debug({ err: err.message }, 'capacity usage unavailable'),
        )
        .finally(() => {
          inFlight = false;
          if (again) {
            again = false;
            update();
          }
        });
    };
    capacity.on('reserve', update);
    capacity.on('release', update);
    capacity.on('refuse', (e) => this.metrics.admissionRefused(e.cause ?? 'other'));
    update();
    this.refresh = setInterval(update, USAGE_REFRESH_MS);
    this.refresh.unref();

    if (deps.media) {
      this.metrics.janusUp(true);
      deps.media.on('down', () => {
        this.janusUp = false;
        this.metrics.janusUp(false);
      });
      deps.media.on('restarted', () => {
        this.janusUp = true;
        this.metrics.janusUp(true);
      });
    }
    const m = deps.manager;
    if (m) {
      m.on('pin-refused', (e) => this.metrics.pinRefused(e.reason));
      m.on('room-opened', (e) => this.meetings.roomOpened(e));
      m.on('participant-joined', (e) => this.meetings.participantJoined(e));
      m.on('room-closed', (e) => this.meetings.roomClosed(e));
      // SIP legs are written by their call (with media figures); browser participants here.
      m.on('participant-left', (e) => {
        if (e.kind !== 'browser') return;
        this.writeLeg(() =>
          this.cdr.writeLeg({
            id: e.participantId,
            kind: 'browser',
            direction: 'inbound',
            start: e.joinedAt,
            answer: e.joinedAt,
            end: e.at,
            ...(e.callerOrg ? { callerOrg: e.callerOrg } : {}),
            calleeOrg: e.org,
            roomId: e.roomId,
            mediaKinds: ['audio', 'video'],
            srtpSuite: 'DTLS-SRTP',
            cause: { text: e.reason, side: e.reason === 'left' || e.reason === 'disconnected' ? 'caller' : 'system' },
            licenceUnits: deps.capacityConfig.licenceWeights.browser,
          }),
        );
      });
    }
    this.timers.push(
      sampleAvailability(this.availability, 'sip', deps.sipUp),
      sampleAvailability(this.availability, 'media', () => !deps.media || this.janusUp),
      sampleAvailability(this.availability, 'api', () => this.apiUp),
    );
  }

  /** The HTTP listener is up (the 'api' component of the uptime KPI). */
  setApiUp(up: boolean): void {
    this.apiUp = up;
  }

  /** Counts SIP requests and the responses the app sends (drachtio-srf middleware). */
  sipMiddleware(): (req: Srf.SrfRequest, res: Srf.SrfResponse, next: () => void) => void {
    return (req, res, next) => {
      this.metrics.sipRequest(req.method);
      const send = res.send.bind(res) as (...a: unknown[]) => unknown;
      (res as unknown as { send: (...a: unknown[]) => unknown }).send = (...a: unknown[]) => {
        if (typeof a[0] === 'number') this.metrics.sipResponse(req.method, a[0]);
        return send(...a);
      };
      next();
    };
  }

  /** A SIP leg into a room ended: its CDR and its media figures. */
  roomLegEnded(rec: RoomLegRecord): void {
    const s = rec.stats;
    const sent = (s?.audio.packetsSent ?? 0) + (s?.video?.packetsSent ?? 0);
    const received = (s?.audio.packetsReceived ?? 0) + (s?.video?.packetsReceived ?? 0);
    const lost = (s?.audio.packetsLost ?? 0) + (s?.video?.packetsLost ?? 0);
    const kind: LegKind = rec.kind;
    this.metrics.media(kind, { packetsSent: sent, packetsReceived: received, packetsLost: lost, ...(s ? { jitterMs: s.audio.jitterMs } : {}) });
    const code = /^(\d{3})\b/.exec(rec.cause)?.[1];
    this.writeLeg(() =>
      this.cdr.writeLeg({
        id: rec.legId,
        kind,
        direction: 'inbound',
        start: rec.startedAt,
        ...(rec.answeredAt ? { answer: rec.answeredAt } : {}),
        end: rec.endedAt,
        callerAlias: rec.caller,
        calleeAlias: rec.callee,
        ...(rec.callerOrg ? { callerOrg: rec.callerOrg } : {}),
        calleeOrg: rec.org,
        roomId: rec.roomId,
        mediaKinds: rec.media,
        ...(rec.srtpSuite ? { srtpSuite: rec.srtpSuite } : {}),
        packetsSent: sent,
        packetsReceived: received,
        packetsLost: lost,
        ...(s ? { jitterMs: s.audio.jitterMs } : {}),
        cause: { ...(code ? { code: Number(code) } : {}), text: rec.cause, side: rec.side },
        licenceUnits: this.deps.capacityConfig.licenceWeights[kind],
      }),
    );
  }

  /** A bridged call ended: its CDR (no media figures: its media does not pass through knude). */
  bridgedCallEnded(c: BridgedCallEnd): void {
    const endedAt = new Date();
    const e = c.end;
    const answer = e.outcome === 'connected' ? new Date(endedAt.getTime() - e.durationMs) : undefined;
    const cause =
      e.outcome === 'connected'
        ? { text: 'BYE', side: e.endedBy }
        : e.outcome === 'cancelled'
          ? { code: 487, text: 'CANCEL', side: 'caller' as const }
          : { code: e.status, text: e.reason, side: 'callee' as const };
    const d = c.decision;
    this.writeLeg(() =>
      this.cdr.writeLeg({
        kind: c.kind,
        direction: 'inbound',
        start: c.startedAt,
        ...(answer ? { answer } : {}),
        end: endedAt,
        callerAlias: c.from,
        calleeAlias: c.to,
        ...(c.caller.kind !== 'external' ? { callerOrg: c.caller.org } : {}),
        ...('org' in d && d.org ? { calleeOrg: d.org } : {}),
        mediaKinds: c.kind === 'video' ? ['audio', 'video'] : ['audio'],
        ...(c.srtp ? { srtpSuite: c.srtp } : {}),
        cause,
        licenceUnits: this.deps.capacityConfig.licenceWeights[c.kind],
      }),
    );
  }

  private writeLeg(write: () => unknown): void {
    try {
      write();
    } catch (err) {
      // A record that cannot be written is logged with its error; the call itself is over either way.
      this.deps.log.error({ err: (err as Error).message }, 'call detail record not written');
    }
  }

  /** Writes the meetings still open (clean shutdown) and stops the samplers. */
  close(): void {
    clearInterval(this.refresh);
    for (const t of this.timers) t.stop();
    this.meetings.close();
  }
}
