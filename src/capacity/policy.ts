/**
 * The admission decision itself, pure: given what is in use and the leg asking, which limit (if
 * any) refuses it, with the SIP Reason and the sentence for a browser. Both ledgers call this
 * inside their own transaction, so the rule is written once.
 *
 * Order: the node's limits first (ports, licences, media), then the organisation's quota. When
 * the node is full nobody gets in whatever their quota, and operators count that as a capacity
 * refusal (503, try later or elsewhere); a quota refusal (486/403) is for a node with room left.
 */
import { quotaOf, toMilli, type CapacityConfig } from './config.js';
import { CapacityRequestError } from './errors.js';
import { LEG_KINDS, type CapacityRefusal, type ReserveRequest } from './types.js';

/** What the limits are checked against, in the ledger's scope; amounts in thousandths. */
export interface UsageSnapshot {
  ports: number;
  licencesMilli: number;
  /** Media of the node that is asking (media capacity is a node's own). */
  nodeMediaMilli: number;
  /** Ports held by the request's organisation. */
  orgPorts: number;
}

/** What one leg costs, in thousandths. */
export interface LegCost {
  licencesMilli: number;
  mediaMilli: number;
}

export function legCost(cfg: CapacityConfig, kind: ReserveRequest['kind']): LegCost {
  return { licencesMilli: toMilli(cfg.licenceWeights[kind]), mediaMilli: toMilli(cfg.mediaCost[kind]) };
}

const MAX_ID = 256;

/** Throws CapacityRequestError unless the request is well formed; returns it normalised. */
export function checkRequest(req: unknown): ReserveRequest {
  if (typeof req !== 'object' || req === null) throw new CapacityRequestError('a reservation request must be an object { legId, kind, org }');
  const r = req as Record<string, unknown>;
  const text = (name: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_ID) {
      throw new CapacityRequestError(`${name} must be a non-empty string of at most ${MAX_ID} characters (got ${JSON.stringify(v) ?? String(v)})`);
    }
    return v;
  };
  const legId = text('legId', r.legId);
  if (!LEG_KINDS.includes(r.kind as ReserveRequest['kind'])) {
    throw new CapacityRequestError(`kind must be one of ${LEG_KINDS.join(', ')} (got ${JSON.stringify(r.kind) ?? String(r.kind)})`);
  }
  const org = text('org', r.org);
  const out: ReserveRequest = { legId, kind: r.kind as ReserveRequest['kind'], org };
  if (r.callerOrg !== undefined && r.callerOrg !== null) out.callerOrg = text('callerOrg', r.callerOrg);
  return out;
}

/** Q.850 cause values (ITU-T Q.850 table 1) that say the same as each refusal. */
const Q850 = {
  noChannel: 34, // no circuit/channel available
  resourceUnavailable: 47, // resource unavailable, unspecified
  userBusy: 17, // matches 486 Busy Here
  callRejected: 21, // matches 403 Forbidden
} as const;

/** A quoted-string for the Reason header's text parameter (RFC 3261 §25.1): no controls, `"` and `\` escaped. */
export function quoteReasonText(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`);
  return `"${clean}"`;
}

export function reasonHeader(cause: number, text: string): string {
  return `Q.850;cause=${cause};text=${quoteReasonText(text)}`;
}

function fmt(n: number): string {
  return String(Number(n.toFixed(3)));
}

function nodeRefusal(cause: 'node-ports' | 'node-licences' | 'node-media', limit: number, cfg: CapacityConfig): CapacityRefusal {
  const retry = cfg.retryAfterSeconds;
  const later = `Please try again in ${retry} seconds.`;
  switch (cause) {
    case 'node-ports':
      return {
        cause,
        sipStatus: 503,
        retryAfterSeconds: retry,
        reason: reasonHeader(Q850.noChannel, `node port limit ${limit} reached`),
        message: `The video service is busy: all ${limit} of its connections are in use. ${later}`,
      };
    case 'node-licences':
      return {
        cause,
        sipStatus: 503,
        retryAfterSeconds: retry,
        reason: reasonHeader(Q850.resourceUnavailable, `node licence limit ${fmt(limit)} reached`),
        message: `The video service is using all of its licences right now. ${later}`,
      };
    case 'node-media':
      return {
        cause,
        sipStatus: 503,
        retryAfterSeconds: retry,
        reason: reasonHeader(Q850.resourceUnavailable, `node media capacity ${fmt(limit)} reached`),
        message: `The video service has no media capacity left right now. ${later}`,
      };
  }
}

export function quotaRefusal(org: string, quota: number, cfg: CapacityConfig): CapacityRefusal {
  const status = cfg.quotaStatus;
  return {
    cause: 'org-quota',
    sipStatus: status,
    reason: reasonHeader(status === 486 ? Q850.userBusy : Q850.callRejected, `organisation ${org} quota of ${quota} concurrent ports reached`),
    message:
      quota === 0
        ? `Your organisation (${org}) has no video connections on this service.`
        : `Your organisation (${org}) is already using all ${quota} of its video connections. Try again when one of its calls has ended.`,
  };
}

/** null = admitted; otherwise the first limit the leg would exceed. */
export function decide(cfg: CapacityConfig, req: ReserveRequest, used: UsageSnapshot): CapacityRefusal | null {
  const cost = legCost(cfg, req.kind);
  if (cfg.maxPorts !== null && used.ports + 1 > cfg.maxPorts) return nodeRefusal('node-ports', cfg.maxPorts, cfg);
  if (cfg.maxLicences !== null && used.licencesMilli + cost.licencesMilli > toMilli(cfg.maxLicences)) {
    return nodeRefusal('node-licences', cfg.maxLicences, cfg);
  }
  if (cfg.mediaCapacity !== null && used.nodeMediaMilli + cost.mediaMilli > toMilli(cfg.mediaCapacity)) {
    return nodeRefusal('node-media', cfg.mediaCapacity, cfg);
  }
  const quota = quotaOf(cfg, req.org);
  if (quota !== null && used.orgPorts + 1 > quota) return quotaRefusal(req.org, quota, cfg);
  return null;
}

