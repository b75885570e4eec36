/**
 * Prometheus metrics of a knude node (prom-client), served at GET /metrics. Each node has its
 * own Registry (never the global one) so tests and several nodes in one process stay apart.
 *
 * Two kinds of figures: state that another module already keeps exactly (registrations, open
 * legs, ports and licences in use and their limits) is read from callbacks at scrape time,
 * so the metric can never drift from the counter it shows; events (SIP requests and responses,
 * admission refusals, media packets, Janus going up or down) are counted by calling the
 * functions below. Label values that come from the network are bounded (unknown SIP methods
 * become OTHER) so a flood of odd requests cannot grow the series without end.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { LEG_KINDS, type LegKind } from './cdr.js';

export interface NodeCapacity {
  portsInUse: number;
  portsLimit: number;
  licencesInUse: number;
  licencesLimit: number;
  /** The node's media-capacity figure (e.g. weighted streams), when it has one. */
  mediaInUse?: number;
  mediaLimit?: number;
}

export interface OrgCapacity {
  org: string;
  portsInUse: number;
  /** The organisation's quota of concurrent ports; absent when it has none. */
  portsLimit?: number;
  licencesInUse?: number;
}

export interface CapacitySnapshot {
  node: NodeCapacity;
  orgs: OrgCapacity[];
}

/** Read at every scrape; a source that throws leaves its metrics out of that scrape. */
export interface MetricSources {
  registrations?: () => number;
  activeCalls?: () => number;
  activeLegs?: () => Partial<Record<LegKind, number>>;
  capacity?: () => CapacitySnapshot;
}

export interface MediaDelta {
  packetsSent?: number;
  packetsReceived?: number;
  packetsLost?: number;
  /** Latest interarrival jitter (ms). */
  jitterMs?: number;
}

export interface KnudeMetrics {
  readonly registry: Registry;
  /** Adds or replaces state sources. */
  setSources(sources: MetricSources): void;
  /** A call or join refused by admission control; cause e.g. 'node-ports', 'org-quota'. */
  admissionRefused(cause: string): void;
  /** A meeting PIN refused: 'wrong-pin', or 'too-many-attempts' (the address is held back). */
  pinRefused(reason: string): void;
  sipRequest(method: string): void;
  sipResponse(method: string, status: number): void;
  /** Media figures since the last call for this kind of leg (increments, not totals). */
  media(kind: LegKind, delta: MediaDelta): void;
  janusUp(up: boolean): void;
}

const SIP_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH']);

function methodLabel(method: string): string {
  const m = String(method).toUpperCase();
  return SIP_METHODS.has(m) ? m : 'OTHER';
}

function causeLabel(cause: string): string {
  return /^[a-z0-9][a-z0-9_-]{0,39}$/.test(cause) ? cause : 'other';
}

function kindLabel(kind: string): LegKind | 'other' {
  return LEG_KINDS.includes(kind as LegKind) ? (kind as LegKind) : 'other';
}

function addCount(counter: Counter<string>, labels: Record<string, string>, n: number | undefined): void {
  if (n !== undefined && Number.isFinite(n) && n > 0) counter.inc(labels, n);
}

/** Calls `fn`; a failing source must not fail the whole scrape. */
function safely<T>(fn: (() => T) | undefined): T | undefined {
  if (!fn) return undefined;
  try {
    return fn();
  } catch {
    return undefined;
  }
}

type StateValues = Array<{ labels: Record<string, string>; value: number }>;

/**
 * A gauge whose values are read from a callback at scrape time. Unlike a prom-client Gauge
 * with collect(), a value that is unknown (no source, or the source failed) is left out of
 * the scrape instead of showing as 0: an idle node and a broken counter must not look alike.
 */
class StateGauge extends Gauge<string> {
  constructor(
    config: { name: string; help: string; labelNames?: string[]; registers: Registry[] },
    private readonly read: () => StateValues | undefined,
  ) {
    super(config);
  }

  override async get(): Promise<Awaited<ReturnType<Gauge<string>['get']>>> {
    // read before the first await: every metric of a scrape is read in one synchronous stretch
    const values = safely(this.read) ?? [];
    const base = await super.get();
    return { ...base, values };
  }
}

