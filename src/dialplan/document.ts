/**
 * The whole plan as one document, YAML or JSON, for review, version control and moving a plan
 * between nodes. Import replaces the plan: it is applied in one transaction through the same
 * store methods (and so the same validation) as single API writes, every problem is collected
 * with the line it comes from, and if there is any, nothing is applied.
 *
 * Document shape (version 1):
 *   version: 1
 *   settings: { ownDomains, countryCode, nationalPrefix, internationalPrefix,
 *               nationalNumberLengths, gateway: [{host, port, transport, priority}] }
 *   organisations: [{ name, displayName, blocks: ['+468'], domains: ['sll.se'] }]
 *   zones: [{ name, org, prefixes?, domains?, targets: [...], credentials?: {username, password} }]
 *   aliases: [{ alias, kind, target, org, public? }]
 *   transforms: [{ priority, match, replace, stop?, description? }]
 *   policy: { blocked: [{ from, to, reason? }] }
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node as YNode, type Scalar } from 'yaml';
import { DialPlanError, PlanImportError, type ImportIssue } from './errors.js';
import type { AliasInput, DialPlanStore, ZoneInput } from './store.js';
import type { TransformInput } from './transforms.js';
import type { DialPlanSettings, ZoneTarget } from './types.js';

export type PlanFormat = 'yaml' | 'json';

export interface PlanDocument {
  version: 1;
  settings: DialPlanSettings;
  organisations: Array<{ name: string; displayName: string; blocks: string[]; domains: string[] }>;
  zones: Array<{
    name: string;
    org: string;
    prefixes?: string[];
    domains?: string[];
    targets: ZoneTarget[];
    credentials?: { username: string; password: string };
  }>;
  aliases: Array<{ alias: string; kind: AliasInput['kind']; target: string; org: string; public: boolean }>;
  transforms: Array<{ priority: number; match: string; replace: string; stop: boolean; description: string }>;
  policy: { blocked: Array<{ from: string; to: string; reason: string }> };
}

/** The plan as a plain document object. `redactSecrets` replaces zone passwords with '********'. */
export function planDocument(store: DialPlanStore, opts: { redactSecrets?: boolean } = {}): PlanDocument {
  const s = store.snapshot();
  return {
    version: 1,
    settings: s.settings,
    organisations: s.orgs.map((o) => ({
      name: o.name,
      displayName: o.displayName,
      blocks: s.blocks.filter((b) => b.org === o.name).map((b) => `+${b.prefix}`),
      domains: s.domains.filter((d) => d.org === o.name).map((d) => d.domain),
    })),
    zones: s.zones.map((z) => ({
      name: z.name,
      org: z.org,
      ...(z.prefixes ? { prefixes: z.prefixes.map((p) => `+${p}`) } : {}),
      ...(z.domains ? { domains: z.domains } : {}),
      targets: z.targets,
      ...(z.credentials ? { credentials: { username: z.credentials.username, password: opts.redactSecrets ? '********' : z.credentials.password } } : {}),
    })),
    aliases: s.aliases.map((a) => ({ alias: a.alias, kind: a.kind, target: a.target, org: a.org, public: a.public })),
    transforms: s.transforms.map((t) => ({ priority: t.priority, match: t.match, replace: t.replace, stop: t.stop, description: t.description })),
    policy: { blocked: s.blocked.map((b) => ({ from: b.fromOrg, to: b.toOrg, reason: b.reason })) },
  };
}

export function exportPlan(store: DialPlanStore, format: PlanFormat = 'yaml', opts: { redactSecrets?: boolean } = {}): string {
  const doc = planDocument(store, opts);
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc, { lineWidth: 0 });
}

export interface ImportSummary {
  orgs: number;
  blocks: number;
  domains: number;
  zones: number;
  aliases: number;
  transforms: number;
  blocked: number;
}

/** Thrown inside the transaction to roll a dry run back. */
class DryRun extends Error {}

/**
 * Replaces the plan with the one in `text` (YAML or JSON; JSON is read by the YAML parser so
 * both get line numbers). Throws PlanImportError listing every problem, each with its line;
 * then nothing has changed. With `dryRun` everything is checked and then rolled back.
 */
