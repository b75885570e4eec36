import type { Migration } from '../store/database.js';

/**
 * Tables of the dial plan, all prefixed `dialplan_` and written only by DialPlanStore.
 * Prefixes are stored as digits without '+', aliases in their normalised key form, so every
 * lookup and overlap check is a plain string comparison on an index.
 */
export const dialplanMigrations: Migration[] = [
  {
    id: 'dialplan-001-initial',
    sql: `
CREATE TABLE dialplan_orgs (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE dialplan_blocks (
  prefix TEXT PRIMARY KEY,
  org TEXT NOT NULL REFERENCES dialplan_orgs(name)
);
CREATE INDEX dialplan_blocks_org ON dialplan_blocks(org);
CREATE TABLE dialplan_domains (
  domain TEXT PRIMARY KEY,
  org TEXT NOT NULL REFERENCES dialplan_orgs(name)
);
CREATE INDEX dialplan_domains_org ON dialplan_domains(org);
CREATE TABLE dialplan_zones (
  name TEXT PRIMARY KEY,
  -- one connection per organisation's local infrastructure
  org TEXT NOT NULL UNIQUE REFERENCES dialplan_orgs(name),
  -- JSON arrays; NULL means "everything the organisation owns"
  prefixes TEXT,
  domains TEXT,
  -- credentials we present to the neighbour, so they are kept reversible
  auth_username TEXT,
  auth_password TEXT
);
CREATE TABLE dialplan_zone_targets (
  zone TEXT NOT NULL REFERENCES dialplan_zones(name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
  priority INTEGER NOT NULL,
  PRIMARY KEY (zone, position)
);
CREATE TABLE dialplan_aliases (
  alias TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('account', 'room', 'zone')),
  target TEXT NOT NULL,
  org TEXT NOT NULL REFERENCES dialplan_orgs(name),
  public INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dialplan_aliases_org ON dialplan_aliases(org);
CREATE INDEX dialplan_aliases_zone ON dialplan_aliases(target) WHERE kind = 'zone';
CREATE TABLE dialplan_transforms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  priority INTEGER NOT NULL,
  match TEXT NOT NULL,
  replace TEXT NOT NULL,
  stop INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE dialplan_blocked (
  from_org TEXT NOT NULL REFERENCES dialplan_orgs(name),
  to_org TEXT NOT NULL REFERENCES dialplan_orgs(name),
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (from_org, to_org)
);
CREATE TABLE dialplan_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
];
