import type { SipHeaders } from './headers.js';

export interface SipRequest {
  kind: 'request';
  method: string;
  /** The Request-URI as sent; parse it with parseUri. */
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;
