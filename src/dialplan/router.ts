/**
 * The route decision every call goes through (SIP now, H.323 later): what was dialled and who
 * calls in, what to do out, with the chain of rules that led there.
 *
 * Search order: Max-Forwards → normalise → transforms → local alias (exact) → neighbour zone
 * (longest E.164 prefix, or URI domain) → internet gateway (URIs on domains not in the plan)
 * → 404. Policy (external reach, blocked org pairs) is checked on whatever was found, then
 * loops, then target health.
 *
 * Target health: targets reported 'down' by the SIP side's OPTIONS prober are LEFT OUT of the
 * decision, not put last: the SIP side then never spends a call attempt (and the caller's
 * ring time) on a link known to be dead, and "every target down" is a clean 503 instead of a
 * timeout. Targets never probed count as up, so a freshly started node routes at once.
 * Remaining targets are ordered by priority (lower first), ties in configured order.
 */
import { DialStringError, printable } from './errors.js';
import { canonicalize, parseDial, transformSubject, type DialInput, type ParsedDial } from './normalize.js';
import { AliasIndex, StructureIndex, targetKey, type IndexedTarget, type IndexedZone } from './plan-index.js';
import type { DialPlanChange, DialPlanStore } from './store.js';
import { applyTransforms, MAX_TRANSFORM_PASSES } from './transforms.js';
import { GATEWAY_ZONE } from './validate.js';
import type { Alias, DigestCredentials, NormalisedAddress, ZoneTarget } from './types.js';

export type RouteCaller =
  | { kind: 'account'; org: string; username: string }
  | { kind: 'zone'; zone: string; org: string }
  | { kind: 'external'; address: string };

export interface RouteRequest {
  dialled: DialInput;
  from: RouteCaller;
  /** Max-Forwards of the incoming request; 0 is refused with 483. */
  maxForwards?: number;
  /**
   * Where the call has already been: zone names, target hosts (no port) or target keys
   * ('tls:host:5061'), e.g. from Via headers. A zone or target on this list is not used again.
   */
  via?: readonly string[];
}

export type TargetState = 'up' | 'down' | 'unknown';

export interface RouteTarget extends ZoneTarget {
  key: string;
  /** 'unknown' until the prober has reported on the target. */
  state: 'up' | 'unknown';
}

export type RejectStatus = 403 | 404 | 482 | 483 | 484 | 503;

export type RouteOutcome =
  | { action: 'account'; org: string; target: string }
  | { action: 'room'; org: string; roomId: string }
  | { action: 'zone'; org: string; zone: string; targets: RouteTarget[]; credentials: DigestCredentials | null }
  | { action: 'gateway'; targets: RouteTarget[] }
  | { action: 'reject'; status: RejectStatus; reason: string };

export interface TraceStep {
  step: string;
  detail: string;
}

export type RouteDecision = RouteOutcome & {
  /** What was dialled, printable. */
  dialled: string;
  from: RouteCaller;
  /** The normalised destination after transforms, when the dial string could be read. */
  destination?: NormalisedAddress;
  /** The alias that matched, if any. */
  alias?: Alias;
  trace: TraceStep[];
};

export interface TargetHealth extends ZoneTarget {
  key: string;
  state: TargetState;
  /** When the state last changed (ISO), null if never reported. */
  since: string | null;
}

export interface ZoneHealth {
  /** Zone name, or 'gateway' for the internet gateway targets. */
  zone: string;
  org: string | null;
  targets: TargetHealth[];
}

const EXTERNAL_REACH = 'external callers may reach only meeting rooms and public aliases';

export function describeCaller(from: RouteCaller): string {
  switch (from.kind) {
    case 'account':
      return `account ${from.username} of org "${from.org}"`;
    case 'zone':
      return `zone ${from.zone} of org "${from.org}"`;
    case 'external':
      return `external caller ${printable(from.address, 60)}`;
  }
}

/** Per-request working state, so the helpers below stay small and allocation-light. */
interface Ctx {
  req: RouteRequest;
  /** The dial string, printable (for trace and decision). */
  dialled: string;
  trace: TraceStep[];
  dest?: NormalisedAddress;
  alias?: Alias;
}

export class DialPlanRouter {
  private structure!: StructureIndex;
  private aliases!: AliasIndex;
  private readonly health = new Map<string, { state: 'up' | 'down'; since: string }>();
  private readonly unsubscribe: () => void;

  constructor(private readonly store: DialPlanStore) {
    this.reload();
    this.unsubscribe = store.onChange((c) => this.apply(c));
  }

