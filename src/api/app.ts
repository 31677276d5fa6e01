/**
 * The HTTP face of the provider: UEM webhook, management API, OpenAPI, health, metrics.
 *
 *   createApp({ client, config, logger, registry?, credentials?, extraRouters? }) → express app (not listening)
 *
 * The process entry (main.ts) builds the Temporal client and listens; tests build the app around
 * a dev-server client. Extra routers (the payload codec endpoints) are mounted before the 404.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { ApiContext } from './context';
import { healthRouter } from './health';
import { managementRouter } from './management/router';
import { getMetrics, getOpenApi } from './meta-operations';
import type { CredentialReader } from './credential-reader';
import { createApiMetrics, registerCredentialGauges } from './metrics';
import { openApiDocument } from './openapi';
import { mountOperation } from './openapi/mount';
import type { OperationSpec } from './openapi/operation';
import { HttpProblem, sendProblem } from './problem';
import { requestLogging } from './request-log';
import { webhookRouter } from './webhook/router';

export interface ApiDeps {
  client: Client;
  config: Config;
  logger: Logger;
  /** Serve GET /metrics from this registry and register the API's own metrics on it. */
  registry?: Registry;
  /** Mounted at the root, after the API's own routes (e.g. the codec endpoints). */
  extraRouters?: express.Router[];
  /** The operations the extra routers serve, listed in /openapi.json with the API's own. */
  extraOperations?: readonly OperationSpec[];
  /** Deadline for one request's calls to Temporal (default 10 s); past it: 503 + Retry-After. */
  temporalTimeoutMs?: number;
  /**
   * The credential register, read-side: GET /v1/credentials and the expiry gauges on /metrics.
   * Absent: /v1/credentials answers 503 and the gauges are not registered.
   */
  credentials?: CredentialReader;
}

export const DEFAULT_TEMPORAL_TIMEOUT_MS = 10_000;

export function createApp(deps: ApiDeps): express.Express {
  const ctx: ApiContext = {
    client: deps.client,
    config: deps.config,
    logger: deps.logger,
    metrics: createApiMetrics(deps.registry),
    temporalTimeoutMs: deps.temporalTimeoutMs ?? DEFAULT_TEMPORAL_TIMEOUT_MS,
    ...(deps.credentials ? { credentials: deps.credentials } : {}),
  };
  if (deps.registry && deps.credentials) registerCredentialGauges(deps.registry, deps.credentials, deps.logger);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Only the listed proxies may say who the client is and that it came over HTTPS (req.ip, req.secure).
  app.set('trust proxy', deps.config.apiTrustProxy.length > 0 ? [...deps.config.apiTrustProxy] : false);

  app.use(requestLogging(ctx.logger, ctx.metrics));
  app.use(healthRouter(ctx));
  app.use(webhookRouter(ctx));
  app.use(managementRouter(ctx));

  const document = openApiDocument(deps.extraOperations);
  mountOperation(app.router, getOpenApi, [], (_input, _req, res) => {
    res.json(document);
  });

  const { registry } = deps;
  if (registry) {
    mountOperation(app.router, getMetrics, [], async (_input, _req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  for (const router of deps.extraRouters ?? []) app.use(router);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpProblem('notFound', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(ctx.logger));
  return app;
}

/** Every error becomes problem+json; body-parser's own errors keep their 4xx status. */
function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    sendProblem(res, toHttpProblem(err, (res.locals.log as Logger | undefined) ?? logger, req));
  };
}

function toHttpProblem(err: unknown, log: Logger, req: Request): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  const type = (err as { type?: unknown })?.type;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser: entity.too.large, entity.parse.failed, encoding.unsupported, charset.unsupported, request.aborted...
    if (status === 413) return new HttpProblem('tooLarge', 'the request body is too large');
    if (status === 415) return new HttpProblem('unsupportedMediaType', (err as Error).message);
    return new HttpProblem('badRequest', type === 'entity.parse.failed' ? 'the body is not valid JSON' : (err as Error).message);
  }
  log.error({ err, method: req.method, path: req.path }, 'unexpected error');
  return new HttpProblem('internal', 'an unexpected error occurred; it has been logged');
}
