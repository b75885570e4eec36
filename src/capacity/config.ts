/**
 * Configuration of ports, licences and capacity admission. Kept in this module (the main schema
 * embeds it) so the weights, limits and their validation live beside the code that uses them.
 *
 * Units. Every carried leg takes exactly one port. Licence units and media capacity are
 * weighted by the leg's kind:
 * - licences: video 1, browser 1, audio 0.125. A browser participant sends and receives video
 *   like a SIP video endpoint, so it costs the same; an audio-only leg (a phone or PSTN
 *   gateway) carries a few kbit/s of Opus/G.711 and is the cheap case licence models price at a
 *   fraction of a video port — one video licence covers eight audio-only legs. 1/8 is exact in
 *   binary, and all weights are kept in thousandths anyway so sums never drift.
 * - media: video 1, browser 1, audio 0.1, in "video legs' worth" of this node's forwarding work
 *   (packets per second and bandwidth through the SFU and SIP relays): an audio leg moves about
 *   50 packets/s against several hundred for a video leg. `mediaCapacity` is how many video legs
 *   the node's measured CPU and network carry.
 */
import { CapacityConfigError } from './errors.js';
import { LEG_KINDS, type LegKind } from './types.js';

export { CapacityConfigError } from './errors.js';

export interface CapacityConfig {
  /** Concurrent ports (legs) in the limit scope; null = unlimited. */
  maxPorts: number | null;
  /** Licence units in the limit scope; null = unlimited. */
  maxLicences: number | null;
  /** This node's media capacity in `mediaCost` units; null = unlimited. */
  mediaCapacity: number | null;
  licenceWeights: Record<LegKind, number>;
  mediaCost: Record<LegKind, number>;
  /** Concurrent ports of an organisation without its own entry in orgQuotas; null = unlimited. */
  defaultOrgQuota: number | null;
  orgQuotas: Record<string, number>;
  /** Status for a quota refusal: 486 Busy Here (default) or 403 Forbidden. */
  quotaStatus: 486 | 403;
  /** Retry-After given with a 503 when a node limit is reached. */
  retryAfterSeconds: number;
  /** 'sqlite': this node alone, in its own store. 'postgres': nodes sharing postgresUrl share the limits. */
  store: 'sqlite' | 'postgres';
  postgresUrl: string | null;
  /** PostgreSQL schema of the shared tables: nodes sharing a limit use the same one. */
  postgresSchema: string;
  /** PostgreSQL: a node's reservations stop counting this long after its last heartbeat. */
  leaseSeconds: number;
}

export const defaultCapacityConfig: CapacityConfig = {
  maxPorts: null,
  maxLicences: null,
  mediaCapacity: null,
  licenceWeights: { video: 1, audio: 0.125, browser: 1 },
  mediaCost: { video: 1, audio: 0.1, browser: 1 },
  defaultOrgQuota: null,
  orgQuotas: {},
  quotaStatus: 486,
  retryAfterSeconds: 30,
  store: 'sqlite',
  postgresUrl: null,
  postgresSchema: 'public',
  leaseSeconds: 30,
};

/** Weights and capacities are counted in thousandths, as integers, so sums are exact. */
export const UNIT_SCALE = 1000;

export function toMilli(units: number): number {
  return Math.round(units * UNIT_SCALE);
}

export function fromMilli(milli: number): number {
  return milli / UNIT_SCALE;
}

const KEYS = Object.keys(defaultCapacityConfig) as Array<keyof CapacityConfig>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, what: string, got: unknown): never {
  throw new CapacityConfigError(`${path} must be ${what} (got ${JSON.stringify(got) ?? String(got)})`);
}

function count(path: string, v: unknown, nullable: boolean): number | null {
  if (v === null && nullable) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(path, `a whole number >= 0${nullable ? ' or null' : ''}`, v);
  return v;
}

/** A non-negative amount with at most three decimals (thousandths are the unit of counting). */
function amount(path: string, v: unknown, nullable: boolean): number | null {
  if (v === null && nullable) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(path, `a number >= 0${nullable ? ' or null' : ''}`, v);
  if (Math.abs(v * UNIT_SCALE - Math.round(v * UNIT_SCALE)) > 1e-6) fail(path, 'a number with at most 3 decimals', v);
  return v;
}

function weights(path: string, v: unknown, base: Record<LegKind, number>): Record<LegKind, number> {
  if (v === undefined) return { ...base };
  if (!isRecord(v)) fail(path, 'an object with keys video, audio, browser', v);
  for (const k of Object.keys(v)) if (!LEG_KINDS.includes(k as LegKind)) fail(`${path}.${k}`, 'absent: the leg kinds are video, audio and browser', v[k]);
  const out = { ...base };
  for (const k of LEG_KINDS) if (v[k] !== undefined) out[k] = amount(`${path}.${k}`, v[k], false)!;
  return out;
}

