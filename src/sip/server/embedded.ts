import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  SipHeaders,
  SipParseError,
  formatVia,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseUri,
  parseVia,
  reasonPhrase,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../message/index.js';
import { AppMessageError, header, parseAppMessage, SERVER_OWNED, type AppMessage } from '../drachtio/app-message.js';
import { ControlServer, type AppConnection } from '../drachtio/control-server.js';
import { meta } from '../drachtio/format.js';
import type { ControlMessage } from '../drachtio/wire.js';
import { ClientTransaction } from '../transaction/client.js';
import { buildCancel } from '../transaction/cancel.js';
import { responseTo, TransactionLayer } from '../transaction/layer.js';
import { responseDestination } from '../transaction/route.js';
import type { ServerTransaction } from '../transaction/server.js';
import type { TimerValues } from '../transaction/timers.js';
import { TransportLayer, type TransportLayerOptions } from '../transport/layer.js';
import type { Destination, HostPort, Protocol, Source } from '../transport/types.js';
import type { ListenSpec } from '../../config/schema.js';
import { dialogId, localKey, type Dialog } from './dialog.js';
import { ProxyCore } from './proxy.js';
import { resolveTarget, TargetError } from './target.js';

export interface EmbeddedServerOptions {
  listen: ListenSpec[];
  externalAddress: string | null;
  transport: TransportLayerOptions;
  control: { address: string; port: number; secret: string };
  timers?: Partial<TimerValues>;
  log: Logger;
}

/** A new request from the network waiting for, or being answered by, an application. */
interface Incoming {
  txnId: string;
  tx: ServerTransaction;
  app: AppConnection;
  req: SipRequest;
  source: Source;
  /** Dialog id for INVITE/SUBSCRIBE and in-dialog requests (drachtio's <D>). */
  dialogId: string;
  toTag: string;
  dialog: Dialog | undefined;
}

/** A request an application sent through us, waiting for responses. */
interface Outgoing {
  txnId: string;
  app: AppConnection;
  tx: ClientTransaction;
  req: SipRequest;
  dest: Destination;
  dialogId: string;
  /** In-dialog requests carry their dialog; an initial INVITE gets one on its 200. */
  dialog: Dialog | undefined;
  provisional: boolean;
  final: boolean;
  cancel: SipRequest | undefined;
}

