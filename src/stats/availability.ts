/**
 * Uptime of the infrastructure (SIP and media) and of the API, measured the way the seeds'
 * service agreements define it, for one month at a time:
 *
 *   uptime % = ((operating time − announced service windows) − downtime)
 *              / (operating time − announced service windows) × 100
 *
 * Each node samples its components (recordAvailability, e.g. every minute). A sample vouches
 * for its state for at most `sampleValidityMs`; silence after that counts as down, because a
 * node that crashed or was stopped cannot report that it is down. Time before a component's
 * first sample is not operating time (the service did not exist yet). With redundant nodes a
 * component is up while any node reports it up; the infrastructure is down while any of its
 * components is down.
 */
import { migrate, type Db } from '../store/database.js';
import { InvalidStatsInputError, printable } from './errors.js';
import { statsMigrations } from './migrations.js';
import { toIso, toMs, type TimeInput } from './time.js';

export const COMPONENTS = ['sip', 'media', 'api'] as const;
export type Component = (typeof COMPONENTS)[number];
type State = 'up' | 'down' | 'unknown';
type Segment = [from: number, to: number, state: State];

export interface Uptime {
  /** null when nothing was measured in the period. */
  pct: number | null;
  upMs: number;
  downMs: number;
  /** Time inside announced service windows, left out of the percentage. */
  plannedMs: number;
  /** Time before the service's first sample (or in the future), left out too. */
  unknownMs: number;
}

export interface ServiceWindow {
  id: number;
  from: string;
  to: string;
  reason: string;
}

export const DEFAULT_SAMPLE_VALIDITY_MS = 180_000;

function checkComponent(c: unknown): Component {
  if (!COMPONENTS.includes(c as Component)) throw new InvalidStatsInputError(`component "${printable(c)}" must be sip, media or api`);
  return c as Component;
}

/** A node's timeline from its samples (sorted by time), within [from, to). */
function nodeTimeline(samples: Array<{ at: number; up: boolean }>, from: number, to: number, validity: number): Segment[] {
  const segs: Segment[] = [];
  const push = (a: number, b: number, s: State) => {
    const x = Math.max(a, from);
    const y = Math.min(b, to);
    if (y > x) segs.push([x, y, s]);
  };
  if (samples.length === 0) return [[from, to, 'unknown']];
  push(-Infinity, samples[0].at, 'unknown');
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    const next = i + 1 < samples.length ? samples[i + 1].at : to;
    const covered = Math.min(next, s.at + validity);
    push(s.at, covered, s.up ? 'up' : 'down');
    push(covered, next, 'down');
  }
  return segs;
}

function stateAt(segs: Segment[], t: number): State {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segs[mid][1] <= t) lo = mid + 1;
    else if (segs[mid][0] > t) hi = mid - 1;
    else return segs[mid][2];
  }
  return 'unknown';
}

/** Redundant nodes: up if any node is up; down if none is up and one is down. */
function anyUp(states: State[]): State {
  if (states.includes('up')) return 'up';
  return states.includes('down') ? 'down' : 'unknown';
}

/** Components in series: down if any measured component is down. */
function allUp(states: State[]): State {
  if (states.includes('down')) return 'down';
  return states.includes('up') ? 'up' : 'unknown';
}

export class AvailabilityStore {
  private readonly stmts: ReturnType<AvailabilityStore['prepare']>;
  private readonly node: string;
  private readonly validity: number;
  private readonly now: () => Date;

