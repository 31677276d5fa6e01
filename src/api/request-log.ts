/**
 * One pino line per request: request id, method, route pattern, path, status, latency. Headers
 * and bodies are never logged (the Authorization header carries the webhook password or a token).
 * The request id comes from X-Request-Id when it is a sane token, else a fresh UUID, and is sent
 * back in X-Request-Id and in every problem document.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logging';
import type { ApiMetrics } from './metrics';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestLogging(logger: Logger, metrics: ApiMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const offered = req.headers['x-request-id'];
    const requestId = typeof offered === 'string' && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID();
    res.locals.requestId = requestId;
    res.locals.log = logger.child({ reqId: requestId });
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routePattern(req, res);
      const status = res.statusCode;
      metrics.requestFinished(req.method, route, status, seconds);
      const line = { method: req.method, route, path: req.originalUrl.split('?')[0], status, latencyMs: Math.round(seconds * 1000 * 10) / 10 };
      const log = res.locals.log as Logger; // carries reqId
      // 503 is Temporal or the provider database being away (expected, retried by the caller); other 5xx are bugs.
      if (status >= 500 && status !== 503) log.error(line, 'request failed');
      else if (status === 503) log.warn(line, 'request refused: Temporal or the database unavailable');
      else if (route.startsWith('/healthz') || route.startsWith('/readyz') || route === '/metrics') log.debug(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
}

/** The matched route ("/v1/enrollments/:workflowId"), remembered by `rememberRoute`, else "unmatched". */
function routePattern(req: Request, res: Response): string {
  if (typeof res.locals.route === 'string') return res.locals.route;
  return req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
}

/**
 * Express resets req.baseUrl as routing unwinds, so by 'finish' the mount prefix is gone: each
 * router calls this first thing in its routes to pin the full pattern.
 */
export function rememberRoute(req: Request, res: Response, next: NextFunction): void {
  if (req.route) res.locals.route = `${req.baseUrl}${String(req.route.path)}`;
  next();
}
