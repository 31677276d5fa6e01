/**
 * GET /healthz: the process is up (for a liveness probe; says nothing about Temporal).
 * GET /readyz: Temporal answers for our namespace, so webhooks can be accepted (readiness probe).
 * Both unauthenticated: they reveal nothing but up/down.
 */
import express, { type Router } from 'express';
import type { Logger } from '../logging';
import { describeError, type ApiContext } from './context';
import { getHealth, getReadiness } from './meta-operations';
import { mountOperation } from './openapi/mount';
import { HttpProblem } from './problem';
import type { Health, Ready } from './schemas/meta';

const READINESS_TIMEOUT_MS = 3000;
const READINESS_RETRY_AFTER_SECONDS = 5;

export function healthRouter(ctx: ApiContext): Router {
  const router = express.Router();
  mountOperation(router, getHealth, [], (_input, _req, res) => {
    res.json({ status: 'ok' } satisfies Health);
  });
  mountOperation(router, getReadiness, [], async (_input, _req, res) => {
    const namespace = ctx.client.options.namespace;
    try {
      await ctx.client.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => ctx.client.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      (res.locals.log as Logger).warn({ error: describeError(err) }, 'not ready: Temporal does not answer');
      throw new HttpProblem('unavailable', `Temporal (namespace ${namespace}) does not answer`, { retryAfterSeconds: READINESS_RETRY_AFTER_SECONDS });
    }
    res.json({ status: 'ready', namespace } satisfies Ready);
  });
  return router;
}
