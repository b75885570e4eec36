/**
 * Typed errors of the dial plan. Each carries a stable `code` so the API layer can map it to
 * HTTP problem+json (conflict → 409, validation → 400, not found → 404) and the SIP layer to
 * a response code, in one place each, without parsing messages.
 */
export class DialPlanError extends Error {
  override name = 'DialPlanError';
  readonly code: string = 'dialplan_error';
}

/**
 * A write would make the plan ambiguous or inconsistent: overlapping number blocks of two
 * organisations, an alias outside its organisation's blocks/domains, a duplicate, or a removal
 * that would orphan something still referring to it.
 */
export class PlanConflictError extends DialPlanError {
  override name = 'PlanConflictError';
  override readonly code = 'plan_conflict';
}

/** A value is malformed on its own: bad organisation name, prefix, domain, target, regex. */
export class PlanValidationError extends DialPlanError {
  override name = 'PlanValidationError';
  override readonly code = 'plan_invalid';
}

export class PlanNotFoundError extends DialPlanError {
  override name = 'PlanNotFoundError';
  override readonly code = 'plan_not_found';
}

/** What was dialled cannot be read as a number or a URI (the router answers 484). */
export class DialStringError extends DialPlanError {
  override name = 'DialStringError';
  override readonly code = 'dial_string_invalid';
  constructor(
    message: string,
    /** The offending input, cut to a printable length so hostile input cannot flood logs. */
    readonly input: string,
  ) {
    super(message);
  }
}

export interface ImportIssue {
  /** 1-based line in the imported text, when the problem can be tied to a node. */
  line?: number;
  message: string;
}

/** An imported plan was refused; nothing of it was applied. `issues` lists every problem found. */
export class PlanImportError extends DialPlanError {
  override name = 'PlanImportError';
  override readonly code = 'plan_import_invalid';
  constructor(readonly issues: ImportIssue[]) {
    super(
      `plan import refused (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => (i.line ? `line ${i.line}: ${i.message}` : i.message)).join('\n'),
    );
  }
}

/** Shortens untrusted input for error messages. */
export function printable(input: string, max = 80): string {
  const s = input.replace(/[\u0000-\u001f\u007f]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
