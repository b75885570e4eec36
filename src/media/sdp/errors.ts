/**
 * The one error the SDP layer throws. `code` is stable so callers branch on it, never on the
 * message; the message names the defect precisely because it ends up in a SIP Warning.
 */
export type SdpErrorCode =
  | 'malformed-sdp'
  | 'malformed-crypto'
  | 'unknown-suite'
  | 'bad-base64'
  | 'bad-key-length'
  | 'bad-lifetime'
  | 'bad-mki'
  | 'bad-session-param'
  | 'bad-capabilities';

export class SdpError extends Error {
  override name = 'SdpError';
  constructor(
    readonly code: SdpErrorCode,
    message: string,
    /** The crypto suite of the a=crypto line at fault, when it could be read. */
    readonly suite?: string,
  ) {
    super(message);
  }
}

/**
 * Why knude will not take an offer or an answer: the SIP status to send (400 for SDP that does
 * not parse, 488 for everything it understood and cannot accept), a ready Warning header value
 * and a stable `reason` code for logs and metrics.
 */
export interface SdpRefusal {
  ok: false;
  status: 400 | 488;
  warning: string;
  reason: RefusalReason;
  /** Index of the m-line at fault, when one is. */
  mline?: number;
}

export type RefusalReason =
  | 'malformed-sdp'
  | 'plain-rtp'
  | 'best-effort-srtp'
  | 'null-cipher'
  | 'suite-not-allowed'
  | 'unencrypted-srtp'
  | 'unsupported-session-param'
  | 'malformed-crypto'
  | 'no-crypto'
  | 'dtls-not-allowed'
  | 'no-fingerprint'
  | 'answer-mismatch'
  | 'answer-crypto'
  | 'no-audio'
  | 'no-common-codec';

const MAX_WARNING_TEXT = 300;

/** Warning header value (RFC 3261 §20.43) with knude as agent, as the SIP layer writes it. */
export function warningHeader(text: string): string {
  // The text quotes pieces of the remote's SDP: no quote, backslash or control character may
  // reach the header (a CR or LF would let a remote inject header lines).
  const clean = text.replace(/["\\]/g, "'").replace(/[\x00-\x1f\x7f]/g, ' ');
  return `399 knude "${clean.length > MAX_WARNING_TEXT ? `${clean.slice(0, MAX_WARNING_TEXT - 3)}...` : clean}"`;
}

export function refuse(status: 400 | 488, reason: RefusalReason, text: string, mline?: number): SdpRefusal {
  return mline === undefined ? { ok: false, status, warning: warningHeader(text), reason } : { ok: false, status, warning: warningHeader(text), reason, mline };
}
