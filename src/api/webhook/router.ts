/**
 * POST /webhooks/uem — UEM Event Notifications; GET /webhooks/uem — the console's "Test Connection".
 *
 * Order of checks, so each failure has one answer: Basic auth (401) → Content-Type (415) → body
 * size (413) → well-formed (400) → fields the provider needs (422) → Temporal (503 + Retry-After).
 * A 2xx is sent only after Temporal has accepted the start or the cancellation, so UEM's own
 * retry covers every failure and nothing is lost; the idempotent start makes its retries harmless.
 */
import express, { type Request, type Response, type Router } from 'express';
import { provisioningPolicy } from '../../config';
import { provisioningWorkflowId } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { cancelProvisioning, startProvisioning, type CancelProvisioningResult } from '../../temporal/start';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { parseWebhookUsers, requireBasicAuth } from '../auth';
import { withTemporal, type ApiContext } from '../context';
import type { EventOutcome } from '../metrics';
import { expressPath } from '../openapi/mount';
import { perSecondLimit, rateLimitPer } from '../rate-limit';
import { HttpProblem } from '../problem';
import { rememberRoute } from '../request-log';
import type { WebhookReady, WebhookResult } from '../schemas/webhook';
import { receiveUemEvent, testWebhookConnection, WEBHOOK_BODY_LIMIT_BYTES, WEBHOOK_PATH } from './operations';
import { parseUemEvent, payloadFormat, UemEventError, type NormalisedUemEvent } from './parse-uem-event';

/** An unenrollment without EnrollmentUserUUID cancels the device's open runs: at most this many. */
const MAX_RUNS_PER_DEVICE = 20;

