import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import { sipRejection, type CapacityLedger, type LegKind } from '../../capacity/index.js';
import { checkAnswerSecurity, checkOfferSecurity, type SrtpSuite } from '../../media/sdp/index.js';
import type { Logger } from 'pino';
import { targetKey, type DialPlanRouter, type RouteCaller, type RouteDecision } from '../../dialplan/index.js';
import type { AccountStore } from '../../registrar/accounts.js';
import { aorFor, type BindingStore } from '../../registrar/bindings.js';
import type { DigestAuthenticator } from '../../registrar/digest.js';
import { parseNameAddr, parseUri, parseVia, splitList } from '../message/index.js';
import { CallSession, type CallEnd, type CallTarget, type DialStrategy } from './call-session.js';
import { tooBrief, type SessionTimerConfig } from './session-timer.js';

export interface InviteDeps {
  srf: Srf;
  accounts: AccountStore;
  bindings: BindingStore;
  auth: DigestAuthenticator;
  router: DialPlanRouter;
  realm: string;
  /** Hosts that mean "this node" in a URI: the domain, listen addresses, external address. */
  localHosts: Set<string>;
  ringTimeoutMs: number;
  /** How long a neighbour's trunk may take to ring before the next target is tried. */
  trunkAttemptTimeoutMs: number;
  log: Logger;
  onCallEnd?: (info: BridgedCallEnd) => void;
  /**
   * Ports and licences: a bridged call (to an account, a neighbour zone or the gateway) takes
   * one port for as long as it lasts; room calls reserve their own.
   */
  capacity?: CapacityLedger;
  /**
   * Bridged calls must carry encrypted media (SDES with these suites, or DTLS-SRTP end to
   * end): offers and answers that do not are refused with 488. Absent: SDP passes unchecked.
   */
  srtp?: { suites: readonly SrtpSuite[] };
  /** RFC 4028 towards callers of bridged calls. */
  sessionTimer?: SessionTimerConfig;
  /** Calls into meeting rooms; absent on a node without media. */
  rooms?: { connect(req: Srf.SrfRequest, res: Srf.SrfResponse, caller: RouteCaller, roomId: string): Promise<void> };
}

/** A bridged call as it ended: what a call detail record needs. */
export interface BridgedCallEnd {
  callId: string;
  caller: RouteCaller;
  decision: RouteDecision;
  end: CallEnd;
  startedAt: Date;
  kind: LegKind;
  from: string;
  to: string;
  /** The SRTP suite or keying the offer used, when it was checked. */
  srtp?: string;
}

/** State one INVITE carries through the pipeline (instead of a shared locals bag). */
export interface InviteContext {
  caller?: RouteCaller;
  decision?: RouteDecision;
}

type Step = (req: Srf.SrfRequest, res: Srf.SrfResponse, ctx: InviteContext) => boolean | Promise<boolean>;

function warning(text: string): string {
  return `399 knude "${text.replace(/"/g, "'")}"`;
}

/**
 * The hops a request has passed, as dial-plan target keys (`udp:10.0.0.5:5060`): a zone target
 * among them means the call came back to where it was (a loop). Keys, not bare hosts, so that
 * two services on one host are not mistaken for each other.
 */
function viaKeys(req: Srf.SrfRequest): string[] {
  const out: string[] = [];
  for (const v of splitList(req.get('Via') ?? '')) {
    try {
      const via = parseVia(v);
      const transport = via.transport.toLowerCase();
      out.push(targetKey({ host: via.host.replace(/^\[|\]$/g, ''), port: via.port ?? (transport === 'tls' ? 5061 : 5060), transport: transport as 'udp' | 'tcp' | 'tls' }));
    } catch {
      /* the server has validated the top Via; a bad lower one only loses loop detection */
    }
  }
  return out;
}

function hostOf(uri: string): string {
  return parseUri(uri).host.toLowerCase().replace(/^\[|\]$/g, '');
}

/**
 * The INVITE pipeline, top to bottom: who calls (digest for our own accounts), where to
 * (dial plan), then connect (B2BUA to the callee's registered contacts). Each step answers
 * the call itself when it refuses it and returns false.
 */
