import type { Migration } from '../store/database.js';

/**
 * The single node's reservations, written only by SqliteCapacityLedger. One row per carried leg;
 * what is in use is always summed from the rows (never a separate counter that could drift).
 * A leg's licence and media cost are stored as they were when it was admitted, in thousandths,
 * so a weight changed by a configuration reload never unbalances what its release gives back.
 */
export const capacityMigrations: Migration[] = [
  {
    id: 'capacity-001-reservations',
    sql: `
      CREATE TABLE capacity_reservations (
        leg_id         TEXT PRIMARY KEY,
        token          TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'browser')),
        org            TEXT NOT NULL,
        caller_org     TEXT,
        licences_milli INTEGER NOT NULL CHECK (licences_milli >= 0),
        media_milli    INTEGER NOT NULL CHECK (media_milli >= 0),
        reserved_at    TEXT NOT NULL
      );
      CREATE INDEX capacity_reservations_org ON capacity_reservations (org);
    `,
  },
];
