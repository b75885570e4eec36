/**
 * The dial plan's tables, read and written only through this class. Every write validates
 * against the rest of the plan inside one transaction (so two writers cannot race an overlap
 * past each other) and then tells subscribers what changed, so the router's in-memory index
 * sees a write as soon as the call returns.
 */
import { migrate, type Db } from '../store/database.js';
import { DialStringError, PlanConflictError, PlanNotFoundError, PlanValidationError, printable } from './errors.js';
import { dialplanMigrations } from './migrations.js';
import { normalize } from './normalize.js';
import { checkTransform, type TransformInput } from './transforms.js';
import {
  checkAccountTarget,
  checkCredentials,
  checkOrgName,
  checkRoomId,
  checkSettings,
  checkTarget,
  checkZoneName,
  normalizeDomain,
  normalizePrefix,
} from './validate.js';
import {
  defaultSettings,
  type Alias,
  type AliasKind,
  type BlockedPair,
  type DialPlanSettings,
  type NeighbourZone,
  type NumberBlock,
  type Organisation,
  type PlanSnapshot,
  type TransformRule,
  type UriDomain,
  type ZoneTarget,
} from './types.js';

export type DialPlanChange =
  /** One alias added, changed or removed: the router patches its alias map. */
  | { type: 'alias'; op: 'put' | 'delete'; alias: Alias }
  /** Many aliases added in one transaction. */
  | { type: 'aliases'; aliases: Alias[] }
  /** Anything else (orgs, blocks, domains, zones, transforms, policy, settings). */
  | { type: 'structure' }
  /** Everything may have changed (import, batch). */
  | { type: 'reload' };

export type DialPlanListener = (change: DialPlanChange) => void;

export interface AliasInput {
  alias: string;
  kind: AliasKind;
  target: string;
  org: string;
  public?: boolean;
}

export interface ZoneInput {
  name: string;
  org: string;
  /** Explicit prefixes (within the org's blocks); omitted or null: all of the org's blocks. */
  prefixes?: Array<string | number> | null;
  /** Explicit domains (of the org); omitted or null: all of the org's domains. */
  domains?: string[] | null;
  targets: Array<Partial<ZoneTarget> & { host: string }>;
  credentials?: { username: string; password: string } | null;
}

/** Structure of the plan without the (many) aliases: what the router rebuilds on 'structure'. */
export type PlanStructure = Omit<PlanSnapshot, 'aliases'>;

const MAX_TARGETS = 16;
const E164_MAX = 15;

interface ZoneRow {
  name: string;
  org: string;
  prefixes: string | null;
  domains: string | null;
  auth_username: string | null;
  auth_password: string | null;
}
interface AliasRow {
  alias: string;
  kind: AliasKind;
  target: string;
  org: string;
  public: number;
}
interface TargetRow {
  zone: string;
  host: string;
  port: number;
  transport: ZoneTarget['transport'];
  priority: number;
}

const toAlias = (r: AliasRow): Alias => ({ alias: r.alias, kind: r.kind, target: r.target, org: r.org, public: r.public === 1 });
const plus = (digits: string): string => `+${digits}`;

export class DialPlanStore {
  private readonly listeners = new Set<DialPlanListener>();
  private batchDepth = 0;
  private batchDirty = false;
  private settingsCache: DialPlanSettings | null = null;
  private readonly stmts: ReturnType<DialPlanStore['prepare']>;

