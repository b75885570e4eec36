/**
 * The vocabulary of capacity admission: what a leg is, what reserving one answers, what the
 * ledger reports. Both ledgers (SQLite for one node, PostgreSQL for several nodes sharing one
 * limit) implement the same CapacityLedger and pass the same behavioural tests.
 */
import type { EventEmitter } from 'node:events';

/**
 * 'video': a SIP leg with video; 'audio': an audio-only SIP leg (a phone, a PSTN gateway);
 * 'browser': a WebRTC participant joining from the browser client.
 */
export type LegKind = 'video' | 'audio' | 'browser';
export const LEG_KINDS: readonly LegKind[] = ['video', 'audio', 'browser'];

export interface ReserveRequest {
  /** Unique per leg (e.g. the dialog's Call-ID and tag, or a participant id); released by it. */
  legId: string;
  kind: LegKind;
  /** The organisation the port is charged to: its quota is the one checked. */
  org: string;
  /** The calling side's organisation when it differs; recorded for reports, never charged. */
  callerOrg?: string;
}

export type RefusalCause = 'node-ports' | 'node-licences' | 'node-media' | 'org-quota';

export interface CapacityRefusal {
  cause: RefusalCause;
  /** 503 for the node's limits (try later or elsewhere); 486 (or 403 by config) for a quota. */
  sipStatus: 503 | 486 | 403;
  /** Only with 503: the Retry-After the caller is given. */
  retryAfterSeconds?: number;
  /** The value of a SIP Reason header (RFC 3326), e.g. `Q.850;cause=34;text="port limit 20 reached"`. */
  reason: string;
  /** The same refusal in words, for a person joining from the browser. */
  message: string;
}

export interface Reservation {
  readonly legId: string;
  readonly kind: LegKind;
  readonly org: string;
  readonly callerOrg?: string;
  /** Licence units this leg takes (the kind's weight). */
  readonly licences: number;
  /** Media capacity this leg takes (the kind's cost). */
  readonly media: number;
  readonly reservedAt: Date;
  /** Gives the port back. Idempotent: the second and later calls do nothing. */
  release(): Promise<void>;
}

export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; refusal: CapacityRefusal };

export interface OrgUsage {
  ports: number;
  /** The quota in force for this organisation; null = unlimited. */
  quota: number | null;
}

export interface CapacityUsage {
  /** Ports, licence units and media in use within the ledger's limit scope (this node, or the cluster for PostgreSQL). */
  ports: number;
  licences: number;
  media: number;
  /** Legs by kind. */
  byKind: Record<LegKind, number>;
  /** Organisations with at least one port in use. */
  orgs: Record<string, OrgUsage>;
  limits: { maxPorts: number | null; maxLicences: number | null; mediaCapacity: number | null };
  /** Legs this node carries (equals `ports` for the single-node SQLite ledger). */
  nodePorts: number;
  /** Media this node carries: media capacity is always a node's own (its CPU and bandwidth). */
  nodeMedia: number;
}

/** Payload of every ledger event; `cause` only on 'refuse'. */
export interface CapacityEvent {
  legId: string;
  kind: LegKind;
  org: string;
  cause?: RefusalCause;
  at: Date;
}

export interface CapacityEvents {
  reserve: [CapacityEvent];
  release: [CapacityEvent];
  refuse: [CapacityEvent];
}

export interface CapacityLedger extends EventEmitter<CapacityEvents> {
  /** Takes a port for the leg, or says why not. Throws CapacityRequestError on malformed input or a legId already held. */
  reserve(req: ReserveRequest): Promise<ReserveResult>;
  /** Gives the leg's port back. Idempotent; an unknown legId is a no-op. */
  release(legId: string): Promise<void>;
  usage(): Promise<CapacityUsage>;
  /** Stops timers and closes connections. Reservations stay (a node that stops without ending its calls looks like a crash). */
  close(): Promise<void>;
}
