/**
 * The PostgreSQL ledger against the real server (POSTGRES_URL, default the test cluster on
 * 127.0.0.1): the shared behavioural contract, then what only a shared store has — two nodes
 * sharing one limit under concurrent load, leases of dead and stalled nodes, a restarted node.
 * Every ledger lives in a fresh random schema, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCapacityConfig, type CapacityConfig } from '../../src/capacity/config.js';
import { CapacityStoreError } from '../../src/capacity/errors.js';
import { openCapacityLedger } from '../../src/capacity/index.js';
import { PostgresCapacityLedger } from '../../src/capacity/postgres.js';
import type { ReserveResult } from '../../src/capacity/types.js';
import { openDatabase } from '../../src/store/database.js';
import { ledgerContract } from '../unit/capacity-ledger-contract.js';

const URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = randomBytes(4).toString('hex');
const schemas: string[] = [];
let admin: pg.Client;

function freshSchema(): string {
  const s = `knude_test_${RUN}_${schemas.length}`;
  schemas.push(s);
  return s;
}

const pgCfg = (partial: Record<string, unknown>): CapacityConfig => parseCapacityConfig({ store: 'postgres', postgresUrl: URL, ...partial });

beforeAll(async () => {
  admin = new pg.Client({ connectionString: URL });
  await admin.connect();
});

afterAll(async () => {
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.end();
});

ledgerContract('PostgreSQL', async (cfg) => PostgresCapacityLedger.open({ cfg: { ...cfg, store: 'postgres', postgresUrl: URL }, nodeId: 'node-a', schema: freshSchema() }));

describe('PostgresCapacityLedger: several nodes, one limit', () => {
  const open: PostgresCapacityLedger[] = [];
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  const node = async (nodeId: string, schema: string, partial: Record<string, unknown>): Promise<PostgresCapacityLedger> => {
    const l = await PostgresCapacityLedger.open({ cfg: pgCfg(partial), nodeId, schema });
    open.push(l);
    return l;
  };

  it('two nodes reserving 200 legs each in parallel never exceed the shared limit, and end at 0', async () => {
    const schema = freshSchema();
    const a = await node('node-a', schema, { maxPorts: 20, defaultOrgQuota: 12 });
    const b = await node('node-b', schema, { maxPorts: 20, defaultOrgQuota: 12 });
    let inUse = 0;
    let peak = 0;
    // Each leg holds its port briefly and gives it back, so admissions and releases interleave across the nodes.
    const attempt = async (ledger: PostgresCapacityLedger, i: number): Promise<ReserveResult> => {
      const r = await ledger.reserve({ legId: `${ledger.nodeId}-${i}`, kind: i % 5 === 0 ? 'audio' : 'video', org: `org-${i % 3}` });
      if (r.ok) {
        peak = Math.max(peak, ++inUse);
        if (i % 2 === 0) {
          inUse--;
          await r.reservation.release();
        }
      }
      return r;
    };
    const results = await Promise.all([...Array.from({ length: 200 }, (_, i) => attempt(a, i)), ...Array.from({ length: 200 }, (_, i) => attempt(b, i))]);
    const admitted = results.filter((r) => r.ok);
    // Held at the end: at most 20 together, and the database agrees with what the callers hold.
    const stillHeld = admitted.length - results.filter((r, i) => r.ok && (i % 200) % 2 === 0).length;
    expect(stillHeld).toBeLessThanOrEqual(20);
    expect(peak).toBeLessThanOrEqual(20);
    const u = await a.usage();
    expect(u.ports).toBe(stillHeld);
    expect(u.ports).toBeLessThanOrEqual(20);
    for (const org of Object.values(u.orgs)) expect(org.ports).toBeLessThanOrEqual(12);
    expect(u.nodePorts + (await b.usage()).nodePorts).toBe(u.ports);
    for (const r of results) if (!r.ok) expect(['node-ports', 'org-quota']).toContain(r.refusal.cause);
    expect(results.some((r) => !r.ok && r.refusal.cause === 'node-ports')).toBe(true);
    await Promise.all(admitted.map((r) => (r.ok ? r.reservation.release() : undefined)));
    expect((await a.usage()).ports).toBe(0);
    expect((await b.usage()).ports).toBe(0);
  });

  it('with no releases, exactly the limit out of 400 concurrent attempts from two nodes is admitted', async () => {
    const schema = freshSchema();
    const a = await node('node-a', schema, { maxPorts: 20 });
    const b = await node('node-b', schema, { maxPorts: 20 });
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).reserve({ legId: `leg-${i}`, kind: 'video', org: 'o' })),
    );
    const admitted = results.filter((r) => r.ok);
    expect(admitted).toHaveLength(20);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(380);
    for (const r of refused) expect(!r.ok && r.refusal).toMatchObject({ sipStatus: 503, retryAfterSeconds: 30, reason: 'Q.850;cause=34;text="node port limit 20 reached"' });
    const ua = await a.usage();
    expect(ua.ports).toBe(20);
    expect(ua.nodePorts + (await b.usage()).nodePorts).toBe(20);
    await Promise.all(admitted.map((r) => (r.ok ? r.reservation.release() : undefined)));
    expect((await b.usage()).ports).toBe(0);
  });

  it("gives a dead node's ports back once its lease has run out", async () => {
    const schema = freshSchema();
    const live = await node('node-live', schema, { maxPorts: 4, leaseSeconds: 1 });
    const dying = await PostgresCapacityLedger.open({ cfg: pgCfg({ maxPorts: 4, leaseSeconds: 1 }), nodeId: 'node-dying', schema });
    for (let i = 0; i < 3; i++) expect((await dying.reserve({ legId: `d${i}`, kind: 'video', org: 'o' })).ok).toBe(true);
    expect((await live.reserve({ legId: 'l0', kind: 'video', org: 'o' })).ok).toBe(true);
    expect((await live.reserve({ legId: 'l1', kind: 'video', org: 'o' })).ok).toBe(false);
    await dying.close(); // no release, no more heartbeats: a crash as the database sees it
    // The lease (1 s) runs out; poll rather than assume a time.
    const deadline = Date.now() + 10_000;
    while ((await live.usage()).ports !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await live.usage()).toMatchObject({ ports: 1, nodePorts: 1 });
    expect((await live.reserve({ legId: 'l1', kind: 'video', org: 'o' })).ok).toBe(true);
    // The live node's heartbeat deletes the dead rows, and a new leg may reuse a dead leg's id.
    await live.heartbeat();
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".knude_capacity_reservations WHERE node_id = 'node-dying'`);
    expect(rows[0].n).toBe(0);
    expect((await live.reserve({ legId: 'd0', kind: 'audio', org: 'o' })).ok).toBe(true);
  });

  it('a node that starts again releases its own leftover reservations at once', async () => {
    const schema = freshSchema();
    const before = await PostgresCapacityLedger.open({ cfg: pgCfg({ maxPorts: 2 }), nodeId: 'node-a', schema });
    await before.reserve({ legId: 'x', kind: 'video', org: 'o' });
    await before.reserve({ legId: 'y', kind: 'video', org: 'o' });
    await before.close();
    const other = await node('node-b', schema, { maxPorts: 2 });
    expect((await other.usage()).ports).toBe(2); // lease of 30 s still running
    await node('node-a', schema, { maxPorts: 2 });
    expect((await other.usage()).ports).toBe(0);
  });

  it('a node whose lease lapsed while it still carries legs writes them back on its next heartbeat', async () => {
    const schema = freshSchema();
    const a = await node('node-a', schema, { maxPorts: 3 });
    const b = await node('node-b', schema, { maxPorts: 3 });
    expect((await a.reserve({ legId: 'kept', kind: 'video', org: 'o' })).ok).toBe(true);
    const gone = await a.reserve({ legId: 'ended', kind: 'video', org: 'o' });
    // node-a stalls: its lease runs out and node-b's heartbeat deletes its rows.
    await admin.query(`UPDATE "${schema}".knude_capacity_nodes SET lease_until = now() - interval '1 second' WHERE node_id = 'node-a'`);
    await b.heartbeat();
    expect((await b.usage()).ports).toBe(0);
    if (gone.ok) await gone.reservation.release(); // ended while the rows were gone
    await a.heartbeat();
    const u = await b.usage();
    expect(u.ports).toBe(1);
    expect(u.orgs).toEqual({ o: { ports: 1, quota: null } });
    await a.release('kept');
    expect((await b.usage()).ports).toBe(0);
  });

  it('is what openCapacityLedger gives for store postgres; a wrong URL is a CapacityStoreError', async () => {
    const l = await openCapacityLedger({ cfg: pgCfg({}), db: openDatabase(':memory:'), nodeId: 'n1', schema: freshSchema() });
    expect(l).toBeInstanceOf(PostgresCapacityLedger);
    await l.close();
    await expect(
      PostgresCapacityLedger.open({ cfg: pgCfg({}), nodeId: 'n1', url: 'postgres://postgres@127.0.0.1:5432/no_such_database_knude', schema: freshSchema() }),
    ).rejects.toThrow(CapacityStoreError);
    await expect(PostgresCapacityLedger.open({ cfg: pgCfg({}), nodeId: 'n1', schema: 'Bad Schema' })).rejects.toThrow('schema must be a lowercase SQL identifier');
  });

  it('survives its connections being cut: the error is reported, the next reserve reconnects', async () => {
    const errors: CapacityStoreError[] = [];
    const l = await PostgresCapacityLedger.open({ cfg: pgCfg({ maxPorts: 5 }), nodeId: 'node-cut', schema: freshSchema(), onError: (e) => errors.push(e) });
    open.push(l);
    expect((await l.reserve({ legId: 'before', kind: 'video', org: 'o' })).ok).toBe(true);
    const { rows } = await admin.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'knude-capacity node-cut'");
    expect(rows.length).toBeGreaterThan(0);
    const deadline = Date.now() + 5_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(errors[0]).toBeInstanceOf(CapacityStoreError);
    expect((await l.reserve({ legId: 'after', kind: 'video', org: 'o' })).ok).toBe(true);
    await l.release('before');
    expect(await l.usage()).toMatchObject({ ports: 1, byKind: { video: 1, audio: 0, browser: 0 } });
  });

  it('two nodes starting together create the schema once', async () => {
    const schema = freshSchema();
    const [a, b] = await Promise.all([node('node-a', schema, {}), node('node-b', schema, {})]);
    expect((await a.reserve({ legId: 'x', kind: 'video', org: 'o' })).ok).toBe(true);
    expect((await b.usage()).ports).toBe(1);
    const { rows } = await admin.query(`SELECT id FROM "${schema}".knude_capacity_migrations`);
    expect(rows.map((r) => r.id)).toEqual(['capacity-pg-001']);
  });
});
