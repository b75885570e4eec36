/**
 * Registrar bindings (the location service): RFC 3261 §10.3, with RFC 5626 flows and RFC 3327 Path.
 * Requires `registrarMigrations` to have been applied to the Db.
 *
 * Stored in SQLite so registrations survive a restart: endpoints re-register only every
 * 10 minutes or so, and until then a restarted node would not be able to reach them.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database.js';
import { IntervalTooBriefError, InvalidRegisterError, OutOfOrderRegisterError } from './errors.js';

/** Where the REGISTER came from: requests to the contact are sent there, not to the Contact host (NAT). */
export interface ReceivedFrom {
  transport: string;
  address: string;
  port: number;
  /** Transport flow the REGISTER arrived on (RFC 5626): reuse it while it lives. Lost at restart. */
  flowId?: string;
}

export interface Binding {
  id: number;
  aor: string;
  contactUri: string;
  callId: string;
  cseq: number;
  /** Epoch ms. */
  expiresAt: number;
  q?: number;
  /** `+sip.instance` value as the UA sent it (e.g. `<urn:uuid:…>`), without the surrounding quotes. */
  instanceId?: string;
  regId?: number;
  /** Path header values in order (RFC 3327): the route back to the UA through edge proxies. */
  path?: string[];
  receivedFrom: ReceivedFrom;
  userAgent?: string;
  /** Epoch ms. */
  updatedAt: number;
}

export interface RegisterContact {
  uri: string;
  /** The Contact's `expires` parameter, if any. */
  expires?: number;
  q?: number;
  instanceId?: string;
  regId?: number;
}

export interface RegisterRequest {
  /** Canonical AOR, e.g. from aorFor(); compared as an exact string. */
  aor: string;
  callId: string;
  cseq: number;
  contacts: RegisterContact[];
  /** `Contact: *` (deregister everything); must come alone and with expires 0. */
  star?: boolean;
  /** The Expires header, if any: used for contacts without an `expires` parameter. */
  expires?: number;
  defaultExpires: number;
  minExpires: number;
  maxExpires: number;
  /** Epoch ms. */
  now: number;
  receivedFrom: ReceivedFrom;
  userAgent?: string;
  path?: string[];
}

export interface RegisterResult {
  /** Every live binding of the AOR after the update, for the 200 OK's Contact list (ordered by q). */
  bindings: Binding[];
  added: Binding[];
  /** Existing bindings refreshed or changed by this request (new values). */
  updated: Binding[];
  /** Bindings removed by expires=0 or `*` (old values). */
  removed: Binding[];
  /** Bindings of this AOR found expired and deleted on the way (not reported by expire() again). */
  expired: Binding[];
}

/** Canonical AOR for an account: realms are lower-cased like the account store does. */
export function aorFor(username: string, realm: string): string {
  return `sip:${username}@${realm.toLowerCase()}`;
}

/** Seconds left, for the `expires` parameter of the 200 OK's Contacts. */
export function remainingSeconds(binding: Binding, now: number): number {
  return Math.max(0, Math.ceil((binding.expiresAt - now) / 1000));
}

// ---- RFC 3261 §19.1.4 URI comparison ----------------------------------------------------------

interface SipUri {
  scheme: string;
  userinfo: string | undefined;
  host: string;
  port: string | undefined;
  params: Map<string, string>;
  headers: string[];
}

function unescape(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function parseSipUri(uri: string): SipUri | undefined {
  const colon = uri.indexOf(':');
  const scheme = uri.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return undefined;
  let rest = uri.slice(colon + 1);
  // The user part may contain ';' and '?', but never an unescaped '@'.
  const at = rest.indexOf('@');
  const userinfo = at >= 0 ? unescape(rest.slice(0, at)) : undefined;
  rest = rest.slice(at + 1);
  const q = rest.indexOf('?');
  const headerPart = q >= 0 ? rest.slice(q + 1) : '';
  if (q >= 0) rest = rest.slice(0, q);
  const [hostport = '', ...paramParts] = rest.split(';');
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostport);
  if (!m || !m[1]) return undefined;
  const params = new Map<string, string>();
  for (const p of paramParts) {
    const eq = p.indexOf('=');
    const name = unescape(eq >= 0 ? p.slice(0, eq) : p).toLowerCase();
    params.set(name, unescape(eq >= 0 ? p.slice(eq + 1) : '').toLowerCase());
  }
  const headers = headerPart
    ? headerPart.split('&').map((h) => {
        const eq = h.indexOf('=');
        return `${unescape(h.slice(0, eq < 0 ? h.length : eq)).toLowerCase()}=${unescape(eq < 0 ? '' : h.slice(eq + 1))}`;
      })
    : [];
  return { scheme, userinfo, host: m[1].toLowerCase(), port: m[2], params, headers: headers.sort() };
}