  constructor(readonly db: Db) {
    migrate(db, dialplanMigrations);
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    const inList = Array.from({ length: E164_MAX }, () => '?').join(',');
    return {
      org: db.prepare('SELECT name, display_name AS displayName, created_at AS createdAt FROM dialplan_orgs WHERE name = ?'),
      // Blocks that are the prefix itself or one of its ancestors (up to 15 candidate prefixes).
      blockAncestors: db.prepare(`SELECT prefix, org FROM dialplan_blocks WHERE prefix IN (${inList}) ORDER BY length(prefix) DESC`),
      // Blocks below a prefix: digits sort before ':' so [P, P:) is exactly "starts with P".
      blockDescendants: db.prepare("SELECT prefix, org FROM dialplan_blocks WHERE prefix > ? AND prefix < ? || ':' ORDER BY prefix"),
      insertBlock: db.prepare('INSERT INTO dialplan_blocks (prefix, org) VALUES (?, ?)'),
      domain: db.prepare('SELECT domain, org FROM dialplan_domains WHERE domain = ?'),
      alias: db.prepare('SELECT alias, kind, target, org, public FROM dialplan_aliases WHERE alias = ?'),
      insertAlias: db.prepare('INSERT INTO dialplan_aliases (alias, kind, target, org, public) VALUES (?, ?, ?, ?, ?)'),
      zone: db.prepare('SELECT name, org, prefixes, domains, auth_username, auth_password FROM dialplan_zones WHERE name = ?'),
    };
  }