  constructor(
    readonly db: Db,
    opts: { node?: string; sampleValidityMs?: number; now?: () => Date } = {},
  ) {
    this.node = opts.node ?? 'knude';
    this.validity = opts.sampleValidityMs ?? DEFAULT_SAMPLE_VALIDITY_MS;
    this.now = opts.now ?? (() => new Date());
    migrate(db, statsMigrations);
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare('INSERT INTO stats_availability (component, node, at, up) VALUES (?, ?, ?, ?)'),
      nodes: db.prepare('SELECT DISTINCT node FROM stats_availability WHERE component = ? AND at < ?').pluck(),
      before: db.prepare('SELECT at, up FROM stats_availability WHERE component = ? AND node = ? AND at < ? ORDER BY at DESC LIMIT 1'),
      within: db.prepare('SELECT at, up FROM stats_availability WHERE component = ? AND node = ? AND at >= ? AND at < ? ORDER BY at'),
      addWindow: db.prepare('INSERT INTO stats_service_windows (from_at, to_at, reason) VALUES (?, ?, ?)'),
      windows: db.prepare('SELECT id, from_at, to_at, reason FROM stats_service_windows WHERE from_at < ? AND to_at > ? ORDER BY from_at'),
    };
  }

  /** One observation: `component` was up (or down) at `at` on this node. */
  recordAvailability(component: Component, up: boolean, at: TimeInput = this.now(), node = this.node): void {
    if (typeof up !== 'boolean') throw new InvalidStatsInputError('availability must be up (true) or down (false)');
    this.stmts.insert.run(checkComponent(component), node, toIso(at, 'sample time'), up ? 1 : 0);
  }

  /** Announces a service window; downtime inside it does not count against uptime. */
  addServiceWindow(w: { from: TimeInput; to: TimeInput; reason?: string }): ServiceWindow {
    const from = toIso(w.from, 'service window start');
    const to = toIso(w.to, 'service window end');
    if (to <= from) throw new InvalidStatsInputError('a service window must end after it starts');
    const reason = String(w.reason ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
    const id = Number(this.stmts.addWindow.run(from, to, reason).lastInsertRowid);
    return { id, from, to, reason };
  }

  serviceWindows(p: { from: TimeInput; to: TimeInput }): ServiceWindow[] {
    const rows = this.stmts.windows.all(toIso(p.to, 'period end'), toIso(p.from, 'period start')) as Array<{ id: number; from_at: string; to_at: string; reason: string }>;
    return rows.map((r) => ({ id: r.id, from: r.from_at, to: r.to_at, reason: r.reason }));
  }

  /** A component's timeline over all nodes, within [from, to). */
  private componentTimeline(component: Component, from: number, to: number): Segment[][] {
    const toIsoText = new Date(to).toISOString();
    const fromIso = new Date(from).toISOString();
    return (this.stmts.nodes.all(component, toIsoText) as string[]).map((node) => {
      const prior = this.stmts.before.get(component, node, fromIso) as { at: string; up: number } | undefined;
      const rows = this.stmts.within.all(component, node, fromIso, toIsoText) as Array<{ at: string; up: number }>;
      const samples = (prior ? [prior, ...rows] : rows).map((r) => ({ at: Date.parse(r.at), up: r.up === 1 }));
      return nodeTimeline(samples, from, to, this.validity);
    });
  }

  /**
   * Uptime of `components` taken together over [from, to); time after now is not counted.
   * Infrastructure: ['sip', 'media']; API: ['api'].
   */
  uptime(components: readonly Component[], p: { from: TimeInput; to: TimeInput }): Uptime {
    const from = toMs(p.from, 'period start');
    const periodEnd = toMs(p.to, 'period end');
    const to = Math.max(from, Math.min(periodEnd, this.now().getTime()));
    const timelines = components.map((c) => this.componentTimeline(checkComponent(c), from, to));
    const windows = this.serviceWindows({ from, to }).map((w) => [Date.parse(w.from), Date.parse(w.to)] as const);
    const cuts = new Set<number>([from, to]);
    for (const nodes of timelines) for (const segs of nodes) for (const [a, b] of segs) cuts.add(a).add(b);
    for (const [a, b] of windows) {
      if (a > from && a < to) cuts.add(a);
      if (b > from && b < to) cuts.add(b);
    }
    const points = [...cuts].filter((t) => t >= from && t <= to).sort((a, b) => a - b);
    const out: Uptime = { pct: null, upMs: 0, downMs: 0, plannedMs: 0, unknownMs: periodEnd - to };
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      if (windows.some(([wa, wb]) => a >= wa && a < wb)) {
        out.plannedMs += b - a;
        continue;
      }
      const state = allUp(timelines.map((nodes) => anyUp(nodes.map((segs) => stateAt(segs, a)))));
      if (state === 'up') out.upMs += b - a;
      else if (state === 'down') out.downMs += b - a;
      else out.unknownMs += b - a;
    }
    const measured = out.upMs + out.downMs;
    out.pct = measured > 0 ? (out.upMs / measured) * 100 : null;
    return out;
  }
}

/**
 * Samples a component every `intervalMs` with `probe` (true = up; a throw or false = down)
 * until stop() is called. The node runs one per component; stop() records nothing more.
 */
export function sampleAvailability(
  store: AvailabilityStore,
  component: Component,
  probe: () => boolean | Promise<boolean>,
  intervalMs = 60_000,
): { stop(): void } {
  checkComponent(component);
  let stopped = false;
  const tick = async () => {
    let up: boolean;
    try {
      up = (await probe()) === true;
    } catch {
      up = false;
    }
    if (!stopped) store.recordAvailability(component, up);
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