/** Parameters that must match even when only one URI has them (§19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

/**
 * Whether two Contact URIs name the same contact (§10.3 step 8 uses §19.1.4 rules): user part
 * case-sensitive, host and parameters case-insensitive, an absent port differs from 5060.
 * Non-SIP URIs (tel:, …) compare as exact strings.
 */
export function sameContactUri(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseSipUri(a);
  const y = parseSipUri(b);
  if (!x || !y) return false;
  if (x.scheme !== y.scheme || x.userinfo !== y.userinfo || x.host !== y.host || x.port !== y.port) return false;
  for (const name of STRICT_PARAMS) if (x.params.get(name) !== y.params.get(name)) return false;
  for (const [name, value] of x.params) if (y.params.has(name) && y.params.get(name) !== value) return false;
  return x.headers.length === y.headers.length && x.headers.every((h, i) => h === y.headers[i]);
}

// ---- persistence --------------------------------------------------------------------------------

interface Row {
  id: number;
  aor: string;
  contact_uri: string;
  call_id: string;
  cseq: number;
  expires_at: number;
  q: number | null;
  instance_id: string | null;
  reg_id: number | null;
  path: string | null;
  received_transport: string;
  received_address: string;
  received_port: number;
  received_flow_id: string | null;
  user_agent: string | null;
  updated_at: number;
}

type Values = [
  string, string, string, number, number, number | null, string | null, number | null, string | null,
  string, string, number, string | null, string | null, number,
];

function toBinding(r: Row): Binding {
  const receivedFrom: ReceivedFrom = { transport: r.received_transport, address: r.received_address, port: r.received_port };
  if (r.received_flow_id !== null) receivedFrom.flowId = r.received_flow_id;
  const b: Binding = {
    id: r.id,
    aor: r.aor,
    contactUri: r.contact_uri,
    callId: r.call_id,
    cseq: r.cseq,
    expiresAt: r.expires_at,
    receivedFrom,
    updatedAt: r.updated_at,
  };
  if (r.q !== null) b.q = r.q;
  if (r.instance_id !== null) b.instanceId = r.instance_id;
  if (r.reg_id !== null) b.regId = r.reg_id;
  if (r.path !== null) b.path = JSON.parse(r.path) as string[];
  if (r.user_agent !== null) b.userAgent = r.user_agent;
  return b;
}

function toValues(b: Omit<Binding, 'id'>): Values {
  return [
    b.aor, b.contactUri, b.callId, b.cseq, b.expiresAt, b.q ?? null, b.instanceId ?? null, b.regId ?? null,
    b.path && b.path.length > 0 ? JSON.stringify(b.path) : null,
    b.receivedFrom.transport, b.receivedFrom.address, b.receivedFrom.port, b.receivedFrom.flowId ?? null,
    b.userAgent ?? null, b.updatedAt,
  ];
}

/** Highest q first (absent q counts as 1.0), then the most recently refreshed. */
function byPreference(a: Binding, b: Binding): number {
  return (b.q ?? 1) - (a.q ?? 1) || b.updatedAt - a.updatedAt || a.id - b.id;
}

const COLUMNS = `aor, contact_uri, call_id, cseq, expires_at, q, instance_id, reg_id, path,
  received_transport, received_address, received_port, received_flow_id, user_agent, updated_at`;

// ---- validation -------------------------------------------------------------------------------

const MAX_EXPIRES = 2 ** 32 - 1; // RFC 3261 §20.19 / §20.10: larger values mean this
// Whitespace or control characters in a stored Contact would corrupt the 200 OK that echoes it.
const BAD_URI_CHAR = /[\s\u0000-\u001f\u007f]/;

