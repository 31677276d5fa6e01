/**
 * The API's own Prometheus metrics, registered on the registry the process gives it (so the
 * lead's /metrics wiring, default process metrics and these share one endpoint). Creating a
 * second app on the same registry (tests) reuses the metrics instead of registering twice.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { WebhookOutcome } from './schemas/webhook';

/** What became of a UEM event: the webhook's answer, or why there was none. */
export type EventOutcome = WebhookOutcome | 'unauthorized' | 'rate-limited' | 'rejected' | 'unavailable';

export interface ApiMetrics {
  /** One UEM event: its kind (enrollment, unenrollment, other, unknown if unparsed) and what became of it. */
  eventReceived(kind: string, outcome: EventOutcome): void;
  /** One HTTP request, by route pattern (never the raw path: ids would explode the label set). */
  requestFinished(method: string, route: string, status: number, seconds: number): void;
}

const EVENTS_METRIC = 'smime_uem_events_received_total';
const REQUESTS_METRIC = 'smime_api_request_duration_seconds';

export function createApiMetrics(registry: Registry | undefined): ApiMetrics {
  if (!registry) return { eventReceived() {}, requestFinished() {} };
  const events =
    (registry.getSingleMetric(EVENTS_METRIC) as Counter<'type' | 'outcome'> | undefined) ??
    new Counter({
      name: EVENTS_METRIC,
      help: 'UEM Event Notifications received by the webhook, by event kind and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    });
  const requests =
    (registry.getSingleMetric(REQUESTS_METRIC) as Histogram<'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: REQUESTS_METRIC,
      help: 'API request latency by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  return {
    eventReceived(type, outcome) {
      events.inc({ type, outcome });
    },
    requestFinished(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}
