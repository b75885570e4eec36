/**
 * The router's in-memory view of the plan: a Map for exact aliases, digit tries for
 * longest-prefix over blocks and zone prefixes, Maps for domains. Built from the store and
 * patched on every store write, so a route decision never touches SQLite.
 */
import { compileTransforms, type CompiledTransform } from './transforms.js';
import { PrefixTrie } from './prefix-trie.js';
import type { PlanStructure } from './store.js';
import type { Alias, BlockedPair, DialPlanSettings, NeighbourZone, NumberBlock, ZoneTarget } from './types.js';

export interface IndexedTarget extends ZoneTarget {
  /** Stable identity for health state: 'tls:sbc1.example.se:5061'. */
  key: string;
}

export interface IndexedZone {
  zone: NeighbourZone;
  /** Sorted by priority (stable: equal priorities keep their configured order). */
  targets: IndexedTarget[];
  /** What the zone serves after resolving "from the org" (for listings and explain). */
  prefixes: string[];
  domains: string[];
}

export interface ZonePrefix {
  prefix: string;
  zone: IndexedZone;
}

export function targetKey(t: Pick<ZoneTarget, 'host' | 'port' | 'transport'>): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.transport}:${host}:${t.port}`;
}

export function indexTargets(targets: readonly ZoneTarget[]): IndexedTarget[] {
  return targets.map((t) => ({ ...t, key: targetKey(t) })).sort((a, b) => a.priority - b.priority);
}

const pairKey = (from: string, to: string): string => `${from}\n${to}`;

/** Everything except aliases; rebuilt as a whole on structural writes (a few ms for 10k blocks). */
export class StructureIndex {
  readonly settings: DialPlanSettings;
  readonly ownDomains: ReadonlySet<string>;
  readonly orgs: ReadonlySet<string>;
  readonly blocks = new PrefixTrie<NumberBlock>();
  readonly zonePrefixes = new PrefixTrie<ZonePrefix>();
  readonly zones = new Map<string, IndexedZone>();
  readonly zoneByDomain = new Map<string, IndexedZone>();
  readonly domainOwner = new Map<string, string>();
  readonly transforms: CompiledTransform[];
  readonly gateway: IndexedTarget[];
  private readonly blocked = new Map<string, BlockedPair>();

  constructor(s: PlanStructure) {
    this.settings = s.settings;
    this.ownDomains = new Set(s.settings.ownDomains);
    this.orgs = new Set(s.orgs.map((o) => o.name));
    const blocksByOrg = new Map<string, string[]>();
    for (const b of s.blocks) {
      this.blocks.set(b.prefix, b);
      const list = blocksByOrg.get(b.org) ?? [];
      list.push(b.prefix);
      blocksByOrg.set(b.org, list);
    }
    const domainsByOrg = new Map<string, string[]>();
    for (const d of s.domains) {
      this.domainOwner.set(d.domain, d.org);
      const list = domainsByOrg.get(d.org) ?? [];
      list.push(d.domain);
      domainsByOrg.set(d.org, list);
    }
    for (const zone of s.zones) {
      const z: IndexedZone = {
        zone,
        targets: indexTargets(zone.targets),
        prefixes: zone.prefixes ?? blocksByOrg.get(zone.org) ?? [],
        domains: zone.domains ?? domainsByOrg.get(zone.org) ?? [],
      };
      this.zones.set(zone.name, z);
      for (const p of z.prefixes) this.zonePrefixes.set(p, { prefix: p, zone: z });
      for (const d of z.domains) this.zoneByDomain.set(d, z);
    }
    this.transforms = compileTransforms(s.transforms);
    this.gateway = indexTargets(s.settings.gateway);
    for (const b of s.blocked) this.blocked.set(pairKey(b.fromOrg, b.toOrg), b);
  }

  isBlocked(fromOrg: string, toOrg: string): BlockedPair | undefined {
    return this.blocked.size === 0 ? undefined : this.blocked.get(pairKey(fromOrg, toOrg));
  }

  /** A domain is ours when the node answers for it or an organisation of the plan owns it. */
  isOurDomain(domain: string): boolean {
    return this.ownDomains.has(domain) || this.domainOwner.has(domain);
  }
}

/** Exact aliases by normalised key. */
export class AliasIndex {
  readonly map = new Map<string, Alias>();

  constructor(aliases: Iterable<Alias> = []) {
    for (const a of aliases) this.map.set(a.alias, a);
  }

  put(a: Alias): void {
    this.map.set(a.alias, a);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  get(key: string): Alias | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }
}