/**
 * The capacity section from a parsed file or object: missing keys take their defaults (per leg
 * kind for the weight maps), unknown keys and wrong values are a CapacityConfigError naming
 * the field. `path` prefixes the field names in messages.
 */
export function parseCapacityConfig(input: unknown = {}, path = 'capacity'): CapacityConfig {
  if (input === undefined || input === null) input = {};
  if (!isRecord(input)) fail(path, 'an object', input);
  for (const k of Object.keys(input)) {
    if (!KEYS.includes(k as keyof CapacityConfig)) throw new CapacityConfigError(`${path}.${k} is not a capacity setting (known: ${KEYS.join(', ')})`);
  }
  const d = defaultCapacityConfig;
  const has = (k: keyof CapacityConfig) => input[k] !== undefined;
  const cfg: CapacityConfig = {
    maxPorts: has('maxPorts') ? count(`${path}.maxPorts`, input.maxPorts, true) : d.maxPorts,
    maxLicences: has('maxLicences') ? amount(`${path}.maxLicences`, input.maxLicences, true) : d.maxLicences,
    mediaCapacity: has('mediaCapacity') ? amount(`${path}.mediaCapacity`, input.mediaCapacity, true) : d.mediaCapacity,
    licenceWeights: weights(`${path}.licenceWeights`, input.licenceWeights, d.licenceWeights),
    mediaCost: weights(`${path}.mediaCost`, input.mediaCost, d.mediaCost),
    defaultOrgQuota: has('defaultOrgQuota') ? count(`${path}.defaultOrgQuota`, input.defaultOrgQuota, true) : d.defaultOrgQuota,
    orgQuotas: {},
    quotaStatus: d.quotaStatus,
    retryAfterSeconds: d.retryAfterSeconds,
    store: d.store,
    postgresUrl: d.postgresUrl,
    postgresSchema: d.postgresSchema,
    leaseSeconds: d.leaseSeconds,
  };
  if (has('orgQuotas')) {
    if (!isRecord(input.orgQuotas)) fail(`${path}.orgQuotas`, 'an object of organisation name → whole number of ports', input.orgQuotas);
    for (const [org, q] of Object.entries(input.orgQuotas)) {
      if (org.trim() === '') fail(`${path}.orgQuotas`, 'keyed by non-empty organisation names', org);
      cfg.orgQuotas[org] = count(`${path}.orgQuotas.${org}`, q, false)!;
    }
  }
  if (has('quotaStatus')) {
    if (input.quotaStatus !== 486 && input.quotaStatus !== 403) fail(`${path}.quotaStatus`, '486 or 403', input.quotaStatus);
    cfg.quotaStatus = input.quotaStatus;
  }
  if (has('retryAfterSeconds')) {
    const r = count(`${path}.retryAfterSeconds`, input.retryAfterSeconds, false)!;
    if (r < 1 || r > 86_400) fail(`${path}.retryAfterSeconds`, 'between 1 and 86400 seconds', r);
    cfg.retryAfterSeconds = r;
  }
  if (has('store')) {
    if (input.store !== 'sqlite' && input.store !== 'postgres') fail(`${path}.store`, "'sqlite' or 'postgres'", input.store);
    cfg.store = input.store;
  }
  if (has('postgresUrl') && input.postgresUrl !== null) {
    if (typeof input.postgresUrl !== 'string' || !/^postgres(ql)?:\/\/./.test(input.postgresUrl)) {
      // Never echo the value: a connection URL may carry a password.
      throw new CapacityConfigError(`${path}.postgresUrl must be a postgres:// or postgresql:// URL or null`);
    }
    cfg.postgresUrl = input.postgresUrl;
  }
  if (has('postgresSchema')) {
    if (typeof input.postgresSchema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(input.postgresSchema)) {
      throw new CapacityConfigError(`${path}.postgresSchema must be a lowercase SQL identifier`);
    }
    cfg.postgresSchema = input.postgresSchema;
  }
  if (has('leaseSeconds')) {
    const l = count(`${path}.leaseSeconds`, input.leaseSeconds, false)!;
    if (l < 1 || l > 3600) fail(`${path}.leaseSeconds`, 'between 1 and 3600 seconds (heartbeats go every third of it)', l);
    cfg.leaseSeconds = l;
  }
  if (cfg.store === 'postgres' && cfg.postgresUrl === null) {
    throw new CapacityConfigError(`${path}.postgresUrl is required when ${path}.store is 'postgres'`);
  }
  return cfg;
}

/** The quota in force for an organisation: its own entry, else the default; null = unlimited. */
export function quotaOf(cfg: CapacityConfig, org: string): number | null {
  return Object.hasOwn(cfg.orgQuotas, org) ? cfg.orgQuotas[org] : cfg.defaultOrgQuota;
}
