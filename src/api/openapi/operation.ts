/**
 * One HTTP operation, described once: method, path, who may call it, the zod schemas of its
 * parameters, body and answers, and the problems it can answer with. Routers mount it
 * (`mountOperation`, or `expressPath` for a hand-built chain) and validate with its schemas;
 * `openApiDocument` turns the list into /openapi.json. A new endpoint is one `defineOperation`
 * next to its router plus one entry in `src/api/operations.ts`.
 */
import { z } from 'zod';
import { PROBLEMS, type ProblemKind } from '../problem';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call: nobody in particular, UEM (Basic), a bearer token with at least that role, or an
 * operator through a token or a codec session. Decides the security requirement and the 401/403
 * answers, so no operation has to list them.
 */
export type Access = 'public' | 'webhook' | 'viewer' | 'operator' | 'codec';

export type Tag = 'webhook' | 'management' | 'meta' | 'codec';

export interface BodySpec {
  schema: z.ZodType;
  /** Default true. */
  required?: boolean;
  /** Default: application/json only. */
  contentTypes?: readonly string[];
  description?: string;
}

export interface HeaderSpec {
  description?: string;
  schema: z.ZodType;
}

export interface ResponseSpec {
  description: string;
  /** Absent: the answer has no body (204). */
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, HeaderSpec>;
}

export interface OperationSpec {
  operationId: string;
  method: HttpMethod;
  /** The full path in OpenAPI form: /v1/enrollments/{workflowId}. */
  path: `/${string}`;
  tag: Tag;
  summary: string;
  description?: string;
  access: Access;
  /** Path parameters; a value that fails them names no resource: 404. */
  params?: z.ZodObject;
  /** Query parameters; a value that fails them: 422 naming the parameter. */
  query?: z.ZodObject;
  /** Request headers worth documenting. */
  headers?: z.ZodObject;
  body?: BodySpec;
  /** Success (and other non-problem) answers by status. */
  responses: Record<number, ResponseSpec>;
  /** Problem answers besides those `access` implies: kind → when it happens. */
  problems?: Partial<Record<ProblemKind, string>>;
}

/** Identity at run time; keeps the literal types so `mountOperation` can type the handler's input. */
export function defineOperation<const O extends OperationSpec>(operation: O): O {
  return operation;
}

/** The problems a JSON body brings with it; spread into `problems` and override a description where it says more. */
export const JSON_BODY_PROBLEMS = {
  badRequest: 'The body is not valid JSON',
  tooLarge: 'The body is too large',
  unsupportedMediaType: 'The body is not JSON',
  invalidField: 'A field is missing or invalid (named in `field`)',
} as const satisfies Partial<Record<ProblemKind, string>>;

export const TEMPORAL_UNAVAILABLE = 'Temporal is unreachable or did not answer in time: nothing was changed; repeat later';

/** Headers that come with a problem of some kind, whatever the operation. */
export const PROBLEM_HEADERS: Partial<Record<ProblemKind, Record<string, HeaderSpec>>> = {
  unauthorized: { 'WWW-Authenticate': { description: 'The challenge for the expected scheme', schema: z.string() } },
  methodNotAllowed: { Allow: { description: 'The methods the path takes', schema: z.string() } },
  unavailable: { 'Retry-After': { description: 'Seconds to wait before repeating the request', schema: z.number().int().min(1) } },
  databaseUnavailable: { 'Retry-After': { description: 'Seconds to wait before repeating the request', schema: z.number().int().min(1) } },
  tooManyRequests: { 'Retry-After': { description: 'Seconds until the credential may send again', schema: z.number().int().min(1) } },
};

const RATE_LIMITED = (setting: string) => `More requests with this credential than ${setting} allows (per API replica)`;

interface AccessRule {
  security: Record<string, string[]>[];
  problems: Partial<Record<ProblemKind, string>>;
}

export const ACCESS: Record<Access, AccessRule> = {
  public: { security: [], problems: {} },
  webhook: { security: [{ uemBasic: [] }], problems: { unauthorized: 'Missing or unknown credentials', tooManyRequests: RATE_LIMITED('WEBHOOK_RATE_LIMIT') } },
  viewer: { security: [{ bearer: ['viewer'] }], problems: { unauthorized: 'Missing or unknown bearer token', tooManyRequests: RATE_LIMITED('API_RATE_LIMIT') } },
  operator: {
    security: [{ bearer: ['operator'] }],
    problems: { unauthorized: 'Missing or unknown bearer token', forbidden: 'Needs the operator role', tooManyRequests: RATE_LIMITED('API_RATE_LIMIT') },
  },
  codec: { security: [{ bearer: ['operator'] }, { codecSession: [] }], problems: { unauthorized: 'No operator token and no codec session' } },
};

/** Every problem answer of an operation, by status: the access rule's, then its own. */
export function problemsOf(operation: OperationSpec): Map<number, { kind: ProblemKind; description: string }> {
  const all = { ...ACCESS[operation.access].problems, ...operation.problems };
  const byStatus = new Map<number, { kind: ProblemKind; description: string }>();
  for (const [kind, description] of Object.entries(all) as [ProblemKind, string][]) {
    const status = PROBLEMS[kind].status;
    if (byStatus.has(status) || operation.responses[status]) throw new Error(`${operation.operationId}: two answers for status ${status}`);
    byStatus.set(status, { kind, description });
  }
  return byStatus;
}
