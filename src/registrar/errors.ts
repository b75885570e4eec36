/**
 * Typed errors of the registrar. Callers map them to responses by class (instanceof),
 * never by parsing messages; messages are written for the operator reading the log or API reply.
 */

export class RegistrarError extends Error {
  override name = 'RegistrarError';
}

// ---- configuration -------------------------------------------------------------------------

/** The digest authenticator was constructed with unusable settings (weak secret, bad lifetime). */
export class DigestConfigError extends RegistrarError {
  override name = 'DigestConfigError';
}

// ---- accounts (admin API: 409 / 404 / 400) ----------------------------------------------------

export class AccountExistsError extends RegistrarError {
  override name = 'AccountExistsError';
  constructor(
    readonly username: string,
    readonly realm: string,
  ) {
    super(`account "${username}" already exists in realm "${realm}"`);
  }
}

export class AccountNotFoundError extends RegistrarError {
  override name = 'AccountNotFoundError';
  constructor(
    readonly username: string,
    readonly realm: string,
  ) {
    super(`no account "${username}" in realm "${realm}"`);
  }
}

/** An account field failed validation; `field` names it so an API can point at the input. */
export class InvalidAccountError extends RegistrarError {
  override name = 'InvalidAccountError';
  constructor(
    readonly field: 'org' | 'username' | 'realm' | 'password' | 'displayName',
    message: string,
  ) {
    super(message);
  }
}

// ---- REGISTER processing (RFC 3261 §10.3); `sipStatus` is the response the UAS should send ----

/** The REGISTER itself is invalid (e.g. `Contact: *` with other contacts or Expires != 0): 400. */
export class InvalidRegisterError extends RegistrarError {
  override name = 'InvalidRegisterError';
  readonly sipStatus = 400;
}

/**
 * A binding with the same Call-ID already carries an equal or higher CSeq (§10.3 steps 6 and 8):
 * the whole update is aborted. RFC 3261 names no code; 500 (with Retry-After) is what most
 * registrars send, a late retransmission of an old REGISTER gets nothing useful from a 4xx.
 */
export class OutOfOrderRegisterError extends RegistrarError {
  override name = 'OutOfOrderRegisterError';
  readonly sipStatus = 500;
  constructor(
    readonly aor: string,
    readonly callId: string,
    readonly cseq: number,
    readonly storedCseq: number,
  ) {
    super(`REGISTER for ${aor} with Call-ID ${callId} has CSeq ${cseq}, not above the stored ${storedCseq}`);
  }
}

/** A requested interval is below the configured minimum (§10.3 step 7): answer 423 with Min-Expires. */
export class IntervalTooBriefError extends RegistrarError {
  override name = 'IntervalTooBriefError';
  readonly sipStatus = 423;
  constructor(
    readonly minExpires: number,
    readonly requested: number,
    readonly contactUri: string,
  ) {
    super(`expiration ${requested}s for ${contactUri} is below the minimum of ${minExpires}s`);
  }
}
