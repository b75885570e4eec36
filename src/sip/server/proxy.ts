import type { Logger } from 'pino';
import {
  SipHeaders,
  parseNameAddr,
  serializeMessage,
  type SipRequest,
  type SipResponse,
} from '../message/index.js';
import { parseAppMessage, SERVER_OWNED } from '../drachtio/app-message.js';
import type { AppConnection } from '../drachtio/control-server.js';
import { meta } from '../drachtio/format.js';
import type { ControlMessage } from '../drachtio/wire.js';
import type { ClientTransaction } from '../transaction/client.js';
import { buildCancel } from '../transaction/cancel.js';
import { responseTo, type TransactionLayer } from '../transaction/layer.js';
import type { ServerTransaction } from '../transaction/server.js';
import type { Destination, Protocol, Source } from '../transport/types.js';
import { resolveTarget } from './target.js';

export interface ProxyHost {
  transactions: TransactionLayer;
  /** Takes a pending incoming request away from the B2BUA side, by drachtio transaction id. */
  takeIncoming(txnId: string): { tx: ServerTransaction; req: SipRequest; source: Source } | undefined;
  via(protocol: Protocol): string;
  recordRoute(protocol: Protocol): string;
  protocols(): Protocol[];
  isLocal(uri: string): boolean;
  log: Logger;
}

interface Branch {
  target: string;
  tx: ClientTransaction | undefined;
  done: boolean;
  provisional: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface ProxySession {
  server: ServerTransaction;
  req: SipRequest;
  app: AppConnection;
  rid: string;
  recordRoute: boolean;
  simultaneous: boolean;
  provisionalTimeoutMs: number;
  targets: string[];
  branches: Branch[];
  extraHeaders: Array<[string, string]>;
  finals: SipResponse[];
  answered: boolean;
  cancelled: boolean;
}

function parseTimeout(v: string): number {
  const m = /^(\d+)(ms|s)?$/.exec(v.trim());
  if (!m) return 0;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
}

/** RFC 3261 16.7.6: 6xx first, then the lowest class, preferring challenges among 4xx. */
function bestResponse(finals: SipResponse[]): SipResponse | undefined {
  const six = finals.find((r) => r.status >= 600);
  if (six) return six;
  return [...finals].sort((a, b) => {
    const ca = Math.floor(a.status / 100);
    const cb = Math.floor(b.status / 100);
    if (ca !== cb) return ca - cb;
    const auth = (r: SipResponse) => (r.status === 401 || r.status === 407 ? 0 : 1);
    return auth(a) - auth(b);
  })[0];
}

/**
 * The stateful proxy behind drachtio's `proxy` command (srf `proxyRequest`): serial or
 * parallel forking, best-response selection, CANCEL propagation, Record-Route, and the
 * `continue`/`done` stream of final responses back to the application.
 */
export class ProxyCore {
  private sessions = new Map<ServerTransaction, ProxySession>();

  constructor(private readonly host: ProxyHost) {}

  /** Retransmissions are absorbed by the transaction layer already; nothing else to do. */
  absorbs(_req: SipRequest): boolean {
    return false;
  }

  onAppProxy(app: AppConnection, msg: ControlMessage): void {
    const [txnId, rr, , , fork, provTmo, , ...dests] = msg.args;
    if (!txnId || dests.length === 0) {
      app.reply(msg.msgId, 'NO', 'Invalid proxy request: not enough information provided');
      return;
    }
    const inc = this.host.takeIncoming(txnId);
    if (!inc) {
      app.reply(msg.msgId, 'NOK', `Unknown transaction id: ${txnId}`);
      return;
    }
    const mf = Number(inc.req.headers.get('Max-Forwards') ?? '70');
    if (mf <= 0) {
      inc.tx.respond(responseTo(inc.req, 483, 'Too Many Hops', 'p' + Date.now().toString(36)));
      app.reply(msg.msgId, 'NOK', 'Rejected with 483 Too Many Hops due to Max-Forwards value of 0');
      return;
    }
    let extra: Array<[string, string]> = [];
    try {
      extra = parseAppMessage(msg.sip ?? '').headers.filter(
        ([n]) => !SERVER_OWNED.has(n) && !['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards', 'Contact'].includes(n),
      );
    } catch {
      /* the SIP part only carries extra headers; none is fine */
    }
    const s: ProxySession = {
      server: inc.tx,
      req: inc.req,
      app,
      rid: msg.msgId,
      recordRoute: rr === 'remainInDialog',
      simultaneous: fork === 'simultaneous',
      provisionalTimeoutMs: parseTimeout(provTmo ?? ''),
      targets: dests.filter(Boolean),
      branches: [],
      extraHeaders: extra,
      finals: [],
      answered: false,
      cancelled: false,
    };
    this.sessions.set(inc.tx, s);
    if (s.simultaneous) for (const t of s.targets) void this.startBranch(s, t);
    else void this.startBranch(s, s.targets[0]);
  }