export function invitePipeline(deps: InviteDeps): (req: Srf.SrfRequest, res: Srf.SrfResponse) => void {
  const identifyCaller: Step = (req, res, ctx) => {
    let fromUri;
    try {
      fromUri = parseUri(parseNameAddr(req.get('From')).uri);
    } catch (err) {
      res.send(400, { headers: { Warning: warning(`malformed From: ${(err as Error).message}`) } });
      return false;
    }
    const fromHost = fromUri.host.toLowerCase().replace(/^\[|\]$/g, '');
    const account = fromUri.user && (fromHost === deps.realm || deps.localHosts.has(fromHost)) ? deps.accounts.get(fromUri.user, deps.realm) : undefined;
    if (!account) {
      // A neighbour's infrastructure calling in from one of its configured targets is a zone
      // caller (trusted like an organisation); anyone else is external.
      const zone = deps.router
        .zones()
        .find((z) => z.org && z.targets.some((t) => t.host === req.source_address && t.port === Number(req.source_port)));
      ctx.caller = zone
        ? { kind: 'zone', zone: zone.zone, org: zone.org! }
        : { kind: 'external', address: `${req.source_address}:${req.source_port}` };
      return true;
    }
    // A caller claiming one of our accounts must prove it (RFC 3261 22.3, proxy-style 407).
    const result = deps.auth.verify({
      method: 'INVITE',
      uri: req.uri,
      header: req.has('Proxy-Authorization') ? req.get('Proxy-Authorization') : undefined,
      realm: deps.realm,
      lookupHa1: (u, r, alg) => deps.accounts.ha1(u, r, alg),
    });
    if (!result.ok) {
      if (result.reason === 'missing' || result.reason === 'stale' || result.reason === 'replay') {
        res.send(407, {
          headers: { 'Proxy-Authenticate': deps.auth.challenge({ realm: deps.realm, stale: result.reason !== 'missing' }).join(', ') },
        });
      } else {
        res.send(403, { headers: { Warning: warning(result.reason === 'malformed' || result.reason === 'uri-mismatch' ? result.detail : 'wrong credentials') } });
      }
      return false;
    }
    if (result.username !== account.username) {
      res.send(403, { headers: { Warning: warning(`credentials of ${result.username} cannot call as ${account.username}`) } });
      return false;
    }
    ctx.caller = { kind: 'account', org: account.org, username: account.username };
    return true;
  };

  const route: Step = (req, res, ctx) => {
    const caller = ctx.caller!;
    let requestUri = req.uri;
    let decision: RouteDecision | undefined;
    // Local registrations come first in the search order: user@<this node> naming an account.
    try {
      const u = parseUri(requestUri);
      const host = u.host.toLowerCase().replace(/^\[|\]$/g, '');
      if (u.user && (host === deps.realm || deps.localHosts.has(host))) {
        // Dialled at one of our addresses: the dial plan knows the node by its domain only.
        requestUri = `sip:${u.user}@${deps.realm}`;
        const account = deps.accounts.get(u.user, deps.realm);
        if (account) {
          const internal = caller.kind !== 'external';
          decision = internal
            ? { action: 'account', org: account.org, target: `${account.username}@${deps.realm}`, dialled: requestUri, from: caller, trace: [{ step: 'local', detail: `registered account ${account.username}` }] }
            : { action: 'reject', status: 403, reason: 'external callers may reach only meeting rooms and public aliases', dialled: requestUri, from: caller, trace: [{ step: 'policy', detail: 'external caller to a non-public account' }] };
        }
      }
    } catch {
      /* the dial plan explains what is wrong with the URI */
    }
    decision ??= deps.router.route({
      dialled: requestUri,
      from: caller,
      maxForwards: req.has('Max-Forwards') ? Number(req.get('Max-Forwards')) : undefined,
      // Hosts the request has passed through: a zone or target on this list is a loop.
      via: viaKeys(req),
    });
    ctx.decision = decision;
    deps.log.info({ callId: req.get('Call-ID'), caller, action: decision.action, trace: decision.trace }, 'call routed');
    if (decision.action === 'reject') {
      res.send(decision.status, { headers: { Reason: `SIP;cause=${decision.status};text="${decision.reason.replace(/"/g, "'")}"` } });
      return false;
    }
    return true;
  };

  /** From and To of the B leg: the caller as this node knows it, the callee as dialled. */
  const legHeaders = (req: Srf.SrfRequest, caller: RouteCaller, to: string): Record<string, string> => {
    const fromName = parseNameAddr(req.get('From'));
    const callerUser = caller.kind === 'account' ? caller.username : (parseUri(fromName.uri).user ?? 'anonymous');
    const display = fromName.displayName ? `"${fromName.displayName.replace(/"/g, '')}" ` : '';
    return {
      From: `${display}<sip:${callerUser}@${caller.kind === 'account' ? deps.realm : hostOf(fromName.uri)}>`,
      To: `<${to}>`,
    };
  };

  const security = deps.srtp && {
    offer: (sdp: string) => {
      const r = checkOfferSecurity(sdp, { allowedSuites: deps.srtp!.suites, allowDtls: true });
      return r.ok ? undefined : r.warning;
    },
    answer: (offer: string, answer: string) => {
      const r = checkAnswerSecurity(offer, answer);
      return r.ok ? undefined : r.warning;
    },
  };

  const run = async (req: Srf.SrfRequest, res: Srf.SrfResponse, ctx: InviteContext, targets: CallTarget[], headers: Record<string, string>, strategy?: DialStrategy) => {
    const startedAt = new Date();
    // A delayed offer (no SDP yet) is counted as video, the dearer port, as room calls do.
    const offer = String(req.body ?? '');
    const kind: LegKind = !offer.trim() || /^m=video [1-9]/m.test(offer) ? 'video' : 'audio';
    let reservation: { release(): Promise<void> } | undefined;
    if (deps.capacity) {
      let cancelled = false;
      req.on('cancel', () => (cancelled = true));
      // The quota that pays is the calling organisation's; an external caller's call counts
      // against the organisation it reaches.
      const caller = ctx.caller!;
      const decision = ctx.decision!;
      const org = caller.kind !== 'external' ? caller.org : 'org' in decision ? decision.org : '(external)';
      const r = await deps.capacity.reserve({ legId: randomUUID(), kind, org, ...(caller.kind !== 'external' ? { callerOrg: caller.org } : {}) });
      if (!r.ok) {
        const rej = sipRejection(r.refusal);
        deps.log.info({ callId: req.get('Call-ID'), cause: r.refusal.cause }, 'call refused by capacity');
        if (!res.finalResponseSent) res.send(rej.status, { headers: rej.headers as Record<string, string> });
        return;
      }
      if (cancelled) return void (await r.reservation.release());
      reservation = r.reservation;
    }
    try {
      const session = new CallSession({ srf: deps.srf, req, res, targets, headers, ringTimeoutMs: deps.ringTimeoutMs, strategy, log: deps.log, ...(security ? { security } : {}), ...(deps.sessionTimer ? { sessionTimer: deps.sessionTimer } : {}) });
      const end = await session.run();
      const used = session.offer ?? '';
      const suite = /^a=crypto:\d+ (\S+)/m.exec(used)?.[1] ?? (/^a=fingerprint:/m.test(used) ? 'DTLS-SRTP' : undefined);
      deps.onCallEnd?.({ callId: req.get('Call-ID'), caller: ctx.caller!, decision: ctx.decision!, end, startedAt, kind, from: req.get('From'), to: req.uri, ...(suite ? { srtp: suite } : {}) });
      deps.log.info({ callId: req.get('Call-ID'), ...end }, 'call ended');
    } finally {
      await reservation?.release();
    }
  };

  const connectAccount = async (req: Srf.SrfRequest, res: Srf.SrfResponse, ctx: InviteContext, target: string) => {
    const [user] = target.split('@');
    const contacts = deps.bindings.lookup(aorFor(user, deps.realm), Date.now());
    if (contacts.length === 0) {
      res.send(480, { headers: { Reason: 'SIP;cause=480;text="the callee is not registered"' } });
      return;
    }
    const targets: CallTarget[] = contacts.map((b) => ({
      uri: b.contactUri,
      // Send to where the contact registered from, so endpoints behind NAT are reached. A
      // WebSocket contact (host *.invalid) is reached only over its flow, which the SIP server
      // finds from the Contact it registered (drachtio-server does the same).
      proxy: /\.invalid(?::\d+)?(?:;|$)/i.test(b.contactUri)
        ? undefined
        : `sip:${b.receivedFrom.address.includes(':') ? `[${b.receivedFrom.address}]` : b.receivedFrom.address}:${b.receivedFrom.port};transport=${b.receivedFrom.transport}`,
    }));
    await run(req, res, ctx, targets, legHeaders(req, ctx.caller!, `sip:${user}@${deps.realm}`));
  };

  /** Neighbour zone or internet gateway: its targets in order, failing over on timeout and 5xx. */
  const connectTrunk = async (req: Srf.SrfRequest, res: Srf.SrfResponse, ctx: InviteContext, decision: Extract<RouteDecision, { action: 'zone' | 'gateway' }>) => {
    const dest = decision.destination;
    const callee = dest?.e164 ?? dest?.uri ?? parseUri(req.uri).user ?? '';
    const zone = decision.action === 'zone' ? decision.zone : 'gateway';
    const credentials = decision.action === 'zone' ? decision.credentials : null;
    const targets: CallTarget[] = decision.targets.map((t) => {
      const hostText = t.host.includes(':') ? `[${t.host}]` : t.host;
      const hop = `sip:${hostText}:${t.port};transport=${t.transport}`;
      return {
        // A URI keeps its domain (the neighbour routes on it); a number is addressed to the trunk.
        uri: dest?.uri ? `sip:${dest.uri}` : `sip:${callee}@${hostText}:${t.port};transport=${t.transport}`,
        proxy: hop,
        auth: credentials ?? undefined,
      };
    });
    const to = dest?.uri ? `sip:${dest.uri}` : `sip:${callee}@${deps.realm}`;
    await run(req, res, ctx, targets, legHeaders(req, ctx.caller!, to), {
      kind: 'serial',
      attemptTimeoutMs: deps.trunkAttemptTimeoutMs,
      failoverOn: (status) => status === 408 || (status >= 500 && status < 600),
      exhausted: { status: 503, reason: `all targets of ${zone === 'gateway' ? 'the internet gateway' : `zone ${zone}`} failed` },
    });
  };

  const connect: Step = async (req, res, ctx) => {
    const decision = ctx.decision!;
    switch (decision.action) {
      case 'account':
        await connectAccount(req, res, ctx, decision.target);
        return true;
      case 'zone':
      case 'gateway':
        await connectTrunk(req, res, ctx, decision);
        return true;
      case 'room':
        if (deps.rooms) {
          await deps.rooms.connect(req, res, ctx.caller!, decision.roomId);
          return true;
        }
        res.send(480, { headers: { Reason: 'SIP;cause=480;text="meeting rooms are not available on this node (media is off)"' } });
        return false;
      default:
        res.send(480, { headers: { Reason: `SIP;cause=480;text="${decision.action} routing is not available on this node"` } });
        return false;
    }
  };

  /**
   * Bridged calls: a session interval under Min-SE gets 422, an unencrypted offer 488, before
   * anything is looked up, reserved or rung.
   */
  const mediaPolicy: Step = (req, res, ctx) => {
    if (ctx.decision!.action === 'room') return true; // rooms apply their own, stricter checks
    const brief = deps.sessionTimer && tooBrief(req, deps.sessionTimer);
    if (brief) {
      res.send(brief.status, { headers: brief.headers });
      return false;
    }
    if (!security) return true;
    // A delayed offer (INVITE without SDP) is checked when the callee makes it, in its 200.
    const offer = String(req.body ?? '');
    const refused = offer.trim() ? security.offer(offer) : undefined;
    if (!refused) return true;
    deps.log.info({ callId: req.get('Call-ID'), refused }, 'bridged call refused by the SRTP policy');
    res.send(488, { headers: { Warning: refused } });
    return false;
  };

  const steps: Step[] = [identifyCaller, route, mediaPolicy, connect];
  return (req, res) => {
    const ctx: InviteContext = {};
    void (async () => {
      for (const step of steps) {
        if (!(await step(req, res, ctx))) return;
      }
    })().catch((err) => {
      deps.log.error({ err, callId: req.get('Call-ID') }, 'INVITE pipeline failed');
      if (!res.finalResponseSent) res.send(500, { headers: { Warning: warning('internal error') } });
    });
  };
}
