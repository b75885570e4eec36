/**
 * Configuration of the administration and booking API listener. Kept beside the API (the
 * lead wires it into the node's configuration schema); `parseApiConfig` fills defaults and
 * refuses anything unusable with one clear message per problem.
 */

export interface RateLimitConfig {
  /** Requests a client may send in one burst. */
  burst: number;
  /** Requests per second a client earns back. */
  perSecond: number;
}

export interface SmsGatewayConfig {
  /** http(s) URL the gateway accepts `POST {to, text, reference}` on. */
  url: string;
  /** Sent as `Authorization: Bearer ...` when set. */
  token: string | null;
  /** Attempts per message, the first included. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt (with jitter), capped at 30 s. */
  backoffMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
}

export interface ApiConfig {
  enabled: boolean;
  address: string;
  port: number;
  /** PEM files of the server certificate; both null: a self-signed one under dataDir/tls. */
  certFile: string | null;
  keyFile: string | null;
  /**
   * PEM bundle of the CA(s) that issue client certificates (OCES3 issuing CAs in production).
   * Null: client certificates are not accepted, only bearer tokens.
   */
  clientCaFile: string | null;
  tokenLifetimeSeconds: number;
  rateLimit: RateLimitConfig;
  /** Audit entries older than this are deleted by the retention job. */
  auditRetentionDays: number;
  /** Names, phone numbers and e-mail addresses of booked participants are pseudonymised this long after the meeting ended. */
  personalDataRetentionDays: number;
  /** Base of join links sent in invitations, e.g. https://video.example.dk. */
  publicUrl: string;
  /** Null: SMS invitations stay in the outbox (and the log), nothing is sent. */
  smsGateway: SmsGatewayConfig | null;
}

export const defaultApiConfig: ApiConfig = {
  enabled: true,
  address: '127.0.0.1',
  port: 8443,
  certFile: null,
  keyFile: null,
  clientCaFile: null,
  tokenLifetimeSeconds: 8 * 3600,
  rateLimit: { burst: 60, perSecond: 20 },
  auditRetentionDays: 365,
  personalDataRetentionDays: 30,
  publicUrl: 'http://127.0.0.1:8080',
  smsGateway: null,
};

export class ApiConfigError extends Error {
  override name = 'ApiConfigError';
}

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ApiConfigError(`${path} must be a whole number ${min}-${max}, not ${JSON.stringify(v)}`);
  return v;
}

function num(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ApiConfigError(`${path} must be a number ${min}-${max}, not ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ApiConfigError(`${path} must be a non-empty string`);
  return v;
}

function optStr(v: unknown, path: string): string | null {
  return v === null || v === undefined ? null : str(v, path);
}

function httpUrl(v: unknown, path: string): string {
  let url: URL;
  try {
    url = new URL(str(v, path));
  } catch {
    throw new ApiConfigError(`${path} must be an http:// or https:// URL, not ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ApiConfigError(`${path} must be an http:// or https:// URL, not ${JSON.stringify(v)}`);
  return url.href.replace(/\/$/, '');
}

function known(raw: Raw, keys: readonly string[], path: string): void {
  const extra = Object.keys(raw).find((k) => !keys.includes(k));
  if (extra) throw new ApiConfigError(`${path}.${extra} is not a setting (known: ${keys.join(', ')})`);
}

/** Defaults merged with `raw` (a partial ApiConfig from the file/environment), validated. */
export function parseApiConfig(raw: unknown = {}, path = 'api'): ApiConfig {
  if (!isObject(raw)) throw new ApiConfigError(`${path} must be an object`);
  known(raw, Object.keys(defaultApiConfig), path);
  const r = { ...defaultApiConfig, ...raw } as Raw;
  if (typeof r.enabled !== 'boolean') throw new ApiConfigError(`${path}.enabled must be true or false`);
  const rl = isObject(r.rateLimit) ? { ...defaultApiConfig.rateLimit, ...r.rateLimit } : undefined;
  if (!rl) throw new ApiConfigError(`${path}.rateLimit must be an object {burst, perSecond}`);
  known(rl, ['burst', 'perSecond'], `${path}.rateLimit`);
  const certFile = optStr(r.certFile, `${path}.certFile`);
  const keyFile = optStr(r.keyFile, `${path}.keyFile`);
  if ((certFile === null) !== (keyFile === null)) throw new ApiConfigError(`${path}.certFile and ${path}.keyFile go together: set both or neither`);
  let smsGateway: SmsGatewayConfig | null = null;
  if (r.smsGateway !== null && r.smsGateway !== undefined) {
    if (!isObject(r.smsGateway)) throw new ApiConfigError(`${path}.smsGateway must be an object {url, token?, maxAttempts?, backoffMs?, timeoutMs?} or null`);
    const g = { token: null, maxAttempts: 5, backoffMs: 500, timeoutMs: 10_000, ...r.smsGateway } as Raw;
    known(g, ['url', 'token', 'maxAttempts', 'backoffMs', 'timeoutMs'], `${path}.smsGateway`);
    smsGateway = {
      url: httpUrl(g.url, `${path}.smsGateway.url`),
      token: optStr(g.token, `${path}.smsGateway.token`),
      maxAttempts: int(g.maxAttempts, `${path}.smsGateway.maxAttempts`, 1, 20),
      backoffMs: int(g.backoffMs, `${path}.smsGateway.backoffMs`, 1, 60_000),
      timeoutMs: int(g.timeoutMs, `${path}.smsGateway.timeoutMs`, 100, 120_000),
    };
  }
  return {
    enabled: r.enabled,
    address: str(r.address, `${path}.address`),
    port: int(r.port, `${path}.port`, 0, 65535),
    certFile,
    keyFile,
    clientCaFile: optStr(r.clientCaFile, `${path}.clientCaFile`),
    tokenLifetimeSeconds: int(r.tokenLifetimeSeconds, `${path}.tokenLifetimeSeconds`, 60, 366 * 86400),
    rateLimit: { burst: int(rl.burst, `${path}.rateLimit.burst`, 1, 100_000), perSecond: num(rl.perSecond, `${path}.rateLimit.perSecond`, 0.01, 100_000) },
    auditRetentionDays: int(r.auditRetentionDays, `${path}.auditRetentionDays`, 1, 3650),
    personalDataRetentionDays: int(r.personalDataRetentionDays, `${path}.personalDataRetentionDays`, 1, 3650),
    publicUrl: httpUrl(r.publicUrl, `${path}.publicUrl`),
    smsGateway,
  };
}
