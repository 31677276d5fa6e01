/**
 * The management API under /v1: list, look at, start and steer provisioning workflows.
 * Bearer tokens from API_TOKENS; `viewer` may read, `operator` may also act. Only provisioning
 * workflow IDs are accepted, so the API cannot be used to poke at other workflows in the namespace.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { executionInfoFromRaw } from '../../temporal/sdk-internals';
import { z } from 'zod';
import { provisioningPolicy } from '../../config';
import { parseProvisioningWorkflowId, UUID_PATTERN, type EnrollmentEvent } from '../../domain/enrollment';
import { STAGES } from '../../domain/stages';
import type { Logger } from '../../logging';
import { cancelProvisioning, latestRun, startProvisioning } from '../../temporal/start';
import { retryNowSignal, WORKFLOW_TYPE } from '../../workflows/definitions';
import { parseApiTokens, requireRole } from '../auth';
import { withTemporal, type ApiContext } from '../context';
import { HttpProblem } from '../problem';
import { rememberRoute } from '../request-log';
import { GRPC, grpcCode, isWorkflowNotFound } from '../temporal-errors';
import { enrollmentView, summarise, type EnrollmentSummary } from './enrollment-view';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
/** The status query needs a worker; this is how long the API waits for one before showing visibility only. */
const STATUS_QUERY_TIMEOUT_MS = 3000;

const uuid = z
  .string()
  .regex(UUID_PATTERN, 'must be a UUID')
  .transform((v) => v.toLowerCase());

const startRequest = z.strictObject({
  enrollmentUserUuid: uuid,
  deviceUuid: uuid,
  email: z.email().max(320).optional(),
  platform: z.string().trim().min(1).max(64).optional(),
  userName: z.string().trim().min(1).max(256).optional(),
  deviceName: z.string().trim().min(1).max(256).optional(),
});

const cancelRequest = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });
const terminateRequest = z.strictObject({ reason: z.string().trim().min(1, 'a reason is required').max(500) });

const listQuery = z.strictObject({
  stage: z.enum(STAGES).optional(),
  deviceUuid: uuid.optional(),
  userUuid: uuid.optional(),
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  pageToken: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'not a page token').max(8192).optional(),
});

export interface EnrollmentList {
  items: EnrollmentSummary[];
  nextPageToken: string | null;
}

export interface ActionAccepted {
  workflowId: string;
  runId: string;
  action: 'cancel' | 'retry' | 'terminate';
}

