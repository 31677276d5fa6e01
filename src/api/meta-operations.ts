/** The unauthenticated operations: liveness, readiness, metrics and this document. */
import { defineOperation, type OperationSpec, type ResponseSpec } from './openapi/operation';
import { Health, OpenApiJson, PrometheusText, Ready } from './schemas/meta';

function publicGet<const Id extends string>(operationId: Id, path: `/${string}`, summary: string, ok: ResponseSpec, problems?: OperationSpec['problems']) {
  return defineOperation({ operationId, method: 'get', path, tag: 'meta', summary, access: 'public', responses: { 200: ok }, ...(problems ? { problems } : {}) });
}

export const getOpenApi = publicGet('getOpenApi', '/openapi.json', 'This document', { description: 'OpenAPI 3.1', schema: OpenApiJson });
export const getHealth = publicGet('getHealth', '/healthz', 'Liveness: the process is up', { description: 'Up', schema: Health });
export const getReadiness = publicGet(
  'getReadiness',
  '/readyz',
  'Readiness: Temporal answers for the namespace',
  { description: 'Ready', schema: Ready },
  { unavailable: 'Temporal does not answer' },
);
export const getMetrics = publicGet('getMetrics', '/metrics', 'Prometheus metrics (when the process provides a registry)', {
  description: 'Prometheus text format',
  schema: PrometheusText,
  contentType: 'text/plain',
});

export const metaOperations = [getOpenApi, getHealth, getReadiness, getMetrics];