  private async startBranch(s: ProxySession, target: string): Promise<void> {
    const branch: Branch = { target, tx: undefined, done: false, provisional: false, timer: undefined };
    s.branches.push(branch);
    try {
      const dest = await resolveTarget(target, this.host.protocols());
      if (s.cancelled || s.answered) {
        branch.done = true;
        return;
      }
      const req = this.forwarded(s, target, dest.protocol);
      branch.tx = this.host.transactions.request(req, dest, {
        onResponse: (res, _tx, source) => this.onBranchResponse(s, branch, res, source ?? dest),
      });
      if (s.provisionalTimeoutMs > 0) {
        branch.timer = setTimeout(() => {
          if (!branch.provisional && !branch.done) this.cancelBranch(s, branch, true);
        }, s.provisionalTimeoutMs);
      }
    } catch (err) {
      this.host.log.info({ target, err: (err as Error).message }, 'proxy target failed');
      branch.done = true;
      const h = s.req.headers.clone();
      const failure: SipResponse = { kind: 'response', status: 503, reason: 'Service Unavailable', headers: h, body: Buffer.alloc(0) };
      // No next hop to name: the target did not resolve.
      this.onBranchFinal(s, branch, failure, { protocol: this.host.protocols()[0] ?? 'udp', address: '', port: 0 });
    }
  }

  /** RFC 3261 16.6: copy, Request-URI, Max-Forwards, Record-Route, Via. */
  private forwarded(s: ProxySession, target: string, protocol: Protocol): SipRequest {
    const headers = new SipHeaders();
    headers.set('Via', this.host.via(protocol));
    for (const [name, value] of s.req.headers.entries()) {
      if (name === 'Route') continue; // pre-loaded routes towards us are consumed here
      if (name === 'Max-Forwards') continue;
      headers.append(name, value);
    }
    headers.set('Max-Forwards', String(Number(s.req.headers.get('Max-Forwards') ?? '71') - 1));
    if (s.recordRoute && s.req.method !== 'REGISTER') headers.prepend('Record-Route', this.host.recordRoute(protocol));
    for (const [n, v] of s.extraHeaders) headers.append(n, v);
    const uri = this.host.isLocal(s.req.uri) || !s.req.uri.includes('@') ? (target.startsWith('sip') ? target : `sip:${target}`) : s.req.uri;
    return { kind: 'request', method: s.req.method, uri, headers, body: s.req.body };
  }

  private upstream(res: SipResponse): SipResponse {
    const headers = res.headers.clone();
    const vias = headers.getAll('Via');
    headers.set('Via', vias.slice(1));
    return { ...res, headers };
  }

  private onBranchResponse(s: ProxySession, branch: Branch, res: SipResponse, from: Source | Destination): void {
    if (res.status === 100) return;
    if (res.status < 200) {
      branch.provisional = true;
      if (branch.timer) clearTimeout(branch.timer);
      if (!s.server.finalSent) s.server.respond(this.upstream(res));
      return;
    }
    this.onBranchFinal(s, branch, res, from);
  }

  /** `from`: where the final response came from (the branch's next hop when we made it up). */
  private onBranchFinal(s: ProxySession, branch: Branch, res: SipResponse, from: Source | Destination): void {
    if (branch.timer) clearTimeout(branch.timer);
    if (branch.done && res.status < 300 && s.answered) {
      // A 2xx retransmission or a second fork's 2xx is forwarded statelessly (RFC 3261 16.7.4).
      void this.sendUpstream(s, res);
      return;
    }
    branch.done = true;
    this.report(s, res, from);
    if (res.status < 300) {
      s.answered = true;
      if (!s.server.finalSent) s.server.respond(this.upstream(res));
      else void this.sendUpstream(s, res);
      for (const b of s.branches) if (!b.done) this.cancelBranch(s, b, false);
      this.finish(s);
      return;
    }
    s.finals.push(res);
    if (!s.simultaneous && !s.cancelled) {
      const next = s.targets[s.branches.length];
      if (next) {
        void this.startBranch(s, next);
        return;
      }
    }
    if (s.branches.every((b) => b.done) && (s.simultaneous ? s.branches.length === s.targets.length : true)) {
      const best = bestResponse(s.finals);
      if (!s.server.finalSent && best) s.server.respond(this.upstream(best));
      this.finish(s);
    }
  }

