import type { SipHeaders } from './headers.js';

/** A SIP message that cannot be read. `salvage` holds what could be, so a server can still answer 400. */
export class SipParseError extends Error {
  override name = 'SipParseError';
  constructor(
    message: string,
    readonly salvage?: { kind?: 'request' | 'response'; method?: string; headers?: SipHeaders },
  ) {
    super(message);
  }
}
