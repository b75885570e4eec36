/** Typed errors of the H.323 gatekeeper: a datagram that does not decode, or a bad configuration. */
export class H323Error extends Error {
  override name = 'H323Error';
  readonly code: string = 'h323_error';
}

/** A RAS datagram (or a value to encode) does not fit the H.225.0 ASN.1; the message says where. */
export class H323CodecError extends H323Error {
  override name = 'H323CodecError';
  override readonly code = 'h323_codec_error';
}

/** The h323 section of the configuration is invalid; the message names the field. */
export class H323ConfigError extends H323Error {
  override name = 'H323ConfigError';
  override readonly code = 'h323_config_invalid';
}
