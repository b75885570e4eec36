/**
 * Configuration of the H.323 gatekeeper (RAS on UDP). Kept beside the code that uses it; the
 * main schema embeds it as `h323`. Missing keys take their defaults, unknown keys and wrong
 * values are an H323ConfigError naming the field.
 */
import { isIP } from 'node:net';
import { H323ConfigError } from './errors.js';

export { H323ConfigError } from './errors.js';

export interface GatekeeperConfig {
  /** Answer RAS at all. On by default, on loopback, like the SIP defaults. */
  enabled: boolean;
  /** Address the RAS socket binds to (IPv4). */
  address: string;
  /** RAS port: 1719 is the H.225.0 registered port; 0 picks a free one (tests). */
  port: number;
  /**
   * Gatekeeper discovery (H.225.0 7.2.1): also listen for GRQ on `discoveryPort` and join the
   * RAS multicast group 224.0.1.41 there. GCF goes back (unicast) to the GRQ's rasAddress.
   */
  discovery: boolean;
  discoveryPort: number;
  /** Address put in GCF/LCF rasAddress when the bound one is not what endpoints reach (NAT, 0.0.0.0); null: `address`. */
  advertisedAddress: string | null;
  /** The gatekeeperIdentifier knude answers to and names itself with (BMPString, 1-128 characters). */
  gatekeeperId: string;
  /** timeToLive given when an RRQ asks for none; requests are clamped to min..max (seconds). */
  defaultTimeToLive: number;
  minTimeToLive: number;
  maxTimeToLive: number;
  /**
   * Aliases that are neither an alias in the plan nor inside an organisation's number block or
   * URI domain: 'refuse' answers RRJ invalidAlias (a national service registers only numbers it
   * has handed out); 'allow' registers them without an organisation (a lab).
   */
  unplannedAliases: 'refuse' | 'allow';
  /**
   * Where calls to what H.323 endpoints cannot reach directly go (SIP accounts, rooms, neighbour
   * zones): the call signalling address of an H.323 <-> SIP interworking gateway, "host:port".
   * null: such ARQs are refused (ARJ calledPartyNotRegistered / noRouteToDestination).
   */
  interworkingGateway: string | null;
  /**
   * Neighbour gatekeepers ("host:port") asked with LRQ, all at once, when an ARQ's alias is not
   * in this node's plan or registrations; the first LCF wins. Empty: no location requests.
   */
  neighbourGatekeepers: string[];
  /** How long to wait for the neighbours' LCF/LRJ (ms). */
  locationTimeoutMs: number;
  /**
   * hopCount of the LRQs this node starts (1-255). Above 1, a neighbour that does not know the
   * alias asks its own neighbours (with one hop less), as in a national gatekeeper hierarchy;
   * this node does the same for LRQs it gets with hops to spare.
   */
  lrqHopCount: number;
  /** Registrations held at most (memory bound against RRQ floods); more are refused with resourceUnavailable. */
  maxRegistrations: number;
  /** Calls one endpoint may hold admitted at once (calls end only with DRQ, URQ or expiry). */
  maxCallsPerEndpoint: number;
  /** Largest bandWidth granted in ACF/BCF, in units of 100 bit/s (H.225.0 BandWidth). */
  maxBandwidth: number;
  /**
   * 'none': registrations are not authenticated (the source host is still bound to the
   * endpointIdentifier). 'h235-password': RRQ and ARQ must carry an H.235 cryptoEPPwdHash made
   * with the account's H.323 password (GatekeeperDeps.h235Password), or are refused with
   * securityDenial.
   */
  security: 'none' | 'h235-password';
  /** How far an H.235 token's timeStamp may be from the gatekeeper's clock (seconds). */
  h235MaxClockSkewSeconds: number;
  /** An admission still waiting this long (a slow shared capacity store) gets a RIP so the endpoint does not give up (ms). */
  requestInProgressMs: number;
}

export const defaultGatekeeperConfig: GatekeeperConfig = {
  enabled: true,
  address: '127.0.0.1',
  port: 1719,
  discovery: false,
  discoveryPort: 1718,
  advertisedAddress: null,
  gatekeeperId: 'knude',
  defaultTimeToLive: 300,
  minTimeToLive: 30,
  maxTimeToLive: 3600,
  unplannedAliases: 'refuse',
  interworkingGateway: null,
  neighbourGatekeepers: [],
  locationTimeoutMs: 2000,
  lrqHopCount: 1,
  maxRegistrations: 100000,
  maxCallsPerEndpoint: 64,
  maxBandwidth: 81920, // 8 Mbit/s
  security: 'none',
  h235MaxClockSkewSeconds: 300,
  requestInProgressMs: 1500,
};

const KEYS = Object.keys(defaultGatekeeperConfig) as Array<keyof GatekeeperConfig>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, what: string, got: unknown): never {
  throw new H323ConfigError(`${path} must be ${what} (got ${JSON.stringify(got) ?? String(got)})`);
}

function whole(path: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `a whole number ${min}..${max}`, v);
  return v;
}

function ipv4(path: string, v: unknown): string {
  if (typeof v !== 'string' || isIP(v) !== 4) fail(path, 'an IPv4 address', v);
  return v;
}

