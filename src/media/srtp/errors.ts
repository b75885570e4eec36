/**
 * The one error type of the SRTP layer. Every refusal of a packet (and of bad key parameters)
 * is an SrtpError whose `code` says why, so a relay can count and log by cause without parsing
 * messages, and nothing else is ever thrown for any byte input.
 */
export type SrtpErrorCode =
  /** The authentication tag did not verify (tampered, wrong key, or wrong rollover guess). */
  | 'auth'
  /** Authentic, but its index was seen already or is older than the replay window. */
  | 'replay'
  /** Not an RTP/RTCP packet we can parse (version, header length, key parameters). */
  | 'malformed'
  /** Shorter than its header plus the SRTP trailer (index, MKI, tag). */
  | 'too-short'
  /** The master key has protected or accepted as many packets as it may (SDES lifetime, 2^48 / 2^31 limits). */
  | 'key-lifetime'
  /** The packet's MKI is not the one of this context's master key. */
  | 'unknown-mki';

export class SrtpError extends Error {
  override readonly name = 'SrtpError';
  constructor(
    readonly code: SrtpErrorCode,
    message: string,
  ) {
    super(message);
  }
}
