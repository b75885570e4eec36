import { randomBytes } from 'node:crypto';
import { parseCSeq, parseVia, type SipRequest, type SipResponse } from '../message/index.js';
import type { Destination, Source } from '../transport/types.js';
import { ClientTransaction, type ClientTransactionHost, type ClientTransactionUser } from './client.js';
import { responseDestination } from './route.js';
import { ServerTransaction, type ServerTransactionHost } from './server.js';
import { DEFAULT_TIMERS, type TimerValues } from './timers.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export interface TransactionLayerHost {
  send(dest: Destination, data: Buffer): Promise<Source>;
  /** A request that starts a new server transaction, or an ACK that matched none (2xx ACK). */
  onRequest(req: SipRequest, source: Source, tx: ServerTransaction | undefined): void;
  /** A CANCEL matched a pending INVITE server transaction (200 to the CANCEL is already sent). */
  onCancel(invite: ServerTransaction, cancel: SipRequest, source: Source): void;
  /** A response that matched no client transaction: a stray or a 2xx retransmission after Timer M. */
  onStrayResponse(res: SipResponse, source: Source): void;
  onAckTimeout(tx: ServerTransaction): void;
}

/**
 * Request matching per RFC 3261 17.2.3 (branch + sent-by + method) with the RFC 2543
 * fallback for branches without the magic cookie; responses match by branch + CSeq method.
 */
function serverKey(req: SipRequest): string {
  const via = parseVia(req.headers.get('Via')!);
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const sentBy = `${via.host}:${via.port ?? ''}`;
  if (via.branch?.startsWith(MAGIC_COOKIE)) return `${via.branch}|${sentBy}|${method}`;
  const cseq = parseCSeq(req.headers.get('CSeq')!);
  return `2543|${req.headers.get('Call-ID')}|${cseq.seq}|${req.headers.get('From')}|${req.uri}|${sentBy}|${via.branch ?? ''}|${method}`;
}

export class TransactionLayer {
  readonly timers: TimerValues;
  private servers = new Map<string, ServerTransaction>();
  private clients = new Map<string, ClientTransaction>();

  private readonly serverHost: ServerTransactionHost;
  private readonly clientHost: ClientTransactionHost;

  constructor(private readonly host: TransactionLayerHost, timers: Partial<TimerValues> = {}) {
    this.timers = { ...DEFAULT_TIMERS, ...timers };
    this.serverHost = {
      timers: this.timers,
      send: (dest, data) => void this.host.send(dest, data).catch(() => {}),
      terminated: (tx) => {
        if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
      },
      ackTimeout: (tx) => this.host.onAckTimeout(tx),
    };
    this.clientHost = {
      timers: this.timers,
      send: (dest, data) => this.host.send(dest, data),
      terminated: (tx) => {
        if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
      },
    };
  }

  get size(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  /** Feed a parsed request from the transport. */
  receiveRequest(req: SipRequest, source: Source): void {
    const key = serverKey(req);
    if (req.method === 'CANCEL') {
      const cancelKey = key;
      const existing = this.servers.get(cancelKey);
      if (existing) return existing.retransmission();
      const invite = this.servers.get(key.replace(/\|CANCEL$/, '|INVITE'));
      const tx = new ServerTransaction(cancelKey, req, source, responseDestination(req, source), this.serverHost);
      this.servers.set(cancelKey, tx);
      // Responses other than 100 need a To tag (8.2.6.2); the 200 SHOULD reuse the INVITE's (9.2).
      if (!invite) {
        tx.respond(responseTo(req, 481, 'Call/Transaction Does Not Exist', newTag()));
        return;
      }
      tx.respond(responseTo(req, 200, 'OK', toTagOf(invite.lastResponse) ?? newTag()));
      // RFC 3261 9.2: a CANCEL matching a transaction that already sent its final response still
      // gets 200, but "has no effect on the processing of the original request" (it was a 481).
      if (invite.finalSent) return;
      invite.cancelled = true;
      this.host.onCancel(invite, req, source);
      return;
    }
    const existing = this.servers.get(key);
    if (req.method === 'ACK') {
      if (existing && existing.lastResponse && existing.lastResponse.status >= 300) existing.ack();
      else this.host.onRequest(req, source, undefined); // ACK for a 2xx: end-to-end, the dialog's
      return;
    }
    if (existing) return existing.retransmission();
    const tx = new ServerTransaction(key, req, source, responseDestination(req, source), this.serverHost);
    this.servers.set(key, tx);
    this.host.onRequest(req, source, tx);
  }

  /** Feed a parsed response from the transport. */
  receiveResponse(res: SipResponse, source: Source): void {
    const top = res.headers.get('Via');
    const cseq = res.headers.get('CSeq');
    if (!top || !cseq) return;
    const branch = parseVia(top).branch ?? '';
    const tx = this.clients.get(`${branch}|${parseCSeq(cseq).method}`);
    if (tx) tx.receive(res, source);
    else this.host.onStrayResponse(res, source);
  }

  /** Start a client transaction; the request's top Via must carry a fresh magic-cookie branch. */
  request(req: SipRequest, dest: Destination, user: ClientTransactionUser): ClientTransaction {
    const branch = parseVia(req.headers.get('Via')!).branch;
    if (!branch?.startsWith(MAGIC_COOKIE)) throw new Error('client request needs a magic-cookie branch');
    const key = `${branch}|${req.method}`;
    const tx = new ClientTransaction(key, req, dest, this.clientHost, user);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Messages that belong to no transaction: ACK for 2xx, forwarded 2xx retransmissions. */
  sendStateless(dest: Destination, data: Buffer): void {
    void this.host.send(dest, data).catch(() => {});
  }

  findClient(branch: string, method: string): ClientTransaction | undefined {
    return this.clients.get(`${branch}|${method}`);
  }

  /** Ends every transaction at shutdown so no timer keeps the process alive. */
  close(): void {
    for (const tx of [...this.servers.values()]) tx.terminate();
    for (const tx of [...this.clients.values()]) tx.terminate();
  }
}

function newTag(): string {
  return randomBytes(6).toString('hex');
}

function toTagOf(res: SipResponse | undefined): string | undefined {
  const to = res?.headers.get('To');
  return to ? /;\s*tag=([^;\s]+)/i.exec(to)?.[1] : undefined;
}

/** A response to `req` that copies the headers RFC 3261 8.2.6.2 says it must. */
export function responseTo(req: SipRequest, status: number, reason: string, toTag?: string): SipResponse {
  const h = req.headers;
  const headers = new (h.constructor as new () => typeof h)();
  for (const v of h.getAll('Via')) headers.append('Via', v);
  let to = h.get('To') ?? '';
  if (toTag && status > 100 && !/;\s*tag=/i.test(to)) to = `${to};tag=${toTag}`;
  headers.set('From', h.get('From') ?? '');
  headers.set('To', to);
  headers.set('Call-ID', h.get('Call-ID') ?? '');
  headers.set('CSeq', h.get('CSeq') ?? '');
  return { kind: 'response', status, reason, headers, body: Buffer.alloc(0) };
}
