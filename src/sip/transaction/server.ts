import { serializeMessage, type SipRequest, type SipResponse } from '../message/index.js';
import type { Destination, Source } from '../transport/types.js';
import { TimerSet, type TimerValues } from './timers.js';

export type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface ServerTransactionHost {
  timers: TimerValues;
  send(dest: Destination, data: Buffer): void;
  terminated(tx: ServerTransaction): void;
  /** An INVITE answered with a failure never got its ACK (Timer H). */
  ackTimeout(tx: ServerTransaction): void;
}

/**
 * RFC 3261 17.2 server transaction (INVITE: figure 7 with RFC 6026's Accepted state;
 * non-INVITE: figure 8). It owns retransmission of its responses; the caller only responds.
 */
export class ServerTransaction {
  state: ServerState;
  lastResponse: SipResponse | undefined;
  private lastWire: Buffer | undefined;
  private timers = new TimerSet();
  readonly isInvite: boolean;
  readonly reliable: boolean;
  /** Set by the layer when a CANCEL arrived for this INVITE. */
  cancelled = false;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly source: Source,
    readonly dest: Destination,
    private readonly host: ServerTransactionHost,
  ) {
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'proceeding' : 'trying';
    this.reliable = source.protocol !== 'udp';
  }

  get finalSent(): boolean {
    return this.state !== 'trying' && this.state !== 'proceeding';
  }

  respond(res: SipResponse): Buffer {
    if (this.finalSent) throw new Error(`transaction ${this.key} already answered with ${this.lastResponse?.status}`);
    const wire = serializeMessage(res);
    this.lastResponse = res;
    this.lastWire = wire;
    this.host.send(this.dest, wire);
    const { T1, T2 } = this.host.timers;
    if (res.status < 200) {
      if (this.state === 'trying') this.state = 'proceeding';
      return wire;
    }
    if (!this.isInvite) {
      this.state = 'completed';
      this.timers.after(this.reliable ? 0 : 64 * T1, () => this.terminate()); // Timer J
    } else if (res.status < 300) {
      // RFC 6026: stay Accepted for 64*T1 so INVITE retransmissions are absorbed, not re-delivered.
      this.state = 'accepted';
      this.timers.after(64 * T1, () => this.terminate()); // Timer L
    } else {
      this.state = 'completed';
      if (!this.reliable) {
        let interval = T1;
        const retransmit = () => {
          if (this.state !== 'completed') return;
          this.host.send(this.dest, wire);
          interval = Math.min(2 * interval, T2);
          this.timers.after(interval, retransmit);
        };
        this.timers.after(interval, retransmit); // Timer G
      }
      this.timers.after(64 * T1, () => {
        // Timer H
        if (this.state === 'completed') {
          this.host.ackTimeout(this);
          this.terminate();
        }
      });
    }
    return wire;
  }

  /** The same request arrived again: repeat the last response (17.2.1, 17.2.2). */
  retransmission(): void {
    if (this.lastWire && this.state !== 'accepted' && this.state !== 'confirmed') this.host.send(this.dest, this.lastWire);
  }

  /** ACK for a failure response (same branch). */
  ack(): void {
    if (this.state !== 'completed' || !this.isInvite) return;
    this.state = 'confirmed';
    this.timers.clear();
    this.timers.after(this.reliable ? 0 : this.host.timers.T4, () => this.terminate()); // Timer I
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.clear();
    this.host.terminated(this);
  }


}