  /** 2xx retransmissions and late forks bypass the (already answered) server transaction. */
  private sendUpstream(s: ProxySession, res: SipResponse): void {
    this.host.transactions.sendStateless(s.server.dest, serializeMessage(this.upstream(res)));
  }

  /**
   * One final response for the app's `continue` stream. Its meta names the protocol and the
   * address/port the response came from (docs/drachtio-protocol.md 9.3): srf's proxy result
   * groups the responses by that address and port, so an empty address (as sent before) put
   * every target's answers into one group.
   */
  private report(s: ProxySession, res: SipResponse, from: Source | Destination): void {
    const wire = serializeMessage(res);
    const peer = 'remote' in from ? from.remote : from;
    s.app.replyWithSip(s.rid, ['OK', meta('network', wire.length, from.protocol, peer.address, peer.port), '', '', 'continue'], wire);
  }

  private finish(s: ProxySession): void {
    if (!this.sessions.has(s.server)) return;
    this.sessions.delete(s.server);
    s.app.reply(s.rid, 'OK', 'done');
  }

  private cancelBranch(s: ProxySession, b: Branch, moveOn: boolean): void {
    if (b.done || !b.tx) return;
    const inv = b.tx.request;
    const cancel = buildCancel(inv);
    const dest: Destination = b.tx.flow ? { ...b.tx.dest, flowId: b.tx.flow.flowId } : b.tx.dest;
    this.host.transactions.request(cancel, dest, { onResponse: () => {} });
    if (moveOn) {
      // A serial branch that never answered: treat it as failed now (drachtio's provisional timeout).
      b.done = true;
      const h = inv.headers.clone();
      this.onBranchFinal(s, b, { kind: 'response', status: 408, reason: 'Request Timeout', headers: h, body: Buffer.alloc(0) }, b.tx.dest);
    }
  }

  /** The caller CANCELled a proxied INVITE (the 487 upstream is already sent). */
  cancels(invite: ServerTransaction): boolean {
    const s = this.sessions.get(invite);
    if (!s) return false;
    s.cancelled = true;
    for (const b of s.branches) this.cancelBranch(s, b, false);
    return true;
  }

  /**
   * An in-dialog request of a record-routed proxied call: its top Route is us. Forward it to
   * the next Route or the Request-URI and relay the answers (RFC 3261 16.4, 16.12).
   */
  forwardsInDialog(req: SipRequest, _source: Source, tx: ServerTransaction): boolean {
    const routes = req.headers.getAll('Route');
    if (!routes.length || !this.host.isLocal(parseNameAddr(routes[0]).uri)) return false;
    const rest = routes.slice(1);
    const nextHop = rest.length ? parseNameAddr(rest[0]).uri : req.uri;
    void resolveTarget(nextHop, this.host.protocols()).then(
      (dest) => {
        const headers = new SipHeaders();
        headers.set('Via', this.host.via(dest.protocol));
        for (const [name, value] of req.headers.entries()) {
          if (name === 'Route' || name === 'Max-Forwards') continue;
          headers.append(name, value);
        }
        for (const r of rest) headers.append('Route', r);
        headers.set('Max-Forwards', String(Number(req.headers.get('Max-Forwards') ?? '71') - 1));
        const fwd: SipRequest = { kind: 'request', method: req.method, uri: req.uri, headers, body: req.body };
        this.host.transactions.request(fwd, dest, {
          onResponse: (res) => {
            if (res.status !== 100 && !tx.finalSent) tx.respond(this.upstream(res));
          },
        });
      },
      () => tx.respond(responseTo(req, 502, 'Bad Gateway')),
    );
    return true;
  }

  /** ACK for a 2xx on a record-routed proxied dialog: forwarded statelessly. */
  forwardAck(req: SipRequest, _source: Source): void {
    const routes = req.headers.getAll('Route');
    if (!routes.length) return;
    try {
      if (!this.host.isLocal(parseNameAddr(routes[0]).uri)) return;
    } catch {
      return;
    }
    const rest = routes.slice(1);
    const nextHop = rest.length ? parseNameAddr(rest[0]).uri : req.uri;
    void resolveTarget(nextHop, this.host.protocols()).then(
      (dest) => {
        const headers = req.headers.clone();
        headers.remove('Route');
        for (const r of rest) headers.append('Route', r);
        headers.prepend('Via', this.host.via(dest.protocol));
        const fwd: SipRequest = { ...req, headers };
        this.host.transactions.sendStateless(dest, serializeMessage(fwd)); // ACK: no transaction
      },
      () => {},
    );
  }
}
