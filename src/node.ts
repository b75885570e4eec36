import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { createHttpServer, listen } from './api/http.js';
import { apiMigrations, startApiServer, type ApiHandle } from './api/v1/index.js';
import { startGatekeeper, type Gatekeeper } from './h323/index.js';
import { abuseGuard, type BlockCheck } from './sip/app/abuse-guard.js';
import { dataPath } from './config/load.js';
import type { KnudeConfig } from './config/schema.js';
import { DialPlanRouter, DialPlanStore, dialplanMigrations, srfOptionsSender, ZoneProber } from './dialplan/index.js';
import { AccountStore } from './registrar/accounts.js';
import { BindingStore } from './registrar/bindings.js';
import { DigestAuthenticator } from './registrar/digest.js';
import { registrar } from './registrar/handler.js';
import { registrarMigrations } from './registrar/migrations.js';
import { capacityMigrations, openCapacityLedger, type CapacityLedger } from './capacity/index.js';
import { startMediaPlane, type MediaPlane } from './media/index.js';
import { RoomVideoSwitches } from './media/relay/room-switches.js';
import { RoomCalls } from './sip/app/room-call.js';
import { NodeStats } from './stats/node-stats.js';
import { metricsHandler, monthlyReport, statsMigrations } from './stats/index.js';
import { admit, PinGuard, RoomManager, roomsMigrations, RoomStore, type Room } from './rooms/index.js';
import { invitePipeline } from './sip/app/invite.js';
import { EmbeddedSipServer } from './sip/server/embedded.js';
import { migrate, openDatabase, type Db } from './store/database.js';
import { loadOrCreateCertificate } from './util/tls-cert.js';
import { attachRoomSignalling } from './web/signalling.js';
import { trustedProxySet } from './web/client-address.js';
import type { JoinInfo } from './api/http.js';

/** Every capability's schema, in the order they may depend on each other. */
export const allMigrations = [...registrarMigrations, ...dialplanMigrations, ...roomsMigrations, ...capacityMigrations, ...statsMigrations, ...apiMigrations];

