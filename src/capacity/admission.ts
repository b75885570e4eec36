/**
 * A capacity refusal as the two front doors answer it, in one place: the SIP response an INVITE
 * gets (for drachtio-srf's `res.send(status, { headers })`) and the refusal a browser join gets.
 * Pure functions: the decision and its texts were made by the ledger (policy.ts).
 */
import type { CapacityRefusal, RefusalCause } from './types.js';

export interface SipRejection {
  status: 503 | 486 | 403;
  headers: { 'Retry-After'?: string; Reason: string };
}

/**
 * 503 carries Retry-After (RFC 3261 §21.5.4: the caller may retry after it, here or on another
 * node); 486/403 for a quota carry none, since the quota frees up when the organisation's own
 * calls end, not after a known time. Both carry the RFC 3326 Reason naming the limit.
 */
export function sipRejection(refusal: CapacityRefusal): SipRejection {
  const headers: SipRejection['headers'] = { Reason: refusal.reason };
  if (refusal.sipStatus === 503 && refusal.retryAfterSeconds !== undefined) headers['Retry-After'] = String(refusal.retryAfterSeconds);
  return { status: refusal.sipStatus, headers };
}

/** What the browser client is told when its join is refused for capacity (sent as JSON over signalling). */
export interface BrowserRefusal {
  error: 'capacity';
  cause: RefusalCause;
  /** A sentence for the person. */
  message: string;
  /** When a retry can make sense (node limits); the client may offer to try again then. */
  retryAfterSeconds?: number;
}

export function browserRefusal(refusal: CapacityRefusal): BrowserRefusal {
  const out: BrowserRefusal = { error: 'capacity', cause: refusal.cause, message: refusal.message };
  if (refusal.retryAfterSeconds !== undefined) out.retryAfterSeconds = refusal.retryAfterSeconds;
  return out;
}