  /** Rebuilds the whole index from the store (done automatically on every store write). */
  reload(): void {
    this.structure = new StructureIndex(this.store.structure());
    this.aliases = new AliasIndex(this.store.listAliases());
    this.pruneHealth();
  }

  /** Stops following store changes. */
  close(): void {
    this.unsubscribe();
  }

  private apply(c: DialPlanChange): void {
    switch (c.type) {
      case 'alias':
        if (c.op === 'put') this.aliases.put(c.alias);
        else this.aliases.delete(c.alias.alias);
        return;
      case 'aliases':
        for (const a of c.aliases) this.aliases.put(a);
        return;
      case 'structure':
        this.structure = new StructureIndex(this.store.structure());
        this.pruneHealth();
        return;
      case 'reload':
        this.reload();
        return;
    }
  }

  get aliasCount(): number {
    return this.aliases.size;
  }

  // ---- the decision ------------------------------------------------------------------------

  route(req: RouteRequest): RouteDecision {
    const d = req.dialled;
    const ctx: Ctx = { req, dialled: printable(typeof d === 'string' ? d : `${d.h323}:${d.value}`, 256), trace: [] };
    // decide() returns a fresh object: completing it in place avoids an object spread,
    // which was half the cost of a decision.
    const decision = this.decide(ctx) as RouteDecision;
    decision.dialled = ctx.dialled;
    decision.from = req.from;
    decision.trace = ctx.trace;
    if (ctx.dest) decision.destination = ctx.dest;
    if (ctx.alias) decision.alias = ctx.alias;
    return decision;
  }

  private decide(ctx: Ctx): RouteOutcome {
    const { req, trace } = ctx;
    const s = this.structure;
    const d = req.dialled;
    trace.push({ step: 'input', detail: `dialled "${ctx.dialled}" from ${describeCaller(req.from)}` });
    if (req.maxForwards !== undefined && req.maxForwards <= 0) {
      return reject(trace, 483, 'Max-Forwards reached 0');
    }

    let parsed: ParsedDial;
    try {
      parsed = parseDial(d);
    } catch (e) {
      if (e instanceof DialStringError) return reject(trace, 484, `cannot read dial string: ${e.message}`);
      throw e;
    }
    const subject = transformSubject(parsed, s.settings);
    trace.push({ step: 'parse', detail: `read as ${parsed.numeric ? 'number' : 'name'} "${subject}"` });

    if (s.transforms.length > 0) {
      const t = applyTransforms(subject, s.transforms);
      for (const st of t.steps) {
        const desc = st.rule.description ? ` "${st.rule.description}"` : '';
        trace.push({ step: 'transform', detail: `transform #${st.rule.id}${desc} (priority ${st.rule.priority}, pass ${st.pass}) rewrote ${st.from} to ${st.to}${st.rule.stop ? ' and stopped the transforms' : ''}` });
      }
      if (!t.settled) return reject(trace, 482, `transforms did not settle after ${MAX_TRANSFORM_PASSES} passes (rewrite loop), last result "${printable(t.result)}"`);
      if (t.steps.length > 0 && t.result !== subject) {
        try {
          parsed = parseDial(t.result);
        } catch (e) {
          if (e instanceof DialStringError) return reject(trace, 484, `transform result "${printable(t.result)}" is not a dial string: ${e.message}`);
          throw e;
        }
      }
    }

    let dest: NormalisedAddress;
    try {
      dest = canonicalize(parsed, s.settings);
    } catch (e) {
      if (e instanceof DialStringError) return reject(trace, 484, e.message);
      throw e;
    }
    ctx.dest = dest;
    const key = (dest.e164 ?? dest.uri) as string;
    trace.push({ step: 'normalise', detail: `normalised as ${key}` });

    const alias = this.aliases.get(key);
    if (alias) return this.viaAlias(ctx, alias);

    if (dest.e164 !== undefined) {
      const zp = s.zonePrefixes.longest(dest.e164, 1);
      if (zp) {
        trace.push({ step: 'zone', detail: `longest prefix +${zp.prefix} is served by zone ${zp.zone.zone.name} of org "${zp.zone.zone.org}"` });
        return this.policy(ctx, zp.zone.zone.org, false) ?? this.toZone(ctx, zp.zone);
      }
      const block = s.blocks.longest(dest.e164, 1);
      if (block) {
        return reject(trace, 404, `${dest.e164} is in block +${block.prefix} of org "${block.org}", which has no such alias and no zone serving it`);
      }
      return reject(trace, 404, `no organisation owns a number block for ${dest.e164}`);
    }

    const domain = dest.domain as string;
    const zone = s.zoneByDomain.get(domain);
    if (zone) {
      trace.push({ step: 'zone', detail: `domain ${domain} is served by zone ${zone.zone.name} of org "${zone.zone.org}"` });
      return this.policy(ctx, zone.zone.org, false) ?? this.toZone(ctx, zone);
    }
    const owner = s.domainOwner.get(domain);
    if (owner !== undefined) return reject(trace, 404, `no alias ${key}; domain ${domain} of org "${owner}" has no zone serving it`);
    if (s.ownDomains.has(domain)) return reject(trace, 404, `no alias ${key} on our own domain ${domain}`);
    return this.toGateway(ctx, domain);
  }

