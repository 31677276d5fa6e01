/**
 * Serving an operation: its express path, its body readers, and its input validated by its own
 * schemas, so the handler gets typed values and the document cannot say one thing while the
 * router checks another.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { z } from 'zod';
import { HttpProblem } from '../problem';
import { rememberRoute } from '../request-log';
import type { OperationSpec } from './operation';

/** JSON bodies of the API are small; anything near this is not one of its requests. */
export const JSON_BODY_LIMIT = '16kb';

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler gets: path parameters, query and body, each parsed by the operation's schema. */
export interface OperationInput<O extends OperationSpec> {
  params: Parsed<O['params']>;
  query: Parsed<O['query']>;
  body: O['body'] extends { schema: infer S } ? Parsed<S> : undefined;
}

/** /v1/enrollments/{workflowId} → /v1/enrollments/:workflowId */
export function expressPath(operation: Pick<OperationSpec, 'path'>): string {
  return operation.path.replace(/\{(\w+)\}/g, ':$1');
}

/** The concrete path of an operation for these parameters (Location headers, links). */
export function pathOf(operation: Pick<OperationSpec, 'path'>, params: Record<string, string>): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

/**
 * Mount a JSON operation: route pattern remembered for logs and metrics, then `guards` (auth),
 * then the body readers its `body` calls for, then the handler with the validated input.
 */
export function mountOperation<O extends OperationSpec>(
  router: Router,
  operation: O,
  guards: RequestHandler[],
  handler: (input: OperationInput<O>, req: Request, res: Response) => unknown,
): void {
  router[operation.method](expressPath(operation), rememberRoute, ...guards, ...bodyReaders(operation), async (req: Request, res: Response) => {
    await handler(operationInput(operation, req), req, res);
  });
}

export function operationInput<O extends OperationSpec>(operation: O, req: Request): OperationInput<O> {
  return {
    params: (operation.params ? parseParams(operation.params, req.params) : undefined) as OperationInput<O>['params'],
    query: (operation.query ? parseFields(operation.query, req.query) : undefined) as OperationInput<O>['query'],
    body: (operation.body ? parseFields(operation.body.schema, req.body ?? {}) : undefined) as OperationInput<O>['body'],
  };
}

/** A path that fails its parameters' schema names nothing this API has: 404, Temporal not asked. */
function parseParams(schema: z.ZodType, params: unknown) {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.path.join('.');
  const value = (params as Record<string, unknown>)[String(issue.path[0])];
  throw new HttpProblem('notFound', `${name} ${JSON.stringify(value)}: ${issue.message}`);
}

/** Query or body: 422 naming the first field that is missing or invalid. */
export function parseFields<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : (issue as { keys?: string[] }).keys?.join(', ');
  throw new HttpProblem('invalidField', field ? `${field}: ${issue.message}` : issue.message, { field });
}

function bodyReaders(operation: OperationSpec): RequestHandler[] {
  const { body } = operation;
  if (!body) return [];
  const types = body.contentTypes ?? ['application/json'];
  if (types.length !== 1 || types[0] !== 'application/json') {
    throw new Error(`${operation.operationId}: mountOperation reads JSON bodies only; mount other media types by hand`);
  }
  return [body.required === false ? optionalJson : requireJson];
}

const readJson = express.json({ limit: JSON_BODY_LIMIT, strict: true });

/** A body is required and must be JSON; checked before reading it. */
const requireJson: RequestHandler = (req, res, next) => {
  if (!req.is('application/json')) return next(new HttpProblem('unsupportedMediaType', 'send a JSON body (Content-Type: application/json)'));
  readJson(req, res, next);
};

/** A body is optional; when there is one it must be JSON. */
const optionalJson: RequestHandler = (req, res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return next();
  if (!req.is('application/json')) return next(new HttpProblem('unsupportedMediaType', 'the body, if any, must be JSON'));
  readJson(req, res, next);
};