export function managementRouter(ctx: ApiContext): Router {
  const router = express.Router();
  const tokens = parseApiTokens(ctx.config.apiTokens);
  if (tokens.length === 0) ctx.logger.warn('API_TOKENS is empty: the management API will refuse every request (401)');
  const viewer = requireRole(tokens, 'viewer');
  const operator = requireRole(tokens, 'operator');
  const json = express.json({ limit: '16kb', strict: true });
  const policy = provisioningPolicy(ctx.config);
  const log = (res: Response) => res.locals.log as Logger;

  router.post('/enrollments', rememberRoute, operator, requireJson, json, async (req, res) => {
    const body = validate(startRequest, req.body ?? {});
    const event: EnrollmentEvent = {
      enrollmentUserUuid: body.enrollmentUserUuid,
      deviceUuid: body.deviceUuid,
      // An operator's start is a fresh enrollment: newer than anything before it.
      eventTime: new Date().toISOString(),
      ...(body.email ? { email: body.email } : {}),
      ...(body.platform ? { platform: body.platform } : {}),
      ...(body.userName ? { userName: body.userName } : {}),
      ...(body.deviceName ? { deviceName: body.deviceName } : {}),
    };
    const started = await withTemporal(ctx, log(res), 'start provisioning', () =>
      startProvisioning(ctx.client, { event, policy, taskQueue: ctx.config.taskQueue }),
    );
    log(res).info({ workflowId: started.workflowId, runId: started.runId, outcome: started.outcome, role: res.locals.role }, 'enrollment started by API');
    if (started.outcome === 'started') res.setHeader('Location', `${req.baseUrl}/enrollments/${started.workflowId}`);
    res.status(started.outcome === 'started' ? 201 : 200).json(started);
  });

  router.get('/enrollments', rememberRoute, viewer, async (req, res) => {
    const filters = validate(listQuery, req.query);
    const clauses = [`WorkflowType = '${WORKFLOW_TYPE}'`];
    // Each value was validated (a stage name, a lower-case UUID), so it is safe inside the query.
    if (filters.stage) clauses.push(`Stage = '${filters.stage}'`);
    if (filters.deviceUuid) clauses.push(`DeviceUUID = '${filters.deviceUuid}'`);
    if (filters.userUuid) clauses.push(`EnrollmentUserUUID = '${filters.userUuid}'`);
    const query = clauses.join(' AND ');
    const nextPageToken = filters.pageToken ? decodePageToken(query, filters.pageToken) : undefined;
    if (filters.pageToken && !nextPageToken) throw new HttpProblem('badRequest', 'the page token is not valid for these filters');
    const response = await withTemporal(
      ctx,
      log(res),
      'list workflows',
      () =>
        ctx.client.workflowService.listWorkflowExecutions({
          namespace: ctx.client.options.namespace,
          query,
          pageSize: filters.pageSize ?? DEFAULT_PAGE_SIZE,
          nextPageToken,
        }),
      (err) => (grpcCode(err) === GRPC.INVALID_ARGUMENT ? new HttpProblem('badRequest', 'the page token is not valid (it may have expired)') : undefined),
    );
    const converter = ctx.client.workflow.options.loadedDataConverter;
    const items = await Promise.all(
      (response.executions ?? []).map(async (raw) => summarise(await executionInfoFromRaw(raw, converter, raw, ctx.client.options.namespace))),
    );
    const token = response.nextPageToken && response.nextPageToken.length > 0 ? encodePageToken(query, response.nextPageToken) : null;
    const list: EnrollmentList = { items, nextPageToken: token };
    res.json(list);
  });

  router.get('/enrollments/:workflowId', rememberRoute, viewer, async (req, res) => {
    const workflowId = provisioningId(req);
    const view = await withTemporal(
      ctx,
      log(res),
      'describe workflow',
      async () => enrollmentView(ctx.client, await ctx.client.workflow.getHandle(workflowId).describe(), { queryTimeoutMs: STATUS_QUERY_TIMEOUT_MS }),
      notFound(workflowId),
    );
    res.json(view);
  });

  router.post('/enrollments/:workflowId/cancel', rememberRoute, operator, optionalJson, async (req, res) => {
    const workflowId = provisioningId(req);
    const { reason } = validate(cancelRequest, req.body ?? {});
    const result = await withTemporal(ctx, log(res), 'cancel workflow', () =>
      cancelProvisioning(ctx.client, workflowId, reason ?? `cancelled through the management API (${res.locals.role})`),
    );
    if (result.outcome === 'not-found') throw new HttpProblem('notFound', `no enrollment workflow ${workflowId}`);
    if (result.outcome !== 'cancel-requested') throw new HttpProblem('conflict', `workflow ${workflowId} is not running`);
    accepted(res, { workflowId, runId: result.runId!, action: 'cancel' });
  });

  router.post('/enrollments/:workflowId/retry', rememberRoute, operator, optionalJson, async (req, res) => {
    const workflowId = provisioningId(req);
    const runId = await withTemporal(ctx, log(res), 'signal retryNow', async () => {
      const run = await openRun(workflowId);
      await ctx.client.workflow.getHandle(workflowId, run).signal(retryNowSignal);
      return run;
    });
    accepted(res, { workflowId, runId, action: 'retry' });
  });

  router.post('/enrollments/:workflowId/terminate', rememberRoute, operator, requireJson, json, async (req, res) => {
    const workflowId = provisioningId(req);
    const { reason } = validate(terminateRequest, req.body ?? {});
    const runId = await withTemporal(
      ctx,
      log(res),
      'terminate workflow',
      async () => {
        const run = await openRun(workflowId);
        await ctx.client.workflow.getHandle(workflowId, run).terminate(`${reason} (terminated through the management API)`);
        return run;
      },
      (err) => (isWorkflowNotFound(err) ? new HttpProblem('conflict', `workflow ${workflowId} is not running`) : undefined),
    );
    log(res).warn({ workflowId, runId, role: res.locals.role }, 'workflow terminated by API (no clean-up runs)');
    accepted(res, { workflowId, runId, action: 'terminate' });
  });

  router.all('/enrollments', rememberRoute, methodNotAllowed(['GET', 'POST']));
  router.all('/enrollments/:workflowId', rememberRoute, methodNotAllowed(['GET']));
  router.all('/enrollments/:workflowId/:action', rememberRoute, (req, _res, next) => {
    if (['cancel', 'retry', 'terminate'].includes(String(req.params.action))) return methodNotAllowed(['POST'])(req, _res, next);
    next();
  });

  /** The open run of a workflow: 404 if there is no such workflow, 409 if its latest run has closed. */
  async function openRun(workflowId: string): Promise<string> {
    const latest = await latestRun(ctx.client, workflowId);
    if (!latest) throw new HttpProblem('notFound', `no enrollment workflow ${workflowId}`);
    if (!latest.running) throw new HttpProblem('conflict', `workflow ${workflowId} is not running`);
    return latest.runId;
  }

  return router;
}