export function createMetrics(opts: { node?: string; defaultMetrics?: boolean; sources?: MetricSources } = {}): KnudeMetrics {
  const registry = new Registry();
  if (opts.node) registry.setDefaultLabels({ node: opts.node });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  let sources: MetricSources = { ...opts.sources };
  const registers = [registry];

  const single = (read: () => number | undefined) => (): StateValues | undefined => {
    const v = safely(read);
    return v === undefined || !Number.isFinite(v) ? undefined : [{ labels: {}, value: v }];
  };
  new StateGauge({ name: 'knude_registrations', help: 'SIP contact bindings currently registered', registers }, single(() => sources.registrations?.()));
  new StateGauge({ name: 'knude_active_calls', help: 'Calls in progress (a call has one or more legs)', registers }, single(() => sources.activeCalls?.()));
  new StateGauge({ name: 'knude_active_legs', help: 'Call legs in progress by kind', labelNames: ['kind'], registers }, () => {
    const byKind = safely(sources.activeLegs);
    return byKind && LEG_KINDS.map((kind) => ({ labels: { kind }, value: byKind[kind] ?? 0 }));
  });

  // One scrape reads the capacity snapshot once for all its gauges: prom-client asks every
  // metric for its values in one synchronous stretch, and the cached copy is dropped after it.
  let cached: { value: CapacitySnapshot | undefined } | undefined;
  const capacity = (): CapacitySnapshot | undefined => {
    if (!cached) {
      cached = { value: safely(sources.capacity) };
      queueMicrotask(() => (cached = undefined));
    }
    return cached.value;
  };
  const nodeGauge = (name: string, help: string, pick: (n: NodeCapacity) => number | undefined) =>
    new StateGauge({ name, help, registers }, single(() => {
      const snap = capacity();
      return snap && pick(snap.node);
    }));
  nodeGauge('knude_ports_in_use', 'Ports in use on this node (one per call leg)', (n) => n.portsInUse);
  nodeGauge('knude_ports_limit', 'Concurrent ports this node admits', (n) => n.portsLimit);
  nodeGauge('knude_licences_in_use', 'Licence units in use on this node', (n) => n.licencesInUse);
  nodeGauge('knude_licences_limit', 'Licence units this node admits', (n) => n.licencesLimit);
  nodeGauge('knude_media_capacity_in_use', 'Media capacity in use on this node', (n) => n.mediaInUse);
  nodeGauge('knude_media_capacity_limit', 'Media capacity of this node', (n) => n.mediaLimit);
  const orgGauge = (name: string, help: string, pick: (o: OrgCapacity) => number | undefined) =>
    new StateGauge({ name, help, labelNames: ['org'], registers }, () =>
      (capacity()?.orgs ?? []).flatMap((o) => {
        const v = pick(o);
        return v === undefined ? [] : [{ labels: { org: o.org }, value: v }];
      }),
    );
  orgGauge('knude_org_ports_in_use', 'Ports in use per organisation', (o) => o.portsInUse);
  orgGauge('knude_org_ports_limit', 'Quota of concurrent ports per organisation', (o) => o.portsLimit);
  orgGauge('knude_org_licences_in_use', 'Licence units in use per organisation', (o) => o.licencesInUse);

  const refusals = new Counter({ name: 'knude_admission_refusals_total', help: 'Calls and joins refused by admission control, by cause', labelNames: ['cause'], registers });
  const pinRefusals = new Counter({ name: 'knude_room_pin_refusals_total', help: 'Meeting PINs refused (SIP and browser), by reason: wrong-pin, too-many-attempts', labelNames: ['reason'], registers });
  const requests = new Counter({ name: 'knude_sip_requests_total', help: 'SIP requests received, by method', labelNames: ['method'], registers });
  const responses = new Counter({ name: 'knude_sip_responses_total', help: 'SIP responses sent, by request method and status code', labelNames: ['method', 'code'], registers });
  const packets = new Counter({ name: 'knude_media_packets_total', help: 'RTP packets by leg kind and direction', labelNames: ['kind', 'direction'], registers });
  const lost = new Counter({ name: 'knude_media_packets_lost_total', help: 'RTP packets lost (received side) by leg kind', labelNames: ['kind'], registers });
  const jitter = new Gauge({ name: 'knude_media_jitter_ms', help: 'Latest interarrival jitter by leg kind (ms)', labelNames: ['kind'], registers });
  // absent until the media plane reports: a node running without Janus shows no 0 to alert on
  let janus: boolean | undefined;
  new StateGauge({ name: 'knude_janus_up', help: '1 while the Janus media server answers, 0 while it does not', registers }, single(() => (janus === undefined ? undefined : janus ? 1 : 0)));

  return {
    registry,
    setSources(s) {
      sources = { ...sources, ...s };
    },
    admissionRefused(cause) {
      refusals.inc({ cause: causeLabel(cause) });
    },
    pinRefused(reason) {
      pinRefusals.inc({ reason: causeLabel(reason) });
    },
    sipRequest(method) {
      requests.inc({ method: methodLabel(method) });
    },
    sipResponse(method, status) {
      const code = Number.isInteger(status) && status >= 100 && status <= 699 ? String(status) : 'other';
      responses.inc({ method: methodLabel(method), code });
    },
    media(kind, d) {
      const k = kindLabel(kind);
      addCount(packets, { kind: k, direction: 'sent' }, d.packetsSent);
      addCount(packets, { kind: k, direction: 'received' }, d.packetsReceived);
      addCount(lost, { kind: k }, d.packetsLost);
      if (d.jitterMs !== undefined && Number.isFinite(d.jitterMs) && d.jitterMs >= 0) jitter.set({ kind: k }, d.jitterMs);
    },
    janusUp(up) {
      janus = up;
    },
  };
}

/** GET (or HEAD) /metrics for node:http: the registry's text with its content type. */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${err.message}\n`);
      },
    );
  };
}
