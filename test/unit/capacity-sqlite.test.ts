import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCapacityConfig } from '../../src/capacity/config.js';
import { CapacityStoreError } from '../../src/capacity/errors.js';
import { openCapacityLedger } from '../../src/capacity/index.js';
import { readSqliteCapacityUsage, SqliteCapacityLedger } from '../../src/capacity/sqlite.js';
import { openDatabase } from '../../src/store/database.js';
import { ledgerContract } from './capacity-ledger-contract.js';

ledgerContract('SQLite', async (cfg) => new SqliteCapacityLedger(openDatabase(':memory:'), cfg));

describe('SqliteCapacityLedger on the node store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knude-capacity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('releases reservations left by a previous process when the node starts again', async () => {
    const path = join(dir, 'restart.db');
    const cfg = parseCapacityConfig({ maxPorts: 3 });
    const before = new SqliteCapacityLedger(openDatabase(path), cfg);
    for (const id of ['a', 'b', 'c']) expect((await before.reserve({ legId: id, kind: 'video', org: 'o' })).ok).toBe(true);
    expect((await before.reserve({ legId: 'd', kind: 'video', org: 'o' })).ok).toBe(false);
    // The process dies without releasing; another one opens the same file.
    const db = openDatabase(path);
    expect(readSqliteCapacityUsage(db, cfg).ports).toBe(3);
    const after = new SqliteCapacityLedger(db, cfg);
    expect((await after.usage()).ports).toBe(0);
    expect((await after.reserve({ legId: 'd', kind: 'video', org: 'o' })).ok).toBe(true);
  });

  it('is what openCapacityLedger gives for store sqlite, and its table is recorded as a migration', async () => {
    const db = openDatabase(':memory:');
    const ledger = await openCapacityLedger({ cfg: parseCapacityConfig({}), db, nodeId: 'n1' });
    expect(ledger).toBeInstanceOf(SqliteCapacityLedger);
    expect(db.prepare("SELECT id FROM schema_migrations WHERE id LIKE 'capacity-%'").pluck().all()).toEqual(['capacity-001-reservations']);
    // A second ledger on the same store applies nothing twice.
    new SqliteCapacityLedger(db, parseCapacityConfig({}));
    expect(db.prepare("SELECT count(*) FROM schema_migrations WHERE id LIKE 'capacity-%'").pluck().get()).toBe(1);
  });

  it('after the node store closed, reserve is a CapacityStoreError and release a no-op', async () => {
    const db = openDatabase(':memory:');
    const ledger = new SqliteCapacityLedger(db, parseCapacityConfig({}));
    const r = await ledger.reserve({ legId: 'x', kind: 'video', org: 'o' });
    db.close();
    await expect(ledger.reserve({ legId: 'y', kind: 'video', org: 'o' })).rejects.toThrow(CapacityStoreError);
    if (r.ok) await r.reservation.release();
    await ledger.release('x');
  });

  it('keeps the cost a leg was admitted with when the weights change', async () => {
    const db = openDatabase(':memory:');
    const old = new SqliteCapacityLedger(db, parseCapacityConfig({ maxLicences: 4 }));
    expect((await old.reserve({ legId: 'x', kind: 'audio', org: 'o' })).ok).toBe(true);
    const row = db.prepare('SELECT licences_milli, media_milli FROM capacity_reservations').get();
    expect(row).toEqual({ licences_milli: 125, media_milli: 100 });
    const usage = readSqliteCapacityUsage(db, parseCapacityConfig({ licenceWeights: { audio: 1 } }));
    expect(usage.licences).toBe(0.125);
  });
});
