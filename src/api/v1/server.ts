/**
 * The administration and booking API's own HTTPS listener: TLS 1.3 only, client certificates
 * requested and verified against the configured CA bundle, bearer tokens as the alternative.
 * Every request goes through the same pipeline, top to bottom:
 *
 *   route → authenticate → rate limit → role → query and body against the schema →
 *   organisation scope of the addressed resource → handler → response against the schema →
 *   audit entry → reply (errors as RFC 9457 problem+json)
 *
 * A response that does not match the document is a bug on our side: it is logged as an
 * error, counted in `stats.responseValidationFailures` and answered 500 instead.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { CapacityUsage } from '../../capacity/types.js';
import type { DialPlanStore } from '../../dialplan/index.js';
import type { AccountStore } from '../../registrar/accounts.js';
import type { RoomStore } from '../../rooms/store.js';
import { migrate, type Db } from '../../store/database.js';
import { loadOrCreateCertificate } from '../../util/tls-cert.js';
import { AbuseBlocks } from './abuse.js';
import { AuditLog } from './audit.js';
import { RoomLogos } from './branding.js';
import { Bookings, ServiceWindows } from './bookings.js';
import { ApiConfigError, type ApiConfig } from './config.js';
import { ApiProblem, badRequest, problemBody, toProblem } from './errors.js';
import { IdentityStore, type Principal } from './identity.js';
import { SchemaValidator, type JsonSchema } from './json-schema.js';
import { apiMigrations } from './migrations.js';
import { HttpSmsGateway, Outbox, type Channel, type MessageSender } from './notify.js';
import { buildOpenApi } from './openapi.js';
import { RateLimiter } from './rate-limit.js';
import { Router, type RouteDef } from './router.js';
import { buildRoutes, type ApiServices } from './routes.js';
import { components, ref } from './schemas.js';
import { Scope } from './scope.js';

export interface ApiDeps {
  config: ApiConfig;
  /** The node's database (the dial plan, rooms and registrar tables live there too). */
  db: Db;
  plan: DialPlanStore;
  rooms: RoomStore;
  accounts: AccountStore;
  /** Default realm of SIP accounts created through the API. */
  sipDomain: string;
  dataDir: string;
  log: Logger;
  /** Server certificate in PEM, instead of config.certFile/keyFile or the self-signed default. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** CA bundle in PEM, instead of reading config.clientCaFile. */
  clientCa?: string | Buffer;
  /** Senders per channel; by default SMS goes to config.smsGateway when set, else stays in the outbox. */
  senders?: Partial<Record<Channel, MessageSender>>;
  /** The capacity ledger's usage(), for GET /api/v1/usage and the dashboard. */
  usage?: () => Promise<CapacityUsage>;
  /** SIP and H.323 registrations now, for GET /api/v1/registrations. */
  registrations?: ApiServices['registrations'];
  /** The monthly KPI report, for GET /api/v1/reports/monthly and the dashboard's charts. */
  monthlyReport?: ApiServices['monthlyReport'];
  now?: () => Date;
}

interface AuditNote {
  action: string;
  principal?: Principal;
  /** Who signed in (public sign-in route): the user name given. */
  actor?: string;
  targetOrg?: string;
}

export interface ApiStats {
  requests: number;
  responseValidationFailures: number;
}

const MAX_BODY = 1024 * 1024;

/** The admin pages, read once; only these names are served (no request path reaches the disk). */
const ADMIN_DIR = new URL('../../../src/web/static/admin/', import.meta.url);
const ADMIN_FILES: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'admin.js': 'text/javascript; charset=utf-8', 'admin.css': 'text/css; charset=utf-8' };

function loadAdminPages(): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const [name, type] of Object.entries(ADMIN_FILES)) {
    try {
      out.set(name, { type, body: readFileSync(new URL(name, ADMIN_DIR)) });
    } catch {
      // A build without the pages still serves the API.
    }
  }
  return out;
}

