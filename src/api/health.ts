/**
 * GET /healthz: the process is up (for a liveness probe; says nothing about Temporal).
 * GET /readyz: Temporal answers for our namespace, so webhooks can be accepted (readiness probe).
 * Both unauthenticated: they reveal nothing but up/down.
 */
import express, { type Router } from 'express';
import type { Logger } from '../logging';
import { describeError, type ApiContext } from './context';
import { HttpProblem } from './problem';
import { rememberRoute } from './request-log';

const READINESS_TIMEOUT_MS = 3000;
const READINESS_RETRY_AFTER_SECONDS = 5;

export function healthRouter(ctx: ApiContext): Router {
  const router = express.Router();
  router.get('/healthz', rememberRoute, (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', rememberRoute, async (_req, res) => {
    const namespace = ctx.client.options.namespace;
    try {
      await ctx.client.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => ctx.client.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      (res.locals.log as Logger).warn({ error: describeError(err) }, 'not ready: Temporal does not answer');
      throw new HttpProblem('unavailable', `Temporal (namespace ${namespace}) does not answer`, { retryAfterSeconds: READINESS_RETRY_AFTER_SECONDS });
    }
    res.json({ status: 'ready', namespace });
  });
  return router;
}
