import type { Migration } from '../store/database.js';

/**
 * Meeting room tables, written only by RoomStore. Organisations and aliases belong to the dial
 * plan, so `org` is a plain name (no foreign key: deleting an organisation stays the plan's
 * business) and a room's aliases live in dialplan_aliases (kind 'room', target = room id).
 * PINs are scrypt hashes; times are ISO 8601 UTC strings, which sort as text.
 */
export const roomsMigrations: Migration[] = [
  {
    id: 'rooms-001-rooms',
    sql: `
      CREATE TABLE rooms (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        org              TEXT NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN ('permanent', 'one-time')),
        valid_from       TEXT,
        valid_until      TEXT,
        host_pin         TEXT,
        guest_pin        TEXT,
        max_participants INTEGER NOT NULL CHECK (max_participants BETWEEN 2 AND 100),
        lobby            INTEGER NOT NULL DEFAULT 0,
        locked           INTEGER NOT NULL DEFAULT 0,
        -- JSON {logoUrl?, color?}
        branding         TEXT,
        created_at       TEXT NOT NULL,
        CHECK ((kind = 'permanent' AND valid_from IS NULL AND valid_until IS NULL)
            OR (kind = 'one-time' AND valid_from IS NOT NULL AND valid_until > valid_from))
      );
      CREATE INDEX rooms_org ON rooms (org);
      -- expired one-time rooms are found and deleted by their end time
      CREATE INDEX rooms_valid_until ON rooms (valid_until) WHERE valid_until IS NOT NULL;
    `,
  },
];