export function importPlan(store: DialPlanStore, text: string, opts: { dryRun?: boolean } = {}): ImportSummary {
  const reader = new Reader(text);
  const plan = reader.read();
  if (reader.issues.length > 0) throw new PlanImportError(reader.issues);

  const issues: ImportIssue[] = [];
  const summary: ImportSummary = { orgs: 0, blocks: 0, domains: 0, zones: 0, aliases: 0, transforms: 0, blocked: 0 };
  const attempt = (line: number | undefined, fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (e) {
      if (!(e instanceof DialPlanError)) throw e;
      issues.push(line === undefined ? { message: e.message } : { line, message: e.message });
      return false;
    }
  };
  try {
    store.batch(() => {
      store.clear();
      if (plan.settings) attempt(plan.settings.line, () => store.updateSettings(plan.settings!.value));
      for (const o of plan.orgs) {
        if (!attempt(o.line, () => store.createOrg({ name: o.name, displayName: o.displayName ?? o.name }))) continue;
        summary.orgs++;
        for (const b of o.blocks) if (attempt(b.line, () => store.addBlock(o.name, b.value))) summary.blocks++;
        for (const d of o.domains) if (attempt(d.line, () => store.addDomain(o.name, d.value))) summary.domains++;
      }
      for (const z of plan.zones) if (attempt(z.line, () => store.putZone(z.value))) summary.zones++;
      for (const a of plan.aliases) if (attempt(a.line, () => store.addAlias(a.value))) summary.aliases++;
      for (const t of plan.transforms) if (attempt(t.line, () => store.addTransform(t.value))) summary.transforms++;
      for (const b of plan.blocked) if (attempt(b.line, () => store.blockOrgs(b.value.from, b.value.to, b.value.reason))) summary.blocked++;
      if (issues.length > 0) throw new PlanImportError(issues);
      if (opts.dryRun) throw new DryRun();
    });
  } catch (e) {
    if (e instanceof DryRun) return summary;
    throw e;
  }
  return summary;
}

// ---- reading the document with line numbers -------------------------------------------------

interface At<T> {
  value: T;
  line: number | undefined;
}

interface ReadPlan {
  settings?: At<Partial<DialPlanSettings>>;
  orgs: Array<{ name: string; displayName?: string; line: number | undefined; blocks: At<string>[]; domains: At<string>[] }>;
  zones: At<ZoneInput>[];
  aliases: At<AliasInput>[];
  transforms: At<Partial<TransformInput>>[];
  blocked: At<{ from: string; to: string; reason: string }>[];
}

type Fields = Map<string, YNode | null>;

/**
 * Walks the YAML node tree instead of calling toJS(): it keeps line numbers, and it can take a
 * scalar's source text where a string is expected, so `+468` or `00` written unquoted stays
 * '+468' / '00' instead of becoming the numbers 468 / 0.
 */
