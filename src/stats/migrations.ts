import type { Migration } from '../store/database.js';

/**
 * Statistics tables, written only through this module (CdrStore, AvailabilityStore). Times are
 * ISO 8601 UTC strings from toISOString(), which sort as text. Organisations and rooms are
 * plain names without foreign keys: a record outlives the organisation or room it names.
 */
export const statsMigrations: Migration[] = [
  {
    id: 'stats-001-cdr',
    sql: `
      CREATE TABLE cdr_legs (
        id               TEXT PRIMARY KEY,
        node             TEXT NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'browser')),
        direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        start_at         TEXT NOT NULL,
        answer_at        TEXT,
        end_at           TEXT NOT NULL,
        caller_alias     TEXT,
        caller_name      TEXT,
        callee_alias     TEXT,
        callee_name      TEXT,
        caller_org       TEXT,
        callee_org       TEXT,
        room_id          TEXT,
        -- space-separated: 'audio video'
        media_kinds      TEXT NOT NULL DEFAULT '',
        srtp_suite       TEXT,
        packets_sent     INTEGER NOT NULL DEFAULT 0 CHECK (packets_sent >= 0),
        packets_received INTEGER NOT NULL DEFAULT 0 CHECK (packets_received >= 0),
        packets_lost     INTEGER NOT NULL DEFAULT 0 CHECK (packets_lost >= 0),
        jitter_ms        REAL CHECK (jitter_ms IS NULL OR jitter_ms >= 0),
        cause_code       INTEGER,
        cause_text       TEXT NOT NULL,
        cause_side       TEXT NOT NULL CHECK (cause_side IN ('caller', 'callee', 'system')),
        licence_units    REAL NOT NULL DEFAULT 0 CHECK (licence_units >= 0),
        CHECK (end_at >= start_at),
        CHECK (answer_at IS NULL OR (answer_at >= start_at AND answer_at <= end_at))
      );
      -- a period's legs are found by start, and the ones begun before it by end
      CREATE INDEX cdr_legs_start ON cdr_legs (start_at);
      CREATE INDEX cdr_legs_end ON cdr_legs (end_at);

      CREATE TABLE cdr_meetings (
        id                TEXT PRIMARY KEY,
        node              TEXT NOT NULL,
        room_id           TEXT NOT NULL,
        org               TEXT NOT NULL,
        opened_at         TEXT NOT NULL,
        closed_at         TEXT NOT NULL,
        participants      INTEGER NOT NULL CHECK (participants >= 0),
        peak_participants INTEGER NOT NULL CHECK (peak_participants >= 0 AND peak_participants <= participants),
        CHECK (closed_at >= opened_at)
      );
      CREATE INDEX cdr_meetings_opened ON cdr_meetings (opened_at);
      CREATE INDEX cdr_meetings_closed ON cdr_meetings (closed_at);
    `,
  },
  {
    id: 'stats-002-availability',
    sql: `
      -- observations: each says the component was up or down at 'at' on 'node'
      CREATE TABLE stats_availability (
        component TEXT NOT NULL CHECK (component IN ('sip', 'media', 'api')),
        node      TEXT NOT NULL,
        at        TEXT NOT NULL,
        up        INTEGER NOT NULL CHECK (up IN (0, 1))
      );
      CREATE INDEX stats_availability_at ON stats_availability (component, at);

      -- announced service windows: not counted as downtime, nor as operating time
      CREATE TABLE stats_service_windows (
        id      INTEGER PRIMARY KEY,
        from_at TEXT NOT NULL,
        to_at   TEXT NOT NULL,
        reason  TEXT NOT NULL DEFAULT '',
        CHECK (to_at > from_at)
      );
    `,
  },
];