export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE']);
const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'INFO', 'PRACK', 'UPDATE', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'PUBLISH',
]);
const ROUTABLE_NEW = new Set(['INVITE', 'REGISTER', 'MESSAGE', 'OPTIONS', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH', 'REFER']);

function newTag(): string {
  return randomBytes(6).toString('hex');
}

function newBranch(): string {
  return `z9hG4bK${randomBytes(9).toString('base64url')}`;
}

function tagOf(nameAddr: string | undefined): string | undefined {
  if (!nameAddr) return undefined;
  return parseNameAddr(nameAddr).params.get('tag') ?? undefined;
}

function uriOf(nameAddr: string): string {
  return parseNameAddr(nameAddr).uri;
}

/**
 * knude's embedded SIP server. It speaks the drachtio protocol to applications (drachtio-srf)
 * exactly as drachtio-server does (docs/drachtio-protocol.md), and RFC 3261 to the network:
 * transports, transactions, dialogs, 2xx retransmission and ACK, CANCEL and NAT handling.
 */
export class EmbeddedSipServer {
  readonly transports: TransportLayer;
  readonly transactions: TransactionLayer;
  private control: ControlServer;
  private proxy: ProxyCore;
  private log: Logger;
  private incoming = new Map<string, Incoming>();
  private incomingByTx = new Map<ServerTransaction, Incoming>();
  private outgoing = new Map<string, Outgoing>();
  private dialogs = new Map<string, Dialog>();
  private dialogsByLocal = new Map<string, Dialog>();
  /** Registered contacts (user@host) -> the flow they registered over (drachtio's tport cache). */
  private contactFlows = new Map<string, { dest: Destination; expires: number }>();
  controlPort = 0;
  readonly counters = { malformed: 0, requestsIn: 0, responsesIn: 0, noRoute: 0 };

  constructor(private readonly opts: EmbeddedServerOptions) {
    this.log = opts.log.child({ component: 'sip-server' });
    this.transports = new TransportLayer(opts.transport);
    this.transactions = new TransactionLayer(
      {
        send: (dest, data) => this.transports.send(dest, data),
        onRequest: (req, source, tx) => this.onNetworkRequest(req, source, tx),
        onCancel: (invite, cancel, source) => this.onNetworkCancel(invite, cancel, source),
        onStrayResponse: (res, source) => this.onStrayResponse(res, source),
        onAckTimeout: () => {},
      },
      opts.timers,
    );
    this.control = new ControlServer(
      opts.control.secret,
      () => this.hostports(),
      {
        onSip: (app, msg) => this.onAppSip(app, msg),
        onProxy: (app, msg) => this.proxy.onAppProxy(app, msg),
        onClose: (app) => this.onAppClose(app),
      },
      this.log,
    );
    this.proxy = new ProxyCore({
      transactions: this.transactions,
      takeIncoming: (txnId) => {
        const inc = this.incoming.get(txnId);
        if (inc) this.forgetIncoming(inc);
        return inc && { tx: inc.tx, req: inc.req, source: inc.source };
      },
      via: (protocol) => this.viaFor(protocol),
      protocols: () => this.transports.protocols().map((p) => p.protocol),
      isLocal: (uri) => this.isLocalUri(uri),
      recordRoute: (protocol) => this.recordRouteFor(protocol),
      log: this.log,
    });
    this.transports.onMessage = (data, source) => this.onData(data, source);
    this.transports.onFlowClosed = (flowId) => {
      for (const [k, v] of this.contactFlows) if (v.dest.flowId === flowId) this.contactFlows.delete(k);
    };
  }

  async start(): Promise<void> {
    await this.transports.listen(this.opts.listen);
    this.controlPort = await this.control.listen(this.opts.control.address, this.opts.control.port);
    this.log.info(
      { listen: this.transports.protocols().map((p) => `${p.protocol}/${p.local.address}:${p.local.port}`), control: this.controlPort },
      'embedded SIP server listening',
    );
  }

  async stop(): Promise<void> {
    for (const d of this.dialogs.values()) d.answer?.stop();
    this.transactions.close();
    await this.control.close();
    await this.transports.close();
  }

  /** Live state for introspection (`knude` shows any call or registration as JSON). */
  snapshot(): { dialogs: number; pendingIncoming: number; pendingOutgoing: number; transactions: { server: number; client: number }; apps: number } {
    return {
      dialogs: this.dialogs.size,
      pendingIncoming: this.incoming.size,
      pendingOutgoing: this.outgoing.size,
      transactions: this.transactions.size,
      apps: this.control.connectedCount,
    };
  }

  // ---------------------------------------------------------------- addresses

  private advertised(protocol: Protocol): HostPort {
    const local = this.transports.local(protocol) ?? this.transports.protocols()[0].local;
    return { address: this.opts.externalAddress ?? local.address, port: local.port };
  }

  private hostports(): { hostports: string; local: string } {
    const fmt = (addr: string) => (addr.includes(':') ? `[${addr}]` : addr);
    const list = this.transports.protocols();
    return {
      hostports: list.map((p) => `${p.protocol}/${fmt(this.opts.externalAddress ?? p.local.address)}:${p.local.port}`).join(','),
      local: list.map((p) => `${p.protocol}/${fmt(p.local.address)}:${p.local.port}`).join(','),
    };
  }

  private hostPortText(protocol: Protocol): string {
    const a = this.advertised(protocol);
    return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Default Contact: <sip:host:port[;transport=x]>, as drachtio-server builds it. */
  private contactFor(protocol: Protocol): string {
    const scheme = protocol === 'tls' || protocol === 'wss' ? 'sips' : 'sip';
    const transport = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<${scheme}:${this.hostPortText(protocol)}${transport}>`;
  }

  private recordRouteFor(protocol: Protocol): string {
    const transport = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<sip:${this.hostPortText(protocol)}${transport};lr>`;
  }

  private viaFor(protocol: Protocol): string {
    return `SIP/2.0/${protocol.toUpperCase()} ${this.hostPortText(protocol)};branch=${newBranch()};rport`;
  }

  private isLocalUri(uri: string): boolean {
    try {
      const u = parseUri(uri);
      const host = u.host.replace(/^\[|\]$/g, '');
      return this.transports
        .protocols()
        .some((p) => (host === p.local.address || host === this.opts.externalAddress) && (u.port ?? 5060) === p.local.port);
    } catch {
      return false;
    }
  }

  /** Replace `@localhost` in From/To/Contact/P-Asserted-Identity with our host:port (drachtio's rule). */
  private localize(value: string, protocol: Protocol): string {
    if (!/@localhost\b/i.test(value)) return value;
    const replaced = value.replace(/@localhost(:\d+)?/i, `@${this.hostPortText(protocol)}`);
    return replaced.includes('<') ? replaced : `<${replaced}>`;
  }

  // ---------------------------------------------------------------- network side

  private onData(data: Buffer, source: Source): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(data, { maxSize: this.opts.transport.maxMessageBytes });
    } catch (err) {
      this.counters.malformed++;
      if (err instanceof SipParseError) this.rejectMalformed(err, source);
      else this.log.error({ err }, 'parser failed unexpectedly');
      return;
    }
    try {
      if (msg.kind === 'request') {
        this.counters.requestsIn++;
        this.stampVia(msg, source);
        this.transactions.receiveRequest(msg, source);
      } else {
        this.counters.responsesIn++;
        this.transactions.receiveResponse(msg, source);
      }
    } catch (err) {
      // A message that parsed but breaks an invariant further in must cost one message, never the process.
      this.log.error({ err, source: source.remote }, 'failed to process SIP message');
    }
  }

  /** 400 (505 for another SIP version) with a Warning naming the defect, when enough of the request was readable to answer it. */
  private rejectMalformed(err: SipParseError, source: Source): void {
    const s = err.salvage;
    this.log.debug({ source: source.remote, reason: err.message }, 'malformed SIP message');
    if (!s || s.kind !== 'request' || !s.headers || s.method === 'ACK') return;
    const h = s.headers;
    if (!h.get('Via') || !h.get('Call-ID') || !h.get('From') || !h.get('To') || !h.get('CSeq')) return;
    try {
      // The answer copies these; if they cannot be read, neither could the client read the answer.
      parseVia(h.get('Via')!);
      parseCSeq(h.get('CSeq')!);
    } catch {
      return;
    }
    const pseudo: SipRequest = { kind: 'request', method: s.method ?? 'UNKNOWN', uri: 'sip:invalid', headers: h, body: Buffer.alloc(0) };
    const versionProblem = err.message.startsWith('unsupported SIP version');
    const res = versionProblem ? responseTo(pseudo, 505, 'Version Not Supported', newTag()) : responseTo(pseudo, 400, 'Bad Request', newTag());
    const text = err.message.replace(/["\\\r\n]/g, ' ').slice(0, 200);
    res.headers.set('Warning', `399 ${this.hostPortText(source.protocol)} "${text}"`);
    void this.transports.send(responseDestination(pseudo, source), serializeMessage(res)).catch(() => {});
  }

  /** RFC 3261 18.2.1 `received` and RFC 3581 `rport` on the top Via. */
  private stampVia(req: SipRequest, source: Source): void {
    const vias = req.headers.getAll('Via');
    const via = parseVia(vias[0]);
    let changed = false;
    if (via.host.replace(/^\[|\]$/g, '') !== source.remote.address) {
      via.params.set('received', source.remote.address);
      changed = true;
    }
    if (via.params.has('rport')) {
      via.params.set('rport', String(source.remote.port));
      changed = true;
    }
    if (changed) req.headers.set('Via', [formatVia(via), ...vias.slice(1)]);
  }

  private send(dest: Destination, msg: SipMessage): Buffer {
    const wire = serializeMessage(msg);
    void this.transports.send(dest, wire).catch((err) => this.log.debug({ err: (err as Error).message }, 'send failed'));
    return wire;
  }

  private onNetworkRequest(req: SipRequest, source: Source, tx: ServerTransaction | undefined): void {
    if (req.method === 'ACK') return this.onNetworkAck(req, source);
    if (!tx) return;
    const toTag = tagOf(req.headers.get('To'));
    if (toTag) return this.onNetworkInDialog(req, source, tx, toTag);
    if (this.proxy.absorbs(req)) return;
    if (!KNOWN_METHODS.has(req.method)) {
      const res = responseTo(req, 501, 'Not Implemented', newTag());
      res.headers.set('Allow', [...KNOWN_METHODS].join(', '));
      tx.respond(res);
      return;
    }
    if (req.method === 'INVITE') tx.respond(responseTo(req, 100, 'Trying'));
    const mf = req.headers.get('Max-Forwards');
    if (mf !== undefined && Number(mf) <= 0 && req.method !== 'OPTIONS') {
      tx.respond(responseTo(req, 483, 'Too Many Hops', newTag()));
      return;
    }
    if (!ROUTABLE_NEW.has(req.method)) {
      // BYE/UPDATE/PRACK outside a dialog.
      tx.respond(responseTo(req, 481, 'Call/Transaction Does Not Exist', newTag()));
      return;
    }
    const app = this.control.select(req.method);
    if (!app) {
      this.counters.noRoute++;
      const res = responseTo(req, 503, 'Service Unavailable', newTag());
      res.headers.set('Reason', 'SIP;cause=503;text="no application handles this request"');
      tx.respond(res);
      return;
    }
    const fromTag = tagOf(req.headers.get('From')) ?? '';
    const inc: Incoming = {
      txnId: randomUUID(),
      tx,
      app,
      req,
      source,
      dialogId: DIALOG_METHODS.has(req.method) ? dialogId(req.headers.get('Call-ID')!, fromTag) : '',
      toTag: newTag(),
      dialog: undefined,
    };
    this.rememberIncoming(inc);
    const wire = serializeMessage(req);
    app.send(
      `sip|${meta('network', wire.length, source.protocol, source.remote.address, source.remote.port)}|${inc.txnId}||${source.local.address}|${source.local.port}|\r\n${wire.toString('utf8')}`,
    );
  }

  private rememberIncoming(inc: Incoming): void {
    this.incoming.set(inc.txnId, inc);
    this.incomingByTx.set(inc.tx, inc);
    // drachtio forgets a request its application never answers after 64 s; so do we.
    const t = setTimeout(() => {
      if (this.incoming.get(inc.txnId) === inc && !inc.tx.finalSent) this.forgetIncoming(inc);
    }, 64_000);
    t.unref();
  }

  private forgetIncoming(inc: Incoming): void {
    if (this.incoming.get(inc.txnId) === inc) this.incoming.delete(inc.txnId);
    this.incomingByTx.delete(inc.tx);
  }

  private onNetworkInDialog(req: SipRequest, source: Source, tx: ServerTransaction, toTag: string): void {
    const callId = req.headers.get('Call-ID')!;
    const dialog = this.dialogsByLocal.get(localKey(callId, toTag));
    if (!dialog) {
      if (this.proxy.forwardsInDialog(req, source, tx)) return;
      tx.respond(responseTo(req, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    const cseq = parseCSeq(req.headers.get('CSeq')!).seq;
    if (cseq <= dialog.remoteSeq && req.method !== 'CANCEL') {
      // RFC 3261 12.2.2: an out-of-order request in a dialog gets 500.
      tx.respond(responseTo(req, 500, 'Server Internal Error'));
      return;
    }
    dialog.remoteSeq = cseq;
    if (req.method === 'INVITE') tx.respond(responseTo(req, 100, 'Trying'));
    const owner = this.control.get(dialog.ownerId);
    if (req.method === 'BYE') this.destroyDialog(dialog);
    if (!owner) {
      tx.respond(responseTo(req, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    const inc: Incoming = { txnId: randomUUID(), tx, app: owner, req, source, dialogId: dialog.id, toTag, dialog };
    this.rememberIncoming(inc);
    const wire = serializeMessage(req);
    owner.send(
      `sip|${meta('network', wire.length, source.protocol, source.remote.address, source.remote.port)}|${inc.txnId}|${dialog.id}|\r\n${wire.toString('utf8')}`,
    );
  }

  private onNetworkAck(req: SipRequest, source: Source): void {
    const toTag = tagOf(req.headers.get('To'));
    if (!toTag) return;
    const dialog = this.dialogsByLocal.get(localKey(req.headers.get('Call-ID')!, toTag));
    if (!dialog) {
      this.proxy.forwardAck(req, source);
      return;
    }
    const answer = dialog.answer;
    if (!answer || parseCSeq(req.headers.get('CSeq')!).seq !== answer.cseq) return; // a retransmitted ACK
    answer.stop();
    dialog.answer = undefined;
    const owner = this.control.get(dialog.ownerId);
    const inc = this.incoming.get(answer.txnId);
    if (inc) this.forgetIncoming(inc);
    if (!owner) return;
    const txnId = answer.initial ? answer.txnId : randomUUID();
    const wire = serializeMessage(req);
    owner.send(
      `sip|${meta('network', wire.length, source.protocol, source.remote.address, source.remote.port)}|${txnId}|${dialog.id}|\r\n${wire.toString('utf8')}`,
    );
  }

  private onNetworkCancel(invite: ServerTransaction, cancel: SipRequest, source: Source): void {
    const inc = this.incomingByTx.get(invite);
    if (!invite.finalSent) {
      invite.respond(responseTo(invite.request, 487, 'Request Terminated', inc?.toTag ?? newTag()));
    }
    if (this.proxy.cancels(invite)) return;
    if (!inc) return;
    this.forgetIncoming(inc);
    const wire = serializeMessage(cancel);
    inc.app.send(
      `sip|${meta('network', wire.length, source.protocol, source.remote.address, source.remote.port)}|${inc.txnId}|${invite.lastResponse && invite.lastResponse.status > 100 ? inc.dialogId : ''}|\r\n${wire.toString('utf8')}`,
    );
  }

  /** A 2xx retransmission after the INVITE client transaction ended: repeat our ACK. */
  private onStrayResponse(res: SipResponse, _source: Source): void {
    if (res.status < 200 || res.status >= 300) return;
    const cseq = parseCSeq(res.headers.get('CSeq')!);
    if (cseq.method !== 'INVITE') return;
    const fromTag = tagOf(res.headers.get('From'));
    if (!fromTag) return;
    const dialog = this.dialogsByLocal.get(localKey(res.headers.get('Call-ID')!, fromTag));
    if (dialog?.ackPending?.wire && dialog.ackPending.cseq === cseq.seq) {
      void this.transports.send(dialog.ackPending.dest, dialog.ackPending.wire).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- application side

  private onAppClose(app: AppConnection): void {
    // Like drachtio-server, dialogs outlive their application's connection: the peer's next
    // request gets 481 and timers keep running. Pending requests it was given are dropped.
    for (const inc of [...this.incoming.values()]) if (inc.app === app) this.forgetIncoming(inc);
    for (const out of [...this.outgoing.values()]) if (out.app === app) this.outgoing.delete(out.txnId);
    this.log.info({ app: app.id }, 'application disconnected');
  }

  private onAppSip(app: AppConnection, msg: ControlMessage): void {
    const [txnId = '', dlgId = '', routeUrl = ''] = msg.args;
    let m: AppMessage;
    try {
      m = parseAppMessage(msg.sip ?? '');
    } catch (err) {
      app.reply(msg.msgId, 'NOK', (err as AppMessageError).message);
      return;
    }
    this.log.debug({ app: app.id, txnId, dialogId: dlgId, start: m.kind === 'request' ? `${m.method} ${m.uri}` : m.status }, 'from application');
    const fail = (err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      this.log.debug({ app: app.id, err: text }, 'application request refused');
      if (!(err instanceof EmbeddedServerError || err instanceof TargetError || err instanceof AppMessageError)) {
        this.log.error({ err }, 'application request failed');
      }
      app.reply(msg.msgId, 'NOK', text.replace(/[|\r\n]/g, ' '));
    };
    try {
      if (m.kind === 'response') {
        if (!txnId) {
          app.reply(msg.msgId, 'NO', 'transaction id missing');
          return;
        }
        this.appResponds(app, msg.msgId, txnId, m);
      } else if (dlgId) {
        this.appRequestInDialog(app, msg.msgId, dlgId, m);
      } else if (txnId) {
        if (m.method !== 'CANCEL') throw new EmbeddedServerError(`only CANCEL may name a transaction, not ${m.method}`);
        this.appCancels(app, msg.msgId, txnId, m);
      } else {
        this.appRequestOutsideDialog(app, msg.msgId, m, routeUrl).catch(fail);
      }
    } catch (err) {
      fail(err);
    }
  }

  /** Copies the application's headers onto `target`, minus those the server owns or `skip`. */
  private copyAppHeaders(m: AppMessage, target: SipHeaders, protocol: Protocol, skip: Set<string>): void {
    for (const [name, value] of m.headers) {
      if (SERVER_OWNED.has(name) || skip.has(name)) continue;
      if (name === 'WWW-Authenticate' || name === 'Proxy-Authenticate') {
        // srf joins several challenges (SHA-256 and MD5, RFC 8760) into one line; endpoints
        // parse one challenge per header line, so split them again.
        for (const c of value.split(/,\s*(?=Digest\s)/i)) target.append(name, c.trim());
        continue;
      }
      const v = name === 'P-Asserted-Identity' || name === 'Contact' || name === 'From' || name === 'To' ? this.localize(value, protocol) : value;
      target.append(name, v);
    }
  }

  private setBody(m: AppMessage, headers: SipHeaders, what: string): Buffer {
    const body = Buffer.from(m.body, 'utf8');
    if (body.length && !headers.has('Content-Type')) {
      if (m.body.startsWith('v=0')) headers.set('Content-Type', 'application/sdp');
      else throw new EmbeddedServerError(`${what}missing content-type`);
    }
    return body;
  }

  private appResponds(app: AppConnection, rid: string, txnId: string, m: AppMessage): void {
    const inc = this.incoming.get(txnId);
    if (!inc || inc.app !== app) {
      if (/^\d+\s+CANCEL$/i.test(header(m, 'CSeq') ?? '')) {
        throw new EmbeddedServerError('200 OK to incoming CANCEL is automatically generated by the stack');
      }
      throw new EmbeddedServerError('Response not sent due to unknown transaction');
    }
    const { req, tx, source } = inc;
    if (tx.finalSent) throw new EmbeddedServerError('Response not sent: a final response was already sent');
    const status = m.status;
    if (status < 100 || status > 699) throw new EmbeddedServerError(`invalid status code ${status}`);
    const headers = new SipHeaders();
    for (const v of req.headers.getAll('Via')) headers.append('Via', v);
    const appTo = header(m, 'To');
    const appToTag = tagOf(appTo);
    if (appToTag) inc.toTag = appToTag;
    let to = req.headers.get('To')!;
    if (status > 100 && !tagOf(to)) to = `${to};tag=${inc.toTag}`;
    headers.set('From', req.headers.get('From')!);
    headers.set('To', to);
    headers.set('Call-ID', req.headers.get('Call-ID')!);
    headers.set('CSeq', req.headers.get('CSeq')!);
    this.copyAppHeaders(m, headers, source.protocol, new Set(['From', 'To', 'Call-ID', 'CSeq']));
    const dialogForming = DIALOG_METHODS.has(req.method);
    if (dialogForming && status > 100 && status < 300) {
      for (const rr of req.headers.getAll('Record-Route')) headers.append('Record-Route', rr);
    }
    if (req.method === 'INVITE' && headers.has('Require') && /100rel/i.test(headers.getAll('Require').join(','))) {
      // Reliable provisional responses (RFC 3262) are not supported: send it unreliably.
      const rest = headers.getAll('Require').filter((r) => !/^100rel$/i.test(r.trim()));
      headers.remove('Require');
      for (const r of rest) headers.append('Require', r);
    }
    if (dialogForming && status >= 200 && status < 300 && !headers.has('Contact')) headers.set('Contact', this.contactFor(source.protocol));
    const body = this.setBody(m, headers, '');
    const res: SipResponse = { kind: 'response', status, reason: m.reason || reasonPhrase(status), headers, body };
    const wire = tx.respond(res);

    if (req.method === 'INVITE' && status >= 200 && status < 300) this.answered(inc, res);
    if (req.method === 'REGISTER' && status >= 200 && status < 300) this.rememberContactFlows(res, source);
    if (status >= 200 && !(req.method === 'INVITE' && status < 300)) this.forgetIncoming(inc);

    const d = dialogForming || inc.dialog ? inc.dialogId : '';
    app.replyWithSip(
      rid,
      ['OK', meta('application', wire.length, source.protocol, source.remote.address, source.remote.port), txnId, d, '', 'Msg sent:', ''],
      wire,
    );
  }

  /** A 2xx to an INVITE: create or refresh the dialog and retransmit the 2xx until the ACK. */
  private answered(inc: Incoming, res: SipResponse): void {
    const { req, source } = inc;
    let dialog = inc.dialog;
    const reqContact = req.headers.get('Contact');
    if (!dialog) {
      if (!reqContact) return;
      const callId = req.headers.get('Call-ID')!;
      const remoteTarget = uriOf(reqContact);
      dialog = {
        id: inc.dialogId,
        role: 'uas',
        method: 'INVITE',
        ownerId: inc.app.id,
        callId,
        localTag: inc.toTag,
        remoteTag: tagOf(req.headers.get('From')) ?? '',
        localParty: res.headers.get('To')!,
        remoteParty: req.headers.get('From')!,
        localSeq: Math.floor(Math.random() * 10_000) + 1,
        remoteSeq: parseCSeq(req.headers.get('CSeq')!).seq,
        remoteTarget,
        routeSet: req.headers.getAll('Record-Route'),
        localContact: res.headers.get('Contact')!,
        peer: this.peerFor(source, remoteTarget, req.headers.getAll('Record-Route').length > 0),
        secure: source.protocol === 'tls' || source.protocol === 'wss',
        ackPending: undefined,
        answer: undefined,
        terminating: false,
      };
      this.addDialog(dialog);
      inc.dialog = dialog;
    } else if (reqContact) {
      dialog.remoteTarget = uriOf(reqContact); // target refresh (RFC 3261 12.2.2)
    }
    dialog.answer?.stop();
    const wire = serializeMessage(res);
    const dest = inc.tx.dest;
    const { T1, T2 } = this.transactions.timers;
    let interval = T1;
    let retransmit: NodeJS.Timeout | undefined;
    const schedule = () => {
      retransmit = setTimeout(() => {
        void this.transports.send(dest, wire).catch(() => {});
        interval = Math.min(2 * interval, T2);
        schedule();
      }, interval);
    };
    if (source.protocol === 'udp') schedule();
    const giveUp = setTimeout(() => this.ackTimeout(dialog!), 64 * T1);
    const d = dialog;
    d.answer = {
      cseq: parseCSeq(req.headers.get('CSeq')!).seq,
      txnId: inc.txnId,
      // The ACK to an initial INVITE's 2xx reaches the app under the INVITE's transaction id.
      initial: !tagOf(req.headers.get('To')),
      stop: () => {
        if (retransmit) clearTimeout(retransmit);
        clearTimeout(giveUp);
      },
    };
  }

  /** No ACK for our 2xx within 64*T1: hang up and tell the application (drachtio's unsolicited BYE). */
  private ackTimeout(dialog: Dialog): void {
    if (!this.dialogs.has(dialog.id)) return;
    dialog.answer = undefined;
    this.terminateBySystem(dialog, 'ACK timeout');
  }

  private terminateBySystem(dialog: Dialog, why: string): void {
    const bye = this.buildInDialog(dialog, 'BYE', []);
    bye.headers.set('Reason', `SIP ;cause=200 ;text="${why}"`);
    void this.sendInDialog(dialog, bye, { onResponse: () => {} });
    this.destroyDialog(dialog);
    const owner = this.control.get(dialog.ownerId);
    if (!owner) return;
    const wire = serializeMessage(bye);
    const local = this.advertised(dialog.peer.protocol);
    owner.send(`sip|${meta('application', wire.length, dialog.peer.protocol, local.address, local.port)}|unsolicited|${dialog.id}|\r\n${wire.toString('utf8')}`);
  }

  /**
   * Where in-dialog requests go when there is no route set: the remote target, unless the peer
   * is behind NAT (its Contact is not where its messages come from) or on a connection we must
   * reuse (TCP/TLS/WebSocket), in which case the flow it used.
   */
  private peerFor(source: Source, remoteTarget: string, hasRoutes: boolean): Destination {
    const flow: Destination = { protocol: source.protocol, address: source.remote.address, port: source.remote.port, flowId: source.flowId };
    if (hasRoutes || source.protocol !== 'udp') return flow;
    try {
      const u = parseUri(remoteTarget);
      if (u.host.replace(/^\[|\]$/g, '') !== source.remote.address) return flow;
      return { protocol: 'udp', address: source.remote.address, port: u.port ?? 5060 };
    } catch {
      return flow;
    }
  }

  private addDialog(d: Dialog): void {
    this.dialogs.set(d.id, d);
    this.dialogsByLocal.set(localKey(d.callId, d.localTag), d);
  }

  private destroyDialog(d: Dialog): void {
    d.answer?.stop();
    d.answer = undefined;
    if (this.dialogs.get(d.id) === d) this.dialogs.delete(d.id);
    const k = localKey(d.callId, d.localTag);
    if (this.dialogsByLocal.get(k) === d) this.dialogsByLocal.delete(k);
  }

  private rememberContactFlows(res: SipResponse, source: Source): void {
    const now = Date.now();
    const defaultExpires = Number(res.headers.get('Expires') ?? 3600);
    for (const c of res.headers.getAll('Contact')) {
      try {
        const na = parseNameAddr(c);
        const u = parseUri(na.uri);
        const expires = Number(na.params.get('expires') ?? defaultExpires);
        const key = `${u.user ?? ''}@${u.host}`.toLowerCase();
        if (expires > 0) {
          this.contactFlows.set(key, {
            dest: { protocol: source.protocol, address: source.remote.address, port: source.remote.port, flowId: source.flowId },
            expires: now + expires * 1000,
          });
        } else this.contactFlows.delete(key);
      } catch {
        /* a Contact we cannot read is simply not cached */
      }
    }
  }

  private cachedFlow(uri: string): Destination | undefined {
    try {
      const u = parseUri(uri);
      const key = `${u.user ?? ''}@${u.host}`.toLowerCase();
      const hit = this.contactFlows.get(key);
      if (!hit) return undefined;
      if (hit.expires < Date.now()) {
        this.contactFlows.delete(key);
        return undefined;
      }
      return hit.dest;
    } catch {
      return undefined;
    }
  }

  private async appRequestOutsideDialog(app: AppConnection, rid: string, m: AppMessage, routeUrl: string): Promise<void> {
    if (!KNOWN_METHODS.has(m.method) || m.method === 'ACK' || m.method === 'CANCEL') {
      throw new EmbeddedServerError(`invalid request-uri: ${m.method} ${m.uri} SIP/2.0`);
    }
    let uri = m.uri;
    if (/^\+?\d+$/.test(uri)) uri = `sip:${uri}@localhost`;
    try {
      parseUri(uri);
    } catch {
      throw new EmbeddedServerError(`invalid request-uri: ${m.method} ${m.uri} SIP/2.0`);
    }
    if (!routeUrl && this.isLocalUri(uri)) throw new EmbeddedServerError('can not send request to myself');
    const protocols = this.transports.protocols().map((p) => p.protocol);
    let dest: Destination | undefined;
    if (routeUrl) dest = this.cachedFlow(routeUrl.startsWith('sip') ? routeUrl : `sip:${routeUrl}`);
    if (!dest && !routeUrl) dest = this.cachedFlow(uri);
    dest ??= await resolveTarget(routeUrl ? (routeUrl.startsWith('sip') ? routeUrl : `sip:${routeUrl}`) : uri, protocols);
    const protocol = dest.protocol;

    const headers = new SipHeaders();
    headers.set('Via', this.viaFor(protocol));
    let from = header(m, 'From');
    from = from ? this.localize(from, protocol) : this.contactFor(protocol);
    if (!tagOf(from)) from = `${from};tag=${newTag()}`;
    const to = header(m, 'To') ? this.localize(header(m, 'To')!, protocol) : `<${uri}>`;
    const callId = header(m, 'Call-ID') ?? `${randomBytes(12).toString('hex')}@${this.advertised(protocol).address}`;
    const appCseq = header(m, 'CSeq');
    const seq = appCseq && /^\d+/.test(appCseq) ? Number(appCseq.match(/^\d+/)![0]) : (Math.floor(Date.now() / 2000) & 0x7ffffff) || 1;
    headers.set('Max-Forwards', header(m, 'Max-Forwards') ?? '70');
    headers.set('From', from);
    headers.set('To', to);
    headers.set('Call-ID', callId);
    headers.set('CSeq', `${seq} ${m.method}`);
    this.copyAppHeaders(m, headers, protocol, new Set(['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']));
    if (DIALOG_METHODS.has(m.method) && !headers.has('Contact')) headers.set('Contact', this.contactFor(protocol));
    const body = this.setBody(m, headers, '');
    const req: SipRequest = { kind: 'request', method: m.method, uri, headers, body };
    const dId = DIALOG_METHODS.has(m.method) ? dialogId(callId, tagOf(from)!) : '';
    this.startOutgoing(app, rid, req, dest, dId, undefined);
  }

  private startOutgoing(app: AppConnection, rid: string, req: SipRequest, dest: Destination, dId: string, dialog: Dialog | undefined): Outgoing {
    const out: Outgoing = {
      txnId: randomUUID(),
      app,
      tx: undefined as unknown as ClientTransaction,
      req,
      dest,
      dialogId: dId,
      dialog,
      provisional: false,
      final: false,
      cancel: undefined,
    };
    this.outgoing.set(out.txnId, out);
    out.tx = this.transactions.request(req, dest, {
      onResponse: (res, _tx, source) => this.onOutgoingResponse(out, res, source),
    });
    const wire = serializeMessage(req);
    const local = this.advertised(dest.protocol);
    app.replyWithSip(rid, ['OK', meta('application', wire.length, dest.protocol, local.address, local.port), out.txnId, 'Msg sent:', ''], wire);
    return out;
  }

  private onOutgoingResponse(out: Outgoing, res: SipResponse, source: Source | undefined): void {
    const status = res.status;
    if (status === 100) return;
    const isInvite = out.req.method === 'INVITE';
    if (status < 200) {
      out.provisional = true;
      if (out.cancel) this.sendCancel(out);
    }
    if (isInvite && status >= 200 && status < 300) {
      if (out.final) {
        // 2xx retransmission (or another fork's 2xx): repeat our ACK once the application sent it.
        const d = out.dialog;
        if (d?.ackPending?.wire && tagOf(res.headers.get('To')) === d.remoteTag) {
          void this.transports.send(d.ackPending.dest, d.ackPending.wire).catch(() => {});
        }
        return;
      }
      this.uacAnswered(out, res, source);
    }
    if (status >= 200) {
      out.final = true;
      this.outgoing.delete(out.txnId);
      if (out.req.method === 'BYE' && status !== 401 && status !== 407 && out.dialog) this.destroyDialog(out.dialog);
    }
    if (!this.control.get(out.app.id)) return; // drachtio drops responses for a gone application
    const wire = serializeMessage(res);
    const from = source ?? { protocol: out.dest.protocol, remote: { address: out.dest.address, port: out.dest.port } };
    out.app.send(
      `sip|${meta('network', wire.length, from.protocol, from.remote.address, from.remote.port)}|${out.txnId}|${out.dialogId}|\r\n${wire.toString('utf8')}`,
    );
  }

  /** A 2xx to an INVITE we sent: the dialog is confirmed (created for an initial INVITE). */
  private uacAnswered(out: Outgoing, res: SipResponse, source: Source | undefined): void {
    const contact = res.headers.get('Contact');
    const cseq = parseCSeq(out.req.headers.get('CSeq')!).seq;
    if (out.dialog) {
      if (contact) out.dialog.remoteTarget = uriOf(contact);
      out.dialog.ackPending = { cseq, dest: out.dialog.ackPending?.dest ?? this.routeFor(out.dialog) };
      return;
    }
    if (!contact) return;
    const remoteTarget = uriOf(contact);
    const routeSet = res.headers.getAll('Record-Route').reverse();
    const src: Source = source ?? { protocol: out.dest.protocol, remote: { address: out.dest.address, port: out.dest.port }, local: { address: '', port: 0 }, flowId: out.tx.flow?.flowId ?? '' };
    const dialog: Dialog = {
      id: out.dialogId,
      role: 'uac',
      method: 'INVITE',
      ownerId: out.app.id,
      callId: out.req.headers.get('Call-ID')!,
      localTag: tagOf(out.req.headers.get('From'))!,
      remoteTag: tagOf(res.headers.get('To')) ?? '',
      localParty: out.req.headers.get('From')!,
      remoteParty: res.headers.get('To')!,
      localSeq: cseq,
      remoteSeq: 0,
      remoteTarget,
      routeSet,
      localContact: out.req.headers.get('Contact') ?? this.contactFor(out.dest.protocol),
      peer: routeSet.length ? { ...out.dest, flowId: out.tx.flow?.flowId } : this.peerFor(src, remoteTarget, false),
      secure: out.dest.protocol === 'tls' || out.dest.protocol === 'wss',
      ackPending: undefined,
      answer: undefined,
      terminating: false,
    };
    // A request that went out through an outbound proxy keeps using that next hop.
    if (!routeSet.length && out.dest.flowId) dialog.peer = out.dest;
    dialog.ackPending = { cseq, dest: this.routeFor(dialog) };
    out.dialog = dialog;
    this.addDialog(dialog);
  }

  private appCancels(app: AppConnection, rid: string, txnId: string, m: AppMessage): void {
    const out = this.outgoing.get(txnId);
    if (!out || out.app !== app || out.req.method !== 'INVITE' || out.final) {
      throw new EmbeddedServerError(`unable to cancel unknown transaction id: ${txnId}`);
    }
    const extra = m.headers.filter(([name]) => name === 'Reason' || name.startsWith('X-'));
    const cancel = buildCancel(out.req, extra);
    out.cancel = cancel;
    // RFC 3261 9.1: a CANCEL goes out only after a provisional response arrived.
    // (sendCancel clears out.cancel, so the echo below must use the local: reading out.cancel
    // here threw once a 1xx had arrived, and the app got a NOK for a CANCEL that went out.)
    if (out.provisional) this.sendCancel(out);
    const wire = serializeMessage(cancel);
    const local = this.advertised(out.dest.protocol);
    app.replyWithSip(rid, ['OK', meta('application', wire.length, out.dest.protocol, local.address, local.port), randomUUID(), 'Msg sent:', ''], wire);
  }

  private sendCancel(out: Outgoing): void {
    const cancel = out.cancel!;
    out.cancel = undefined;
    const dest = out.tx.flow ? { ...out.dest, flowId: out.tx.flow.flowId } : out.dest;
    this.transactions.request(cancel, dest, { onResponse: () => {} });
  }

  /** Next hop of an in-dialog request: the first route, else the remote target (or NAT flow). */
  private routeFor(d: Dialog): Destination {
    return d.peer;
  }

  private buildInDialog(d: Dialog, method: string, extra: Array<[string, string]>): SipRequest {
    const headers = new SipHeaders();
    headers.set('Via', this.viaFor(d.peer.protocol));
    for (const r of d.routeSet) headers.append('Route', r);
    headers.set('Max-Forwards', '70');
    headers.set('From', d.localParty);
    headers.set('To', d.remoteParty);
    headers.set('Call-ID', d.callId);
    if (method === 'ACK') headers.set('CSeq', `${d.ackPending?.cseq ?? d.localSeq} ACK`);
    else headers.set('CSeq', `${++d.localSeq} ${method}`);
    for (const [n, v] of extra) headers.append(n, v);
    return { kind: 'request', method, uri: d.remoteTarget, headers, body: Buffer.alloc(0) };
  }

  private sendInDialog(d: Dialog, req: SipRequest, user: { onResponse: (res: SipResponse, tx: ClientTransaction, s: Source | undefined) => void }): ClientTransaction {
    return this.transactions.request(req, this.routeFor(d), user);
  }

  private appRequestInDialog(app: AppConnection, rid: string, dlgId: string, m: AppMessage): void {
    const d = this.dialogs.get(dlgId);
    if (!d) {
      if (m.method === 'ACK') throw new EmbeddedServerError('Server error: ACK for non-success final response is automatically generated by server');
      throw new EmbeddedServerError('Server error: unable to find dialog for dialog id provided');
    }
    if (!KNOWN_METHODS.has(m.method) || m.method === 'CANCEL') {
      throw new EmbeddedServerError(`Server error: invalid or missing method supplied on start line: ${m.method} ${m.uri}`);
    }
    if (m.method === 'PRACK') throw new EmbeddedServerError('Server error: unable to find IIP when sending PRACK');
    const protocol = d.peer.protocol;
    if (m.method === 'ACK') {
      if (!d.ackPending || d.ackPending.wire) {
        throw new EmbeddedServerError('Server error: ACK for non-success final response is automatically generated by server');
      }
      const ack = this.buildInDialog(d, 'ACK', []);
      this.copyAppHeaders(m, ack.headers, protocol, new Set(['From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards']));
      ack.body = this.setBody(m, ack.headers, 'Server error: ');
      const wire = this.send(d.ackPending.dest, ack);
      d.ackPending.wire = wire;
      const local = this.advertised(protocol);
      app.replyWithSip(rid, ['OK', meta('application', wire.length, protocol, local.address, local.port), randomUUID(), 'Msg sent:', ''], wire);
      return;
    }
    const req = this.buildInDialog(d, m.method, []);
    this.copyAppHeaders(m, req.headers, protocol, new Set(['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']));
    if ((m.method === 'INVITE' || m.method === 'SUBSCRIBE' || m.method === 'REFER') && !req.headers.has('Contact')) {
      req.headers.set('Contact', d.localContact);
    }
    req.body = this.setBody(m, req.headers, 'Server error: ');
    if (m.method === 'BYE') {
      d.terminating = true;
      d.answer?.stop();
      d.answer = undefined;
    }
    if (m.method === 'INVITE') d.ackPending = undefined;
    this.startOutgoing(app, rid, req, this.routeFor(d), d.id, d);
  }
}
