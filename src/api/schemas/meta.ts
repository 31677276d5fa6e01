/** The unauthenticated endpoints' answers: liveness, readiness, this document. */
import { z } from 'zod';

export const Health = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });
export type Health = z.output<typeof Health>;
export const Ready = z.strictObject({ status: z.literal('ready'), namespace: z.string() }).meta({ id: 'Ready' });
export type Ready = z.output<typeof Ready>;
export const OpenApiJson = z.looseObject({ openapi: z.string() }).meta({ description: 'OpenAPI 3.1' });
export const PrometheusText = z.string().meta({ description: 'Prometheus text exposition format' });