  private viaAlias(ctx: Ctx, alias: Alias): RouteOutcome {
    ctx.alias = alias;
    const { trace } = ctx;
    trace.push({ step: 'alias', detail: `matched ${alias.public ? 'public ' : ''}alias ${alias.alias}: ${alias.kind} ${alias.target} of org "${alias.org}"` });
    const refused = this.policy(ctx, alias.org, alias.kind === 'room' || alias.public);
    if (refused) return refused;
    switch (alias.kind) {
      case 'account':
        trace.push({ step: 'decision', detail: `deliver to account ${alias.target}` });
        return { action: 'account', org: alias.org, target: alias.target };
      case 'room':
        trace.push({ step: 'decision', detail: `join meeting room ${alias.target}` });
        return { action: 'room', org: alias.org, roomId: alias.target };
      case 'zone': {
        const zone = this.structure.zones.get(alias.target);
        // The store refuses to remove a zone an alias points to; this only guards a race.
        if (!zone) return reject(trace, 404, `alias ${alias.alias} points to zone ${alias.target}, which does not exist`);
        trace.push({ step: 'zone', detail: `alias routes to zone ${zone.zone.name} of org "${zone.zone.org}"` });
        return this.toZone(ctx, zone);
      }
    }
  }

  /** Returns a 403 outcome when policy refuses, null when the call may proceed. */
  private policy(ctx: Ctx, toOrg: string, externallyReachable: boolean): RouteOutcome | null {
    const { req, trace } = ctx;
    if (req.from.kind === 'external') {
      if (!externallyReachable) return reject(trace, 403, EXTERNAL_REACH);
      trace.push({ step: 'policy', detail: `external caller allowed: ${ctx.alias?.kind === 'room' ? 'meeting room' : 'public alias'}` });
      return null;
    }
    const blocked = this.structure.isBlocked(req.from.org, toOrg);
    if (blocked) {
      return reject(trace, 403, `org "${req.from.org}" is blocked from calling org "${toOrg}"${blocked.reason ? ` (${blocked.reason})` : ''}`);
    }
    trace.push({ step: 'policy', detail: `org "${req.from.org}" may call org "${toOrg}"` });
    return null;
  }

  private toZone(ctx: Ctx, z: IndexedZone): RouteOutcome {
    const { req, trace } = ctx;
    const name = z.zone.name;
    // A neighbour that sends us a call which we would hand straight back to it (its own
    // number or domain not registered here) would ping-pong until Max-Forwards runs out.
    if (req.from.kind === 'zone' && (req.from.org === z.zone.org || req.from.zone === name)) {
      return reject(trace, 482, `loop detected: the call came from zone ${req.from.zone} of org "${req.from.org}" and would be sent back to zone ${name} of the same org`);
    }
    const via = viaSet(req.via);
    if (via?.has(name)) return reject(trace, 482, `loop detected: zone ${name} is already in the call's path`);
    const targets = this.upTargets(name, z.targets, via, trace);
    if (targets === 'loop') return reject(trace, 482, `loop detected: every target of zone ${name} is already in the call's path`);
    if (targets.length === 0) return reject(trace, 503, `all targets of zone ${name} are down`);
    trace.push({ step: 'decision', detail: `send to zone ${name}: ${targets.map(fmtTarget).join(', ')}` });
    return { action: 'zone', org: z.zone.org, zone: name, targets, credentials: z.zone.credentials };
  }