/**
 * Page tokens carry Temporal's opaque token plus a check value over it and the query. A token that
 * was mangled, or is replayed with other filters, is refused here with 400 instead of reaching the
 * visibility store (which answers garbage with an internal error). A check value, not a MAC: the
 * token is no secret and a forged one can at worst fail in Temporal.
 */
function pageTokenCheck(query: string, token: Uint8Array): string {
  return createHash('sha256').update(query).update('\0').update(token).digest('base64url').slice(0, 16);
}

function encodePageToken(query: string, token: Uint8Array): string {
  return `${Buffer.from(token).toString('base64url')}.${pageTokenCheck(query, token)}`;
}

function decodePageToken(query: string, text: string): Buffer | undefined {
  const [encoded, check, ...rest] = text.split('.');
  if (!encoded || !check || rest.length > 0) return undefined;
  const token = Buffer.from(encoded, 'base64url');
  const expected = Buffer.from(pageTokenCheck(query, token));
  const given = Buffer.from(check);
  return given.length === expected.length && timingSafeEqual(given, expected) ? token : undefined;
}

function provisioningId(req: Request): string {
  const workflowId = String(req.params.workflowId ?? '');
  // Not one of ours: as far as this API is concerned it does not exist.
  if (!parseProvisioningWorkflowId(workflowId)) throw new HttpProblem('notFound', `no enrollment workflow ${workflowId}`);
  return workflowId;
}

function notFound(workflowId: string) {
  return (err: unknown) => (isWorkflowNotFound(err) ? new HttpProblem('notFound', `no enrollment workflow ${workflowId}`) : undefined);
}

function accepted(res: Response, body: ActionAccepted): void {
  res.status(202).json(body);
}

function validate<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : (issue as { keys?: string[] }).keys?.join(', ');
  throw new HttpProblem('invalidField', field ? `${field}: ${issue.message}` : issue.message, { field });
}

/** A body is required and must be JSON; checked before reading it. */
function requireJson(req: Request, _res: Response, next: (err?: unknown) => void): void {
  if (!req.is('application/json')) return next(new HttpProblem('unsupportedMediaType', 'send a JSON body (Content-Type: application/json)'));
  next();
}

/** A body is optional; when there is one it must be JSON. */
function optionalJson(req: Request, res: Response, next: (err?: unknown) => void): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return next();
  if (!req.is('application/json')) return next(new HttpProblem('unsupportedMediaType', 'the body, if any, must be JSON'));
  express.json({ limit: '16kb', strict: true })(req, res, next);
}

function methodNotAllowed(allow: string[]) {
  return (_req: Request, _res: Response, next: (err?: unknown) => void) => next(new HttpProblem('methodNotAllowed', undefined, { allow }));
}