function checkRequest(req: RegisterRequest): void {
  if (!req.aor || !req.callId) throw new InvalidRegisterError('REGISTER needs an address-of-record and a Call-ID');
  if (!Number.isInteger(req.cseq) || req.cseq < 0 || req.cseq >= 2 ** 31) {
    throw new InvalidRegisterError(`CSeq ${req.cseq} is not an integer below 2^31`);
  }
  const intervals = [req.expires, ...req.contacts.map((c) => c.expires)];
  for (const e of intervals) {
    if (e !== undefined && (!Number.isInteger(e) || e < 0)) throw new InvalidRegisterError(`expires ${e} is not a non-negative integer`);
  }
  if (req.star) {
    // §10.3 step 6.
    if (req.contacts.length > 0) throw new InvalidRegisterError('Contact "*" must be the only Contact');
    if (req.expires !== 0) throw new InvalidRegisterError('Contact "*" requires "Expires: 0"');
  }
  for (const c of req.contacts) {
    if (!c.uri || c.uri.length > 2048 || BAD_URI_CHAR.test(c.uri) || !c.uri.includes(':')) {
      throw new InvalidRegisterError(`Contact URI ${JSON.stringify(c.uri)} is not a valid URI`);
    }
    if (c.q !== undefined && !(c.q >= 0 && c.q <= 1)) throw new InvalidRegisterError(`q=${c.q} for ${c.uri} is outside 0..1`);
    if (c.regId !== undefined && (c.instanceId === undefined || !Number.isInteger(c.regId) || c.regId < 1)) {
      // RFC 5626 §4.2: reg-id is a positive integer and only meaningful with +sip.instance.
      throw new InvalidRegisterError(`reg-id ${c.regId} for ${c.uri} needs +sip.instance and must be a positive integer`);
    }
  }
}

/**
 * §10.3 step 7: the Contact's expires, else the Expires header, else the default; shortened to
 * maxExpires; refused (423) only if above zero, below one hour and below minExpires, as the RFC says.
 */
function interval(req: RegisterRequest, c: RegisterContact): number {
  const requested = Math.min(c.expires ?? req.expires ?? req.defaultExpires, MAX_EXPIRES);
  if (requested > 0 && requested < 3600 && requested < req.minExpires) {
    throw new IntervalTooBriefError(req.minExpires, requested, c.uri);
  }
  return Math.min(requested, req.maxExpires);
}

// ---- store ----------------------------------------------------------------------------------

export class BindingStore {
  private readonly stmt: {
    byAor: Statement<[string], Row>;
    insert: Statement<Values>;
    update: Statement<[...Values, number]>;
    deleteId: Statement<[number]>;
    lookup: Statement<[string, number], Row>;
    expire: Statement<[number], Row>;
    removeAll: Statement<[string], Row>;
    countAll: Statement<[], { n: number }>;
    countLive: Statement<[number], { n: number }>;
  };
  private readonly applyTx: (req: RegisterRequest, intervals: number[]) => RegisterResult;

  constructor(db: Db) {
    // Prepared once: this runs at 1,000+ REGISTER/s.
    this.stmt = {
      byAor: db.prepare('SELECT * FROM registrar_bindings WHERE aor = ?'),
      insert: db.prepare(`INSERT INTO registrar_bindings (${COLUMNS}) VALUES (${Array(15).fill('?').join(', ')})`),
      update: db.prepare(
        `UPDATE registrar_bindings SET (${COLUMNS}) = (${Array(15).fill('?').join(', ')}) WHERE id = ?`,
      ),
      deleteId: db.prepare('DELETE FROM registrar_bindings WHERE id = ?'),
      lookup: db.prepare('SELECT * FROM registrar_bindings WHERE aor = ? AND expires_at > ?'),
      expire: db.prepare('DELETE FROM registrar_bindings WHERE expires_at <= ? RETURNING *'),
      removeAll: db.prepare('DELETE FROM registrar_bindings WHERE aor = ? RETURNING *'),
      countAll: db.prepare('SELECT COUNT(*) AS n FROM registrar_bindings'),
      countLive: db.prepare('SELECT COUNT(*) AS n FROM registrar_bindings WHERE expires_at > ?'),
    };
    // §10.3: updates are committed only if all of them succeed; a thrown error rolls back.
    this.applyTx = db.transaction((req: RegisterRequest, intervals: number[]) => this.apply(req, intervals));
  }

  /**
   * Applies one REGISTER (§10.3 steps 6-8). Throws InvalidRegisterError (400),
   * IntervalTooBriefError (423 + Min-Expires) or OutOfOrderRegisterError (500); nothing is
   * changed when it throws. A REGISTER without contacts is a query and changes nothing.
   */
  applyRegister(req: RegisterRequest): RegisterResult {
    checkRequest(req);
    const intervals = req.contacts.map((c) => interval(req, c)); // all 423s before any change
    return this.applyTx(req, intervals);
  }

