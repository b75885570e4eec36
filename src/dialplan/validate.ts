/**
 * Validation of single plan values. Everything that enters the store passes through here, so
 * the router's index can trust what it loads and does no checks on the hot path.
 */
import { PlanValidationError, printable } from './errors.js';
import type { DialPlanSettings, DigestCredentials, TargetTransport, ZoneTarget } from './types.js';

export const ORG_NAME_RE = /^[a-z0-9][a-z0-9-]{1,62}$/;
/** Zone names follow organisation names; 'gateway' is the internet gateway's health-check name. */
export const GATEWAY_ZONE = 'gateway';

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_RE = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9a-f:.]{2,45}$/;

export function checkOrgName(name: unknown, what = 'organisation name'): string {
  if (typeof name !== 'string' || !ORG_NAME_RE.test(name)) {
    throw new PlanValidationError(
      `${what} "${printable(String(name))}" is invalid: use 2-63 lowercase letters, digits and '-', starting with a letter or digit`,
    );
  }
  return name;
}

export function checkZoneName(name: unknown): string {
  checkOrgName(name, 'zone name');
  if (name === GATEWAY_ZONE) {
    throw new PlanValidationError(`zone name "${GATEWAY_ZONE}" is reserved for the internet gateway`);
  }
  return name as string;
}

/**
 * A number block prefix: '+468', '468' or a YAML number 468 all mean digits '468'.
 * E.164 numbers have at most 15 digits and never start with 0.
 */
export function normalizePrefix(input: unknown): string {
  const raw = typeof input === 'number' ? String(input) : input;
  if (typeof raw !== 'string') throw new PlanValidationError('prefix must be a string of digits');
  const digits = raw.trim().replace(/^\+/, '');
  if (!/^[1-9]\d{0,14}$/.test(digits)) {
    throw new PlanValidationError(
      `prefix "${printable(raw)}" is invalid: expected 1-15 digits of an E.164 number, optionally after '+', not starting with 0`,
    );
  }
  return digits;
}

/** Hostname syntax (RFC 1123), lowercased, trailing dot removed. */
export function normalizeDomain(input: unknown, what = 'domain'): string {
  if (typeof input !== 'string') throw new PlanValidationError(`${what} must be a string`);
  const d = input.trim().toLowerCase().replace(/\.$/, '');
  if (!isHostname(d)) throw new PlanValidationError(`${what} "${printable(input)}" is not a valid domain name`);
  return d;
}

export function isHostname(d: string): boolean {
  if (d.length === 0 || d.length > 253) return false;
  for (const label of d.split('.')) if (!LABEL_RE.test(label)) return false;
  // An all-numeric last label would be an IPv4 address, not a name.
  return !/^\d+$/.test(d.slice(d.lastIndexOf('.') + 1)) || IPV4_RE.test(d);
}

function isHost(h: string): boolean {
  if (IPV4_RE.test(h)) return true;
  if (h.includes(':')) return IPV6_RE.test(h.replace(/^\[|\]$/g, ''));
  return isHostname(h);
}

const TRANSPORTS: readonly TargetTransport[] = ['udp', 'tcp', 'tls'];

export function checkTarget(t: unknown, where = 'target'): ZoneTarget {
  if (typeof t !== 'object' || t === null) throw new PlanValidationError(`${where} must be an object {host, port, transport, priority}`);
  const o = t as Record<string, unknown>;
  const host = typeof o.host === 'string' ? o.host.trim().toLowerCase() : '';
  if (!isHost(host)) throw new PlanValidationError(`${where}: host "${printable(String(o.host))}" is not a host name or IP address`);
  const transport = (o.transport ?? 'udp') as TargetTransport;
  if (!TRANSPORTS.includes(transport)) {
    throw new PlanValidationError(`${where}: transport "${printable(String(o.transport))}" must be udp, tcp or tls`);
  }
  const port = o.port === undefined ? (transport === 'tls' ? 5061 : 5060) : o.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PlanValidationError(`${where}: port "${printable(String(o.port))}" must be 1-65535`);
  }
  const priority = o.priority ?? 10;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 65535) {
    throw new PlanValidationError(`${where}: priority must be an integer 0-65535`);
  }
  return { host: host.replace(/^\[|\]$/g, ''), port, transport, priority };
}

export function checkCredentials(c: unknown): DigestCredentials | null {
  if (c === null || c === undefined) return null;
  const o = c as Record<string, unknown>;
  if (typeof o.username !== 'string' || o.username.length === 0 || o.username.length > 128 || typeof o.password !== 'string' || o.password.length > 256) {
    throw new PlanValidationError('credentials must be {username, password} strings (username 1-128, password up to 256 characters)');
  }
  return { username: o.username, password: o.password };
}

/** Account targets are AORs: 'username@realm'. */
export function checkAccountTarget(target: string): string {
  const at = target.lastIndexOf('@');
  if (at < 1 || target.length > 256 || /[\s<>"]/.test(target) || !isHostname(target.slice(at + 1).toLowerCase())) {
    throw new PlanValidationError(`account target "${printable(target)}" must be username@realm`);
  }
  return target.slice(0, at) + '@' + target.slice(at + 1).toLowerCase();
}

export function checkRoomId(target: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(target)) {
    throw new PlanValidationError(`room id "${printable(target)}" must be 1-128 letters, digits, '.', '_', ':' or '-'`);
  }
  return target;
}

function digits(v: unknown, what: string, min: number, max: number): string {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !new RegExp(`^\\d{${min},${max}}$`).test(s)) {
    throw new PlanValidationError(`${what} must be ${min === max ? max : `${min}-${max}`} digits`);
  }
  return s;
}

/** Validates a complete settings object; throws on the first bad field. */
export function checkSettings(s: DialPlanSettings): DialPlanSettings {
  if (!Array.isArray(s.ownDomains)) throw new PlanValidationError('ownDomains must be a list of domains');
  const ownDomains = [...new Set(s.ownDomains.map((d) => normalizeDomain(d, 'own domain')))];
  const countryCode = digits(s.countryCode, 'countryCode', 1, 3);
  if (countryCode.startsWith('0')) throw new PlanValidationError('countryCode must not start with 0');
  const nationalPrefix = digits(s.nationalPrefix, 'nationalPrefix', 0, 2);
  const internationalPrefix = digits(s.internationalPrefix, 'internationalPrefix', 1, 4);
  // The international prefix is tested first ('00' before '0'), so a national prefix that
  // starts with it could never be reached.
  if (nationalPrefix !== '' && nationalPrefix.startsWith(internationalPrefix)) {
    throw new PlanValidationError('nationalPrefix must not start with the internationalPrefix');
  }
  if (!Array.isArray(s.nationalNumberLengths) || s.nationalNumberLengths.some((n) => !Number.isInteger(n) || n < 4 || n > 14)) {
    throw new PlanValidationError('nationalNumberLengths must be a list of integers 4-14');
  }
  if (!Array.isArray(s.gateway)) throw new PlanValidationError('gateway must be a list of targets');
  const gateway = s.gateway.map((t, i) => checkTarget(t, `gateway target ${i + 1}`));
  return { ownDomains, countryCode, nationalPrefix, internationalPrefix, nationalNumberLengths: [...s.nationalNumberLengths], gateway };
}
