/**
 * The gatekeeper's registrations and admissions, in memory. A registration owns its admitted
 * calls: when it goes (URQ, TTL expiry, replaced by a new RRQ from the same endpoint) every
 * admission it holds is released, so the capacity counters cannot leak.
 *
 * Registrations are deliberately not persisted: an H.323 endpoint re-registers (full RRQ) as soon
 * as its keep-alive is refused with fullRegistrationRequired, which is what a restarted
 * gatekeeper answers.
 */
import type { AdmissionConfirm, AliasAddress, TransportAddress } from './ras.js';
import { aliasText, formatAddress } from './ras.js';

export interface Admission {
  /** The capacity ledger's legId. */
  legId: string;
  callKey: string;
  answerCall: boolean;
  bandWidth: number;
  /** The organisation the leg is charged to. */
  org: string | null;
  destination: string;
  admittedAt: number;
  /** Resolves when the capacity reservation is settled (true: held and must be released). */
  reserved: Promise<boolean>;
  /** The ACF sent, sent again when the endpoint retransmits its ARQ. */
  reply?: AdmissionConfirm;
}

export interface Registration {
  endpointId: string;
  aliases: AliasAddress[];
  /** Dial-plan keys of the aliases ('+4640123', 'alice@skane.se'), for lookup. */
  keys: string[];
  /** 'alice@skane.se' when the aliases belong to an account in the plan. */
  account: string | null;
  org: string | null;
  callSignalAddress: TransportAddress[];
  /** Where the RRQ came from: replies, keep-alive checks and URQ go here. */
  source: { host: string; port: number };
  vendor: string | null;
  /** The endpoint asked for H.460.18 signalling traversal (it sits behind NAT). */
  traversal: boolean;
  timeToLive: number;
  registeredAt: number;
  refreshedAt: number;
  expiresAt: number;
  calls: Map<string, Admission>;
}

/** A registration as the CLI and API show it (next to SIP bindings). */
export interface RegistrationInfo {
  protocol: 'h323';
  endpointId: string;
  aliases: Array<{ type: string; value: string }>;
  keys: string[];
  account: string | null;
  org: string | null;
  callSignalAddress: string[];
  rasAddress: string;
  vendor: string | null;
  /** Asked for H.460.18 traversal. */
  traversal: boolean;
  timeToLive: number;
  registeredAt: string;
  expiresAt: string;
  activeCalls: number;
}

export class Registry {
  private readonly byId = new Map<string, Registration>();
  private readonly byKey = new Map<string, Registration>();

  get size(): number {
    return this.byId.size;
  }

  get(endpointId: string): Registration | undefined {
    return this.byId.get(endpointId);
  }

  /** The registration holding this dial-plan key. */
  find(key: string): Registration | undefined {
    return this.byKey.get(key);
  }

  /** The registration of an account ('alice@skane.se'), the most recent if it has several endpoints. */
  findAccount(account: string): Registration | undefined {
    let best: Registration | undefined;
    for (const r of this.byId.values()) if (r.account === account && (!best || r.refreshedAt > best.refreshedAt)) best = r;
    return best;
  }

  /** Registrations whose source (RAS address as seen) is this one. */
  fromSource(host: string, port: number): Registration[] {
    return [...this.byId.values()].filter((r) => r.source.host === host && r.source.port === port);
  }

  add(r: Registration): void {
    this.byId.set(r.endpointId, r);
    for (const k of r.keys) this.byKey.set(k, r);
  }

  /** Takes a registration out of the tables; the caller releases its admissions. */
  remove(endpointId: string): Registration | undefined {
    const r = this.byId.get(endpointId);
    if (!r) return undefined;
    this.byId.delete(endpointId);
    for (const k of r.keys) if (this.byKey.get(k) === r) this.byKey.delete(k);
    return r;
  }

  /** Registrations whose time is up at `now`. */
  expired(now: number): Registration[] {
    return [...this.byId.values()].filter((r) => r.expiresAt <= now);
  }

  all(): Registration[] {
    return [...this.byId.values()];
  }
}

export function describe(r: Registration): RegistrationInfo {
  return {
    protocol: 'h323',
    endpointId: r.endpointId,
    aliases: r.aliases.map(aliasText),
    keys: [...r.keys],
    account: r.account,
    org: r.org,
    callSignalAddress: r.callSignalAddress.map(formatAddress),
    rasAddress: `${r.source.host}:${r.source.port}`,
    vendor: r.vendor,
    traversal: r.traversal,
    timeToLive: r.timeToLive,
    registeredAt: new Date(r.registeredAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    activeCalls: r.calls.size,
  };
}
