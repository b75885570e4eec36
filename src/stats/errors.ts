/**
 * Typed errors of the statistics capability (call records, reports, exports). Each carries a
 * stable `code` so the API can map it to HTTP problem+json (invalid → 400, not found → 404,
 * conflict → 409) without parsing messages; messages are one sentence for the operator.
 */
export class StatsError extends Error {
  override name = 'StatsError';
  readonly code: string = 'stats_error';
}

/** A value given to the statistics module is malformed: a bad month, time, kind or count. */
export class InvalidStatsInputError extends StatsError {
  override name = 'InvalidStatsInputError';
  override readonly code = 'stats_invalid';
}

/** A call record or meeting record with that id was written before. */
export class RecordConflictError extends StatsError {
  override name = 'RecordConflictError';
  override readonly code = 'stats_conflict';
}

/** Shortens untrusted input for error messages. */
export function printable(input: unknown, max = 80): string {
  const s = String(input).replace(/[\u0000-\u001f\u007f]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
