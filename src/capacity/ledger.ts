/**
 * What both ledgers share: request checking, the Reservation handle and the events. A store
 * implements two steps — admit (decide and record in one transaction) and remove (delete and
 * say whether a row went) — so a port is given back, and 'release' emitted, exactly once
 * whichever path ends the leg: ledger.release(legId), reservation.release(), or both.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { fromMilli, type CapacityConfig } from './config.js';
import { checkRequest, legCost, type LegCost } from './policy.js';
import type {
  CapacityEvent,
  CapacityEvents,
  CapacityLedger,
  CapacityRefusal,
  CapacityUsage,
  LegKind,
  Reservation,
  ReserveRequest,
  ReserveResult,
} from './types.js';

/** A leg as a store records it: `token` tells this reservation from a later one of the same legId. */
export interface HeldLeg extends ReserveRequest {
  token: string;
  cost: LegCost;
  reservedAt: Date;
}

/** What the store's remove step found: the leg it deleted, or null when there was none. */
export type Removed = { kind: LegKind; org: string } | null;

class HeldReservation implements Reservation {
  readonly legId: string;
  readonly kind: LegKind;
  readonly org: string;
  readonly callerOrg?: string;
  readonly licences: number;
  readonly media: number;
  readonly reservedAt: Date;
  private readonly token: string;
  private releasing: Promise<void> | null = null;

  constructor(
    leg: HeldLeg,
    private readonly ledger: BaseLedger,
  ) {
    this.legId = leg.legId;
    this.kind = leg.kind;
    this.org = leg.org;
    if (leg.callerOrg !== undefined) this.callerOrg = leg.callerOrg;
    this.licences = fromMilli(leg.cost.licencesMilli);
    this.media = fromMilli(leg.cost.mediaMilli);
    this.reservedAt = leg.reservedAt;
    this.token = leg.token;
  }

  release(): Promise<void> {
    // Only this reservation's row: a later reservation of the same legId is not ours to free.
    this.releasing ??= this.ledger.removeAndNotify(this.legId, this.token);
    return this.releasing;
  }
}

export abstract class BaseLedger extends EventEmitter<CapacityEvents> implements CapacityLedger {
  protected readonly cfg: CapacityConfig;

  constructor(cfg: CapacityConfig) {
    super();
    this.cfg = cfg;
  }

  /** Decides against the limits and, when admitted, records the leg; in one transaction. */
  protected abstract admit(leg: HeldLeg): Promise<CapacityRefusal | null>;
  /** Deletes the leg's row (only the one with `token` when given). */
  protected abstract remove(legId: string, token: string | null): Promise<Removed>;
  abstract usage(): Promise<CapacityUsage>;
  abstract close(): Promise<void>;

  async reserve(input: ReserveRequest): Promise<ReserveResult> {
    const req = checkRequest(input);
    const leg: HeldLeg = { ...req, token: randomUUID(), cost: legCost(this.cfg, req.kind), reservedAt: new Date() };
    const refusal = await this.admit(leg);
    if (refusal) {
      this.notify('refuse', { legId: req.legId, kind: req.kind, org: req.org, cause: refusal.cause, at: new Date() });
      return { ok: false, refusal };
    }
    this.notify('reserve', { legId: req.legId, kind: req.kind, org: req.org, at: leg.reservedAt });
    return { ok: true, reservation: new HeldReservation(leg, this) };
  }

  async release(legId: string): Promise<void> {
    if (typeof legId !== 'string' || legId === '') return;
    await this.removeAndNotify(legId, null);
  }

  /** @internal used by Reservation.release(). */
  async removeAndNotify(legId: string, token: string | null): Promise<void> {
    const gone = await this.remove(legId, token);
    if (gone) this.notify('release', { legId, kind: gone.kind, org: gone.org, at: new Date() });
  }

  /**
   * Events are for monitoring and never change what happened: a listener that throws must not
   * turn a recorded reservation into a rejected promise (the port would leak), so its error
   * becomes a process warning.
   */
  protected notify(event: keyof CapacityEvents, payload: CapacityEvent): void {
    try {
      this.emit(event, payload);
    } catch (err) {
      process.emitWarning(`capacity '${event}' listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