  private apply(req: RegisterRequest, intervals: number[]): RegisterResult {
    const { aor, callId, cseq, now } = req;
    const all = this.stmt.byAor.all(aor).map(toBinding);
    const expired = all.filter((b) => b.expiresAt <= now);
    for (const b of expired) this.stmt.deleteId.run(b.id);
    const before = new Map(all.filter((b) => b.expiresAt > now).map((b) => [b.id, b]));
    let current = [...before.values()];
    const touched = new Set<number>();

    const checkOrder = (b: Binding): void => {
      // A binding this same request already wrote carries our own CSeq: a duplicate Contact, not a replay.
      if (!touched.has(b.id) && b.callId === callId && b.cseq >= cseq) {
        throw new OutOfOrderRegisterError(aor, callId, cseq, b.cseq);
      }
    };

    if (req.star) {
      for (const b of current) checkOrder(b);
      for (const b of current) this.stmt.deleteId.run(b.id);
      current = [];
    }

    req.contacts.forEach((c, i) => {
      const expires = intervals[i]!;
      // RFC 5626 §6 / RFC 5627: with +sip.instance the binding is keyed by instance (+ reg-id), so a
      // UA that comes back on a new flow or with a new Contact replaces its old binding. Its other
      // flows (other reg-ids) may share the Contact URI, so then URI matching only falls back to
      // bindings without an instance (the same UA registered before it sent one). Without
      // +sip.instance it is plain §10.3 URI matching (a UA may unregister without the parameter).
      const match =
        c.instanceId !== undefined
          ? (current.find((b) => b.instanceId === c.instanceId && b.regId === c.regId) ??
            current.find((b) => b.instanceId === undefined && sameContactUri(b.contactUri, c.uri)))
          : current.find((b) => sameContactUri(b.contactUri, c.uri));
      if (match) checkOrder(match);
      if (expires === 0) {
        if (match) {
          this.stmt.deleteId.run(match.id);
          current = current.filter((b) => b !== match);
        }
        return;
      }
      const fields: Omit<Binding, 'id'> = {
        aor,
        contactUri: c.uri,
        callId,
        cseq,
        expiresAt: now + expires * 1000,
        receivedFrom: { ...req.receivedFrom },
        updatedAt: now,
      };
      if (c.q !== undefined) fields.q = c.q;
      if (c.instanceId !== undefined) fields.instanceId = c.instanceId;
      if (c.regId !== undefined) fields.regId = c.regId;
      if (req.path && req.path.length > 0) fields.path = [...req.path];
      if (req.userAgent !== undefined) fields.userAgent = req.userAgent;
      if (match) {
        this.stmt.update.run(...toValues(fields), match.id);
        const updated: Binding = { id: match.id, ...fields };
        current = current.map((b) => (b === match ? updated : b));
        touched.add(match.id);
      } else {
        const id = Number(this.stmt.insert.run(...toValues(fields)).lastInsertRowid);
        current.push({ id, ...fields });
        touched.add(id);
      }
    });

    const ids = new Set(current.map((b) => b.id));
    return {
      bindings: current.sort(byPreference),
      added: current.filter((b) => !before.has(b.id)),
      updated: current.filter((b) => before.has(b.id) && touched.has(b.id)),
      removed: [...before.values()].filter((b) => !ids.has(b.id)),
      expired,
    };
  }

  /** Live bindings of the AOR, best first (highest q, then most recently refreshed). */
  lookup(aor: string, now: number): Binding[] {
    return this.stmt.lookup.all(aor, now).map(toBinding).sort(byPreference);
  }

  /** Deletes bindings whose time is up and returns them, for logs and metrics. */
  expire(now: number): Binding[] {
    return this.stmt.expire.all(now).map(toBinding);
  }

  /** Deletes every binding of the AOR (account removed or disabled) and returns them. */
  removeAll(aor: string): Binding[] {
    return this.stmt.removeAll.all(aor).map(toBinding);
  }

  /** Stored bindings; with `now`, only the live ones. */
  count(now?: number): number {
    return (now === undefined ? this.stmt.countAll.get() : this.stmt.countLive.get(now))!.n;
  }
}