/** Handler registrations drachtio-srf has but its typings lack. */
interface SrfHandlers {
  register(handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void;
  options(handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

export interface KnudeNode {
  config: KnudeConfig;
  db: Db;
  accounts: AccountStore;
  bindings: BindingStore;
  plan: DialPlanStore;
  router: DialPlanRouter;
  srf: Srf;
  sipServer: EmbeddedSipServer | undefined;
  httpPort: number;
  /** The bound SIP listeners (ports resolved when the config asked for port 0). */
  sipListeners: Array<{ protocol: string; address: string; port: number }>;
  /** Meeting rooms: the stored rooms, and the live ones when the node has a media plane. */
  rooms: { store: RoomStore; manager: RoomManager | undefined };
  /** The media plane (Janus); undefined when `media.janus` is 'off'. */
  media: MediaPlane | undefined;
  /** Ports and licences in use, and the limits (shared through PostgreSQL when configured). */
  capacity: CapacityLedger;
  /** SIP endpoints' calls into rooms; undefined without media. */
  roomCalls: RoomCalls | undefined;
  /** Call detail records, meeting records, availability and metrics. */
  stats: NodeStats;
  /** The administration and booking API (HTTPS, mutual TLS); undefined when api.enabled is false. */
  api: ApiHandle | undefined;
  /** The H.323 gatekeeper (RAS); undefined when h323.enabled is false. */
  gatekeeper: Gatekeeper | undefined;
  /**
   * Reads the TLS certificates and keys again (SIP TLS/WSS, the API) after a renewal: new
   * connections get them, calls and connections in progress go on. Throws (and changes
   * nothing for that listener) when a file cannot be read.
   */
  reloadCertificates(): void;
  stop(): Promise<void>;
}

/** Opens the store with every migration applied (used by the CLI's admin commands too). */
export function openStore(config: KnudeConfig): Db {
  const db = openDatabase(dataPath(config, config.store.sqlitePath));
  migrate(db, allMigrations);
  return db;
}

/** The nonce secret is shared by every node that must accept each other's nonces. */
function nonceSecret(config: KnudeConfig): string {
  if (config.registrar.nonceSecret) return config.registrar.nonceSecret;
  const file = join(config.node.dataDir, 'nonce.secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.node.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export async function startNode(config: KnudeConfig, log: Logger): Promise<KnudeNode> {
  mkdirSync(config.node.dataDir, { recursive: true });
  const db = openStore(config);
  const accounts = new AccountStore(db);
  const bindings = new BindingStore(db);
  const plan = new DialPlanStore(db);
  // The node's SIP domain is always one of the plan's own domains (digits there are numbers).
  const settings = plan.getSettings();
  if (!settings.ownDomains.includes(config.sip.domain)) plan.updateSettings({ ownDomains: [config.sip.domain, ...settings.ownDomains] });
  const router = new DialPlanRouter(plan);
  const roomStore = new RoomStore(plan);
  const auth = new DigestAuthenticator({
    secret: nonceSecret(config),
    nonceLifetimeSeconds: config.registrar.nonceLifetimeSeconds,
    algorithms: config.registrar.algorithms,
  });

  // Media first: Janus takes a second to come up, and a node that cannot reach its media
  // plane must say so at start rather than at the first join.
  let media: MediaPlane | undefined;
  try {
    media = await startMediaPlane({ media: config.media, dataDir: join(config.node.dataDir, 'janus'), log: log.child({ component: 'media' }) });
  } catch (err) {
    db.close();
    throw new StartupError(`cannot start the media plane (media.janus: ${config.media.janus}): ${(err as Error).message}`);
  }
  const pinGuard = new PinGuard({ maxFailures: config.rooms.pinFailuresPerAddress, windowMs: config.rooms.pinFailureWindowSeconds * 1000 });
  const manager = media ? new RoomManager({ store: roomStore, media, log: log.child({ component: 'rooms' }), pinGuard }) : undefined;
  let capacity: CapacityLedger;
  try {
    capacity = await openCapacityLedger({ cfg: config.capacity, db, nodeId: config.node.name, onError: (err) => log.error({ err: err.message }, 'capacity store error') });
  } catch (err) {
    manager?.dispose();
    await media?.close();
    db.close();
    throw new StartupError(`cannot open the capacity store (capacity.store: ${config.capacity.store}): ${(err as Error).message}`);
  }

  let sipServer: EmbeddedSipServer | undefined;
  let control = config.sip.drachtio;
  if (config.sip.server === 'embedded') {
    const needsTls = config.sip.listen.some((l) => l.transport === 'tls' || l.transport === 'wss');
    const cert = needsTls ? loadOrCreateCertificate(config.sip.tls, config.node.dataDir, config.sip.domain) : undefined;
    const secret = config.sip.embedded.secret || randomBytes(16).toString('hex');
    const maxExpiresMs = config.registrar.maxExpires * 1000;
    sipServer = new EmbeddedSipServer({
      listen: config.sip.listen,
      externalAddress: config.sip.externalAddress,
      transport: {
        maxMessageBytes: config.sip.maxMessageBytes,
        idleMs: maxExpiresMs + 60_000,
        tls: cert && {
          server: { cert: cert.cert, key: cert.key, minVersion: config.sip.tls.minVersion },
          // Neighbour zones are verified against the system CAs; a private CA is set per zone later.
          client: { minVersion: config.sip.tls.minVersion },
        },
      },
      control: { address: config.sip.embedded.controlAddress, port: config.sip.embedded.controlPort, secret },
      log,
    });
    try {
      await sipServer.start();
    } catch (err) {
      await sipServer.stop().catch(() => {});
      manager?.dispose();
      await media?.close();
      await capacity.close();
      db.close();
      throw new StartupError(`cannot start the SIP server: ${(err as Error).message}`);
    }
    control = { host: config.sip.embedded.controlAddress, port: sipServer.controlPort, secret };
  }

  const srf = new Srf();
  const connected = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StartupError(`no drachtio server answered at ${control.host}:${control.port}`)), 15_000);
    srf.on('connect', (err: Error | null, hostport: string) => {
      clearTimeout(timer);
      if (err) reject(new StartupError(`drachtio connection refused: ${err.message}`));
      else resolve(hostport);
    });
  });
  srf.on('error', (err: Error) => log.warn({ err: err.message }, 'drachtio connection error'));
  srf.connect({ host: control.host, port: control.port, secret: control.secret });
  let hostport: string;
  try {
    hostport = await connected;
  } catch (err) {
    srf.disconnect();
    await sipServer?.stop();
    manager?.dispose();
    await media?.close();
    await capacity.close();
    db.close();
    throw err;
  }
  const sipListeners = hostport.split(',').map((hp) => {
    const m = /^(\w+)\/\[?([^\]]+?)\]?:(\d+)$/.exec(hp)!;
    return { protocol: m[1], address: m[2], port: Number(m[3]) };
  });
  const localHosts = new Set<string>(['localhost', ...sipListeners.map((l) => l.address)]);
  if (config.sip.externalAddress) localHosts.add(config.sip.externalAddress);

  // Who is registered now: the registrar's live bindings and the gatekeeper's endpoints.
  const liveBindings = db.prepare('SELECT aor, contact_uri, expires_at, user_agent FROM registrar_bindings WHERE expires_at > ? ORDER BY aor');
  const accountAliases = db.prepare("SELECT alias FROM dialplan_aliases WHERE kind = 'account' AND target = ? ORDER BY alias").pluck();
  const registrationsNow = () => [
    ...(liveBindings.all(Date.now()) as Array<{ aor: string; contact_uri: string; expires_at: number; user_agent: string | null }>).map((b) => {
      const [user, realm] = b.aor.replace(/^sips?:/i, '').split('@');
      const account = accounts.get(user ?? '', realm ?? '');
      return {
        protocol: 'sip' as const,
        id: `${user}@${realm}`,
        org: account?.org ?? null,
        aliases: accountAliases.all(`${user}@${realm}`) as string[],
        contact: b.contact_uri,
        userAgent: b.user_agent,
        expiresAt: new Date(b.expires_at).toISOString(),
      };
    }),
    ...(gatekeeper?.registrations() ?? []).map((r) => ({
      protocol: 'h323' as const,
      id: r.endpointId,
      org: r.org,
      aliases: r.aliases.map((a) => a.value),
      contact: r.callSignalAddress[0] ?? r.rasAddress,
      userAgent: r.vendor,
      expiresAt: r.expiresAt,
    })),
  ];
  // SMS invitations the API's outbox delivered, for the monthly report.
  const smsCount = db.prepare("SELECT COUNT(*) AS n FROM api_outbox WHERE channel = 'sms' AND status = 'sent' AND updated_at >= ? AND updated_at < ?");
  const smsSent = (from: Date, to: Date) => (smsCount.get(from.toISOString(), to.toISOString()) as { n: number }).n;
  let srfConnected = true;
  srf.on('disconnect', () => (srfConnected = false));
  srf.on('connect', () => (srfConnected = true));
  const stats = new NodeStats({
    db,
    node: config.node.name,
    capacity,
    capacityConfig: config.capacity,
    manager,
    media,
    registrations: () => bindings.count(Date.now()),
    sipUp: () => srfConnected,
    log: log.child({ component: 'stats' }),
  });
  (srf as unknown as { use(fn: unknown): void }).use(stats.sipMiddleware());
  // Abuse blocks live in the API's store; until the API is up nothing is blocked.
  let blocked: BlockCheck | undefined;
  (srf as unknown as { use(fn: unknown): void }).use(abuseGuard(() => blocked, log.child({ component: 'abuse' })));
  const registrarSettings = {
    realm: config.sip.domain,
    minExpires: config.registrar.minExpires,
    maxExpires: config.registrar.maxExpires,
    defaultExpires: config.registrar.defaultExpires,
    localHosts,
  };
  const app = srf as unknown as SrfHandlers;
  app.register(registrar({ accounts, bindings, auth, settings: registrarSettings, log: log.child({ component: 'registrar' }) }));
  app.options((_req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    res.send(200, { headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE', Accept: 'application/sdp' } });
  });
  const switches = media ? new RoomVideoSwitches(media, log.child({ component: 'video-switch' })) : undefined;
  const roomCalls =
    media && manager && switches
      ? new RoomCalls({
          srf,
          manager,
          store: roomStore,
          media,
          switches,
          capacity,
          config: {
            bindAddress: config.media.sip.address,
            advertisedAddress: config.media.sip.advertisedAddress ?? config.media.sip.address,
            portMin: config.media.sip.rtpPortMin,
            portMax: config.media.sip.rtpPortMax,
            suites: config.media.sip.srtpSuites,
            mediaTimeoutMs: config.media.sip.mediaTimeoutSeconds * 1000,
            sessionExpiresSeconds: config.calls.sessionExpiresSeconds,
            minSessionExpiresSeconds: config.calls.minSessionExpiresSeconds,
            pinAttempts: config.rooms.sipPinAttempts,
            pinTimeoutMs: config.rooms.sipPinTimeoutSeconds * 1000,
          },
          log: log.child({ component: 'room-calls' }),
          onLegEnd: (rec) => stats.roomLegEnded(rec),
        })
      : undefined;
  srf.invite(
    invitePipeline({
      rooms: roomCalls,
      capacity,
      ...(config.calls.requireSrtp ? { srtp: { suites: config.media.sip.srtpSuites } } : {}),
      onCallEnd: (c) => stats.bridgedCallEnded(c),
      sessionTimer: { sessionExpiresSeconds: config.calls.sessionExpiresSeconds, minSessionExpiresSeconds: config.calls.minSessionExpiresSeconds },
      srf,
      accounts,
      bindings,
      auth,
      router,
      realm: config.sip.domain,
      localHosts,
      ringTimeoutMs: config.calls.ringTimeoutSeconds * 1000,
      trunkAttemptTimeoutMs: config.calls.trunkAttemptTimeoutSeconds * 1000,
      log: log.child({ component: 'calls' }),
    }),
  );

  const prober = new ZoneProber({
    router,
    sendOptions: srfOptionsSender(srf, { fromUri: `sip:knude@${config.sip.domain}`, userAgent: config.sip.userAgent }),
    intervalMs: config.zones.probeIntervalSeconds * 1000,
    timeoutMs: config.zones.probeTimeoutSeconds * 1000,
    failuresToDown: config.zones.failuresToDown,
    log: log.child({ component: 'zone-prober' }),
  });
  prober.start();

  const expiry = setInterval(() => {
    const gone = bindings.expire(Date.now());
    if (gone.length) log.debug({ count: gone.length }, 'registrations expired');
  }, 10_000);
  expiry.unref();

  const httpServer = createHttpServer({
    nodeName: config.node.name,
    plan,
    router,
    health: () => ({ sip: sipServer?.snapshot() ?? { server: 'drachtio' }, rooms: manager?.snapshot() ?? { media: 'off' } }),
    joinInfo: manager ? (alias) => joinInfo(roomStore, manager, alias, (id) => api?.services.logos.get(id)) : undefined,
    metrics: metricsHandler(stats.metrics.registry),
    monthlyReport: (month) => monthlyReport({ month, cdr: stats.cdr, availability: stats.availability, smsSentCount: smsSent, timeZone: config.reports.timeZone }),
  });
  const signalling = manager && media ? attachRoomSignalling(httpServer, { manager, media, capacity, log: log.child({ component: 'signalling' }), trustedProxies: trustedProxySet(config.http.trustedProxies) }) : undefined;
  let httpPort: number;
  try {
    httpPort = await listen(httpServer, config.http.address, config.http.port);
  } catch (err) {
    srf.disconnect();
    await sipServer?.stop();
    manager?.dispose();
    await media?.close();
    await capacity.close();
    db.close();
    throw new StartupError(`cannot listen for HTTP on ${config.http.address}:${config.http.port}: ${(err as Error).message}`);
  }
  // The administration API and the H.323 gatekeeper: each may be switched off in config.
  let api: ApiHandle | undefined;
  let gatekeeper: Gatekeeper | undefined;
  /** Takes everything down in the order it depends on each other: front doors first, the store last. */
  const teardown = async () => {
    await gatekeeper?.stop();
    await api?.close();
    clearInterval(expiry);
    prober.stop();
    for (const ws of signalling?.clients ?? []) ws.terminate();
    signalling?.close();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeAllConnections?.();
    await roomCalls?.closeAll();
    await switches?.closeAll();
    srf.disconnect();
    await sipServer?.stop();
    manager?.dispose();
    await media?.close();
    stats.close();
    await capacity.close();
    router.close();
    db.close();
  };
  try {
    if (config.api.enabled) {
      api = await startApiServer({
        config: config.api,
        db,
        plan,
        rooms: roomStore,
        accounts,
        sipDomain: config.sip.domain,
        dataDir: config.node.dataDir,
        log: log.child({ component: 'api' }),
        usage: () => capacity.usage(),
        registrations: () => registrationsNow(),
        monthlyReport: (month) => monthlyReport({ month, cdr: stats.cdr, availability: stats.availability, smsSentCount: smsSent, timeZone: config.reports.timeZone }) as unknown as ReturnType<NonNullable<Parameters<typeof startApiServer>[0]['monthlyReport']>>,
      });
      const abuse = api.services.abuse;
      blocked = (who) => abuse.isBlocked(who);
    }
    if (config.h323.enabled) {
      gatekeeper = await startGatekeeper({ router, plan, capacity, accounts, config: config.h323, log: log.child({ component: 'h323' }) });
    }
  } catch (err) {
    await teardown().catch(() => {});
    throw new StartupError(`cannot start ${api ? 'the H.323 gatekeeper' : 'the administration API'}: ${(err as Error).message}`);
  }

  stats.setApiUp(true);
  log.info({ sip: hostport, http: `${config.http.address}:${httpPort}`, domain: config.sip.domain }, 'knude started');

  let stopped = false;
  return {
    config,
    db,
    accounts,
    bindings,
    plan,
    router,
    srf,
    sipServer,
    httpPort,
    sipListeners,
    rooms: { store: roomStore, manager },
    media,
    capacity,
    roomCalls,
    stats,
    api,
    gatekeeper,
    reloadCertificates() {
      const sipTls = sipServer && config.sip.listen.some((l) => l.transport === 'tls' || l.transport === 'wss');
      if (sipTls) {
        const cert = loadOrCreateCertificate(config.sip.tls, config.node.dataDir, config.sip.domain);
        sipServer!.transports.setServerTls({ cert: cert.cert, key: cert.key, minVersion: config.sip.tls.minVersion });
      }
      api?.reloadTls();
      log.info({ sip: !!sipTls, api: !!api }, 'TLS certificates reloaded');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await teardown();
      log.info('knude stopped');
    },
  };
}

/**
 * What the join page may show before joining: the room's name, organisation and branding,
 * whether a PIN is asked, and why joining would fail now when that is public (the validity
 * window, a lock). Full is not told here: it may change before the person presses Join.
 */
function joinInfo(store: RoomStore, manager: RoomManager, alias: string, uploadedLogo: (roomId: string) => string | undefined): JoinInfo | undefined {
  const room = store.get(alias) ?? store.byAlias(alias);
  if (!room) return undefined;
  // No PIN given yet: what pinRole() says of none, without hashing anything.
  const decision = admit({ ...room, locked: false }, { now: Date.now(), participants: 0, pinRole: room.guestPin ? null : 'guest', hostPresent: manager.participants(room.id).some((p) => p.role === 'host') });
  const timeProblem = !decision.ok && (decision.reason === 'not-yet-valid' || decision.reason === 'expired') ? decision.message : undefined;
  return {
    name: room.name,
    org: room.org,
    pinRequired: !!(room.hostPin || room.guestPin),
    ...branding(room.branding, uploadedLogo(room.id)),
    ...(timeProblem ? { problem: timeProblem } : room.locked ? { problem: 'The meeting is locked by its host.' } : {}),
  };
}

/** The room's branding for the join page; a logo uploaded through the API wins over a URL. */
function branding(b: Room['branding'], uploaded: string | undefined): { branding?: { logoUrl?: string; color?: string } } {
  const logoUrl = uploaded ?? b?.logoUrl;
  if (!logoUrl && !b?.color) return {};
  return { branding: { ...(logoUrl ? { logoUrl } : {}), ...(b?.color ? { color: b.color } : {}) } };
}
