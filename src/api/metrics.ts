/**
 * The API's own Prometheus metrics, registered on the registry the process gives it (so the
 * lead's /metrics wiring, default process metrics and these share one endpoint). Creating a
 * second app on the same registry (tests) reuses the metrics instead of registering twice.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../logging';
import type { CredentialReader } from './credential-reader';
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

const EXPIRING_METRIC = 'smime_credentials_expiring_within_30d';
const ACTIVE_METRIC = 'smime_credentials_active';
const EXPIRY_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;
/** Later than any certificate's notAfter: "active, expiring before this" is every active credential. */
const END_OF_TIME = '9999-12-31T23:59:59.999Z';

/**
 * Gauges read from the credential register at every scrape (one indexed count each): active
 * credentials expiring within 30 days — what an alert watches when renewal is off or falling
 * behind — and all active credentials. The worker does not export these: the API is the process
 * that is always scraped, and both read the same database. When the database does not answer, a
 * gauge reads NaN (unknown), never a reassuring 0.
 */
export function registerCredentialGauges(registry: Registry, register: CredentialReader, logger: Logger): void {
  const gauge = (name: string, help: string, count: () => Promise<number>) => {
    // A second app on the same registry (tests) reads its own register.
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(await count());
        } catch (err) {
          logger.warn({ err, metric: name }, 'credential register unavailable for a scrape');
          this.set(Number.NaN);
        }
      },
    });
  };
  gauge(EXPIRING_METRIC, 'Active credentials (register) whose certificate expires within 30 days', () =>
    register.countActiveExpiringBefore(new Date(Date.now() + EXPIRY_WINDOW_MS).toISOString()),
  );
  gauge(ACTIVE_METRIC, 'Active credentials in the register (delivered, held by a device)', () => register.countActiveExpiringBefore(END_OF_TIME));
}
