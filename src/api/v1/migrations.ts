import type { Migration } from '../../store/database.js';

/**
 * Tables of the administration and booking API, written only through src/api/v1. Organisation
 * names are the dial plan's (plain text, no foreign key), as in the rooms and registrar tables.
 * Times are ISO 8601 UTC strings, which sort as text.
 */
export const apiMigrations: Migration[] = [
  {
    id: 'api-001-identity',
    sql: `
      -- People and scripts that use the API or the admin pages. An operator may belong to no
      -- organisation (it acts for all); everyone else belongs to exactly one.
      CREATE TABLE api_users (
        id            TEXT PRIMARY KEY,
        org           TEXT,
        username      TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        email         TEXT,
        role          TEXT NOT NULL CHECK (role IN ('operator', 'org-admin', 'booker')),
        password_hash TEXT,
        created_at    TEXT NOT NULL,
        CHECK (role = 'operator' OR org IS NOT NULL)
      );
      CREATE INDEX api_users_org ON api_users (org);
      -- Bearer tokens: only the SHA-256 of the secret is kept, so a copy of the database
      -- grants nothing.
      CREATE TABLE api_tokens (
        id          TEXT PRIMARY KEY,
        user_id     TEXT NOT NULL REFERENCES api_users (id) ON DELETE CASCADE,
        hash        TEXT NOT NULL UNIQUE,
        label       TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        created_at  TEXT NOT NULL
      );
      -- Client certificates (mutual TLS), by the SHA-256 fingerprint of the DER certificate.
      CREATE TABLE api_client_certs (
        fingerprint TEXT PRIMARY KEY,
        org         TEXT,
        role        TEXT NOT NULL CHECK (role IN ('operator', 'org-admin', 'booker')),
        label       TEXT NOT NULL,
        subject     TEXT,
        created_at  TEXT NOT NULL,
        CHECK (role = 'operator' OR org IS NOT NULL)
      );
    `,
  },
  {
    id: 'api-002-bookings',
    sql: `
      CREATE TABLE api_templates (
        id            TEXT PRIMARY KEY,
        org           TEXT NOT NULL,
        name          TEXT NOT NULL,
        sms_text      TEXT NOT NULL,
        email_subject TEXT NOT NULL,
        email_text    TEXT NOT NULL,
        is_default    INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        UNIQUE (org, name)
      );
      CREATE TABLE api_bookings (
        id          TEXT PRIMARY KEY,
        org         TEXT NOT NULL,
        room_id     TEXT NOT NULL,
        title       TEXT NOT NULL,
        start_at    TEXT NOT NULL,
        end_at      TEXT NOT NULL,
        join_alias  TEXT NOT NULL,
        template_id TEXT,
        status      TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        -- set when participants' personal data was pseudonymised by the retention job
        pseudonymised_at TEXT
      );
      CREATE INDEX api_bookings_org ON api_bookings (org, start_at);
      CREATE INDEX api_bookings_end ON api_bookings (end_at);
      CREATE TABLE api_booking_participants (
        booking_id TEXT NOT NULL REFERENCES api_bookings (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        name       TEXT NOT NULL,
        phone      TEXT,
        email      TEXT,
        role       TEXT NOT NULL CHECK (role IN ('host', 'guest')),
        PRIMARY KEY (booking_id, idx)
      );
      -- Every invitation sent (or to be sent): the embedded default delivery is this table
      -- and the log; a gateway adapter updates status and attempts.
      CREATE TABLE api_outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org          TEXT NOT NULL,
        booking_id   TEXT,
        channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
        recipient    TEXT NOT NULL,
        subject      TEXT,
        body         TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'stored', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
      );
      CREATE INDEX api_outbox_booking ON api_outbox (booking_id);
      CREATE INDEX api_outbox_created ON api_outbox (created_at);
      -- Logos uploaded through the API, already validated and sanitised, as data: URLs.
      CREATE TABLE api_room_logos (
        room_id    TEXT PRIMARY KEY,
        org        TEXT NOT NULL,
        data_url   TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 'api-003-operations',
    sql: `
      CREATE TABLE api_service_windows (
        id          TEXT PRIMARY KEY,
        start_at    TEXT NOT NULL,
        end_at      TEXT NOT NULL,
        description TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        CHECK (end_at > start_at)
      );
      CREATE TABLE api_abuse_blocks (
        id         TEXT PRIMARY KEY,
        kind       TEXT NOT NULL CHECK (kind IN ('ip', 'account')),
        value      TEXT NOT NULL,
        reason     TEXT NOT NULL,
        until      TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (kind, value)
      );
    `,
  },
  {
    id: 'api-004-audit',
    sql: `
      CREATE TABLE api_audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        org       TEXT,
        role      TEXT,
        action    TEXT NOT NULL,
        method    TEXT NOT NULL,
        path      TEXT NOT NULL,
        status    INTEGER NOT NULL,
        ip        TEXT,
        detail    TEXT
      );
      CREATE INDEX api_audit_at ON api_audit (at);
      CREATE INDEX api_audit_org ON api_audit (org, at);
      -- Append-only: changes are refused unless the retention job opened the gate inside its
      -- own transaction (other connections never see the gate open: it is never committed).
      CREATE TABLE api_audit_gate (id INTEGER PRIMARY KEY CHECK (id = 1), open INTEGER NOT NULL);
      INSERT INTO api_audit_gate (id, open) VALUES (1, 0);
      CREATE TRIGGER api_audit_no_update BEFORE UPDATE ON api_audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER api_audit_no_delete BEFORE DELETE ON api_audit
        WHEN (SELECT open FROM api_audit_gate WHERE id = 1) = 0
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only; only the retention job deletes old entries'); END;
    `,
  },
];