  private toGateway(ctx: Ctx, domain: string): RouteOutcome {
    const { req, trace } = ctx;
    const s = this.structure;
    // Relaying outsiders to the internet would make us an open relay.
    if (req.from.kind === 'external') return reject(trace, 403, EXTERNAL_REACH);
    if (s.gateway.length === 0) return reject(trace, 404, `domain ${domain} is not in the plan and no internet gateway is configured`);
    trace.push({ step: 'gateway', detail: `domain ${domain} is not ours: internet gateway` });
    const targets = this.upTargets(GATEWAY_ZONE, s.gateway, viaSet(req.via), trace);
    if (targets === 'loop') return reject(trace, 482, 'loop detected: every gateway target is already in the call\'s path');
    if (targets.length === 0) return reject(trace, 503, 'all targets of the internet gateway are down');
    trace.push({ step: 'decision', detail: `send to the internet gateway: ${targets.map(fmtTarget).join(', ')}` });
    return { action: 'gateway', targets };
  }

  /** Targets not reported down and not already on the call's path, in priority order. */
  private upTargets(zone: string, all: readonly IndexedTarget[], via: Set<string> | undefined, trace: TraceStep[]): RouteTarget[] | 'loop' {
    const out: RouteTarget[] = [];
    let looped = 0;
    for (const t of all) {
      if (via && (via.has(t.host) || via.has(t.key))) {
        looped++;
        trace.push({ step: 'loop', detail: `target ${t.key} is already in the call's path, skipped` });
        continue;
      }
      const h = this.health.get(`${zone}\n${t.key}`);
      if (h?.state === 'down') {
        trace.push({ step: 'health', detail: `target ${t.key} of ${zone} is down since ${h.since}, skipped` });
        continue;
      }
      out.push({ host: t.host, port: t.port, transport: t.transport, priority: t.priority, key: t.key, state: h ? 'up' : 'unknown' });
    }
    return out.length === 0 && looped === all.length && looped > 0 ? 'loop' : out;
  }

  // ---- health of targets, for the SIP side's OPTIONS prober ----------------------------------

  /**
   * Records a probe result. `zone` is a zone name or 'gateway'; `target` a key from
   * zoneTargets() or the target itself. Returns false if no such target is configured (the plan
   * may have changed under the prober).
   */
  setTargetState(zone: string, target: string | Pick<ZoneTarget, 'host' | 'port' | 'transport'>, state: 'up' | 'down'): boolean {
    const key = typeof target === 'string' ? target : targetKey(target);
    if (!this.targetsOfZone(zone)?.some((t) => t.key === key)) return false;
    const k = `${zone}\n${key}`;
    if (this.health.get(k)?.state !== state) this.health.set(k, { state, since: new Date().toISOString() });
    return true;
  }

  /** The targets of a zone (or 'gateway') with their health; undefined for an unknown zone. */
  zoneTargets(zone: string): TargetHealth[] | undefined {
    const targets = this.targetsOfZone(zone);
    if (!targets) return undefined;
    return targets.map((t) => {
      const h = this.health.get(`${zone}\n${t.key}`);
      return { host: t.host, port: t.port, transport: t.transport, priority: t.priority, key: t.key, state: h?.state ?? 'unknown', since: h?.since ?? null };
    });
  }

  /** Every zone and the gateway with their targets: what the prober should probe. */
  zones(): ZoneHealth[] {
    const out: ZoneHealth[] = [];
    for (const z of this.structure.zones.values()) out.push({ zone: z.zone.name, org: z.zone.org, targets: this.zoneTargets(z.zone.name)! });
    if (this.structure.gateway.length > 0) out.push({ zone: GATEWAY_ZONE, org: null, targets: this.zoneTargets(GATEWAY_ZONE)! });
    return out;
  }

  private targetsOfZone(zone: string): readonly IndexedTarget[] | undefined {
    if (zone === GATEWAY_ZONE) return this.structure.gateway;
    return this.structure.zones.get(zone)?.targets;
  }

  /** Forgets the health of targets that are no longer configured. */
  private pruneHealth(): void {
    for (const k of this.health.keys()) {
      const [zone, key] = k.split('\n') as [string, string];
      if (!this.targetsOfZone(zone)?.some((t) => t.key === key)) this.health.delete(k);
    }
  }
}

function reject(trace: TraceStep[], status: RejectStatus, reason: string): RouteOutcome {
  trace.push({ step: 'reject', detail: `${status} ${reason}` });
  return { action: 'reject', status, reason };
}

function viaSet(via: readonly string[] | undefined): Set<string> | undefined {
  return via && via.length > 0 ? new Set(via.map((v) => v.toLowerCase())) : undefined;
}

function fmtTarget(t: RouteTarget): string {
  return `${t.key} (priority ${t.priority}${t.state === 'unknown' ? ', not probed yet' : ''})`;
}