/** Migrates the API's tables and builds its stores on the node's database. */
export function createApiServices(deps: ApiDeps): ApiServices {
  migrate(deps.db, apiMigrations);
  const now = deps.now ?? (() => new Date());
  const senders: Partial<Record<Channel, MessageSender>> = { ...(deps.config.smsGateway ? { sms: new HttpSmsGateway(deps.config.smsGateway) } : {}), ...deps.senders };
  const outbox = new Outbox(deps.db, deps.log.child({ component: 'outbox' }), senders);
  return {
    config: deps.config,
    plan: deps.plan,
    rooms: deps.rooms,
    accounts: deps.accounts,
    sipDomain: deps.sipDomain,
    identity: new IdentityStore(deps.db, now),
    audit: new AuditLog(deps.db, now),
    bookings: new Bookings({ db: deps.db, plan: deps.plan, rooms: deps.rooms, outbox, publicUrl: deps.config.publicUrl, now }),
    outbox,
    serviceWindows: new ServiceWindows(deps.db, now),
    abuse: new AbuseBlocks(deps.db, now),
    logos: new RoomLogos(deps.db),
    ...(deps.usage ? { usage: deps.usage } : {}),
    ...(deps.monthlyReport ? { monthlyReport: deps.monthlyReport } : {}),
    ...(deps.registrations ? { registrations: deps.registrations } : {}),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiProblem(413, 'too-large', `request bodies are limited to ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tlsMaterial(deps: ApiDeps): { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer } {
  const { cert, key } = deps.tls ?? loadOrCreateCertificate({ certFile: deps.config.certFile, keyFile: deps.config.keyFile }, deps.dataDir, 'localhost');
  let ca = deps.clientCa;
  if (ca === undefined && deps.config.clientCaFile) {
    try {
      ca = readFileSync(deps.config.clientCaFile);
    } catch (err) {
      throw new ApiConfigError(`cannot read api.clientCaFile ${deps.config.clientCaFile}: ${(err as Error).message}`);
    }
  }
  return { cert, key, ...(ca !== undefined ? { ca } : {}) };
}

export interface ApiServer {
  server: https.Server;
  /** Reads the certificate, key and client CA files again; new connections use them. */
  reloadTls(): void;
  services: ApiServices;
  stats: ApiStats;
  openapi: Record<string, unknown>;
}

export function createApiServer(deps: ApiDeps, services: ApiServices = createApiServices(deps)): ApiServer {
  const log = deps.log.child({ component: 'api' });
  const routes = buildRoutes(services);
  const router = new Router(routes);
  const validator = new SchemaValidator(components);
  for (const r of routes) {
    if (r.body) validator.check(r.body, `${r.operationId} request`);
    if (r.response.schema) validator.check(r.response.schema, `${r.operationId} response`);
    for (const q of r.query ?? []) validator.check(q.schema, `${r.operationId} query ${q.name}`);
  }
  const openapi = buildOpenApi(routes);
  const limiter = new RateLimiter(deps.config.rateLimit);
  // Password guessing gets its own, much smaller budget per source address.
  const signInLimiter = new RateLimiter({ burst: 10, perSecond: 0.1 });
  const stats: ApiStats = { requests: 0, responseValidationFailures: 0 };
  const { cert, key, ca } = tlsMaterial(deps);
  const adminPages = loadAdminPages();
  const anonymous = (ip: string): Principal => ({ actor: 'anonymous', clientKey: `ip:${ip}`, org: null, role: 'booker', via: 'token' });

  function authenticate(req: IncomingMessage): Principal {
    const socket = req.socket as TLSSocket;
    const auth = req.headers.authorization;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    const presented = !!peer && Object.keys(peer).length > 0;
    if (presented && !socket.authorized) {
      throw new ApiProblem(401, 'unauthorized', `client certificate refused: ${String(socket.authorizationError ?? 'not issued by the configured CA')}`);
    }
    if (presented) {
      const p = services.identity.principalForCertificate(peer.fingerprint256);
      if (p) return p;
      if (!auth) throw new ApiProblem(401, 'unauthorized', `client certificate ${peer.fingerprint256.slice(0, 23)}… is valid but not mapped to an organisation; ask the operator to register it`);
    }
    if (auth) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      const p = m ? services.identity.principalForToken(m[1] as string) : undefined;
      if (!p) throw new ApiProblem(401, 'unauthorized', 'the bearer token is unknown or has expired');
      return p;
    }
    throw new ApiProblem(401, 'unauthorized', 'authenticate with a client certificate or a bearer token (Authorization: Bearer ...)');
  }

  function parseQuery(route: RouteDef, url: URL): Record<string, string | number | boolean> {
    const out: Record<string, string | number | boolean> = {};
    const declared = new Map((route.query ?? []).map((q) => [q.name, q.schema]));
    for (const [name, raw] of url.searchParams) {
      const schema = declared.get(name);
      if (!schema) throw badRequest(`unknown query parameter "${name.slice(0, 40)}"`);
      let value: string | number | boolean = raw;
      if (schema.type === 'integer' || schema.type === 'number') value = /^-?\d+(?:\.\d+)?$/.test(raw) ? Number(raw) : raw;
      if (schema.type === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
      const issues = validator.validate(schema, value);
      if (issues.length > 0) throw badRequest(`query parameter "${name}" ${issues[0]?.message}`, issues.map((i) => ({ ...i, path: `?${name}${i.path}` })));
      out[name] = value;
    }
    return out;
  }

  async function run(req: IncomingMessage, url: URL, ip: string, audit: AuditNote): Promise<{ status: number; body?: unknown; schema?: JsonSchema }> {
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/healthz') return { status: 200, body: { status: 'ok' }, schema: ref('Health') };
    if (method === 'GET' && url.pathname === '/api/openapi.json') return { status: 200, body: openapi };
    const match = router.match(method, url.pathname);
    if (!match) throw new ApiProblem(404, 'not-found', `no API resource at ${url.pathname.slice(0, 100)}`);
    if ('methods' in match) throw new ApiProblem(405, 'method-not-allowed', `${method} is not allowed here (allowed: ${match.methods.join(', ')})`);
    const { route, params } = match;
    audit.action = route.operationId;

    let principal: Principal | undefined;
    let authError: unknown;
    if (route.roles !== 'public') {
      try {
        principal = authenticate(req);
        audit.principal = principal;
      } catch (err) {
        authError = err;
      }
    }
    const wait = Math.max(limiter.take(principal?.clientKey ?? `ip:${ip}`), route.operationId === 'signIn' ? signInLimiter.take(ip) : 0);
    if (wait > 0) throw new ApiProblem(429, 'rate-limited', `too many requests from this client; retry in ${wait} s`, { retryAfterSeconds: wait });
    if (authError) throw authError;
    if (principal && route.roles !== 'public' && !route.roles.includes(principal.role)) {
      throw new ApiProblem(403, 'forbidden', `a ${principal.role} may not ${route.summary.charAt(0).toLowerCase()}${route.summary.slice(1)}`);
    }
    const query = parseQuery(route, url);
    let body: unknown;
    if (route.body) {
      const type = req.headers['content-type'] ?? '';
      if (!/^application\/json\s*(?:;|$)/i.test(type)) throw new ApiProblem(415, 'unsupported-media-type', 'send the request body as application/json');
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw new ApiProblem(413, 'too-large', `request bodies are limited to ${MAX_BODY} bytes`);
      const raw = await readBody(req);
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('the request body is not valid JSON');
      }
      const issues = validator.validate(route.body, body);
      if (issues.length > 0) throw badRequest(`the request body does not match ${route.operationId}: ${issues[0]?.path || '(body)'} ${issues[0]?.message}`, issues);
      if (route.roles === 'public' && typeof (body as { username?: unknown }).username === 'string') audit.actor = `user:${(body as { username: string }).username}`;
    }
    const who = principal ?? anonymous(ip);
    const scope = new Scope(who);
    if (route.owner) {
      const owner = route.owner(params);
      scope.assertOwns(owner, `${route.resource ?? 'resource'} ${Object.values(params)[0] ?? ''}`.trim());
      if (owner) audit.targetOrg = owner;
    } else if (scope.isOperator) {
      // What an operator's call concerned, for the audit log's organisation column.
      const b = body as { org?: unknown; name?: unknown } | undefined;
      const named = b?.org ?? (route.operationId === 'createOrganisation' ? b?.name : undefined) ?? query.org ?? params.org;
      if (typeof named === 'string') audit.targetOrg = named;
    }
    const result = await route.handler({ principal: who, scope, params, query, body, ip });
    return { status: result.status ?? route.response.status, body: result.body, ...(route.response.schema ? { schema: route.response.schema } : {}) };
  }

  /** GET /admin/ and its two assets: the admin pages, talking to /api/v1 on this origin. */
  function serveAdmin(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (req.method !== 'GET' || (pathname !== '/admin' && !pathname.startsWith('/admin/'))) return false;
    const name = pathname === '/admin' || pathname === '/admin/' ? 'index.html' : pathname.slice('/admin/'.length);
    const file = adminPages.get(name);
    if (!file) return false;
    res.writeHead(200, {
      'content-type': file.type,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      // Scripts and styles from this origin only, no inline script: a stored value that slipped
      // through as markup could still not run.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    });
    res.end(file.body);
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const ip = req.socket.remoteAddress ?? '';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://api.invalid');
    } catch {
      url = new URL('https://api.invalid/');
    }
    if (serveAdmin(req, res, url.pathname)) return;
    const audit: AuditNote = { action: 'unknown' };
    let status: number;
    let payload: unknown;
    let problem: ApiProblem | undefined;
    try {
      const out = await run(req, url, ip, audit);
      if (out.schema) {
        const issues = validator.validate(out.schema, out.body);
        if (issues.length > 0) {
          stats.responseValidationFailures++;
          log.error({ operation: audit.action, issues }, 'API RESPONSE DOES NOT MATCH THE OPENAPI DOCUMENT: answered 500 instead (this is a bug in knude)');
          throw new ApiProblem(500, 'internal', 'the server produced an invalid response; the error is in the node log');
        }
      }
      status = out.status;
      payload = out.body;
    } catch (err) {
      problem = toProblem(err);
      if (!(err instanceof ApiProblem)) log.error({ err, operation: audit.action }, 'API request failed');
      status = problem.status;
      payload = problemBody(problem, url.pathname);
      const issues = validator.validate(ref('Problem'), payload);
      if (issues.length > 0) {
        stats.responseValidationFailures++;
        log.error({ issues }, 'API PROBLEM RESPONSE DOES NOT MATCH THE OPENAPI DOCUMENT (this is a bug in knude)');
      }
    }
    if (url.pathname.startsWith('/api/v1/')) {
      const p = audit.principal;
      try {
        services.audit.record({
          actor: p?.actor ?? audit.actor ?? 'anonymous',
          // The caller's organisation; for operators (who have none) the one the call concerned.
          org: p?.org ?? audit.targetOrg ?? null,
          role: p?.role ?? null,
          action: audit.action,
          method: req.method ?? '',
          path: url.pathname.slice(0, 300),
          status,
          ip,
          detail: problem ? problem.message : null,
        });
      } catch (err) {
        // An unauditable call must not look successful to the caller.
        log.error({ err }, 'cannot write the audit log');
        problem = new ApiProblem(500, 'internal', 'the call could not be audit-logged');
        status = 500;
        payload = problemBody(problem, url.pathname);
      }
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (problem?.extra.retryAfterSeconds) headers['retry-after'] = String(problem.extra.retryAfterSeconds);
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="knude"';
    if (status === 204 || payload === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    headers['content-type'] = problem ? 'application/problem+json' : 'application/json';
    res.writeHead(status, headers).end(JSON.stringify(payload));
  }

  const server = https.createServer(
    {
      cert,
      key,
      ...(ca !== undefined ? { ca, requestCert: true } : {}),
      // Certificates are checked per request (a missing one may be replaced by a token; a
      // wrong one is answered 401 with the reason), so the handshake itself does not refuse.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        log.error({ err }, 'API handler crashed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    },
  );
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake refused'));
  const reloadTls = () => {
    const m = tlsMaterial(deps);
    server.setSecureContext({ cert: m.cert, key: m.key, ...(m.ca !== undefined ? { ca: m.ca } : {}), minVersion: 'TLSv1.3' });
  };
  return { server, reloadTls, services, stats, openapi };
}

export interface ApiHandle extends ApiServer {
  port: number;
  /** Runs the retention job now (it also runs at start and every 6 hours). */
  runRetention(): { auditDeleted: number; bookingsPseudonymised: number; messagesPseudonymised: number };
  close(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps): Promise<ApiHandle> {
  const api = createApiServer(deps);
  const log = deps.log.child({ component: 'api' });
  const runRetention = () => {
    const auditDeleted = api.services.audit.applyRetention(deps.config.auditRetentionDays);
    const r = api.services.bookings.applyRetention(deps.config.personalDataRetentionDays);
    if (auditDeleted + r.bookings + r.messages > 0) log.info({ auditDeleted, bookings: r.bookings, messages: r.messages }, 'retention job: old audit entries deleted, personal data pseudonymised');
    return { auditDeleted, bookingsPseudonymised: r.bookings, messagesPseudonymised: r.messages };
  };
  runRetention();
  const timer = setInterval(() => {
    try {
      runRetention();
    } catch (err) {
      log.error({ err }, 'retention job failed');
    }
  }, 6 * 3600_000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    api.server.once('error', reject);
    api.server.listen(deps.config.port, deps.config.address, () => {
      api.server.off('error', reject);
      resolve();
    });
  });
  const port = (api.server.address() as AddressInfo).port;
  log.info({ address: deps.config.address, port }, 'administration API listening (TLS 1.3, mutual TLS)');
  return {
    ...api,
    port,
    runRetention,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        api.server.close(() => resolve());
        api.server.closeAllConnections();
      });
      await api.services.outbox.idle();
    },
  };
}
