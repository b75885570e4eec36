/**
 * The ledger of a single node, in the node's own SQLite store. better-sqlite3 is synchronous,
 * so each reserve's check-and-insert runs in one immediate transaction with nothing interleaved:
 * counts are exact without any locking of our own. The limits are this node's.
 */
import type Database from 'better-sqlite3';
import { migrate, type Db } from '../store/database.js';
import { fromMilli, quotaOf, type CapacityConfig } from './config.js';
import { CapacityRequestError, CapacityStoreError } from './errors.js';
import { BaseLedger, type HeldLeg, type Removed } from './ledger.js';
import { capacityMigrations } from './migrations.js';
import { decide } from './policy.js';
import type { CapacityRefusal, CapacityUsage, LegKind } from './types.js';

interface Totals {
  ports: number;
  licences: number;
  media: number;
}

export class SqliteCapacityLedger extends BaseLedger {
  private readonly db: Db;
  private readonly stmts;
  private readonly admitTx: Database.Transaction<(leg: HeldLeg) => CapacityRefusal | null>;

  /**
   * Opens the ledger on the node's store and releases every reservation it still holds: a node
   * that starts carries no leg, so rows left there are from a process that died mid-call.
   * Read-only observers (the CLI) use readSqliteCapacityUsage instead.
   */
  constructor(db: Db, cfg: CapacityConfig) {
    super(cfg);
    this.db = db;
    migrate(db, capacityMigrations);
    this.stmts = {
      held: db.prepare('SELECT 1 FROM capacity_reservations WHERE leg_id = ?').pluck(),
      totals: db.prepare(
        'SELECT count(*) AS ports, coalesce(sum(licences_milli), 0) AS licences, coalesce(sum(media_milli), 0) AS media FROM capacity_reservations',
      ),
      orgPorts: db.prepare('SELECT count(*) FROM capacity_reservations WHERE org = ?').pluck(),
      insert: db.prepare(
        `INSERT INTO capacity_reservations (leg_id, token, kind, org, caller_org, licences_milli, media_milli, reserved_at)
         VALUES (@legId, @token, @kind, @org, @callerOrg, @licencesMilli, @mediaMilli, @reservedAt)`,
      ),
      removeAny: db.prepare('DELETE FROM capacity_reservations WHERE leg_id = ? RETURNING kind, org'),
      removeToken: db.prepare('DELETE FROM capacity_reservations WHERE leg_id = ? AND token = ? RETURNING kind, org'),
    };
    this.admitTx = db.transaction((leg: HeldLeg) => {
      if (this.stmts.held.get(leg.legId) !== undefined) throw new CapacityRequestError(`leg ${leg.legId} already holds a port`);
      const t = this.stmts.totals.get() as Totals;
      const orgPorts = this.stmts.orgPorts.get(leg.org) as number;
      const refusal = decide(this.cfg, leg, { ports: t.ports, licencesMilli: t.licences, nodeMediaMilli: t.media, orgPorts });
      if (refusal) return refusal;
      this.stmts.insert.run({
        legId: leg.legId,
        token: leg.token,
        kind: leg.kind,
        org: leg.org,
        callerOrg: leg.callerOrg ?? null,
        licencesMilli: leg.cost.licencesMilli,
        mediaMilli: leg.cost.mediaMilli,
        reservedAt: leg.reservedAt.toISOString(),
      });
      return null;
    });
    db.prepare('DELETE FROM capacity_reservations').run();
  }

  protected async admit(leg: HeldLeg): Promise<CapacityRefusal | null> {
    if (!this.db.open) throw new CapacityStoreError('the node store is closed');
    return this.admitTx.immediate(leg);
  }

  protected async remove(legId: string, token: string | null): Promise<Removed> {
    // After the store closed (shutdown) there is nothing left to give back to: the next start clears it.
    if (!this.db.open) return null;
    const row = (token === null ? this.stmts.removeAny.get(legId) : this.stmts.removeToken.get(legId, token)) as Removed | undefined;
    return row ?? null;
  }

  async usage(): Promise<CapacityUsage> {
    return readSqliteCapacityUsage(this.db, this.cfg);
  }

  async close(): Promise<void> {
    // The store belongs to the node; nothing of the ledger's own to close.
  }
}

/** What is in use, read from a node's store without touching it (e.g. by the CLI while the node runs). */
export function readSqliteCapacityUsage(db: Db, cfg: CapacityConfig): CapacityUsage {
  migrate(db, capacityMigrations);
  const t = db
    .prepare('SELECT count(*) AS ports, coalesce(sum(licences_milli), 0) AS licences, coalesce(sum(media_milli), 0) AS media FROM capacity_reservations')
    .get() as Totals;
  const byKind: Record<LegKind, number> = { video: 0, audio: 0, browser: 0 };
  for (const r of db.prepare('SELECT kind, count(*) AS n FROM capacity_reservations GROUP BY kind').all() as { kind: LegKind; n: number }[]) {
    byKind[r.kind] = r.n;
  }
  const orgs: CapacityUsage['orgs'] = {};
  for (const r of db.prepare('SELECT org, count(*) AS n FROM capacity_reservations GROUP BY org ORDER BY org').all() as { org: string; n: number }[]) {
    orgs[r.org] = { ports: r.n, quota: quotaOf(cfg, r.org) };
  }
  return {
    ports: t.ports,
    licences: fromMilli(t.licences),
    media: fromMilli(t.media),
    byKind,
    orgs,
    limits: { maxPorts: cfg.maxPorts, maxLicences: cfg.maxLicences, mediaCapacity: cfg.mediaCapacity },
    nodePorts: t.ports,
    nodeMedia: fromMilli(t.media),
  };
}
