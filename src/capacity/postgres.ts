/**
 * The ledger shared by several nodes through one PostgreSQL database: nodes using the same
 * database and schema share maxPorts, maxLicences and the organisations' quotas; media capacity
 * stays each node's own (it is that machine's CPU and bandwidth).
 *
 * Concurrency. Every reserve runs, in one READ COMMITTED transaction:
 *   1. SELECT ... FOR UPDATE on the single row of knude_capacity_lock,
 *   2. sums over the live reservations (a fresh snapshot, taken after the lock is ours),
 *   3. the shared decide() and, when admitted, the INSERT.
 * The row lock serialises admissions across all nodes, and because READ COMMITTED gives each
 * statement a new snapshot, step 2 always sees every reservation committed before the lock was
 * granted. So no two nodes can both take the last port. (One statement with the lock in a CTE
 * would not do: its snapshot is taken before it waits for the lock.) Chosen over SERIALIZABLE with retries:
 * at the limit every concurrent reserve conflicts, and retry storms are exactly when a node is
 * full; a queue on one row degrades gracefully (the lock is held for ~3 round trips). Releases
 * only lower the sums, so they delete without the lock: a reserve that misses a concurrent
 * release can only refuse early, never admit too many.
 *
 * Exactness. What is in use is always summed from the reservation rows, never kept in a
 * counter that could drift; release deletes the row (DELETE ... RETURNING says whether there
 * was one, so the port comes back exactly once).
 *
 * Leases. Each node has a row in knude_capacity_nodes whose lease_until its heartbeat pushes
 * forward every third of the lease. Only reservations of nodes whose lease has not run out
 * count, so the ports of a node that died come back when its lease ends; any node's heartbeat
 * then deletes those rows. A node that starts deletes its own leftover rows (it carries no leg
 * yet). A node whose heartbeat stalled past its lease writes its live legs back on the next
 * heartbeat. Two running nodes must never share a node id.
 *
 * Durability. Commits follow the database's synchronous_commit (on by default), so an admitted
 * leg survives a PostgreSQL crash; the row lock is then held through the commit's fsync, which
 * bounds shared admissions per second (bench/capacity.ts). An operator who accepts losing the
 * last fraction of a second of admissions in a database crash can set synchronous_commit = off
 * for knude's role; on the 2-core bench machine that roughly doubled to tripled two-node throughput.
 */
import pg from 'pg';
import { fromMilli, quotaOf, type CapacityConfig } from './config.js';
import { CapacityRequestError, CapacityStoreError } from './errors.js';
import { BaseLedger, type HeldLeg, type Removed } from './ledger.js';
import { decide } from './policy.js';
import type { CapacityRefusal, CapacityUsage, LegKind } from './types.js';

export interface PostgresLedgerOptions {
  cfg: CapacityConfig;
  /** This node's name; its reservations are tagged with it. Unique among running nodes. */
  nodeId: string;
  /** Defaults to cfg.postgresUrl. */
  url?: string;
  /** Schema holding the knude_capacity_* tables; created when missing. Default 'public'. */
  schema?: string;
  /** Connections to the database (default 10). */
  poolSize?: number;
  /** Heartbeat and idle-connection failures (the ledger keeps going; reserves report their own). */
  onError?: (err: CapacityStoreError) => void;
}

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema's migrations, applied in order under an advisory lock so nodes starting together do not race. */
function migrations(s: string): Array<{ id: string; sql: string }> {
  return [
    {
      id: 'capacity-pg-001',
      sql: `
        -- One row; every reserve locks it FOR UPDATE (see the module comment).
        CREATE TABLE ${s}.knude_capacity_lock (id integer PRIMARY KEY CHECK (id = 1));
        INSERT INTO ${s}.knude_capacity_lock (id) VALUES (1);
        CREATE TABLE ${s}.knude_capacity_nodes (
          node_id     text PRIMARY KEY,
          lease_until timestamptz NOT NULL,
          started_at  timestamptz NOT NULL
        );
        CREATE TABLE ${s}.knude_capacity_reservations (
          leg_id         text PRIMARY KEY,
          token          text NOT NULL,
          node_id        text NOT NULL REFERENCES ${s}.knude_capacity_nodes (node_id),
          kind           text NOT NULL CHECK (kind IN ('video', 'audio', 'browser')),
          org            text NOT NULL,
          caller_org     text,
          licences_milli integer NOT NULL CHECK (licences_milli >= 0),
          media_milli    integer NOT NULL CHECK (media_milli >= 0),
          reserved_at    timestamptz NOT NULL
        );
        CREATE INDEX knude_capacity_reservations_node ON ${s}.knude_capacity_reservations (node_id);
      `,
    },
  ];
}

