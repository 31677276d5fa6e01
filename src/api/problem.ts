/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Handlers throw `HttpProblem`;
 * the app's error handler turns it (and body-parser errors) into the response, so every error has
 * the same shape and no stack trace or secret reaches a client.
 */
import type { Response } from 'express';
import type { z } from 'zod';
import type { Problem } from './schemas/common';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_PREFIX = 'urn:smime-escrow-provider:problem:';

/** The body of every error answer; its schema is `Problem` in ./schemas/common.ts. */
export type ProblemDetails = z.output<typeof Problem>;

/** Problem kinds: slug for the type URI, status, and a title that never varies per occurrence. */
export const PROBLEMS = {
  badRequest: { slug: 'bad-request', status: 400, title: 'Malformed request' },
  unauthorized: { slug: 'unauthorized', status: 401, title: 'Authentication required' },
  forbidden: { slug: 'forbidden', status: 403, title: 'Not allowed for this role' },
  notFound: { slug: 'not-found', status: 404, title: 'Not found' },
  methodNotAllowed: { slug: 'method-not-allowed', status: 405, title: 'Method not allowed' },
  conflict: { slug: 'conflict', status: 409, title: 'Not possible in the current state' },
  tooLarge: { slug: 'payload-too-large', status: 413, title: 'Request body too large' },
  unsupportedMediaType: { slug: 'unsupported-media-type', status: 415, title: 'Unsupported Content-Type' },
  invalidField: { slug: 'invalid-field', status: 422, title: 'A field is missing or invalid' },
  tooManyRequests: { slug: 'too-many-requests', status: 429, title: 'Too many requests, slow down' },
  unavailable: { slug: 'temporal-unavailable', status: 503, title: 'Workflow service unavailable, try again later' },
  databaseUnavailable: { slug: 'database-unavailable', status: 503, title: 'Provider database unavailable, try again later' },
  internal: { slug: 'internal', status: 500, title: 'Internal error' },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  readonly status: number;
  constructor(
    readonly kind: ProblemKind,
    readonly detail?: string,
    readonly extra: { field?: string; retryAfterSeconds?: number; allow?: string[] } = {},
  ) {
    super(detail ?? PROBLEMS[kind].title);
    this.status = PROBLEMS[kind].status;
  }
}

export function problemBody(kind: ProblemKind, detail?: string, extra: { field?: string; instance?: string; requestId?: string } = {}): ProblemDetails {
  const { slug, status, title } = PROBLEMS[kind];
  return {
    type: `${TYPE_PREFIX}${slug}`,
    title,
    status,
    ...(detail ? { detail } : {}),
    ...(extra.instance ? { instance: extra.instance } : {}),
    ...(extra.field ? { field: extra.field } : {}),
    ...(extra.requestId ? { requestId: extra.requestId } : {}),
  };
}

export function sendProblem(res: Response, problem: HttpProblem, instance?: string): void {
  if (problem.extra.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(problem.extra.retryAfterSeconds));
  if (problem.extra.allow) res.setHeader('Allow', problem.extra.allow.join(', '));
  if (problem.kind === 'unauthorized' && !res.getHeader('WWW-Authenticate')) res.setHeader('WWW-Authenticate', 'Bearer');
  const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined;
  res
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(problem.kind, problem.detail, { field: problem.extra.field, instance, requestId })));
}
