/** Public surface of ports, licences and capacity admission. */
import type { Db } from '../store/database.js';
import type { CapacityConfig } from './config.js';
import type { CapacityStoreError } from './errors.js';
import { PostgresCapacityLedger } from './postgres.js';
import { SqliteCapacityLedger } from './sqlite.js';
import type { CapacityLedger } from './types.js';

export * from './types.js';
export * from './errors.js';
export { defaultCapacityConfig, parseCapacityConfig, quotaOf, type CapacityConfig } from './config.js';
export { capacityMigrations } from './migrations.js';
export { decide, checkRequest, reasonHeader, type UsageSnapshot } from './policy.js';
export { sipRejection, browserRefusal, type SipRejection, type BrowserRefusal } from './admission.js';
export { SqliteCapacityLedger, readSqliteCapacityUsage } from './sqlite.js';
export { PostgresCapacityLedger, type PostgresLedgerOptions } from './postgres.js';

/** The ledger the configuration asks for: the node's own SQLite store, or the shared PostgreSQL. */
export async function openCapacityLedger(opts: {
  cfg: CapacityConfig;
  db: Db;
  nodeId: string;
  schema?: string;
  onError?: (err: CapacityStoreError) => void;
}): Promise<CapacityLedger> {
  if (opts.cfg.store === 'sqlite') return new SqliteCapacityLedger(opts.db, opts.cfg);
  return PostgresCapacityLedger.open({ cfg: opts.cfg, nodeId: opts.nodeId, schema: opts.schema ?? opts.cfg.postgresSchema, onError: opts.onError });
}