function storeError(err: unknown): CapacityStoreError {
  if (err instanceof CapacityStoreError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CapacityStoreError(`capacity store (PostgreSQL): ${msg}`);
}

interface Totals {
  ports: number;
  licences: number;
  node_media: number;
  org_ports: number;
  held: number;
}

export class PostgresCapacityLedger extends BaseLedger {
  readonly nodeId: string;
  private readonly pool: pg.Pool;
  private readonly t: { lock: string; nodes: string; res: string };
  private readonly onError: (err: CapacityStoreError) => void;
  /** Legs this node carries, to write back if its lease ever lapsed. */
  private readonly held = new Map<string, HeldLeg>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** Settles when a write-back of held legs is done; releases wait for it (see heartbeat()). */
  private reasserting: Promise<void> = Promise.resolve();
  private closed = false;
  private beating = false;
  /** Releases whose DELETE failed (database unreachable); retried on every heartbeat so no port stays taken. */
  private readonly unreleased = new Map<string, string | null>();

  private constructor(opts: PostgresLedgerOptions, schema: string) {
    super(opts.cfg);
    this.nodeId = opts.nodeId;
    this.onError = opts.onError ?? (() => {});
    const s = `"${schema}"`;
    this.t = { lock: `${s}.knude_capacity_lock`, nodes: `${s}.knude_capacity_nodes`, res: `${s}.knude_capacity_reservations` };
    this.pool = new pg.Pool({
      connectionString: opts.url ?? opts.cfg.postgresUrl ?? undefined,
      max: opts.poolSize ?? 10,
      application_name: `knude-capacity ${opts.nodeId}`.slice(0, 63),
      connectionTimeoutMillis: 5_000,
      // A reserve waits for the lock behind others; far longer than this means the database is in trouble.
      lock_timeout: 5_000,
      statement_timeout: 10_000,
      idle_in_transaction_session_timeout: 10_000,
    });
    // An idle connection that breaks must not crash the node; the next query reconnects.
    this.pool.on('error', (err) => this.onError(storeError(err)));
  }

  /** Connects, creates or updates the schema, takes this node's lease and releases its leftover reservations. */
  static async open(opts: PostgresLedgerOptions): Promise<PostgresCapacityLedger> {
    const schema = opts.schema ?? 'public';
    if (!IDENT_RE.test(schema)) throw new CapacityStoreError(`schema must be a lowercase SQL identifier (got ${JSON.stringify(schema)})`);
    if (typeof opts.nodeId !== 'string' || opts.nodeId === '' || opts.nodeId.length > 200) {
      throw new CapacityStoreError('nodeId must be a non-empty string of at most 200 characters');
    }
    if (!opts.url && !opts.cfg.postgresUrl) throw new CapacityStoreError('no PostgreSQL URL: set capacity.postgresUrl');
    const ledger = new PostgresCapacityLedger(opts, schema);
    try {
      await ledger.migrate(schema);
      await ledger.start();
    } catch (err) {
      await ledger.pool.end().catch(() => {});
      throw storeError(err);
    }
    return ledger;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    try {
      await client.query(begin);
      const out = await fn(client);
      await client.query('COMMIT');
      client.release();
      return out;
    } catch (err) {
      // A connection that cannot even roll back is dropped from the pool rather than reused.
      const broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      client.release(broken);
      throw err instanceof CapacityRequestError ? err : storeError(err);
    }
  }

  private async migrate(schema: string): Promise<void> {
    const s = `"${schema}"`;
    await this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('knude_capacity_migrate'))");
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${s}.knude_capacity_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set((await c.query<{ id: string }>(`SELECT id FROM ${s}.knude_capacity_migrations`)).rows.map((r) => r.id));
      for (const m of migrations(s)) {
        if (done.has(m.id)) continue;
        await c.query(m.sql);
        await c.query(`INSERT INTO ${s}.knude_capacity_migrations (id) VALUES ($1)`, [m.id]);
      }
    });
  }

  private async start(): Promise<void> {
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO ${this.t.nodes} (node_id, lease_until, started_at) VALUES ($1, now() + make_interval(secs => $2), now())
         ON CONFLICT (node_id) DO UPDATE SET lease_until = EXCLUDED.lease_until, started_at = EXCLUDED.started_at`,
        [this.nodeId, this.cfg.leaseSeconds],
      );
      await c.query(`DELETE FROM ${this.t.res} WHERE node_id = $1`, [this.nodeId]);
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(100, (this.cfg.leaseSeconds * 1000) / 3));
    this.heartbeatTimer.unref();
  }

  /**
   * Renews the lease; if it had run out (the node stalled), writes this node's live legs back
   * (other nodes may have deleted them), then deletes the rows of nodes whose lease is over.
   * Releases wait while legs are written back, so none is written back after its release.
   */
  async heartbeat(): Promise<void> {
    // A slow database must not pile heartbeats up: one at a time, the next tick catches up.
    if (this.closed || this.beating) return;
    this.beating = true;
    try {
      const r = await this.pool.query<{ lapsed: boolean }>(
        `UPDATE ${this.t.nodes} n SET lease_until = now() + make_interval(secs => $2)
         FROM (SELECT lease_until FROM ${this.t.nodes} WHERE node_id = $1) old
         WHERE n.node_id = $1 RETURNING old.lease_until <= now() AS lapsed`,
        [this.nodeId, this.cfg.leaseSeconds],
      );
      if (r.rowCount === 0 || r.rows[0]?.lapsed) {
        const writeBack = this.writeBack();
        this.reasserting = writeBack.catch(() => {});
        await writeBack;
      }
      await this.retryReleases();
      await this.pool.query(
        `DELETE FROM ${this.t.res} r USING ${this.t.nodes} n WHERE r.node_id = n.node_id AND n.lease_until <= now()`,
      );
    } catch (err) {
      if (!this.closed) this.onError(storeError(err));
    } finally {
      this.beating = false;
    }
  }

  private async writeBack(): Promise<void> {
    const legs = [...this.held.values()];
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO ${this.t.nodes} (node_id, lease_until, started_at) VALUES ($1, now() + make_interval(secs => $2), now())
         ON CONFLICT (node_id) DO UPDATE SET lease_until = EXCLUDED.lease_until`,
        [this.nodeId, this.cfg.leaseSeconds],
      );
      if (legs.length === 0) return;
      await c.query(
        `INSERT INTO ${this.t.res} (leg_id, token, node_id, kind, org, caller_org, licences_milli, media_milli, reserved_at)
         SELECT leg_id, token, $1, kind, org, caller_org, licences_milli, media_milli, reserved_at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::timestamptz[])
           AS l(leg_id, token, kind, org, caller_org, licences_milli, media_milli, reserved_at)
         ON CONFLICT (leg_id) DO NOTHING`,
        [
          this.nodeId,
          legs.map((l) => l.legId),
          legs.map((l) => l.token),
          legs.map((l) => l.kind),
          legs.map((l) => l.org),
          legs.map((l) => l.callerOrg ?? null),
          legs.map((l) => l.cost.licencesMilli),
          legs.map((l) => l.cost.mediaMilli),
          legs.map((l) => l.reservedAt.toISOString()),
        ],
      );
    });
  }

  protected async admit(leg: HeldLeg): Promise<CapacityRefusal | null> {
    if (this.closed) throw new CapacityStoreError('the capacity ledger is closed');
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    // Two round trips, each a multi-statement simple query (values escaped by pg.escapeLiteral,
    // numbers checked integers): the lock is held for one round trip plus the commit, which is
    // what bounds admissions per second across all nodes (bench/capacity.ts).
    const lit = (v: string | null): string => (v === null ? 'NULL' : pg.escapeLiteral(v));
    const int = (n: number): string => {
      if (!Number.isSafeInteger(n)) throw new CapacityStoreError(`not an integer: ${n}`);
      return String(n);
    };
    let open = false;
    try {
      open = true;
      const results = (await c.query(
        `BEGIN;
         SELECT id FROM ${this.t.lock} WHERE id = 1 FOR UPDATE;
         SELECT count(*)::int AS ports,
                coalesce(sum(r.licences_milli), 0)::int AS licences,
                coalesce(sum(r.media_milli) FILTER (WHERE r.node_id = ${lit(this.nodeId)}), 0)::int AS node_media,
                count(*) FILTER (WHERE r.org = ${lit(leg.org)})::int AS org_ports,
                count(*) FILTER (WHERE r.leg_id = ${lit(leg.legId)})::int AS held
         FROM ${this.t.res} r JOIN ${this.t.nodes} n ON n.node_id = r.node_id
         WHERE n.lease_until > now()`,
      )) as unknown as pg.QueryResult<Totals>[];
      const t = results[2]!.rows[0]!;
      if (t.held > 0) throw new CapacityRequestError(`leg ${leg.legId} already holds a port`);
      const refusal = decide(this.cfg, leg, { ports: t.ports, licencesMilli: t.licences, nodeMediaMilli: t.node_media, orgPorts: t.org_ports });
      if (refusal) {
        await c.query('ROLLBACK');
        open = false;
        c.release();
        return refusal;
      }
      // Known as held before COMMIT is sent, so a write-back that follows this commit includes it.
      this.held.set(leg.legId, leg);
      // A conflicting row can only be a dead node's (live ones were counted in `held` above).
      await c.query(
        `INSERT INTO ${this.t.res} (leg_id, token, node_id, kind, org, caller_org, licences_milli, media_milli, reserved_at)
         VALUES (${lit(leg.legId)}, ${lit(leg.token)}, ${lit(this.nodeId)}, ${lit(leg.kind)}, ${lit(leg.org)}, ${lit(leg.callerOrg ?? null)},
                 ${int(leg.cost.licencesMilli)}, ${int(leg.cost.mediaMilli)}, ${lit(leg.reservedAt.toISOString())})
         ON CONFLICT (leg_id) DO UPDATE SET token = EXCLUDED.token, node_id = EXCLUDED.node_id, kind = EXCLUDED.kind,
           org = EXCLUDED.org, caller_org = EXCLUDED.caller_org, licences_milli = EXCLUDED.licences_milli,
           media_milli = EXCLUDED.media_milli, reserved_at = EXCLUDED.reserved_at;
         COMMIT`,
      );
      open = false;
      c.release();
      return null;
    } catch (err) {
      this.held.delete(leg.legId);
      // A connection that cannot even roll back is dropped from the pool rather than reused.
      const broken = open ? await c.query('ROLLBACK').then(() => false, () => true) : false;
      c.release(broken);
      throw err instanceof CapacityRequestError ? err : storeError(err);
    }
  }

  protected async remove(legId: string, token: string | null): Promise<Removed> {
    const mine = this.held.get(legId);
    if (mine && (token === null || mine.token === token)) this.held.delete(legId);
    if (this.closed) return null; // the row stops counting when this node's lease runs out
    await this.reasserting;
    try {
      return await this.deleteRow(legId, token);
    } catch (err) {
      // The leg has ended whatever the database says: keep trying until its row is gone.
      this.unreleased.set(legId, token);
      this.onError(storeError(err));
      return null;
    }
  }

  private async deleteRow(legId: string, token: string | null): Promise<Removed> {
    const r = await this.pool.query<{ kind: LegKind; org: string }>(
      `DELETE FROM ${this.t.res} WHERE leg_id = $1 AND node_id = $2 AND ($3::text IS NULL OR token = $3) RETURNING kind, org`,
      [legId, this.nodeId, token],
    );
    return r.rows[0] ?? null;
  }

  private async retryReleases(): Promise<void> {
    for (const [legId, token] of [...this.unreleased]) {
      const gone = await this.deleteRow(legId, token);
      this.unreleased.delete(legId);
      if (gone) this.notify('release', { legId, kind: gone.kind, org: gone.org, at: new Date() });
    }
  }

  /** One consistent snapshot (a read-only REPEATABLE READ transaction) of the live reservations. */
  async usage(): Promise<CapacityUsage> {
    const live = `FROM ${this.t.res} r JOIN ${this.t.nodes} n ON n.node_id = r.node_id WHERE n.lease_until > now()`;
    const { totals, kinds, orgs } = await this.tx(async (c) => ({
      totals: await c.query<{ ports: number; licences: number; media: number; node_ports: number; node_media: number }>(
        `SELECT count(*)::int AS ports, coalesce(sum(r.licences_milli), 0)::int AS licences, coalesce(sum(r.media_milli), 0)::int AS media,
                count(*) FILTER (WHERE r.node_id = $1)::int AS node_ports,
                coalesce(sum(r.media_milli) FILTER (WHERE r.node_id = $1), 0)::int AS node_media ${live}`,
        [this.nodeId],
      ),
      kinds: await c.query<{ kind: LegKind; n: number }>(`SELECT r.kind, count(*)::int AS n ${live} GROUP BY r.kind`),
      orgs: await c.query<{ org: string; n: number }>(`SELECT r.org, count(*)::int AS n ${live} GROUP BY r.org ORDER BY r.org`),
    }), 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const t = totals.rows[0]!;
    const byKind: Record<LegKind, number> = { video: 0, audio: 0, browser: 0 };
    for (const k of kinds.rows) byKind[k.kind] = k.n;
    const perOrg: CapacityUsage['orgs'] = {};
    for (const o of orgs.rows) perOrg[o.org] = { ports: o.n, quota: quotaOf(this.cfg, o.org) };
    return {
      ports: t.ports,
      licences: fromMilli(t.licences),
      media: fromMilli(t.media),
      byKind,
      orgs: perOrg,
      limits: { maxPorts: this.cfg.maxPorts, maxLicences: this.cfg.maxLicences, mediaCapacity: this.cfg.mediaCapacity },
      nodePorts: t.node_ports,
      nodeMedia: fromMilli(t.node_media),
    };
  }

  /**
   * Stops the heartbeat and closes the connections. The node's reservations stay and stop
   * counting when its lease runs out, as after a crash; release legs first on a clean stop.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.reasserting;
    await this.pool.end();
  }
}