export function webhookRouter(ctx: ApiContext): Router {
  const router = express.Router();
  const users = parseWebhookUsers(ctx.config.webhookUsers);
  if (users.length === 0) ctx.logger.warn('UEM_WEBHOOK_USERS is empty: the webhook will refuse every request (401)');
  const policy = provisioningPolicy(ctx.config);
  // Any Content-Type: it was checked already, and the parser decodes by its charset.
  const readBody = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES });
  const authenticate = requireBasicAuth(users, (req) => {
    if (req.method === 'POST') ctx.metrics.eventReceived('unknown', 'unauthorized');
  });
  // Per webhook user (both pairs of a rotation are one caller): generous, UEM sends enrollment waves in bursts.
  const limit = rateLimitPer(
    perSecondLimit(ctx.config.webhookRateLimit),
    (_req, res) => (typeof res.locals.principal === 'string' ? res.locals.principal : undefined),
    (req) => {
      if (req.method === 'POST') ctx.metrics.eventReceived('unknown', 'rate-limited');
    },
  );

  router.get(expressPath(testWebhookConnection), rememberRoute, authenticate, limit, (_req, res) => {
    res.json({ status: 'ok', message: 'UEM webhook is ready: POST Event Notifications here as JSON or XML' } satisfies WebhookReady);
  });

  // Mounted by hand: the body is read raw and parsed by parseUemEvent (JSON or XML, tolerant of what tenants send).
  router.post(
    expressPath(receiveUemEvent),
    rememberRoute,
    authenticate,
    limit,
    (req, _res, next) => {
      // Before reading the body: a Content-Type we cannot parse is refused without consuming it.
      if (!payloadFormat(req.headers['content-type'])) {
        ctx.metrics.eventReceived('unknown', 'rejected');
        return next(new HttpProblem('unsupportedMediaType', 'send the event as application/json or application/xml'));
      }
      next();
    },
    (req, res, next) => {
      readBody(req, res, (err?: unknown) => {
        if (err) ctx.metrics.eventReceived('unknown', 'rejected'); // too large, bad encoding, aborted
        next(err);
      });
    },
    async (req: Request, res: Response) => {
      const log = res.locals.log as Logger;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let parsed: NormalisedUemEvent;
      try {
        parsed = parseUemEvent(req.headers['content-type'], body);
      } catch (err) {
        ctx.metrics.eventReceived('unknown', 'rejected');
        if (err instanceof UemEventError) throw toProblem(err);
        throw err;
      }
      if (parsed.warnings.length > 0) log.warn({ eventType: parsed.eventType, warnings: parsed.warnings }, 'UEM event accepted with warnings');

      const result = await handleEvent(parsed, log);
      ctx.metrics.eventReceived(parsed.kind, result.outcome);
      // 202: something new was accepted (a run, a cancellation, an ignored event); 200: an earlier request already did it.
      res.status(result.outcome === 'joined' || result.outcome === 'duplicate' ? 200 : 202).json(result);
    },
  );

  router.all(WEBHOOK_PATH, rememberRoute, (_req, _res, next) => {
    next(new HttpProblem('methodNotAllowed', 'use POST for events and GET for the connection test', { allow: ['GET', 'POST'] }));
  });

  async function handleEvent(parsed: NormalisedUemEvent, log: Logger): Promise<WebhookResult> {
    const { eventType } = parsed;
    const warnings = parsed.warnings.length > 0 ? parsed.warnings : undefined;
    switch (parsed.kind) {
      case 'enrollment': {
        const { event } = parsed;
        const started = await unavailableAware(log, parsed.kind, 'start provisioning', () =>
          startProvisioning(ctx.client, { event, policy, taskQueue: ctx.config.taskQueue }),
        );
        log.info({ eventType, workflowId: started.workflowId, runId: started.runId, outcome: started.outcome, eventTime: event.eventTime }, 'enrollment event');
        return { outcome: started.outcome, eventType, workflowId: started.workflowId, runId: started.runId, warnings };
      }
      case 'unenrollment': {
        const reason = `UEM event "${eventType}"${parsed.eventTime ? ` at ${parsed.eventTime}` : ''}`;
        const workflowIds = parsed.enrollmentUserUuid
          ? [provisioningWorkflowId(parsed.enrollmentUserUuid, parsed.deviceUuid)]
          : await unavailableAware(log, parsed.kind, 'find runs of the device', () => openRunsOfDevice(parsed.deviceUuid));
        const workflows: CancelProvisioningResult[] = [];
        for (const workflowId of workflowIds) {
          workflows.push(await unavailableAware(log, parsed.kind, 'cancel provisioning', () => cancelProvisioning(ctx.client, workflowId, reason, { eventTime: parsed.eventTime, retireOnQueue: ctx.config.taskQueue })));
        }
        const outcome: EventOutcome = workflows.some((w) => w.outcome === 'cancel-requested')
          ? 'cancel-requested'
          : workflows.some((w) => w.outcome === 'retire-started')
            ? 'retire-started'
            : workflows.some((w) => w.outcome === 'already-retired')
              ? 'already-retired'
              : workflows.some((w) => w.outcome === 'stale')
            ? 'stale'
            : workflows.some((w) => w.outcome === 'not-running')
              ? 'not-running'
              : 'not-found';
        log.info({ eventType, deviceUuid: parsed.deviceUuid, workflows: workflows.map((w) => `${w.workflowId}:${w.outcome}`) }, 'unenrollment event');
        return { outcome, eventType, workflows, warnings };
      }
      case 'other':
        log.info({ eventType, deviceUuid: parsed.deviceUuid }, 'UEM event ignored: not an enrollment or unenrollment');
        return { outcome: 'ignored', eventType, warnings };
    }
  }

  async function openRunsOfDevice(deviceUuid: string): Promise<string[]> {
    const ids: string[] = [];
    // deviceUuid was validated as a UUID, so it is safe inside the visibility query.
    const query = `WorkflowType = '${WORKFLOW_TYPE}' AND DeviceUUID = '${deviceUuid}' AND ExecutionStatus = 'Running'`;
    for await (const execution of ctx.client.workflow.list({ query, pageSize: MAX_RUNS_PER_DEVICE })) {
      ids.push(execution.workflowId);
      if (ids.length >= MAX_RUNS_PER_DEVICE) break;
    }
    return ids;
  }

  async function unavailableAware<T>(log: Logger, kind: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withTemporal(ctx, log, what, fn);
    } catch (err) {
      ctx.metrics.eventReceived(kind, 'unavailable');
      throw err;
    }
  }

  return router;
}

function toProblem(err: UemEventError): HttpProblem {
  switch (err.status) {
    case 415:
      return new HttpProblem('unsupportedMediaType', err.message);
    case 422:
      return new HttpProblem('invalidField', err.message, { field: err.field });
    default:
      return new HttpProblem('badRequest', err.message);
  }
}
