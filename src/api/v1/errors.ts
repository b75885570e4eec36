/**
 * The API's one error type and the one place domain errors become HTTP problems
 * (RFC 9457 application/problem+json). Handlers throw domain errors unchanged.
 */
import { DialPlanError, PlanConflictError, PlanNotFoundError } from '../../dialplan/errors.js';
import { AccountExistsError, AccountNotFoundError, InvalidAccountError } from '../../registrar/errors.js';
import { RoomConflictError, RoomError, RoomNotFoundError } from '../../rooms/errors.js';
import type { SchemaIssue } from './json-schema.js';

export const PROBLEM_TYPE_BASE = 'https://knude.dev/problems/';

export class ApiProblem extends Error {
  override name = 'ApiProblem';
  constructor(
    readonly status: number,
    /** Stable short code; the problem `type` is PROBLEM_TYPE_BASE + code. */
    readonly code: string,
    detail: string,
    readonly extra: { issues?: SchemaIssue[]; retryAfterSeconds?: number } = {},
  ) {
    super(detail);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  issues?: SchemaIssue[];
}

export const badRequest = (detail: string, issues?: SchemaIssue[]): ApiProblem => new ApiProblem(400, 'bad-request', detail, issues ? { issues } : {});
export const notFound = (detail: string): ApiProblem => new ApiProblem(404, 'not-found', detail);
export const forbidden = (detail: string): ApiProblem => new ApiProblem(403, 'forbidden', detail);
export const conflict = (detail: string): ApiProblem => new ApiProblem(409, 'conflict', detail);

/** Maps any thrown value to a problem; unknown errors are 500 with a detail that leaks nothing. */
export function toProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err instanceof RoomNotFoundError || err instanceof PlanNotFoundError || err instanceof AccountNotFoundError) return notFound(err.message);
  if (err instanceof RoomConflictError || err instanceof PlanConflictError || err instanceof AccountExistsError) return conflict(err.message);
  if (err instanceof RoomError || err instanceof DialPlanError || err instanceof InvalidAccountError) return new ApiProblem(422, 'invalid', err.message);
  return new ApiProblem(500, 'internal', 'the request failed on the server; the error is in the node log');
}

export function problemBody(p: ApiProblem, instance?: string): ProblemBody {
  return {
    type: `${PROBLEM_TYPE_BASE}${p.code}`,
    title: TITLES[p.status] ?? 'Error',
    status: p.status,
    detail: p.message,
    ...(instance ? { instance } : {}),
    ...(p.extra.issues ? { issues: p.extra.issues } : {}),
  };
}
