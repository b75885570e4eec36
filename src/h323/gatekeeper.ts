/**
 * The H.323 gatekeeper: H.225.0 RAS on UDP, on the same alias plan and capacity ledger as SIP.
 *
 *  - GRQ → GCF (or GRJ when the endpoint asks for another gatekeeper by name).
 *  - RRQ → RCF/RRJ: aliases are read with the dial plan's normalisation; an alias held by another
 *    endpoint is refused with duplicateAlias, aliases outside the plan with invalidAlias (unless
 *    `unplannedAliases: allow`). timeToLive is clamped to the configured bounds; a lightweight RRQ
 *    (keepAlive) refreshes it, and a registration not refreshed in time expires (URQ ttlExpired
 *    is sent to the endpoint and its admissions are released).
 *  - ARQ → ACF/ARJ in the direct-routed model: the destination is routed by DialPlanRouter
 *    exactly as a SIP INVITE is; an account that is registered over H.323 is reached at its
 *    call signalling address, anything only SIP reaches (SIP accounts, rooms, neighbour zones)
 *    through the configured interworking gateway. Every admission is a leg in the capacity
 *    ledger, charged to the requesting endpoint's organisation; DRQ (or the registration ending)
 *    gives it back.
 *  - LRQ → LCF/LRJ for neighbour gatekeepers (a source that is one of a zone's targets is
 *    that zone; anyone else is an external caller and reaches only public aliases).
 *  - BRQ → BCF (capped at maxBandwidth), URQ → UCF/URJ, IRR refreshes the registration, any
 *    other request that decodes → XRS (unknownMessageResponse).
 *
 * Security: `security: none` registers without authentication; `h235-password` requires an
 * H.235 cryptoEPPwdHash (h235.ts) on RRQ (full and keep-alive) and ARQ, made with the account's
 * H.323 password. The account store keeps only digest HA1s, which cannot check an H.235 hash,
 * so the clear H.323 password comes from GatekeeperDeps.h235Password. Always enforced: requests
 * naming an endpointIdentifier must come from the host that registered it.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { CapacityLedger, LegKind } from '../capacity/index.js';
import { aliasKey, normalize, DialStringError, type DialInput, type DialPlanRouter, type DialPlanStore, type RouteCaller, type RouteDecision } from '../dialplan/index.js';
import type { AccountStore } from '../registrar/accounts.js';
import { parseHostPort, type GatekeeperConfig } from './config.js';
import { H323CodecError, H323Error } from './errors.js';
import { OID_MD5, checkPwdHash, trimNul } from './h235.js';
import { H460_18, hasFeature, incomingCallGenericData } from './h46018.js';
import {
  H225_PROTOCOL_ID,
  addressOf,
  aliasText,
  decodeRas,
  encodeRas,
  ipv4Address,
  rasType,
  requestSeqNum,
  type AdmissionRejectReason,
  type AdmissionRequest,
  type AliasAddress,
  type BandwidthRequest,
  type DisengageRequest,
  type GatekeeperRequest,
  type InfoRequestResponse,
  type LocationRejectReason,
  type LocationConfirm,
  type LocationRequest,
  type RasMessage,
  type RegistrationRejectReason,
  type RegistrationRequest,
  type CryptoH323Token,
  type ServiceControlResponse,
  type TransportAddress,
  type UnregistrationRequest,
} from './ras.js';
import { describe, Registry, type Admission, type Registration, type RegistrationInfo } from './registry.js';

export interface GatekeeperDeps {
  router: DialPlanRouter;
  plan: DialPlanStore;
  capacity?: CapacityLedger;
  accounts?: AccountStore;
  config: GatekeeperConfig;
  log: Logger;
  /** The H.323 (H.235) password of an account ('alice@video.example.se'), for `security: h235-password`. */
  h235Password?: (account: string) => string | undefined;
}

export interface AdmissionInfo {
  endpointId: string;
  legId: string;
  answerCall: boolean;
  org: string | null;
  destination: string;
  bandWidth: number;
  admittedAt: string;
}

export interface Gatekeeper {
  /** The bound RAS port (the configured one, or the one picked for port 0). */
  readonly port: number;
  /** The bound discovery (GRQ) port when `discovery` is on. */
  readonly discoveryPort: number | null;
  readonly address: string;
  registrations(): RegistrationInfo[];
  admissions(): AdmissionInfo[];
  /**
   * H.460.18: asks a registered endpoint (behind NAT) to open its call signalling connection to
   * `callSignalAddress` for an incoming call, with an SCI; resolves with the endpoint's SCR
   * result ('started' when it will connect), or 'timeout' after three tries a second apart.
   */
  indicateIncomingCall(endpointId: string, call: { callSignalAddress: { host: string; port: number }; callId: Buffer }): Promise<IncomingCallResult>;
  /** Closes the socket and releases every admission still held. */
  stop(): Promise<void>;
}

export type IncomingCallResult = 'started' | 'failed' | 'stopped' | 'notAvailable' | 'neededFeatureNotSupported' | 'noResult' | 'timeout';

/** Bandwidth (100 bit/s units) at or below which a call counts as audio-only: G.711 both ways is 1280. */
const AUDIO_ONLY_BANDWIDTH = 1280;
/** H.225.0 7.2.1: the well-known multicast address of gatekeeper discovery. */
const RAS_MULTICAST_GROUP = '224.0.1.41';
/** Delay announced in a RIP (ms): how long the endpoint should wait before retrying. */
const RIP_DELAY_MS = 5000;

