import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/**
 * One schema step owned by a capability module. Ids are global and never reused;
 * a capability's tables are created and changed only by its own migrations.
 */
export interface Migration {
  id: string;
  sql: string;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * Opens the embedded SQLite store. WAL with synchronous=NORMAL keeps REGISTER bursts fast
 * while a crash loses at most the last transactions since the checkpoint, never corrupts.
 * `path` ':memory:' gives a throwaway store for tests.
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  return db;
}

/** Applies, in order and each in its own transaction, the migrations not applied yet. */
export function migrate(db: Db, migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.id)) throw new StoreError(`duplicate migration id ${m.id}`);
    seen.add(m.id);
  }
  const applied = new Set(
    (db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id),
  );
  const record = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.id, new Date().toISOString());
    })();
  }
}
