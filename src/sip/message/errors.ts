import type { SipHeaders } from './headers.js';

/** What could still be read from a message that failed to parse. */
export interface SipSalvage {
  kind?: 'request' | 'response';
  method?: string;
  headers?: SipHeaders;
}

/**
 * The only error the message layer throws. The message names the defect precisely, because a
 * server copies it into the Warning of its 400; `salvage` holds what could be read (Via,
 * Call-ID, From, To, CSeq...) so the server can still address that 400.
 */
export class SipParseError extends Error {
  override name = 'SipParseError';
  constructor(
    message: string,
    readonly salvage?: SipSalvage,
  ) {
    super(message);
  }
}
