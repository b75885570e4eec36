/**
 * `npm run bench -- capacity`: admission bookkeeping per leg — one reserve() and one release()
 * — for each ledger, with 200 legs already held (limit 1,000 ports, org quotas on) so the sums
 * run over a busy node, not an empty table:
 *  - an in-memory Map with counters: the floor, no durability and no sharing;
 *  - SQLite in a WAL file, as the node's own store;
 *  - PostgreSQL (POSTGRES_URL, default the local test cluster), one caller after another, and two
 *    nodes with 16 reserves in flight each, sharing one limit (all admissions queue on one row lock).
 * Each case runs ROUNDS timed rounds; the table shows medians. The schema and the SQLite file
 * are temporary and removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { parseCapacityConfig } from '../src/capacity/config.js';
import { PostgresCapacityLedger } from '../src/capacity/postgres.js';
import { SqliteCapacityLedger } from '../src/capacity/sqlite.js';
import type { LegKind } from '../src/capacity/types.js';
import { openDatabase } from '../src/store/database.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 3;
const ROUND_MS = 1_500;
const HELD = 200;
const URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const cfg = parseCapacityConfig({ maxPorts: 1000, maxLicences: 1000, mediaCapacity: 1000, defaultOrgQuota: 500 });

interface Ledgerish {
  reserve(req: { legId: string; kind: LegKind; org: string }): Promise<{ ok: boolean }>;
  release(legId: string): Promise<void>;
}

/** The baseline: counters in a Map, checked and bumped in memory. */
class MapLedger implements Ledgerish {
  private legs = new Map<string, string>();
  private orgs = new Map<string, number>();
  async reserve(req: { legId: string; kind: LegKind; org: string }): Promise<{ ok: boolean }> {
    const n = this.orgs.get(req.org) ?? 0;
    if (this.legs.size + 1 > 1000 || n + 1 > 500 || this.legs.has(req.legId)) return { ok: false };
    this.legs.set(req.legId, req.org);
    this.orgs.set(req.org, n + 1);
    return { ok: true };
  }
  async release(legId: string): Promise<void> {
    const org = this.legs.get(legId);
    if (org === undefined) return;
    this.legs.delete(legId);
    this.orgs.set(org, this.orgs.get(org)! - 1);
  }
}

interface Round {
  perSec: number;
  p50Us: number;
  p99Us: number;
}

/** `workers` loops, each reserving and releasing one leg after another on its ledger, for ROUND_MS. */
async function round(ledgers: Ledgerish[], workersPerLedger: number, tag: string): Promise<Round> {
  const lat: number[] = [];
  let done = 0;
  let seq = 0;
  const until = performance.now() + ROUND_MS;
  const started = performance.now();
  const worker = async (l: Ledgerish) => {
    while (performance.now() < until) {
      const legId = `${tag}-${seq++}`;
      const t0 = performance.now();
      const r = await l.reserve({ legId, kind: seq % 4 === 0 ? 'audio' : 'video', org: `org-${seq % 10}` });
      if (!r.ok) throw new Error(`bench leg ${legId} refused: the bench must stay under its limits`);
      await l.release(legId);
      lat.push((performance.now() - t0) * 1000);
      done++;
    }
  };
  await Promise.all(ledgers.flatMap((l) => Array.from({ length: workersPerLedger }, () => worker(l))));
  const elapsed = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: done / elapsed, p50Us: lat[Math.floor(lat.length * 0.5)]!, p99Us: lat[Math.floor(lat.length * 0.99)]! };
}

async function fill(l: Ledgerish, prefix: string): Promise<void> {
  for (let i = 0; i < HELD; i++) {
    const r = await l.reserve({ legId: `${prefix}-held-${i}`, kind: i % 3 === 0 ? 'browser' : 'video', org: `org-${i % 10}` });
    if (!r.ok) throw new Error('bench fill refused');
  }
}

async function measure(label: string, ledgers: Ledgerish[], workers: number): Promise<Record<string, string | number>> {
  await round(ledgers, workers, `${label}-warm`);
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(ledgers, workers, `${label}-${i}`));
  return {
    case: label,
    'in flight': ledgers.length * workers,
    'reserve+release/s': Math.round(median(rounds.map((r) => r.perSec))),
    'p50 µs': Math.round(median(rounds.map((r) => r.p50Us))),
    'p99 µs': Math.round(median(rounds.map((r) => r.p99Us))),
  };
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'knude-bench-capacity-'));
  const schema = `knude_bench_${randomBytes(4).toString('hex')}`;
  const opened: PostgresCapacityLedger[] = [];
  try {
    const rows: Array<Record<string, string | number>> = [];
    const map = new MapLedger();
    await fill(map, 'map');
    rows.push(await measure('in-memory Map (baseline)', [map], 1));

    const db = openDatabase(join(dir, 'knude.db'));
    const sqlite = new SqliteCapacityLedger(db, cfg);
    await fill(sqlite, 'sqlite');
    rows.push(await measure('SQLite (WAL file)', [sqlite], 1));
    db.close();

    const pgCfg = { ...cfg, store: 'postgres' as const, postgresUrl: URL };
    const a = await PostgresCapacityLedger.open({ cfg: pgCfg, nodeId: 'bench-a', schema });
    opened.push(a);
    await fill(a, 'pg-a');
    rows.push(await measure('PostgreSQL, 1 node', [a], 1));
    const b = await PostgresCapacityLedger.open({ cfg: pgCfg, nodeId: 'bench-b', schema, poolSize: 16 });
    opened.push(b);
    rows.push(await measure('PostgreSQL, 2 nodes shared', [a, b], 16));

    const perSec = (label: string) => rows.find((r) => r.case === label)!['reserve+release/s'] as number;
    return {
      name: 'capacity',
      rows,
      ratio: perSec('PostgreSQL, 1 node') / perSec('SQLite (WAL file)'),
      ratioLabel:
        'PostgreSQL reserve+release/s (one node, one at a time) ÷ SQLite reserve+release/s on the same machine (higher is better; below 1 is the price of sharing one limit between nodes)',
    };
  } finally {
    for (const l of opened) await l.close().catch(() => {});
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect().then(
      () => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end()),
      () => {},
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