type Resolution =
  | { ok: true; via: 'h323'; reg: Registration; org: string | null; destination: string }
  | { ok: true; via: 'gateway' | 'address'; address: TransportAddress; org: string | null; destination: string }
  | { ok: false; status: 'notFound' | 'denied' | 'incomplete' | 'noRoute' | 'busy' | 'loop'; detail: string };

function hex(b: Buffer): string {
  return b.toString('hex');
}

function toDialInput(alias: AliasAddress): DialInput | null {
  if ('dialedDigits' in alias) return { h323: 'dialedDigits', value: alias.dialedDigits };
  if ('h323-ID' in alias) return { h323: 'h323-ID', value: alias['h323-ID'] };
  if ('url-ID' in alias) return { h323: 'url-ID', value: alias['url-ID'] };
  if ('email-ID' in alias) return { h323: 'email-ID', value: alias['email-ID'] };
  if ('partyNumber' in alias) {
    const digits = aliasText(alias).value;
    return digits ? { h323: 'dialedDigits', value: digits } : null;
  }
  return null;
}

function vendorText(r: RegistrationRequest): string | null {
  const v = r.endpointVendor;
  const part = (b?: Buffer) => (b ? b.toString('latin1').replace(/[^\x20-\x7e]/g, '').trim() : '');
  const s = [part(v.productId), part(v.versionId)].filter(Boolean).join(' ');
  return s || null;
}

/** The first IP call signalling address (RRQ checks there is one). */
function signalAddress(r: Registration): TransportAddress {
  return r.callSignalAddress.find((a) => addressOf(a)) ?? r.callSignalAddress[0]!;
}