class Reader {
  readonly issues: ImportIssue[] = [];
  private readonly lc = new LineCounter();
  private readonly doc;

  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) this.issues.push({ line: this.lc.linePos(e.pos[0]).line, message: e.message.split('\n')[0]! });
  }

  read(): ReadPlan {
    const plan: ReadPlan = { orgs: [], zones: [], aliases: [], transforms: [], blocked: [] };
    if (this.issues.length > 0) return plan;
    const root = this.fields(this.doc.contents as YNode | null, 'the plan', ['version', 'settings', 'organisations', 'zones', 'aliases', 'transforms', 'policy']);
    if (!root) return plan;
    const version = root.get('version');
    if (version && this.num(version, 'version') !== 1) this.issue(version, 'only plan document version 1 is supported');
    const settings = root.get('settings');
    if (settings) {
      const s = this.settings(settings);
      if (s) plan.settings = { value: s, line: this.line(settings) };
    }
    for (const n of this.list(root.get('organisations'), 'organisations')) {
      const f = this.fields(n, 'organisation', ['name', 'displayName', 'blocks', 'domains']);
      if (!f) continue;
      const name = this.req(f, 'name', n, 'organisation');
      if (name === undefined) continue;
      plan.orgs.push({
        name,
        ...(f.get('displayName') ? { displayName: this.str(f.get('displayName')!, 'displayName') } : {}),
        line: this.line(f.get('name') ?? n),
        blocks: this.list(f.get('blocks'), 'blocks').map((b) => ({ value: this.str(b, 'block prefix') ?? '', line: this.line(b) })),
        domains: this.list(f.get('domains'), 'domains').map((d) => ({ value: this.str(d, 'domain') ?? '', line: this.line(d) })),
      });
    }
    for (const n of this.list(root.get('zones'), 'zones')) {
      const f = this.fields(n, 'zone', ['name', 'org', 'prefixes', 'domains', 'targets', 'credentials']);
      if (!f) continue;
      const name = this.req(f, 'name', n, 'zone');
      const org = this.req(f, 'org', n, 'zone');
      const targets = this.list(f.get('targets'), 'targets').map((t) => this.target(t));
      let credentials: ZoneInput['credentials'] = null;
      const c = f.get('credentials');
      if (c) {
        const cf = this.fields(c, 'credentials', ['username', 'password']);
        if (cf) credentials = { username: this.req(cf, 'username', c, 'credentials') ?? '', password: this.req(cf, 'password', c, 'credentials') ?? '' };
      }
      if (name === undefined || org === undefined) continue;
      plan.zones.push({
        line: this.line(n),
        value: {
          name,
          org,
          prefixes: f.get('prefixes') ? this.list(f.get('prefixes'), 'prefixes').map((p) => this.str(p, 'prefix') ?? '') : null,
          domains: f.get('domains') ? this.list(f.get('domains'), 'domains').map((d) => this.str(d, 'domain') ?? '') : null,
          targets: targets.filter((t): t is ZoneTarget => t !== undefined),
          credentials,
        },
      });
    }
    for (const n of this.list(root.get('aliases'), 'aliases')) {
      const f = this.fields(n, 'alias', ['alias', 'kind', 'target', 'org', 'public']);
      if (!f) continue;
      const alias = this.req(f, 'alias', n, 'alias');
      const kind = this.req(f, 'kind', n, 'alias');
      const target = this.req(f, 'target', n, 'alias');
      const org = this.req(f, 'org', n, 'alias');
      const pub = f.get('public');
      if (alias === undefined || kind === undefined || target === undefined || org === undefined) continue;
      plan.aliases.push({ line: this.line(n), value: { alias, kind: kind as AliasInput['kind'], target, org, public: pub ? this.bool(pub, 'public') : false } });
    }
    for (const n of this.list(root.get('transforms'), 'transforms')) {
      const f = this.fields(n, 'transform', ['priority', 'match', 'replace', 'stop', 'description']);
      if (!f) continue;
      const t: Partial<TransformInput> = {};
      if (f.get('priority')) t.priority = this.num(f.get('priority')!, 'priority');
      else this.issue(n, 'transform needs a priority');
      t.match = this.req(f, 'match', n, 'transform');
      t.replace = this.req(f, 'replace', n, 'transform');
      if (f.get('stop')) t.stop = this.bool(f.get('stop')!, 'stop');
      if (f.get('description')) t.description = this.str(f.get('description')!, 'description');
      plan.transforms.push({ line: this.line(n), value: t });
    }
    const policy = root.get('policy');
    const pf = policy ? this.fields(policy, 'policy', ['blocked']) : undefined;
    for (const n of this.list(pf?.get('blocked'), 'blocked')) {
      const f = this.fields(n, 'blocked pair', ['from', 'to', 'reason']);
      if (!f) continue;
      const from = this.req(f, 'from', n, 'blocked pair');
      const to = this.req(f, 'to', n, 'blocked pair');
      if (from === undefined || to === undefined) continue;
      plan.blocked.push({ line: this.line(n), value: { from, to, reason: f.get('reason') ? (this.str(f.get('reason')!, 'reason') ?? '') : '' } });
    }
    return plan;
  }

  private settings(n: YNode): Partial<DialPlanSettings> | undefined {
    const keys = ['ownDomains', 'countryCode', 'nationalPrefix', 'internationalPrefix', 'nationalNumberLengths', 'gateway'] as const;
    const f = this.fields(n, 'settings', [...keys]);
    if (!f) return undefined;
    const s: Partial<DialPlanSettings> = {};
    if (f.get('ownDomains')) s.ownDomains = this.list(f.get('ownDomains'), 'ownDomains').map((d) => this.str(d, 'own domain') ?? '');
    for (const k of ['countryCode', 'nationalPrefix', 'internationalPrefix'] as const) {
      const v = f.get(k);
      if (v) s[k] = this.str(v, k) ?? '';
    }
    if (f.get('nationalNumberLengths')) s.nationalNumberLengths = this.list(f.get('nationalNumberLengths'), 'nationalNumberLengths').map((x) => this.num(x, 'length') ?? 0);
    if (f.get('gateway')) s.gateway = this.list(f.get('gateway'), 'gateway').map((t) => this.target(t)).filter((t): t is ZoneTarget => t !== undefined);
    // Missing settings keep the defaults (store.updateSettings merges over them after clear()).
    return s;
  }

  private target(n: YNode): ZoneTarget | undefined {
    const f = this.fields(n, 'target', ['host', 'port', 'transport', 'priority']);
    if (!f) return undefined;
    const host = this.req(f, 'host', n, 'target');
    if (host === undefined) return undefined;
    const t: Partial<ZoneTarget> = { host };
    if (f.get('port')) t.port = this.num(f.get('port')!, 'port');
    if (f.get('transport')) t.transport = this.str(f.get('transport')!, 'transport') as ZoneTarget['transport'];
    if (f.get('priority')) t.priority = this.num(f.get('priority')!, 'priority');
    return t as ZoneTarget;
  }

  // -- primitive readers; each records an issue with the node's line and returns undefined --

  private line(n: YNode | null | undefined): number | undefined {
    return n?.range ? this.lc.linePos(n.range[0]).line : undefined;
  }

  private issue(n: YNode | null | undefined, message: string): void {
    const line = this.line(n);
    this.issues.push(line === undefined ? { message } : { line, message });
  }

  private fields(n: YNode | null | undefined, what: string, allowed: string[]): Fields | undefined {
    if (!n || !isMap(n)) {
      this.issue(n, `${what} must be a mapping`);
      return undefined;
    }
    const out: Fields = new Map();
    for (const pair of n.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !allowed.includes(key)) {
        this.issue(pair.key as YNode, `unknown key "${key ?? '?'}" in ${what} (expected ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, (pair.value as YNode | null) ?? null);
    }
    return out;
  }

  private req(f: Fields, key: string, parent: YNode, what: string): string | undefined {
    const v = f.get(key);
    if (!v) {
      this.issue(parent, `${what} needs "${key}"`);
      return undefined;
    }
    return this.str(v, key);
  }

  private list(n: YNode | null | undefined, what: string): YNode[] {
    if (n === undefined || n === null) return [];
    if (isScalar(n) && n.value === null) return [];
    if (!isSeq(n)) {
      this.issue(n, `${what} must be a list`);
      return [];
    }
    return n.items as YNode[];
  }

  /** A string; numbers written unquoted keep their source text (+468, 0046, 00). */
  private str(n: YNode, what: string): string | undefined {
    if (isScalar(n)) {
      const s = n as Scalar;
      if (typeof s.value === 'string') return s.value;
      if (typeof s.value === 'number' || typeof s.value === 'bigint') return s.source ?? String(s.value);
    }
    this.issue(n, `${what} must be a string`);
    return undefined;
  }

  private num(n: YNode, what: string): number | undefined {
    if (isScalar(n) && typeof n.value === 'number') return n.value;
    this.issue(n, `${what} must be a number`);
    return undefined;
  }

  private bool(n: YNode, what: string): boolean | undefined {
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.issue(n, `${what} must be true or false`);
    return undefined;
  }
}
