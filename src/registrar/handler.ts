import type Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { parseNameAddr, parseUri } from '../sip/message/index.js';
import type { AccountStore } from './accounts.js';
import { aorFor, remainingSeconds, type BindingStore, type RegisterContact } from './bindings.js';
import type { DigestAuthenticator } from './digest.js';
import { IntervalTooBriefError, InvalidRegisterError, OutOfOrderRegisterError } from './errors.js';

export interface RegistrarSettings {
  realm: string;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /** Hosts accepted in a REGISTER's To besides the realm (the node's own addresses). */
  localHosts: Set<string>;
}

export interface RegistrarDeps {
  accounts: AccountStore;
  bindings: BindingStore;
  auth: DigestAuthenticator;
  settings: RegistrarSettings;
  log: Logger;
  /** Told of every change, for metrics and the flow keep-alive bookkeeping. */
  onChange?: (event: { aor: string; added: number; removed: number; live: number }) => void;
}

function warning(text: string): string {
  return `399 knude "${text.replace(/"/g, "'")}"`;
}

/**
 * The REGISTER handler (RFC 3261 10.3): digest authentication (RFC 8760 SHA-256 and MD5),
 * then the binding update. Wrong credentials get 403 rather than an endless 401 loop.
 */
export function registrar(deps: RegistrarDeps) {
  const { accounts, bindings, auth, settings, log } = deps;

  return (req: Srf.SrfRequest, res: Srf.SrfResponse): void => {
    let toUri;
    try {
      toUri = parseUri(parseNameAddr(req.get('To')).uri);
    } catch (err) {
      res.send(400, { headers: { Warning: warning(`malformed To header: ${(err as Error).message}`) } });
      return;
    }
    const host = toUri.host.toLowerCase().replace(/^\[|\]$/g, '');
    if (host !== settings.realm && !settings.localHosts.has(host)) {
      res.send(403, { headers: { Warning: warning(`this registrar serves ${settings.realm}, not ${host}`) } });
      return;
    }
    const challenge = (stale = false) =>
      res.send(401, { headers: { 'WWW-Authenticate': auth.challenge({ realm: settings.realm, stale }).join(', ') } });

    const credentials = req.get('Authorization');
    const result = auth.verify({
      method: 'REGISTER',
      uri: req.uri,
      header: credentials,
      realm: settings.realm,
      lookupHa1: (username, realm, algorithm) => accounts.ha1(username, realm, algorithm),
    });
    if (!result.ok) {
      const source = `${req.source_address}:${req.source_port}`;
      switch (result.reason) {
        case 'missing':
          return void challenge();
        case 'stale':
        case 'replay':
          return void challenge(true);
        case 'malformed':
        case 'uri-mismatch':
          log.info({ source, reason: result.reason, detail: result.detail }, 'REGISTER refused');
          res.send(400, { headers: { Warning: warning(result.detail) } });
          return;
        default:
          log.info({ source, reason: result.reason, user: result.username }, 'REGISTER with wrong credentials');
          res.send(403, { headers: { Warning: warning('wrong credentials') } });
          return;
      }
    }
    if (toUri.user !== result.username) {
      res.send(403, { headers: { Warning: warning(`credentials of ${result.username} cannot register ${toUri.user ?? '(no user)'}`) } });
      return;
    }

    const aor = aorFor(result.username, settings.realm);
    const contactHeader = req.has('Contact') ? req.get('Contact') : '';
    const expiresHeader = req.has('Expires') ? Number(req.get('Expires')) : undefined;
    let contacts: RegisterContact[] = [];
    let star = false;
    try {
      if (contactHeader.trim() === '*') star = true;
      else if (contactHeader) contacts = splitContacts(contactHeader).map(toRegisterContact);
      if (expiresHeader !== undefined && !Number.isInteger(expiresHeader)) throw new InvalidRegisterError(`bad Expires ${req.get('Expires')}`);
    } catch (err) {
      res.send(400, { headers: { Warning: warning((err as Error).message) } });
      return;
    }
    const now = Date.now();
    try {
      const cseq = Number(req.get('CSeq').trim().split(/\s+/)[0]);
      const r = bindings.applyRegister({
        aor,
        callId: req.get('Call-ID'),
        cseq,
        contacts,
        star,
        expires: expiresHeader,
        defaultExpires: settings.defaultExpires,
        minExpires: settings.minExpires,
        maxExpires: settings.maxExpires,
        now,
        receivedFrom: { transport: req.protocol, address: req.source_address, port: Number(req.source_port) },
        userAgent: req.has('User-Agent') ? req.get('User-Agent') : undefined,
        path: req.has('Path') ? splitContacts(req.get('Path')) : undefined,
      });
      deps.onChange?.({ aor, added: r.added.length, removed: r.removed.length, live: r.bindings.length });
      const headers: Record<string, string> = { Date: new Date(now).toUTCString() };
      if (r.bindings.length) {
        headers.Contact = r.bindings.map((b) => `<${b.contactUri}>;expires=${remainingSeconds(b, now)}`).join(', ');
      }
      res.send(200, { headers });
    } catch (err) {
      if (err instanceof IntervalTooBriefError) {
        res.send(423, { headers: { 'Min-Expires': String(settings.minExpires) } });
      } else if (err instanceof InvalidRegisterError) {
        res.send(400, { headers: { Warning: warning(err.message) } });
      } else if (err instanceof OutOfOrderRegisterError) {
        res.send(500, { headers: { Warning: warning(err.message), 'Retry-After': '5' } });
      } else {
        log.error({ err, aor }, 'registrar failed');
        res.send(500, { headers: { Warning: warning('registrar error') } });
      }
    }
  };
}

/** Splits a comma-separated Contact/Path value, respecting quotes and <...>. */
export function splitContacts(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

function toRegisterContact(value: string): RegisterContact {
  let na;
  try {
    na = parseNameAddr(value);
    parseUri(na.uri);
  } catch (err) {
    throw new InvalidRegisterError(`malformed Contact ${value.slice(0, 80)}: ${(err as Error).message}`);
  }
  const num = (k: string) => {
    const v = na.params.get(k);
    if (v === undefined || v === null) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidRegisterError(`bad ${k} parameter ${v}`);
    return n;
  };
  const instance = na.params.get('+sip.instance');
  return {
    uri: na.uri,
    expires: num('expires'),
    q: num('q'),
    instanceId: instance ? instance.replace(/^"|"$/g, '') : undefined,
    regId: num('reg-id'),
  };
}