export async function startGatekeeper(deps: GatekeeperDeps): Promise<Gatekeeper> {
  const { config, log, router, plan, capacity, accounts } = deps;
  const registry = new Registry();
  const socket: Socket = createSocket({ type: 'udp4' });
  let seq = Math.floor(Math.random() * 60000) + 1;
  let stopped = false;

  const gateway = config.interworkingGateway ? parseHostPort('h323.interworkingGateway', config.interworkingGateway) : null;

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(config.port, config.address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => log.error({ err: err.message }, 'RAS socket error'));

  // Discovery: GRQs on their own port (and multicast group); answers come from the RAS socket.
  let discovery: Socket | null = null;
  if (config.discovery) {
    discovery = createSocket({ type: 'udp4', reuseAddr: true });
    const d = discovery;
    try {
      await new Promise<void>((resolve, reject) => {
        d.once('error', reject);
        d.bind(config.discoveryPort, config.address, () => {
          d.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    try {
      d.addMembership(RAS_MULTICAST_GROUP, config.address === '0.0.0.0' ? undefined : config.address);
    } catch (err) {
      // Loopback and some containers have no multicast: unicast discovery still works.
      log.warn({ err: (err as Error).message }, `cannot join the RAS multicast group ${RAS_MULTICAST_GROUP}; GRQ discovery is unicast only`);
    }
    d.on('error', (err) => log.error({ err: err.message }, 'RAS discovery socket error'));
  }
  const port = socket.address().port;
  const ourRas = (): TransportAddress => ipv4Address(config.advertisedAddress ?? config.address, port);
  const nextSeq = () => (seq = (seq % 65535) + 1);

  const send = (msg: RasMessage, to: { host: string; port: number }) => {
    if (stopped) return;
    let bytes: Buffer;
    try {
      bytes = encodeRas(msg);
    } catch (err) {
      // Our own message failing to encode is a bug; say which, never crash the node.
      log.error({ err: (err as Error).message, type: rasType(msg) }, 'cannot encode a RAS reply');
      return;
    }
    socket.send(bytes, to.port, to.host);
  };

  // ---- aliases -------------------------------------------------------------------------------

  /** The dial-plan key of an alias, or null for aliases that are no address (transportID). */
  const keyOf = (alias: AliasAddress): string | null => {
    const input = toDialInput(alias);
    if (!input) return null;
    return aliasKey(normalize(input, plan.getSettings()));
  };

  /** Which account and organisation an alias key belongs to, by the plan. */
  const ownerOf = (key: string): { account: string | null; org: string | null } | null => {
    const a = plan.getAlias(key);
    if (a) return { account: a.kind === 'account' ? a.target : null, org: a.org };
    if (key.startsWith('+')) {
      const block = plan.blockFor(key.slice(1));
      if (block) return { account: null, org: block.org };
    } else {
      const [user, domain] = key.split('@') as [string, string];
      // An account by name: an h323-ID 'alice' (read as on our primary domain) or a URI.
      const acc = accounts?.get(user, domain);
      if (acc) return { account: `${acc.username}@${acc.realm}`, org: acc.org };
      const d = plan.listDomains().find((x) => x.domain === domain);
      if (d) return { account: null, org: d.org };
    }
    return null;
  };

  // ---- H.235 ---------------------------------------------------------------------------------

  /** Last accepted token time per account: an older one is a replay. */
  const lastTokenTime = new Map<string, number>();

  /**
   * With `security: h235-password`, the account the tokens prove (null when they prove none,
   * and the reason is logged). With `none`, `true`: nothing to prove.
   */
  const authenticate = (tokens: CryptoH323Token[] | undefined, what: string): string | null | true => {
    if (config.security === 'none') return true;
    let account: string | null = null;
    const res = checkPwdHash(
      tokens,
      (alias) => {
        let key: string | null;
        try {
          const clean = Object.fromEntries(Object.entries(alias).map(([k, v]) => [k, typeof v === 'string' ? trimNul(v) : v])) as AliasAddress;
          key = keyOf(clean);
        } catch {
          return undefined;
        }
        account = key ? (ownerOf(key)?.account ?? null) : null;
        return account ? deps.h235Password?.(account) : undefined;
      },
      { now: Date.now(), maxSkewSeconds: config.h235MaxClockSkewSeconds },
    );
    if (!res.ok || !account) {
      log.info({ what, reason: res.ok ? 'no account' : res.reason, detail: res.ok ? undefined : res.detail }, 'H.235 authentication failed');
      return null;
    }
    const last = lastTokenTime.get(account) ?? 0;
    if (res.timeStamp < last) {
      log.info({ what, account }, 'H.235 token older than one already accepted (replay)');
      return null;
    }
    lastTokenTime.set(account, res.timeStamp);
    return account;
  };

  // ---- registration --------------------------------------------------------------------------

  const releaseCalls = async (r: Registration, why: string) => {
    const calls = [...r.calls.values()];
    r.calls.clear();
    await Promise.all(calls.map((c) => releaseAdmission(c, why)));
  };

  const releaseAdmission = async (c: Admission, why: string) => {
    if (!(await c.reserved)) return;
    try {
      await capacity?.release(c.legId);
      log.debug({ legId: c.legId, why }, 'H.323 admission released');
    } catch (err) {
      log.error({ err: (err as Error).message, legId: c.legId }, 'could not release an H.323 admission');
    }
  };

  /**
   * Takes the registration out at once (synchronously, so no other request can see it after
   * this call) and gives its admissions back; the promise settles when the ledger has them.
   */
  const unregister = (r: Registration, why: string): Promise<void> => {
    registry.remove(r.endpointId);
    log.info({ endpointId: r.endpointId, aliases: r.keys, why }, 'H.323 endpoint unregistered');
    return releaseCalls(r, why);
  };

  const clampTtl = (asked?: number) => Math.min(config.maxTimeToLive, Math.max(config.minTimeToLive, asked ?? config.defaultTimeToLive));

  /** The registration a request names, if it comes from the host that registered it. */
  const registered = (endpointId: string | undefined, from: RemoteInfo): Registration | undefined => {
    if (!endpointId) return undefined;
    const r = registry.get(endpointId);
    return r && r.source.host === from.address ? r : undefined;
  };

  const rrj = (rrq: RegistrationRequest, rejectReason: RegistrationRejectReason): RasMessage => ({
    registrationReject: { requestSeqNum: rrq.requestSeqNum, protocolIdentifier: H225_PROTOCOL_ID, rejectReason, gatekeeperIdentifier: config.gatekeeperId },
  });

  const rcf = (rrq: RegistrationRequest, r: Registration): RasMessage => ({
    registrationConfirm: {
      requestSeqNum: rrq.requestSeqNum,
      protocolIdentifier: H225_PROTOCOL_ID,
      callSignalAddress: [],
      ...(r.aliases.length > 0 && !rrq.keepAlive ? { terminalAlias: r.aliases } : {}),
      gatekeeperIdentifier: config.gatekeeperId,
      endpointIdentifier: r.endpointId,
      timeToLive: r.timeToLive,
      willRespondToIRR: false,
      maintainConnection: false,
    },
  });

  const onRRQ = async (rrq: RegistrationRequest, from: RemoteInfo): Promise<RasMessage> => {
    const now = Date.now();
    if (rrq.gatekeeperIdentifier !== undefined && rrq.gatekeeperIdentifier !== config.gatekeeperId) {
      return rrj(rrq, { discoveryRequired: null });
    }
    if (rrq.keepAlive) {
      // Lightweight RRQ: only the endpointIdentifier (and timeToLive) count.
      const r = registered(rrq.endpointIdentifier, from);
      if (!r) return rrj(rrq, { fullRegistrationRequired: null });
      const who = authenticate(rrq.cryptoTokens, 'keep-alive RRQ');
      if (who === null || (who !== true && who !== r.account)) return rrj(rrq, { securityDenial: null });
      r.timeToLive = clampTtl(rrq.timeToLive ?? r.timeToLive);
      r.refreshedAt = now;
      r.expiresAt = now + r.timeToLive * 1000;
      r.source = { host: from.address, port: from.port };
      return rcf(rrq, r);
    }
    if (rrq.additiveRegistration !== undefined) return rrj(rrq, { additiveRegistrationNotSupported: null });
    if (rrq.callSignalAddress.length === 0 || !rrq.callSignalAddress.some((a) => addressOf(a))) return rrj(rrq, { invalidCallSignalAddress: null });
    if (rrq.rasAddress.length === 0) return rrj(rrq, { invalidRASAddress: null });

    const aliases = rrq.terminalAlias ?? [];
    const keys: string[] = [];
    let account: string | null = null;
    let org: string | null = null;
    for (const alias of aliases) {
      let key: string | null;
      try {
        key = keyOf(alias);
      } catch (err) {
        if (err instanceof DialStringError) {
          log.info({ alias: aliasText(alias), err: err.message }, 'RRQ refused: alias cannot be read');
          return rrj(rrq, { invalidAlias: null });
        }
        throw err;
      }
      if (key === null) continue;
      const owner = ownerOf(key);
      if (!owner && config.unplannedAliases === 'refuse') {
        log.info({ alias: key }, 'RRQ refused: alias is not in the plan');
        return rrj(rrq, { invalidAlias: null });
      }
      if (owner) {
        // One endpoint, one organisation (and at most one account): mixing them is a mistake.
        if ((org && owner.org && owner.org !== org) || (account && owner.account && owner.account !== account)) {
          log.info({ aliases: keys.concat(key) }, 'RRQ refused: aliases of different organisations or accounts');
          return rrj(rrq, { invalidAlias: null });
        }
        org ??= owner.org;
        account ??= owner.account;
      }
      if (!keys.includes(key)) keys.push(key);
    }

    const who = authenticate(rrq.cryptoTokens, 'RRQ');
    if (who === null || (who !== true && who !== account)) return rrj(rrq, { securityDenial: null });

    // An endpoint registering again (reboot, new TTL) replaces its old registration: the same
    // endpointIdentifier, or the same RAS source. Anyone else holding one of the aliases conflicts.
    const previous = new Set<Registration>();
    const mine = rrq.endpointIdentifier ? registered(rrq.endpointIdentifier, from) : undefined;
    if (mine) previous.add(mine);
    for (const r of registry.fromSource(from.address, from.port)) previous.add(r);
    const conflicts: AliasAddress[] = [];
    keys.forEach((k, i) => {
      const holder = registry.find(k);
      if (holder && !previous.has(holder)) conflicts.push(aliases.filter((a) => toDialInput(a))[i] ?? aliases[i]!);
    });
    if (conflicts.length > 0) {
      log.info({ aliases: keys, from: `${from.address}:${from.port}` }, 'RRQ refused: alias registered by another endpoint');
      return rrj(rrq, { duplicateAlias: conflicts });
    }
    // Replaced and added without an await in between: a concurrent RRQ for the same aliases
    // sees either the old registration or the new one, never neither.
    for (const r of previous) void unregister(r, 're-registration');
    if (previous.size === 0 && registry.size >= config.maxRegistrations) {
      log.warn({ max: config.maxRegistrations }, 'RRQ refused: registration table full');
      return rrj(rrq, { resourceUnavailable: null });
    }

    const ttl = clampTtl(rrq.timeToLive);
    const reg: Registration = {
      endpointId: mine?.endpointId ?? `${config.gatekeeperId.slice(0, 100)}-${randomBytes(6).toString('hex')}`,
      aliases,
      keys,
      account,
      org,
      callSignalAddress: rrq.callSignalAddress,
      source: { host: from.address, port: from.port },
      vendor: vendorText(rrq),
      traversal: hasFeature(rrq.featureSet, H460_18),
      timeToLive: ttl,
      registeredAt: now,
      refreshedAt: now,
      expiresAt: now + ttl * 1000,
      calls: new Map(),
    };
    registry.add(reg);
    log.info({ endpointId: reg.endpointId, aliases: keys, account, org, ttl }, 'H.323 endpoint registered');
    return rcf(rrq, reg);
  };

  const onURQ = async (urq: UnregistrationRequest, from: RemoteInfo): Promise<RasMessage> => {
    let r = registered(urq.endpointIdentifier, from);
    if (!r && !urq.endpointIdentifier) {
      // Without an identifier, by call signalling address from the same host.
      const wanted = new Set(urq.callSignalAddress.map((a) => JSON.stringify(addressOf(a))));
      r = registry.all().find((x) => x.source.host === from.address && x.callSignalAddress.some((a) => wanted.has(JSON.stringify(addressOf(a)))));
    }
    if (!r) return { unregistrationReject: { requestSeqNum: urq.requestSeqNum, rejectReason: { notCurrentlyRegistered: null } } };
    await unregister(r, 'URQ');
    return { unregistrationConfirm: { requestSeqNum: urq.requestSeqNum } };
  };

  // ---- routing -------------------------------------------------------------------------------

  const rejected = (d: Extract<RouteDecision, { action: 'reject' }>): Resolution => {
    const status = d.status === 404 ? 'notFound' : d.status === 403 ? 'denied' : d.status === 484 ? 'incomplete' : d.status === 503 ? 'busy' : 'loop';
    return { ok: false, status, detail: d.reason };
  };

  /** Where a call to these aliases goes, for this caller: the same decision SIP would take. */
  const resolve = (aliases: AliasAddress[], caller: RouteCaller, destAddress?: TransportAddress): Resolution => {
    let first: Resolution | null = null;
    for (const alias of aliases) {
      if ('transportID' in alias && caller.kind !== 'external') return { ok: true, via: 'address', address: alias.transportID, org: null, destination: aliasText(alias).value };
      const input = toDialInput(alias);
      if (!input) continue;
      const r = resolveOne(input, caller);
      if (r.ok) return r;
      first ??= r;
    }
    if (destAddress && addressOf(destAddress) && caller.kind !== 'external') {
      // No alias, only an address: the endpoint calls it directly, knude only admits.
      return { ok: true, via: 'address', address: destAddress, org: null, destination: aliasText({ transportID: destAddress }).value };
    }
    return first ?? { ok: false, status: 'incomplete', detail: 'no destination alias or address' };
  };

  const resolveOne = (input: DialInput, caller: RouteCaller): Resolution => {
    const d = router.route({ dialled: input, from: caller });
    const destination = d.dialled;
    switch (d.action) {
      case 'account': {
        const reg = registry.findAccount(d.target);
        if (reg) return { ok: true, via: 'h323', reg, org: d.org, destination };
        if (gateway) return { ok: true, via: 'gateway', address: ipv4Address(gateway.host, gateway.port), org: d.org, destination };
        return { ok: false, status: 'notFound', detail: `account ${d.target} is not registered over H.323 and no interworking gateway is configured` };
      }
      case 'room':
      case 'zone':
      case 'gateway':
        if (gateway) return { ok: true, via: 'gateway', address: ipv4Address(gateway.host, gateway.port), org: d.action === 'gateway' ? null : d.org, destination };
        return { ok: false, status: 'noRoute', detail: `${d.action} routing needs an interworking gateway (h323.interworkingGateway)` };
      case 'reject': {
        if (d.status === 404 && caller.kind !== 'external') {
          // Aliases registered outside the plan (unplannedAliases: allow, or inside an org's block).
          try {
            const reg = registry.find(aliasKey(normalize(input, plan.getSettings())));
            if (reg) return { ok: true, via: 'h323', reg, org: reg.org, destination };
          } catch {
            /* the router has said what is wrong with it */
          }
        }
        return rejected(d);
      }
    }
  };

  const callerOf = (r: Registration): RouteCaller => {
    if (r.org) return { kind: 'account', org: r.org, username: r.account?.split('@')[0] ?? `h323:${r.endpointId}` };
    return { kind: 'external', address: `h323:${r.source.host}:${r.source.port}` };
  };

  // ---- admission -----------------------------------------------------------------------------

  const arjReason: Record<Extract<Resolution, { ok: false }>['status'], AdmissionRejectReason> = {
    notFound: { calledPartyNotRegistered: null },
    denied: { requestDenied: null },
    incomplete: { incompleteAddress: null },
    noRoute: { noRouteToDestination: null },
    busy: { resourceUnavailable: null },
    loop: { undefinedReason: null },
  };

  const callKeyOf = (m: { callIdentifier?: { guid: Buffer }; conferenceID: Buffer; callReferenceValue: number }) =>
    m.callIdentifier ? hex(m.callIdentifier.guid) : `${hex(m.conferenceID)}-${m.callReferenceValue}`;

  const onARQ = async (arq: AdmissionRequest, from: RemoteInfo): Promise<RasMessage | null> => {
    const arj = (rejectReason: AdmissionRejectReason): RasMessage => ({ admissionReject: { requestSeqNum: arq.requestSeqNum, rejectReason } });
    const r = registered(arq.endpointIdentifier, from);
    if (!r) return arj(registry.get(arq.endpointIdentifier) ? { invalidEndpointIdentifier: null } : { callerNotRegistered: null });
    const who = authenticate(arq.cryptoTokens, 'ARQ');
    if (who === null || (who !== true && who !== r.account)) return arj({ securityDenial: null });
    const callKey = `${callKeyOf(arq)}:${arq.answerCall ? 'in' : 'out'}`;
    const existing = r.calls.get(callKey);
    if (existing) {
      // A retransmitted ARQ: the same answer again, never a second reservation.
      if (!existing.reply) return null;
      return { admissionConfirm: { ...existing.reply, requestSeqNum: arq.requestSeqNum } };
    }
    // Bounded even when the capacity ledger has no limits: calls are forgotten only by DRQ.
    if (r.calls.size >= config.maxCallsPerEndpoint) {
      log.warn({ endpointId: r.endpointId, max: config.maxCallsPerEndpoint }, 'ARQ refused: too many admitted calls for one endpoint');
      return arj({ resourceUnavailable: null });
    }

    let target: TransportAddress;
    let destOrg: string | null;
    let destination: string;
    if (arq.answerCall) {
      // The called endpoint asks to answer: it is reached where it registered.
      target = signalAddress(r);
      destOrg = r.org;
      destination = r.keys[0] ?? r.endpointId;
    } else {
      let res = resolve(arq.destinationInfo ?? [], callerOf(r), arq.destCallSignalAddress);
      if (!res.ok && (res.status === 'notFound' || res.status === 'noRoute') && neighbours.length > 0 && arq.destinationInfo?.length) {
        // Not ours: the neighbour gatekeepers may know it (LRQ, H.225.0 7.6).
        const found = await locate(arq.destinationInfo);
        if (found) res = { ok: true, via: 'address', address: found.callSignalAddress, org: null, destination: aliasText(arq.destinationInfo[0]!).value };
      }
      if (!res.ok) {
        log.info({ endpointId: r.endpointId, status: res.status, detail: res.detail }, 'ARQ refused');
        return arj(arjReason[res.status]);
      }
      target = res.via === 'h323' ? signalAddress(res.reg) : res.address;
      destOrg = res.org;
      destination = res.destination;
    }

    const bandWidth = Math.min(arq.bandWidth, config.maxBandwidth);
    const org = r.org ?? destOrg;
    const legId = `h323:${r.endpointId}:${callKey}`;
    const kind: LegKind = arq.bandWidth <= AUDIO_ONLY_BANDWIDTH ? 'audio' : 'video';
    let settle!: (held: boolean) => void;
    const admission: Admission = { legId, callKey, answerCall: arq.answerCall, bandWidth, org, destination, admittedAt: Date.now(), reserved: new Promise((res) => (settle = res)) };
    r.calls.set(callKey, admission);

    if (capacity && org) {
      const rip = setTimeout(() => send({ requestInProgress: { requestSeqNum: arq.requestSeqNum, delay: RIP_DELAY_MS } }, { host: from.address, port: from.port }), config.requestInProgressMs);
      let result;
      try {
        result = await capacity.reserve({ legId, kind, org, ...(destOrg && destOrg !== org ? { callerOrg: destOrg } : {}) });
      } catch (err) {
        clearTimeout(rip);
        settle(false);
        r.calls.delete(callKey);
        log.error({ err: (err as Error).message, legId }, 'capacity store failed during ARQ');
        return arj({ resourceUnavailable: null });
      }
      clearTimeout(rip);
      if (!result.ok) {
        settle(false);
        r.calls.delete(callKey);
        log.info({ legId, cause: result.refusal.cause }, 'ARQ refused by capacity');
        return arj(result.refusal.cause === 'org-quota' ? { exceedsCallCapacity: null } : { resourceUnavailable: null });
      }
      settle(true);
      // The registration may have gone while we waited: give the port straight back.
      if (registry.get(r.endpointId) !== r || !r.calls.has(callKey)) {
        await releaseAdmission(admission, 'registration ended during admission');
        return arj({ callerNotRegistered: null });
      }
    } else {
      settle(false);
    }
    admission.reply = {
        requestSeqNum: arq.requestSeqNum,
        bandWidth,
        callModel: { direct: null },
        destCallSignalAddress: target,
        ...(arq.destinationInfo && !arq.answerCall ? { destinationInfo: arq.destinationInfo } : {}),
        willRespondToIRR: false,
      uuiesRequested: { setup: false, callProceeding: false, connect: false, alerting: false, information: false, releaseComplete: false, facility: false, progress: false, empty: false },
    };
    log.info({ endpointId: r.endpointId, legId, destination, org, answerCall: arq.answerCall }, 'ARQ admitted');
    return { admissionConfirm: admission.reply };
  };

  const onDRQ = async (drq: DisengageRequest, from: RemoteInfo): Promise<RasMessage> => {
    const r = registered(drq.endpointIdentifier, from);
    if (!r) return { disengageReject: { requestSeqNum: drq.requestSeqNum, rejectReason: { notRegistered: null } } };
    const base = callKeyOf(drq);
    const order = drq.answeredCall ? ['in', 'out'] : ['out', 'in'];
    for (const dir of order) {
      const c = r.calls.get(`${base}:${dir}`);
      if (!c) continue;
      r.calls.delete(c.callKey);
      await releaseAdmission(c, 'DRQ');
      break;
    }
    // An unknown call is confirmed too: the endpoint's view (no call) is already right.
    return { disengageConfirm: { requestSeqNum: drq.requestSeqNum } };
  };

  const onBRQ = (brq: BandwidthRequest, from: RemoteInfo): RasMessage => {
    const r = registered(brq.endpointIdentifier, from);
    if (!r) return { bandwidthReject: { requestSeqNum: brq.requestSeqNum, rejectReason: { notBound: null }, allowedBandWidth: 0 } };
    return { bandwidthConfirm: { requestSeqNum: brq.requestSeqNum, bandWidth: Math.min(brq.bandWidth, config.maxBandwidth) } };
  };

  const onGRQ = (grq: GatekeeperRequest): RasMessage => {
    if (grq.gatekeeperIdentifier !== undefined && grq.gatekeeperIdentifier !== config.gatekeeperId) {
      return { gatekeeperReject: { requestSeqNum: grq.requestSeqNum, protocolIdentifier: H225_PROTOCOL_ID, gatekeeperIdentifier: config.gatekeeperId, rejectReason: { terminalExcluded: null } } };
    }
    // In password mode, say which H.235 mechanism to use (H.235.0 annex D style negotiation).
    const h235 = config.security === 'h235-password' ? { authenticationMode: { pwdHash: null }, algorithmOID: OID_MD5 } : {};
    return { gatekeeperConfirm: { requestSeqNum: grq.requestSeqNum, protocolIdentifier: H225_PROTOCOL_ID, gatekeeperIdentifier: config.gatekeeperId, rasAddress: ourRas(), ...h235 } };
  };

  const lrjReason: Record<Extract<Resolution, { ok: false }>['status'], LocationRejectReason> = {
    notFound: { notRegistered: null },
    denied: { requestDenied: null },
    incomplete: { incompleteAddress: null },
    noRoute: { noRouteToDestination: null },
    busy: { resourceUnavailable: null },
    loop: { hopCountExceeded: null },
  };

  const onLRQ = async (lrq: LocationRequest, from: RemoteInfo): Promise<RasMessage> => {
    const lrj = (rejectReason: LocationRejectReason): RasMessage => ({ locationReject: { requestSeqNum: lrq.requestSeqNum, rejectReason } });
    // A neighbour zone's target host asking is that zone (trusted like its organisation).
    const zone = router.zones().find((z) => z.org && z.targets.some((t) => t.host === from.address));
    const own = registered(lrq.endpointIdentifier, from);
    // A configured neighbour gatekeeper asks for its own registered endpoints: trusted like a zone.
    const neighbour = neighbours.find((n) => n.host === from.address);
    const caller: RouteCaller = own
      ? callerOf(own)
      : zone
        ? { kind: 'zone', zone: zone.zone, org: zone.org! }
        : neighbour
          ? { kind: 'zone', zone: `h323:${neighbour.host}:${neighbour.port}`, org: `h323-neighbour-${neighbour.host}` }
          : { kind: 'external', address: `${from.address}:${from.port}` };
    const res = resolve(lrq.destinationInfo, caller);
    if (!res.ok) {
      // Not ours, and hops to spare: our neighbours may know it (a gatekeeper hierarchy). The
      // asker is not asked back; the hop count bounds every other loop.
      const hops = lrq.hopCount ?? 1;
      if ((res.status === 'notFound' || res.status === 'noRoute') && hops > 1 && lrq.destinationInfo.length > 0) {
        const asked = neighbours.filter((n) => !(n.host === from.address && n.port === from.port));
        // The asker waits its own timeout: RIP tells it the answer is on its way (H.225.0 7.13).
        const rip = setTimeout(() => send({ requestInProgress: { requestSeqNum: lrq.requestSeqNum, delay: config.locationTimeoutMs } }, { host: from.address, port: from.port }), config.requestInProgressMs);
        const found = asked.length > 0 ? await locate(lrq.destinationInfo, hops - 1, asked).finally(() => clearTimeout(rip)) : undefined;
        if (found) {
          log.info({ from: `${from.address}:${from.port}`, hops }, 'LRQ answered from a neighbour gatekeeper');
          return { locationConfirm: { requestSeqNum: lrq.requestSeqNum, callSignalAddress: found.callSignalAddress, rasAddress: found.rasAddress, destinationInfo: lrq.destinationInfo } };
        }
      }
      log.info({ from: `${from.address}:${from.port}`, status: res.status, detail: res.detail }, 'LRQ refused');
      return lrj(lrjReason[res.status]);
    }
    if (res.via === 'address') return lrj({ requestDenied: null });
    const callSignalAddress = res.via === 'h323' ? signalAddress(res.reg) : res.address;
    const rasAddress = res.via === 'h323' ? ipv4Address(res.reg.source.host, res.reg.source.port) : ourRas();
    return { locationConfirm: { requestSeqNum: lrq.requestSeqNum, callSignalAddress, rasAddress, destinationInfo: lrq.destinationInfo } };
  };

  const onIRR = (irr: InfoRequestResponse, from: RemoteInfo) => {
    const r = registered(irr.endpointIdentifier, from);
    if (r) {
      // An IRR proves the endpoint is alive like a keep-alive does.
      r.refreshedAt = Date.now();
      r.expiresAt = r.refreshedAt + r.timeToLive * 1000;
    }
  };

  // ---- requests knude sends -----------------------------------------------------------------

  const neighbours = config.neighbourGatekeepers.map((n) => parseHostPort('h323.neighbourGatekeepers', n));

  /**
   * Asks every neighbour gatekeeper where the aliases are (LRQ), all at once; the first LCF
   * wins, and undefined comes back when all refuse or none answers in time.
   */
  const locate = (aliases: AliasAddress[], hopCount = config.lrqHopCount, ask = neighbours): Promise<LocationConfirm | undefined> =>
    new Promise((done) => {
      const asked = ask.map(() => nextSeq());
      let open = asked.length;
      let finished = false;
      const finish = (lcf: LocationConfirm | undefined) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        for (const n of asked) awaiting.delete(n);
        done(lcf);
      };
      let timer = setTimeout(() => finish(undefined), config.locationTimeoutMs);
      ask.forEach((nb, i) => {
        const n = asked[i]!;
        awaiting.set(n, {
          answer: (msg) => {
            if ('locationConfirm' in msg) return finish(msg.locationConfirm as LocationConfirm);
            if ('locationReject' in msg && --open === 0) finish(undefined);
          },
          // A neighbour passing the LRQ on asks for more time (RIP): it gets it, up to 30 s.
          progress: (delayMs) => {
            if (finished) return;
            clearTimeout(timer);
            timer = setTimeout(() => finish(undefined), Math.min(Math.max(delayMs, config.locationTimeoutMs), 30_000));
          },
          cancel: () => finish(undefined),
        });
        send({ locationRequest: { requestSeqNum: n, destinationInfo: aliases, replyAddress: ourRas(), canMapAlias: false, gatekeeperIdentifier: config.gatekeeperId, hopCount, canMapSrcAlias: false } }, nb);
      });
    });

  /** knude's own requests (SCI) waiting for their answer, by requestSeqNum. */
  const awaiting = new Map<number, { answer: (msg: RasMessage) => void; progress?: (delayMs: number) => void; cancel: () => void }>();

  const indicateIncomingCall: Gatekeeper['indicateIncomingCall'] = (endpointId, call) => {
    const r = registry.get(endpointId);
    if (!r) return Promise.reject(new H323Error(`no H.323 endpoint ${endpointId} is registered`));
    const n = nextSeq();
    const sci: RasMessage = {
      serviceControlIndication: {
        requestSeqNum: n,
        serviceControl: [],
        endpointIdentifier: r.endpointId,
        genericData: [incomingCallGenericData({ callSignallingAddress: ipv4Address(call.callSignalAddress.host, call.callSignalAddress.port), callID: { guid: call.callId } })],
      },
    };
    return new Promise<IncomingCallResult>((resolve) => {
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: IncomingCallResult) => {
        clearTimeout(timer);
        awaiting.delete(n);
        resolve(result);
      };
      const attempt = () => {
        if (tries++ === 3) return finish('timeout');
        send(sci, r.source);
        timer = setTimeout(attempt, 1000);
      };
      awaiting.set(n, {
        answer: (msg) => {
          if (!('serviceControlResponse' in msg)) return;
          const result = (msg.serviceControlResponse as ServiceControlResponse).result;
          finish(result ? (Object.keys(result)[0] as IncomingCallResult) : 'noResult');
        },
        cancel: () => finish('timeout'),
      });
      attempt();
    });
  };

  // ---- dispatch ------------------------------------------------------------------------------

  const handle = async (data: Buffer, from: RemoteInfo): Promise<RasMessage | null> => {
    let msg: RasMessage;
    try {
      msg = decodeRas(data);
    } catch (err) {
      if (!(err instanceof H323CodecError)) throw err;
      // Garbage is dropped, not answered: an answer would make knude a reflector.
      log.debug({ from: `${from.address}:${from.port}`, err: err.message }, 'undecodable RAS datagram dropped');
      return null;
    }
    if ('gatekeeperRequest' in msg) return onGRQ(msg.gatekeeperRequest);
    if ('registrationRequest' in msg) return onRRQ(msg.registrationRequest, from);
    if ('unregistrationRequest' in msg) return onURQ(msg.unregistrationRequest, from);
    if ('admissionRequest' in msg) return onARQ(msg.admissionRequest, from);
    if ('disengageRequest' in msg) return onDRQ(msg.disengageRequest, from);
    if ('bandwidthRequest' in msg) return onBRQ(msg.bandwidthRequest, from);
    if ('locationRequest' in msg) return onLRQ(msg.locationRequest, from);
    if ('infoRequestResponse' in msg) {
      onIRR(msg.infoRequestResponse, from);
      return null;
    }
    const type = rasType(msg);
    const n = requestSeqNum(msg);
    const waiter = n !== undefined ? awaiting.get(n) : undefined;
    if (waiter?.progress && 'requestInProgress' in msg) {
      waiter.progress(Number((msg.requestInProgress as { delay: number }).delay));
      return null;
    }
    if (waiter && /Confirm$|Reject$|Response$/.test(type)) {
      waiter.answer(msg);
      return null;
    }
    // Confirms and rejects answer requests knude sent (URQ on expiry): nothing to do.
    if (/Confirm$|Reject$|requestInProgress|unknownMessageResponse|serviceControlResponse/.test(type)) return null;
    if (n === undefined) return null;
    return { unknownMessageResponse: { requestSeqNum: n, messageNotUnderstood: data.subarray(0, 1024) } };
  };

  socket.on('message', (data, from) => {
    handle(data, from).then(
      (reply) => {
        if (reply) send(reply, { host: from.address, port: from.port });
      },
      (err: unknown) => log.error({ err: (err as Error).message, from: `${from.address}:${from.port}` }, 'RAS request failed'),
    );
  });

  discovery?.on('message', (data, from) => {
    let msg: RasMessage;
    try {
      msg = decodeRas(data);
    } catch {
      return;
    }
    // Only discovery is answered here; the reply goes to the rasAddress the GRQ names.
    if (!('gatekeeperRequest' in msg)) return;
    const to = addressOf(msg.gatekeeperRequest.rasAddress) ?? { host: from.address, port: from.port };
    send(onGRQ(msg.gatekeeperRequest), to);
  });

  // ---- expiry --------------------------------------------------------------------------------

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const r of registry.expired(now)) {
      // Tell the endpoint, so it registers again at once instead of at its next keep-alive.
      send(
        {
          unregistrationRequest: {
            requestSeqNum: nextSeq(),
            callSignalAddress: r.callSignalAddress,
            endpointIdentifier: r.endpointId,
            gatekeeperIdentifier: config.gatekeeperId,
            reason: { ttlExpired: null },
          },
        },
        r.source,
      );
      void unregister(r, 'time to live expired');
    }
  }, Math.min(1000, config.minTimeToLive * 250));
  sweep.unref();

  log.info({ address: config.address, port, gatekeeperId: config.gatekeeperId }, 'H.323 gatekeeper listening');

  return {
    port,
    discoveryPort: discovery ? discovery.address().port : null,
    address: config.address,
    indicateIncomingCall,
    registrations: () => registry.all().map(describe),
    admissions: () =>
      registry.all().flatMap((r) =>
        [...r.calls.values()].map((c) => ({ endpointId: r.endpointId, legId: c.legId, answerCall: c.answerCall, org: c.org, destination: c.destination, bandWidth: c.bandWidth, admittedAt: new Date(c.admittedAt).toISOString() })),
      ),
    async stop() {
      if (stopped) return;
      clearInterval(sweep);
      for (const w of [...awaiting.values()]) w.cancel();
      for (const r of registry.all()) await unregister(r, 'gatekeeper stopped');
      stopped = true;
      if (discovery) await new Promise<void>((resolve) => discovery!.close(() => resolve()));
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

