import type { Migration } from '../store/database.js';

/**
 * Registrar tables. Organisations and aliases belong to the dial plan, so `org` is a plain name
 * (no foreign key) and nothing here knows about aliases.
 */
export const registrarMigrations: Migration[] = [
  {
    id: 'registrar-001-accounts',
    sql: `
      CREATE TABLE registrar_accounts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org          TEXT NOT NULL,
        username     TEXT NOT NULL,
        realm        TEXT NOT NULL,
        -- HA1 = H(username:realm:password) per algorithm; the password itself is never stored.
        ha1_md5      TEXT NOT NULL,
        ha1_sha256   TEXT NOT NULL,
        display_name TEXT,
        created_at   TEXT NOT NULL,
        UNIQUE (realm, username)
      );
      CREATE INDEX registrar_accounts_org ON registrar_accounts (org);
    `,
  },
  {
    id: 'registrar-002-bindings',
    sql: `
      CREATE TABLE registrar_bindings (
        id                 INTEGER PRIMARY KEY,
        aor                TEXT NOT NULL,
        contact_uri        TEXT NOT NULL,
        call_id            TEXT NOT NULL,
        cseq               INTEGER NOT NULL,
        expires_at         INTEGER NOT NULL, -- epoch ms
        q                  REAL,
        instance_id        TEXT,
        reg_id             INTEGER,
        path               TEXT,             -- JSON array of Path header values, in order
        received_transport TEXT NOT NULL,
        received_address   TEXT NOT NULL,
        received_port      INTEGER NOT NULL,
        received_flow_id   TEXT,
        user_agent         TEXT,
        updated_at         INTEGER NOT NULL  -- epoch ms
      );
      -- Contact identity is decided by RFC 3261 §19.1.4 URI comparison in code, not by a
      -- unique index: equivalent URIs can differ as strings.
      CREATE INDEX registrar_bindings_aor ON registrar_bindings (aor);
      CREATE INDEX registrar_bindings_expires ON registrar_bindings (expires_at);
    `,
  },
];