  // ---- change notification -------------------------------------------------------------

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: DialPlanListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: DialPlanChange): void {
    if (this.batchDepth > 0) {
      this.batchDirty = true;
      return;
    }
    for (const l of this.listeners) l(change);
  }

  /**
   * Runs `fn` in one transaction; subscribers get a single 'reload' after it commits and
   * nothing if it throws (everything is rolled back).
   */
  batch<T>(fn: () => T): T {
    this.batchDepth++;
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (e) {
      if (this.batchDepth === 1) {
        this.batchDirty = false;
        this.settingsCache = null;
      }
      throw e;
    } finally {
      this.batchDepth--;
    }
    if (this.batchDepth === 0 && this.batchDirty) {
      this.batchDirty = false;
      this.emit({ type: 'reload' });
    }
    return result;
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- settings ----------------------------------------------------------------------------

  getSettings(): DialPlanSettings {
    if (this.settingsCache) return this.settingsCache;
    const rows = this.db.prepare('SELECT key, value FROM dialplan_settings').all() as Array<{ key: string; value: string }>;
    const s: Record<string, unknown> = { ...defaultSettings };
    for (const r of rows) if (r.key in defaultSettings) s[r.key] = JSON.parse(r.value);
    this.settingsCache = s as unknown as DialPlanSettings;
    return this.settingsCache;
  }

  updateSettings(patch: Partial<DialPlanSettings>): DialPlanSettings {
    const next = checkSettings({ ...this.getSettings(), ...patch });
    this.tx(() => {
      const put = this.db.prepare('INSERT INTO dialplan_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      for (const [k, v] of Object.entries(next)) put.run(k, JSON.stringify(v));
    });
    this.settingsCache = next;
    this.emit({ type: 'structure' });
    return next;
  }

  // ---- organisations -----------------------------------------------------------------------

  createOrg(input: { name: string; displayName?: string }): Organisation {
    const name = checkOrgName(input.name);
    const displayName = (input.displayName ?? name).trim();
    if (displayName.length === 0 || displayName.length > 200) throw new PlanValidationError('display name must be 1-200 characters');
    const org: Organisation = { name, displayName, createdAt: new Date().toISOString() };
    this.tx(() => {
      if (this.getOrg(name)) throw new PlanConflictError(`organisation "${name}" already exists`);
      this.db.prepare('INSERT INTO dialplan_orgs (name, display_name, created_at) VALUES (?, ?, ?)').run(name, displayName, org.createdAt);
    });
    this.emit({ type: 'structure' });
    return org;
  }

  updateOrg(name: string, patch: { displayName: string }): Organisation {
    const displayName = patch.displayName.trim();
    if (displayName.length === 0 || displayName.length > 200) throw new PlanValidationError('display name must be 1-200 characters');
    this.requireOrg(name);
    this.db.prepare('UPDATE dialplan_orgs SET display_name = ? WHERE name = ?').run(displayName, name);
    this.emit({ type: 'structure' });
    return this.requireOrg(name);
  }

  getOrg(name: string): Organisation | undefined {
    return this.stmts.org.get(name) as Organisation | undefined;
  }

  listOrgs(): Organisation[] {
    return this.db.prepare('SELECT name, display_name AS displayName, created_at AS createdAt FROM dialplan_orgs ORDER BY name').all() as Organisation[];
  }

  /**
   * Removes an organisation. Without `cascade` it must own nothing (blocks, domains, aliases,
   * zone, policy); with it, all of that goes too.
   */
  deleteOrg(name: string, opts: { cascade?: boolean } = {}): void {
    this.tx(() => {
      this.requireOrg(name);
      const count = (sql: string): number => (this.db.prepare(sql).get(name, name) as { n: number }).n;
      const owned = {
        blocks: count('SELECT count(*) AS n FROM dialplan_blocks WHERE org = ? OR org = ?'),
        domains: count('SELECT count(*) AS n FROM dialplan_domains WHERE org = ? OR org = ?'),
        aliases: count('SELECT count(*) AS n FROM dialplan_aliases WHERE org = ? OR org = ?'),
        zones: count('SELECT count(*) AS n FROM dialplan_zones WHERE org = ? OR org = ?'),
        'policy entries': count('SELECT count(*) AS n FROM dialplan_blocked WHERE from_org = ? OR to_org = ?'),
      };
      const left = Object.entries(owned).filter(([, n]) => n > 0);
      if (left.length > 0 && !opts.cascade) {
        throw new PlanConflictError(`organisation "${name}" still owns ${left.map(([k, n]) => `${n} ${k}`).join(', ')}; remove them or delete with cascade`);
      }
      const zone = this.db.prepare('SELECT name FROM dialplan_zones WHERE org = ?').get(name) as { name: string } | undefined;
      if (zone) this.assertZoneUnused(zone.name, name);
      this.db.prepare('DELETE FROM dialplan_aliases WHERE org = ?').run(name);
      this.db.prepare('DELETE FROM dialplan_zones WHERE org = ?').run(name);
      this.db.prepare('DELETE FROM dialplan_blocks WHERE org = ?').run(name);
      this.db.prepare('DELETE FROM dialplan_domains WHERE org = ?').run(name);
      this.db.prepare('DELETE FROM dialplan_blocked WHERE from_org = ? OR to_org = ?').run(name, name);
      this.db.prepare('DELETE FROM dialplan_orgs WHERE name = ?').run(name);
    });
    this.emit({ type: 'reload' });
  }

  private requireOrg(name: string): Organisation {
    const org = this.getOrg(name);
    if (!org) throw new PlanNotFoundError(`organisation "${printable(String(name))}" does not exist`);
    return org;
  }

  // ---- number blocks -----------------------------------------------------------------------

  /**
   * Adds an E.164 block. A block that overlaps another organisation's (one is a prefix of the
   * other) is refused: the plan must say unambiguously who owns a number. Nesting within one
   * organisation is allowed (a region may register +468 and +4681 separately).
   */
  addBlock(org: string, prefixInput: string | number): NumberBlock {
    const prefix = normalizePrefix(prefixInput);
    this.tx(() => {
      this.requireOrg(org);
      const overlaps = [...this.blockAncestors(prefix), ...this.blockDescendants(prefix)];
      const same = overlaps.find((b) => b.prefix === prefix);
      if (same) {
        throw new PlanConflictError(
          same.org === org ? `prefix ${plus(prefix)} already belongs to org "${org}"` : `prefix ${plus(prefix)} of org "${org}" overlaps ${plus(same.prefix)} of org "${same.org}"`,
        );
      }
      const other = overlaps.find((b) => b.org !== org);
      if (other) throw new PlanConflictError(`prefix ${plus(prefix)} of org "${org}" overlaps ${plus(other.prefix)} of org "${other.org}"`);
      this.stmts.insertBlock.run(prefix, org);
    });
    this.emit({ type: 'structure' });
    return { prefix, org };
  }

  removeBlock(prefixInput: string | number): void {
    const prefix = normalizePrefix(prefixInput);
    this.tx(() => {
      const block = this.db.prepare('SELECT prefix, org FROM dialplan_blocks WHERE prefix = ?').get(prefix) as NumberBlock | undefined;
      if (!block) throw new PlanNotFoundError(`no number block ${plus(prefix)}`);
      this.db.prepare('DELETE FROM dialplan_blocks WHERE prefix = ?').run(prefix);
      // Whatever of the org's lay in this block must still be covered by another of its blocks.
      const orphan = (digits: string): boolean => !this.blockAncestors(digits).some((b) => b.org === block.org);
      const aliases = this.db
        .prepare("SELECT alias FROM dialplan_aliases WHERE org = ? AND alias >= ? AND alias < ? || ':'")
        .pluck()
        .all(block.org, plus(prefix), plus(prefix)) as string[];
      const orphans = aliases.filter((a) => orphan(a.slice(1)));
      if (orphans.length > 0) {
        throw new PlanConflictError(`block ${plus(prefix)} of org "${block.org}" still holds ${orphans.length} alias${orphans.length === 1 ? '' : 'es'} (e.g. ${orphans[0]}); remove them first`);
      }
      const zone = this.zoneOfOrg(block.org);
      const zonePrefix = zone?.prefixes?.find((p) => p.startsWith(prefix) && orphan(p));
      if (zone && zonePrefix) throw new PlanConflictError(`zone "${zone.name}" serves +${zonePrefix} explicitly, which lies in block ${plus(prefix)}; change the zone first`);
    });
    this.emit({ type: 'structure' });
  }

  listBlocks(org?: string): NumberBlock[] {
    return (org === undefined
      ? this.db.prepare('SELECT prefix, org FROM dialplan_blocks ORDER BY prefix').all()
      : this.db.prepare('SELECT prefix, org FROM dialplan_blocks WHERE org = ? ORDER BY prefix').all(org)) as NumberBlock[];
  }

  /** The most specific block covering a number ('+4681234' or digits). */
  blockFor(number: string): NumberBlock | undefined {
    return this.blockAncestors(number.replace(/^\+/, ''))[0];
  }

  private blockAncestors(digits: string): NumberBlock[] {
    const params: Array<string | null> = [];
    for (let i = 1; i <= E164_MAX; i++) params.push(i <= digits.length ? digits.slice(0, i) : null);
    return this.stmts.blockAncestors.all(...params) as NumberBlock[];
  }

  private blockDescendants(prefix: string): NumberBlock[] {
    return this.stmts.blockDescendants.all(prefix, prefix) as NumberBlock[];
  }

  // ---- URI domains -------------------------------------------------------------------------

  addDomain(org: string, domainInput: string): UriDomain {
    const domain = normalizeDomain(domainInput);
    this.tx(() => {
      this.requireOrg(org);
      const existing = this.stmts.domain.get(domain) as UriDomain | undefined;
      if (existing) {
        throw new PlanConflictError(existing.org === org ? `domain ${domain} already belongs to org "${org}"` : `domain ${domain} of org "${org}" is already owned by org "${existing.org}"`);
      }
      this.db.prepare('INSERT INTO dialplan_domains (domain, org) VALUES (?, ?)').run(domain, org);
    });
    this.emit({ type: 'structure' });
    return { domain, org };
  }

  removeDomain(domainInput: string): void {
    const domain = normalizeDomain(domainInput);
    this.tx(() => {
      const d = this.stmts.domain.get(domain) as UriDomain | undefined;
      if (!d) throw new PlanNotFoundError(`no domain ${domain}`);
      const n = (this.db.prepare('SELECT count(*) AS n FROM dialplan_aliases WHERE org = ? AND alias LIKE ?').get(d.org, `%@${domain}`) as { n: number }).n;
      if (n > 0) throw new PlanConflictError(`domain ${domain} of org "${d.org}" still holds ${n} alias${n === 1 ? '' : 'es'}; remove them first`);
      const zone = this.zoneOfOrg(d.org);
      if (zone?.domains?.includes(domain)) throw new PlanConflictError(`zone "${zone.name}" serves ${domain} explicitly; change the zone first`);
      this.db.prepare('DELETE FROM dialplan_domains WHERE domain = ?').run(domain);
    });
    this.emit({ type: 'structure' });
  }

  listDomains(org?: string): UriDomain[] {
    return (org === undefined
      ? this.db.prepare('SELECT domain, org FROM dialplan_domains ORDER BY domain').all()
      : this.db.prepare('SELECT domain, org FROM dialplan_domains WHERE org = ? ORDER BY domain').all(org)) as UriDomain[];
  }

  // ---- aliases -----------------------------------------------------------------------------

  /** Normalises an alias the way dialled strings are, so the router finds it under that key. */
  normalizeAlias(input: string): string {
    if (typeof input !== 'string') throw new PlanValidationError('alias must be a string');
    try {
      const n = normalize(input, this.getSettings());
      return (n.e164 ?? n.uri) as string;
    } catch (e) {
      if (e instanceof DialStringError) throw new PlanValidationError(`alias "${printable(input)}" is neither an E.164 number nor a URI: ${e.message}`);
      throw e;
    }
  }

  addAlias(input: AliasInput): Alias {
    const alias = this.tx(() => this.insertAlias(input));
    this.emit({ type: 'alias', op: 'put', alias });
    return alias;
  }

  /** Adds many aliases in one transaction: all or none. */
  addAliases(inputs: readonly AliasInput[]): Alias[] {
    const added = this.tx(() => inputs.map((i) => this.insertAlias(i)));
    this.emit({ type: 'aliases', aliases: added });
    return added;
  }

  private insertAlias(input: AliasInput): Alias {
    const a = this.checkAlias(input);
    if (this.stmts.alias.get(a.alias)) {
      const e = toAlias(this.stmts.alias.get(a.alias) as AliasRow);
      throw new PlanConflictError(`alias ${a.alias} already exists (${e.kind} ${e.target} of org "${e.org}")`);
    }
    this.stmts.insertAlias.run(a.alias, a.kind, a.target, a.org, a.public ? 1 : 0);
    return a;
  }

  /** Validates an alias against the plan: its number/domain must belong to its org. */
  private checkAlias(input: AliasInput): Alias {
    if (typeof input !== 'object' || input === null) throw new PlanValidationError('alias must be an object');
    const key = this.normalizeAlias(input.alias);
    if (!this.getOrg(input.org)) throw new PlanNotFoundError(`organisation "${printable(String(input.org))}" does not exist`);
    if (key.startsWith('+')) {
      const blocks = this.blockAncestors(key.slice(1));
      if (!blocks.some((b) => b.org === input.org)) {
        const owner = blocks[0];
        throw new PlanConflictError(
          `alias ${key} of org "${input.org}" is not in a number block of that org` +
            (owner ? ` (it lies in ${plus(owner.prefix)} of org "${owner.org}")` : ' (no organisation owns a block for it)'),
        );
      }
    } else {
      const domain = key.slice(key.lastIndexOf('@') + 1);
      const owner = this.stmts.domain.get(domain) as UriDomain | undefined;
      if (owner?.org !== input.org) {
        throw new PlanConflictError(
          `alias ${key} of org "${input.org}" is not in a domain of that org` + (owner ? ` (${domain} belongs to org "${owner.org}")` : ` (no organisation owns ${domain})`),
        );
      }
    }
    if (typeof input.target !== 'string') throw new PlanValidationError(`alias ${key}: target must be a string`);
    let target: string;
    switch (input.kind) {
      case 'account':
        target = checkAccountTarget(input.target);
        break;
      case 'room':
        target = checkRoomId(input.target);
        break;
      case 'zone':
        if (!this.stmts.zone.get(input.target)) throw new PlanNotFoundError(`alias ${key}: zone "${printable(input.target)}" does not exist`);
        target = input.target;
        break;
      default:
        throw new PlanValidationError(`alias ${key}: kind must be account, room or zone`);
    }
    if (input.public !== undefined && typeof input.public !== 'boolean') throw new PlanValidationError(`alias ${key}: public must be true or false`);
    return { alias: key, kind: input.kind, target, org: input.org, public: input.public === true };
  }

  updateAlias(aliasInput: string, patch: Partial<Pick<Alias, 'kind' | 'target' | 'public'>>): Alias {
    const key = this.normalizeAlias(aliasInput);
    const alias = this.tx(() => {
      const row = this.stmts.alias.get(key) as AliasRow | undefined;
      if (!row) throw new PlanNotFoundError(`no alias ${key}`);
      const current = toAlias(row);
      const next = this.checkAlias({ ...current, ...patch, alias: key });
      this.db.prepare('UPDATE dialplan_aliases SET kind = ?, target = ?, public = ? WHERE alias = ?').run(next.kind, next.target, next.public ? 1 : 0, key);
      return next;
    });
    this.emit({ type: 'alias', op: 'put', alias });
    return alias;
  }

  removeAlias(aliasInput: string): void {
    const key = this.normalizeAlias(aliasInput);
    const row = this.stmts.alias.get(key) as AliasRow | undefined;
    if (!row) throw new PlanNotFoundError(`no alias ${key}`);
    this.db.prepare('DELETE FROM dialplan_aliases WHERE alias = ?').run(key);
    this.emit({ type: 'alias', op: 'delete', alias: toAlias(row) });
  }

  getAlias(aliasInput: string): Alias | undefined {
    const row = this.stmts.alias.get(this.normalizeAlias(aliasInput)) as AliasRow | undefined;
    return row && toAlias(row);
  }

  listAliases(filter: { org?: string; limit?: number; offset?: number } = {}): Alias[] {
    const limit = filter.limit ?? -1;
    const offset = filter.offset ?? 0;
    const rows = (filter.org === undefined
      ? this.db.prepare('SELECT alias, kind, target, org, public FROM dialplan_aliases ORDER BY alias LIMIT ? OFFSET ?').all(limit, offset)
      : this.db.prepare('SELECT alias, kind, target, org, public FROM dialplan_aliases WHERE org = ? ORDER BY alias LIMIT ? OFFSET ?').all(filter.org, limit, offset)) as AliasRow[];
    return rows.map(toAlias);
  }

  countAliases(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM dialplan_aliases').get() as { n: number }).n;
  }

  // ---- neighbour zones ---------------------------------------------------------------------

  /** Creates or replaces a zone (its targets are replaced as a whole). */
  putZone(input: ZoneInput): NeighbourZone {
    const name = checkZoneName(input.name);
    if (!Array.isArray(input.targets) || input.targets.length === 0 || input.targets.length > MAX_TARGETS) {
      throw new PlanValidationError(`zone "${name}" needs 1-${MAX_TARGETS} targets`);
    }
    const targets = input.targets.map((t, i) => checkTarget(t, `zone "${name}" target ${i + 1}`));
    const credentials = checkCredentials(input.credentials);
    const zone = this.tx(() => {
      this.requireOrg(input.org);
      const other = this.zoneOfOrg(input.org);
      if (other && other.name !== name) throw new PlanConflictError(`org "${input.org}" already connects through zone "${other.name}" (one zone per organisation)`);
      const existing = this.stmts.zone.get(name) as ZoneRow | undefined;
      if (existing && existing.org !== input.org) throw new PlanConflictError(`zone "${name}" belongs to org "${existing.org}"`);
      const prefixes = input.prefixes == null ? null : [...new Set(input.prefixes.map((p) => normalizePrefix(p)))];
      for (const p of prefixes ?? []) {
        if (!this.blockAncestors(p).some((b) => b.org === input.org)) throw new PlanConflictError(`zone "${name}" prefix +${p} is not in a number block of org "${input.org}"`);
      }
      const domains = input.domains == null ? null : [...new Set(input.domains.map((d) => normalizeDomain(d)))];
      for (const d of domains ?? []) {
        if ((this.stmts.domain.get(d) as UriDomain | undefined)?.org !== input.org) throw new PlanConflictError(`zone "${name}" domain ${d} is not a domain of org "${input.org}"`);
      }
      this.db
        .prepare(
          `INSERT INTO dialplan_zones (name, org, prefixes, domains, auth_username, auth_password) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET prefixes = excluded.prefixes, domains = excluded.domains,
             auth_username = excluded.auth_username, auth_password = excluded.auth_password`,
        )
        .run(name, input.org, prefixes && JSON.stringify(prefixes), domains && JSON.stringify(domains), credentials?.username ?? null, credentials?.password ?? null);
      this.db.prepare('DELETE FROM dialplan_zone_targets WHERE zone = ?').run(name);
      const ins = this.db.prepare('INSERT INTO dialplan_zone_targets (zone, position, host, port, transport, priority) VALUES (?, ?, ?, ?, ?, ?)');
      targets.forEach((t, i) => ins.run(name, i, t.host, t.port, t.transport, t.priority));
      return { name, org: input.org, prefixes, domains, targets, credentials } satisfies NeighbourZone;
    });
    this.emit({ type: 'structure' });
    return zone;
  }

  removeZone(name: string): void {
    this.tx(() => {
      const z = this.stmts.zone.get(name) as ZoneRow | undefined;
      if (!z) throw new PlanNotFoundError(`no zone "${printable(name)}"`);
      this.assertZoneUnused(name);
      this.db.prepare('DELETE FROM dialplan_zones WHERE name = ?').run(name);
    });
    this.emit({ type: 'structure' });
  }

  private assertZoneUnused(name: string, exceptOrg?: string): void {
    const user = this.db.prepare("SELECT alias, org FROM dialplan_aliases WHERE kind = 'zone' AND target = ? AND org != ? LIMIT 1").get(name, exceptOrg ?? '') as
      | { alias: string; org: string }
      | undefined;
    if (user) throw new PlanConflictError(`zone "${name}" is still the target of alias ${user.alias} of org "${user.org}"`);
  }

  getZone(name: string): NeighbourZone | undefined {
    const row = this.stmts.zone.get(name) as ZoneRow | undefined;
    return row && this.zoneFromRow(row, this.targetsOf([row.name]));
  }

  listZones(): NeighbourZone[] {
    const rows = this.db.prepare('SELECT name, org, prefixes, domains, auth_username, auth_password FROM dialplan_zones ORDER BY name').all() as ZoneRow[];
    const targets = this.targetsOf(rows.map((r) => r.name));
    return rows.map((r) => this.zoneFromRow(r, targets));
  }

  private zoneOfOrg(org: string): NeighbourZone | undefined {
    const row = this.db.prepare('SELECT name, org, prefixes, domains, auth_username, auth_password FROM dialplan_zones WHERE org = ?').get(org) as ZoneRow | undefined;
    return row && this.zoneFromRow(row, this.targetsOf([row.name]));
  }

  private targetsOf(zones: string[]): Map<string, ZoneTarget[]> {
    const map = new Map<string, ZoneTarget[]>();
    if (zones.length === 0) return map;
    const rows = (zones.length === 1
      ? this.db.prepare('SELECT zone, host, port, transport, priority FROM dialplan_zone_targets WHERE zone = ? ORDER BY position').all(zones[0])
      : this.db.prepare('SELECT zone, host, port, transport, priority FROM dialplan_zone_targets ORDER BY zone, position').all()) as TargetRow[];
    for (const r of rows) {
      let list = map.get(r.zone);
      if (!list) map.set(r.zone, (list = []));
      list.push({ host: r.host, port: r.port, transport: r.transport, priority: r.priority });
    }
    return map;
  }

  private zoneFromRow(r: ZoneRow, targets: Map<string, ZoneTarget[]>): NeighbourZone {
    return {
      name: r.name,
      org: r.org,
      prefixes: r.prefixes === null ? null : (JSON.parse(r.prefixes) as string[]),
      domains: r.domains === null ? null : (JSON.parse(r.domains) as string[]),
      targets: targets.get(r.name) ?? [],
      credentials: r.auth_username === null ? null : { username: r.auth_username, password: r.auth_password ?? '' },
    };
  }

  // ---- transforms --------------------------------------------------------------------------

  addTransform(input: Partial<TransformInput>): TransformRule {
    const t = checkTransform(input);
    const info = this.db
      .prepare('INSERT INTO dialplan_transforms (priority, match, replace, stop, description) VALUES (?, ?, ?, ?, ?)')
      .run(t.priority, t.match, t.replace, t.stop ? 1 : 0, t.description);
    this.emit({ type: 'structure' });
    return { id: Number(info.lastInsertRowid), ...t };
  }

  updateTransform(id: number, patch: Partial<TransformInput>): TransformRule {
    const current = this.listTransforms().find((t) => t.id === id);
    if (!current) throw new PlanNotFoundError(`no transform #${id}`);
    const t = checkTransform({ ...current, ...patch });
    this.db.prepare('UPDATE dialplan_transforms SET priority = ?, match = ?, replace = ?, stop = ?, description = ? WHERE id = ?').run(t.priority, t.match, t.replace, t.stop ? 1 : 0, t.description, id);
    this.emit({ type: 'structure' });
    return { id, ...t };
  }

  removeTransform(id: number): void {
    if (this.db.prepare('DELETE FROM dialplan_transforms WHERE id = ?').run(id).changes === 0) throw new PlanNotFoundError(`no transform #${id}`);
    this.emit({ type: 'structure' });
  }

  /** In the order they run: priority, then id. */
  listTransforms(): TransformRule[] {
    const rows = this.db.prepare('SELECT id, priority, match, replace, stop, description FROM dialplan_transforms ORDER BY priority, id').all() as Array<
      Omit<TransformRule, 'stop'> & { stop: number }
    >;
    return rows.map((r) => ({ ...r, stop: r.stop === 1 }));
  }

  // ---- policy ------------------------------------------------------------------------------

  /** Calls from `fromOrg` to `toOrg` are refused (403). Directional. */
  blockOrgs(fromOrg: string, toOrg: string, reason = ''): BlockedPair {
    if (fromOrg === toOrg) throw new PlanValidationError('an organisation cannot be blocked from itself');
    if (typeof reason !== 'string' || reason.length > 200) throw new PlanValidationError('block reason must be a string of at most 200 characters');
    this.tx(() => {
      this.requireOrg(fromOrg);
      this.requireOrg(toOrg);
      this.db
        .prepare('INSERT INTO dialplan_blocked (from_org, to_org, reason) VALUES (?, ?, ?) ON CONFLICT(from_org, to_org) DO UPDATE SET reason = excluded.reason')
        .run(fromOrg, toOrg, reason);
    });
    this.emit({ type: 'structure' });
    return { fromOrg, toOrg, reason };
  }

  unblockOrgs(fromOrg: string, toOrg: string): void {
    if (this.db.prepare('DELETE FROM dialplan_blocked WHERE from_org = ? AND to_org = ?').run(fromOrg, toOrg).changes === 0) {
      throw new PlanNotFoundError(`org "${printable(fromOrg)}" is not blocked from org "${printable(toOrg)}"`);
    }
    this.emit({ type: 'structure' });
  }

  listBlocked(): BlockedPair[] {
    return this.db.prepare('SELECT from_org AS fromOrg, to_org AS toOrg, reason FROM dialplan_blocked ORDER BY from_org, to_org').all() as BlockedPair[];
  }

  // ---- whole plan --------------------------------------------------------------------------

  structure(): PlanStructure {
    return {
      settings: this.getSettings(),
      orgs: this.listOrgs(),
      blocks: this.listBlocks(),
      domains: this.listDomains(),
      zones: this.listZones(),
      transforms: this.listTransforms(),
      blocked: this.listBlocked(),
    };
  }

  snapshot(): PlanSnapshot {
    return { ...this.structure(), aliases: this.listAliases() };
  }

  /** Empties the plan (settings back to defaults). Meant for use inside batch(), as import does. */
  clear(): void {
    this.tx(() => {
      for (const t of ['aliases', 'zone_targets', 'zones', 'blocks', 'domains', 'blocked', 'transforms', 'orgs', 'settings']) {
        this.db.exec(`DELETE FROM dialplan_${t}`);
      }
    });
    this.settingsCache = null;
    this.emit({ type: 'reload' });
  }
}
