/**
 * Typed errors of capacity admission. A refusal is not an error (it is a ReserveResult); these
 * are for configuration an operator got wrong, requests a caller got wrong, and a store that
 * cannot be reached.
 */
export class CapacityError extends Error {
  override name = 'CapacityError';
  readonly code: string = 'capacity_error';
}

/** The capacity section of the configuration is invalid; the message names the field. */
export class CapacityConfigError extends CapacityError {
  override name = 'CapacityConfigError';
  override readonly code = 'capacity_config_invalid';
}

/** A reserve() request is malformed, or its legId is already held. */
export class CapacityRequestError extends CapacityError {
  override name = 'CapacityRequestError';
  override readonly code = 'capacity_request_invalid';
}

/** The ledger's store failed (PostgreSQL unreachable, a schema that cannot be created). */
export class CapacityStoreError extends CapacityError {
  override name = 'CapacityStoreError';
  override readonly code = 'capacity_store_failed';
}
