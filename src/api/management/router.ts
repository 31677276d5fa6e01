/**
 * The management API under /v1: list, look at, start and steer provisioning workflows (and, in
 * ./fleet-router.ts, the credential register and the fleet sweeps). What each
 * route takes and answers is in ./operations.ts; the handlers get its input already validated.
 * Bearer tokens from API_TOKENS; `viewer` may read, `operator` may also act. Only provisioning
 * workflow IDs are accepted, so the API cannot be used to poke at other workflows in the namespace.
 */
import express, { type Request, type Response, type Router } from 'express';
import { executionInfoFromRaw } from '../../temporal/sdk-internals';
import { provisioningPolicy } from '../../config';
import type { EnrollmentEvent } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { cancelProvisioning, latestRun, startProvisioning } from '../../temporal/start';
import { retryNowSignal, WORKFLOW_TYPE } from '../../workflows/definitions';
import { parseApiTokens, requireRole } from '../auth';
import { withTemporal, type ApiContext } from '../context';
import { expressPath, mountOperation, pathOf } from '../openapi/mount';
import { HttpProblem } from '../problem';
import { perSecondLimit, rateLimitPer } from '../rate-limit';
import { rememberRoute } from '../request-log';
import type { ActionAccepted, EnrollmentList } from '../schemas/enrollments';
import { GRPC, grpcCode, isWorkflowNotFound } from '../temporal-errors';
import { enrollmentView, summarise, viewerView } from './enrollment-view';
import { mountFleetRoutes } from './fleet-router';
import { decodePageToken, encodePageToken } from './page-token';
import {
  cancelEnrollment,
  getEnrollment,
  listEnrollments,
  retryEnrollment,
  startEnrollment,
  terminateEnrollment,
} from './operations';

/** The status query needs a worker; this is how long the API waits for one before showing visibility only. */
const STATUS_QUERY_TIMEOUT_MS = 3000;

export function managementRouter(ctx: ApiContext): Router {
  const router = express.Router();
  const tokens = parseApiTokens(ctx.config.apiTokens);
  if (tokens.length === 0) ctx.logger.warn('API_TOKENS is empty: the management API will refuse every request (401)');
  // One bucket per token, whatever the route (after the role check: a refused request costs nothing).
  const limit = rateLimitPer(perSecondLimit(ctx.config.apiRateLimit), (_req, res) => (typeof res.locals.principal === 'string' ? res.locals.principal : undefined));
  const role = { viewer: [requireRole(tokens, 'viewer'), limit], operator: [requireRole(tokens, 'operator'), limit] };
  const policy = provisioningPolicy(ctx.config);
  const log = (res: Response) => res.locals.log as Logger;

  mountOperation(router, startEnrollment, role[startEnrollment.access], async ({ body }, _req, res) => {
    if (body.email && ctx.config.uemApiUrl) {
      // The mailbox in a certificate is UEM's to say (the provider is the registration authority, and UEM its only proof).
      throw new HttpProblem('invalidField', 'email cannot be chosen when a UEM directory is configured (UEM_API_URL): the address comes from UEM for the EnrollmentUserUUID; leave email out', { field: 'email' });
    }
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
    if (started.outcome === 'started') res.setHeader('Location', pathOf(getEnrollment, { workflowId: started.workflowId }));
    res.status(started.outcome === 'started' ? 201 : 200).json(started);
  });

  mountOperation(router, listEnrollments, role[listEnrollments.access], async ({ query: filters }, _req, res) => {
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
          pageSize: filters.pageSize,
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

  mountOperation(router, getEnrollment, role[getEnrollment.access], async ({ params: { workflowId } }, _req, res) => {
    const view = await withTemporal(
      ctx,
      log(res),
      'describe workflow',
      async () => enrollmentView(ctx.client, await ctx.client.workflow.getHandle(workflowId).describe(), { queryTimeoutMs: STATUS_QUERY_TIMEOUT_MS }),
      notFound(workflowId),
    );
    res.json(res.locals.role === 'operator' ? view : viewerView(view));
  });

  mountOperation(router, cancelEnrollment, role[cancelEnrollment.access], async ({ params: { workflowId }, body: { reason } }, _req, res) => {
    const result = await withTemporal(ctx, log(res), 'cancel workflow', () =>
      cancelProvisioning(ctx.client, workflowId, reason ?? `cancelled through the management API (${res.locals.role})`),
    );
    if (result.outcome === 'not-found') throw new HttpProblem('notFound', `no enrollment workflow ${workflowId}`);
    if (result.outcome !== 'cancel-requested') throw new HttpProblem('conflict', `workflow ${workflowId} is not running`);
    accepted(res, { workflowId, runId: result.runId!, action: 'cancel' });
  });

  mountOperation(router, retryEnrollment, role[retryEnrollment.access], async ({ params: { workflowId } }, _req, res) => {
    const runId = await withTemporal(ctx, log(res), 'signal retryNow', async () => {
      const run = await openRun(workflowId);
      await ctx.client.workflow.getHandle(workflowId, run).signal(retryNowSignal);
      return run;
    });
    accepted(res, { workflowId, runId, action: 'retry' });
  });

  mountOperation(router, terminateEnrollment, role[terminateEnrollment.access], async ({ params: { workflowId }, body: { reason } }, _req, res) => {
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

  // The credential register and the fleet sweeps, under the same tokens and rate limit.
  mountFleetRoutes(router, ctx, role);

  // Other methods on these paths: 405 with Allow.
  router.all(expressPath(listEnrollments), rememberRoute, methodNotAllowed(['GET', 'POST']));
  router.all(expressPath(getEnrollment), rememberRoute, methodNotAllowed(['GET']));
  for (const operation of [cancelEnrollment, retryEnrollment, terminateEnrollment]) router.all(expressPath(operation), rememberRoute, methodNotAllowed(['POST']));

  /** The open run of a workflow: 404 if there is no such workflow, 409 if its latest run has closed. */
  async function openRun(workflowId: string): Promise<string> {
    const latest = await latestRun(ctx.client, workflowId);
    if (!latest) throw new HttpProblem('notFound', `no enrollment workflow ${workflowId}`);
    if (!latest.running) throw new HttpProblem('conflict', `workflow ${workflowId} is not running`);
    return latest.runId;
  }

  return router;
}

function notFound(workflowId: string) {
  return (err: unknown) => (isWorkflowNotFound(err) ? new HttpProblem('notFound', `no enrollment workflow ${workflowId}`) : undefined);
}

function accepted(res: Response, body: ActionAccepted): void {
  res.status(202).json(body);
}

function methodNotAllowed(allow: string[]) {
  return (_req: Request, _res: Response, next: (err?: unknown) => void) => next(new HttpProblem('methodNotAllowed', undefined, { allow }));
}
