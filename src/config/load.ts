import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ApiConfigError, parseApiConfig } from '../api/v1/config.js';
import { CapacityConfigError, parseCapacityConfig } from '../capacity/config.js';
import { H323ConfigError, parseGatekeeperConfig } from '../h323/config.js';
import { defaultConfig, type KnudeConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Plain = Record<string, unknown>;

const ENUMS: Record<string, readonly string[]> = {
  'log.level': ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
  'log.format': ['json', 'pretty', 'auto'],
  'sip.server': ['embedded', 'drachtio'],
  'sip.tls.minVersion': ['TLSv1.2', 'TLSv1.3'],
  'sip.listen[].transport': ['udp', 'tcp', 'tls', 'ws', 'wss'],
  'registrar.algorithms[]': ['SHA-256', 'MD5'],
  'media.janus': ['embedded', 'external', 'off'],
  'media.sip.srtpSuites[]': ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'],
};

/** Sections with a validator of their own (their shape has maps and nullable numbers). */
const DELEGATED: Record<string, (value: unknown, path: string) => unknown> = {
  capacity: (v, path) => delegate(() => parseCapacityConfig(v, path)),
  api: (v) => delegate(() => parseApiConfig(v)),
  h323: (v, path) => delegate(() => parseGatekeeperConfig(v, path)),
};

/** A section's own validator, its errors turned into ConfigErrors. */
function delegate<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof CapacityConfigError || err instanceof ApiConfigError || err instanceof H323ConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks `value` against the shape of `model` (the default), so every setting has one
 * type and a typo is an error naming the setting, never silently ignored.
 */
function validate(value: unknown, model: unknown, path: string, nullable: boolean): unknown {
  const enumKey = path.replace(/\[\d+\]/g, '[]');
  const delegated = DELEGATED[path];
  if (delegated) return delegated(value, path);
  if (value === null) {
    if (nullable) return null;
    throw new ConfigError(`${path} must not be null`);
  }
  if (Array.isArray(model)) {
    if (!Array.isArray(value)) throw new ConfigError(`${path} must be a list`);
    const itemModel = model[0];
    return value.map((item, i) =>
      itemModel === undefined ? item : validate(item, itemModel, `${path}[${i}]`, false),
    );
  }
  if (isPlain(model)) {
    if (!isPlain(value)) throw new ConfigError(`${path || 'configuration'} must be a mapping`);
    const out: Plain = {};
    for (const key of Object.keys(value)) {
      if (!(key in model)) throw new ConfigError(`unknown setting ${path ? `${path}.` : ''}${key}`);
    }
    for (const [key, def] of Object.entries(model)) {
      const sub = path ? `${path}.${key}` : key;
      out[key] = key in value ? validate(value[key], def, sub, def === null || NULLABLE.has(sub)) : def;
    }
    return out;
  }
  const want = typeof model;
  if (model === null) {
    if (typeof value !== 'string') throw new ConfigError(`${path} must be a string or null`);
  } else if (typeof value !== want) {
    throw new ConfigError(`${path} must be a ${want}, got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'number' && (!Number.isFinite(value) || value < 0)) {
    throw new ConfigError(`${path} must be a non-negative number, got ${value}`);
  }
  const allowed = ENUMS[enumKey];
  if (allowed && !allowed.includes(value as string)) {
    throw new ConfigError(`${path} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const NULLABLE = new Set([
  'sip.externalAddress', 'sip.tls.certFile', 'sip.tls.keyFile', 'registrar.nonceSecret',
  'media.externalUrl', 'media.iceEnforceList', 'media.nat1to1', 'media.sip.advertisedAddress',
]);

function mergeDeep(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlain(v) && isPlain(base[k]) ? mergeDeep(base[k] as Plain, v) : v;
  }
  return out;
}

/**
 * KNUDE_SIP__DOMAIN=video.example.dk sets sip.domain; segments are matched to the schema's
 * keys case-insensitively. String settings take the text as is; others parse as JSON (numbers, lists).
 */
function envOverrides(env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('KNUDE_') || raw === undefined) continue;
    const segments = name.slice(6).toLowerCase().split('__');
    let model: unknown = defaultConfig;
    let target = out;
    const keys: string[] = [];
    for (const seg of segments) {
      const key = isPlain(model) ? Object.keys(model).find((k) => k.toLowerCase() === seg.replace(/_/g, '')) : undefined;
      if (!key) throw new ConfigError(`environment variable ${name} names no setting`);
      keys.push(key);
      model = (model as Plain)[key];
    }
    for (const key of keys.slice(0, -1)) {
      target[key] = isPlain(target[key]) ? target[key] : {};
      target = target[key] as Plain;
    }
    // A string setting takes the text as it is (a secret "12345" stays a string); others parse as JSON.
    let value: unknown = raw;
    if (typeof model !== 'string' && model !== null) {
      try {
        value = JSON.parse(raw);
      } catch {
        /* left as text: validation names the setting and the type it wants */
      }
    }
    target[keys[keys.length - 1]] = value;
  }
  return out;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Plain;
}

/** Defaults <- file <- environment <- explicit overrides (tests), validated as a whole. */
export function loadConfig(opts: LoadOptions = {}): KnudeConfig {
  let fromFile: Plain = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read configuration file ${opts.file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`${opts.file}: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && !isPlain(parsed)) {
      throw new ConfigError(`${opts.file}: the configuration must be a mapping`);
    }
    fromFile = (parsed as Plain) ?? {};
  }
  let merged = mergeDeep(defaultConfig as unknown as Plain, fromFile);
  merged = mergeDeep(merged, envOverrides(opts.env ?? {}));
  if (opts.overrides) merged = mergeDeep(merged, opts.overrides);
  let config: KnudeConfig;
  try {
    config = validate(merged, defaultConfig, '', false) as KnudeConfig;
  } catch (err) {
    if (err instanceof ConfigError && opts.file) err.message = `${opts.file}: ${err.message}`;
    throw err;
  }
  checkConsistency(config);
  return config;
}

function checkConsistency(c: KnudeConfig): void {
  const r = c.registrar;
  if (!(r.minExpires <= r.defaultExpires && r.defaultExpires <= r.maxExpires)) {
    throw new ConfigError('registrar: minExpires <= defaultExpires <= maxExpires must hold');
  }
  if (r.algorithms.length === 0) throw new ConfigError('registrar.algorithms must name at least one algorithm');
  const seen = new Set<string>();
  for (const l of c.sip.listen) {
    if (!Number.isInteger(l.port) || l.port > 65535) throw new ConfigError(`sip.listen: bad port ${l.port}`);
    // UDP and TCP may share a port number; two listeners of one kind may not.
    const key = `${l.transport === 'udp' ? 'udp' : 'stream'}/${l.address}:${l.port}`;
    if (seen.has(key)) throw new ConfigError(`sip.listen: ${l.transport} ${l.address}:${l.port} is taken twice`);
    seen.add(key);
  }
  if (c.media.janus === 'external' && !c.media.externalUrl) throw new ConfigError('media.externalUrl is required when media.janus is external');
  if (c.media.rtpPortMin > c.media.rtpPortMax || c.media.rtpPortMax > 65535) throw new ConfigError('media: rtpPortMin <= rtpPortMax <= 65535 must hold');
  const ms = c.media.sip;
  if (ms.rtpPortMin > ms.rtpPortMax || ms.rtpPortMax > 65535 || ms.rtpPortMax - ms.rtpPortMin < 3) throw new ConfigError('media.sip: rtpPortMin < rtpPortMax <= 65535 with room for two port pairs must hold');
  if (ms.srtpSuites.length === 0) throw new ConfigError('media.sip.srtpSuites must name at least one suite (SIP media is always encrypted)');
  if (c.calls.minSessionExpiresSeconds < 90) throw new ConfigError('calls.minSessionExpiresSeconds must be at least 90 (RFC 4028)');
  if (c.calls.sessionExpiresSeconds < c.calls.minSessionExpiresSeconds) throw new ConfigError('calls.sessionExpiresSeconds must not be below calls.minSessionExpiresSeconds');
  for (const k of ['sipPinAttempts', 'pinFailuresPerAddress', 'pinFailureWindowSeconds'] as const) {
    if (!Number.isInteger(c.rooms[k]) || c.rooms[k] < 1) throw new ConfigError(`rooms.${k} must be a whole number of at least 1`);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: c.reports.timeZone });
  } catch {
    throw new ConfigError(`reports.timeZone: "${c.reports.timeZone}" is not a time zone; use an IANA name such as Europe/Copenhagen or UTC`);
  }
  for (const a of c.http.trustedProxies) {
    if (typeof a !== 'string' || isIP(a) === 0) throw new ConfigError(`http.trustedProxies: "${String(a)}" is not an IP address`);
  }
  if (c.sip.server === 'drachtio' && !c.sip.drachtio.secret) {
    throw new ConfigError('sip.drachtio.secret is required when sip.server is drachtio');
  }
}

/** Paths in the config are relative to dataDir unless absolute. */
export function dataPath(c: KnudeConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(c.node.dataDir, p);
}
