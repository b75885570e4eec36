import { serializeMessage, type SipRequest, type SipResponse } from '../message/index.js';
import type { Destination, Source } from '../transport/types.js';
import { TimerSet, type TimerValues } from './timers.js';

export type ClientState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientTransactionHost {
  timers: TimerValues;
  /** Resolves with the flow used, rejects on a transport failure. */
  send(dest: Destination, data: Buffer): Promise<Source>;
  terminated(tx: ClientTransaction): void;
}

export interface ClientTransactionUser {
  /** Every response, including 2xx retransmissions and forked 2xx in the Accepted state. */
  onResponse(res: SipResponse, tx: ClientTransaction, source: Source | undefined): void;
  /** Timer B/F fired or the transport failed: the caller gets a synthetic 408 or 503 via onResponse first. */
  onTimeout?(tx: ClientTransaction): void;
}

/**
 * RFC 3261 17.1 client transaction (INVITE: figure 5 with RFC 6026's Accepted state;
 * non-INVITE: figure 6). The ACK for a failure response is built here (17.1.1.3),
 * the ACK for a 2xx belongs to the dialog, not the transaction.
 */
export class ClientTransaction {
  state: ClientState;
  readonly isInvite: boolean;
  readonly branch: string;
  reliable: boolean;
  /** The flow the request left on; responses and the CANCEL follow it. */
  flow: Source | undefined;
  private wire: Buffer;
  private timers = new TimerSet();
  private retransmitTimer: NodeJS.Timeout | undefined;
  private ackWire: Buffer | undefined;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly dest: Destination,
    private readonly host: ClientTransactionHost,
    private readonly user: ClientTransactionUser,
  ) {
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'calling' : 'trying';
    this.reliable = dest.protocol !== 'udp';
    this.branch = key.split('|')[0];
    this.wire = serializeMessage(request);
  }

  start(): void {
    const { T1, T2 } = this.host.timers;
    this.host.send(this.dest, this.wire).then(
      (flow) => {
        this.flow = flow;
      },
      () => this.fail(503, 'Service Unavailable', 'transport failure'),
    );
    if (!this.reliable) {
      let interval = T1;
      const retransmit = () => {
        if (this.state !== 'calling' && this.state !== 'trying' && this.state !== 'proceeding') return;
        if (this.isInvite && this.state === 'proceeding') return; // Timer A stops on a provisional
        void this.host.send(this.flow ? { ...this.dest, flowId: this.flow.flowId } : this.dest, this.wire).catch(() => {});
        interval = this.isInvite ? 2 * interval : Math.min(2 * interval, T2);
        if (!this.isInvite && this.state === 'proceeding') interval = T2;
        this.retransmitTimer = setTimeout(retransmit, interval);
      };
      this.retransmitTimer = setTimeout(retransmit, interval); // Timer A / E
    }
    // Timer B / F
    this.timers.after(64 * T1, () => {
      if (this.state === 'calling' || this.state === 'trying' || (this.state === 'proceeding' && !this.isInvite)) {
        this.fail(408, 'Request Timeout', 'no final response (timer B/F)');
      }
    });
  }

  /** A synthetic final response so the user sees one path for every outcome. */
  private fail(status: number, reason: string, why: string): void {
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'accepted') return;
    // Only what a response carries (RFC 3261 8.2.6.2): a clone of the request handed the user,
    // and through a proxy the upstream network, its Route, Contact, Max-Forwards and credentials.
    const h = this.request.headers;
    const headers = new (h.constructor as new () => typeof h)();
    for (const v of h.getAll('Via')) headers.append('Via', v);
    for (const n of ['From', 'To', 'Call-ID', 'CSeq']) {
      const v = h.get(n);
      if (v !== undefined) headers.set(n, v);
    }
    headers.set('Reason', `SIP;cause=${status};text="${why}"`);
    const res: SipResponse = { kind: 'response', status, reason, headers, body: Buffer.alloc(0) };
    this.state = 'terminated';
    this.clearTimers();
    this.user.onResponse(res, this, undefined);
    this.user.onTimeout?.(this);
    this.host.terminated(this);
  }

  receive(res: SipResponse, source: Source): void {
    const { T1, T4 } = this.host.timers;
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (s < 200) {
          this.state = 'proceeding';
          this.user.onResponse(res, this, source);
          return;
        }
        this.clearRetransmit();
        if (this.isInvite && s < 300) {
          this.state = 'accepted';
          this.timers.after(64 * T1, () => this.terminate()); // Timer M
        } else if (this.isInvite) {
          this.state = 'completed';
          this.sendAck(res);
          this.timers.after(this.reliable ? 0 : 32_000, () => this.terminate()); // Timer D
        } else {
          this.state = 'completed';
          this.timers.after(this.reliable ? 0 : T4, () => this.terminate()); // Timer K
        }
        this.user.onResponse(res, this, source);
        return;
      case 'accepted':
        // Retransmitted or forked 2xx: the dialog layer decides (re-ACK, or ACK+BYE a second fork).
        if (s >= 200 && s < 300) this.user.onResponse(res, this, source);
        return;
      case 'completed':
        if (this.isInvite && s >= 300 && this.ackWire) void this.host.send(this.ackDest(), this.ackWire).catch(() => {});
        return;
      default:
        return;
    }
  }

  private ackDest(): Destination {
    return this.flow ? { ...this.dest, flowId: this.flow.flowId } : this.dest;
  }

  private sendAck(res: SipResponse): void {
    const h = this.request.headers;
    const headers = new (h.constructor as new () => typeof h)();
    headers.set('Via', h.getAll('Via')[0]);
    for (const r of h.getAll('Route')) headers.append('Route', r);
    headers.set('Max-Forwards', '70');
    headers.set('From', h.get('From')!);
    headers.set('To', res.headers.get('To')!);
    headers.set('Call-ID', h.get('Call-ID')!);
    headers.set('CSeq', `${h.get('CSeq')!.trim().split(/\s+/)[0]} ACK`);
    const ack: SipRequest = { kind: 'request', method: 'ACK', uri: this.request.uri, headers, body: Buffer.alloc(0) };
    const wire = serializeMessage(ack);
    this.ackWire = wire;
    void this.host.send(this.ackDest(), wire).catch(() => {});
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.host.terminated(this);
  }


  private clearRetransmit(): void {
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
  }

  private clearTimers(): void {
    this.clearRetransmit();
    this.timers.clear();
  }
}