/** Parses "host:port" (IPv4) into its parts. */
export function parseHostPort(path: string, v: unknown): { host: string; port: number } {
  const m = typeof v === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v) : null;
  if (!m || isIP(m[1]!) !== 4 || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(path, '"host:port" with an IPv4 address', v);
  return { host: m[1]!, port: Number(m[2]) };
}

export function parseGatekeeperConfig(input: unknown = {}, path = 'h323'): GatekeeperConfig {
  if (input === undefined || input === null) input = {};
  if (!isRecord(input)) fail(path, 'an object', input);
  for (const k of Object.keys(input)) {
    if (!KEYS.includes(k as keyof GatekeeperConfig)) throw new H323ConfigError(`${path}.${k} is not an h323 setting (known: ${KEYS.join(', ')})`);
  }
  const v = { ...defaultGatekeeperConfig, ...input } as Record<keyof GatekeeperConfig, unknown>;
  if (typeof v.enabled !== 'boolean') fail(`${path}.enabled`, 'true or false', v.enabled);
  const cfg: GatekeeperConfig = {
    enabled: v.enabled,
    address: ipv4(`${path}.address`, v.address),
    port: whole(`${path}.port`, v.port, 0, 65535),
    discovery: false,
    discoveryPort: whole(`${path}.discoveryPort`, v.discoveryPort, 0, 65535),
    advertisedAddress: v.advertisedAddress === null ? null : ipv4(`${path}.advertisedAddress`, v.advertisedAddress),
    gatekeeperId: '',
    defaultTimeToLive: whole(`${path}.defaultTimeToLive`, v.defaultTimeToLive, 1, 4294967295),
    minTimeToLive: whole(`${path}.minTimeToLive`, v.minTimeToLive, 1, 4294967295),
    maxTimeToLive: whole(`${path}.maxTimeToLive`, v.maxTimeToLive, 1, 4294967295),
    unplannedAliases: 'refuse',
    interworkingGateway: null,
    neighbourGatekeepers: [],
    locationTimeoutMs: whole(`${path}.locationTimeoutMs`, v.locationTimeoutMs, 100, 30_000),
    lrqHopCount: whole(`${path}.lrqHopCount`, v.lrqHopCount, 1, 255),
    maxRegistrations: whole(`${path}.maxRegistrations`, v.maxRegistrations, 1, 10_000_000),
    maxCallsPerEndpoint: whole(`${path}.maxCallsPerEndpoint`, v.maxCallsPerEndpoint, 1, 100_000),
    maxBandwidth: whole(`${path}.maxBandwidth`, v.maxBandwidth, 1, 4294967295),
    security: 'none',
    h235MaxClockSkewSeconds: whole(`${path}.h235MaxClockSkewSeconds`, v.h235MaxClockSkewSeconds, 1, 86400),
    requestInProgressMs: whole(`${path}.requestInProgressMs`, v.requestInProgressMs, 100, 60000),
  };
  if (typeof v.gatekeeperId !== 'string' || v.gatekeeperId.length < 1 || v.gatekeeperId.length > 128 || /[\u0000-\u001f]/.test(v.gatekeeperId)) {
    fail(`${path}.gatekeeperId`, 'a name of 1-128 printable characters', v.gatekeeperId);
  }
  cfg.gatekeeperId = v.gatekeeperId;
  if (cfg.minTimeToLive > cfg.maxTimeToLive) fail(`${path}.minTimeToLive`, `at most maxTimeToLive (${cfg.maxTimeToLive})`, cfg.minTimeToLive);
  if (cfg.defaultTimeToLive < cfg.minTimeToLive || cfg.defaultTimeToLive > cfg.maxTimeToLive) {
    fail(`${path}.defaultTimeToLive`, `within minTimeToLive..maxTimeToLive (${cfg.minTimeToLive}..${cfg.maxTimeToLive})`, cfg.defaultTimeToLive);
  }
  if (v.unplannedAliases !== 'refuse' && v.unplannedAliases !== 'allow') fail(`${path}.unplannedAliases`, '"refuse" or "allow"', v.unplannedAliases);
  cfg.unplannedAliases = v.unplannedAliases;
  if (cfg.address === '0.0.0.0' && cfg.advertisedAddress === null) {
    fail(`${path}.advertisedAddress`, 'set when address is 0.0.0.0 (GCF and LCF must name an address endpoints reach)', null);
  }
  if (typeof v.discovery !== 'boolean') fail(`${path}.discovery`, 'true or false', v.discovery);
  cfg.discovery = v.discovery;
  if (v.security !== 'none' && v.security !== 'h235-password') fail(`${path}.security`, '"none" or "h235-password"', v.security);
  cfg.security = v.security;
  if (v.interworkingGateway !== null) {
    parseHostPort(`${path}.interworkingGateway`, v.interworkingGateway);
    cfg.interworkingGateway = v.interworkingGateway as string;
  }
  if (!Array.isArray(v.neighbourGatekeepers)) fail(`${path}.neighbourGatekeepers`, 'a list of "host:port"', v.neighbourGatekeepers);
  cfg.neighbourGatekeepers = (v.neighbourGatekeepers as unknown[]).map((n, i) => {
    parseHostPort(`${path}.neighbourGatekeepers[${i}]`, n);
    return n as string;
  });
  return cfg;
}
