/**
 * History size: how many events and how many bytes one provisioning workflow leaves in Temporal.
 *
 * - delivered (and a renewal run): a workflow from the run, read back from the dev server;
 * - failed after 75 attempts: measured live, not taken from the replay corpus — the worker's own
 *   activities (built from settings exactly as worker.ts builds them) under the time-skipping
 *   test server, so 12.5 days of 4-hourly attempts take minutes, against a CEG simulator that
 *   answers every upload `503 Service Unavailable` with `Retry-After: 1`. A gateway that does not
 *   answer at all leaves the same events, but each attempt's quick retries inside the activity
 *   (2 + 4 + 8 s, real time: the test server skips Temporal's timers, not an activity's sleep)
 *   would make the run last 75 × 14 s; the Retry-After shortens each pause to the 1-second floor.
 *
 * Bytes are the protobuf encoding of the History message, with payloads as stored (encrypted by
 * the payload codec), which is what the server keeps and what limits (50k events / 50 MB) count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { buildActivityDeps, closeActivityDeps } from '../src/activities/deps';
import { loadConfig, provisioningPolicy } from '../src/config';
import { provisioningWorkflowId } from '../src/domain/enrollment';
import { createLogger } from '../src/logging';
import { ensureDevPki } from '../src/peers/dev-pki';
import { startCegSimulator } from '../src/peers/ceg-sim/server';
import { developmentSettings } from '../src/tools/dev-settings';
import { codecKeyring, providerDataConverter } from '../src/temporal/data-converter';
import { WORKFLOW_TYPE } from '../src/workflows/definitions';
import { createTimeSkippingEnv, workflowBundle } from '../test/helpers/temporal';
import { simulatedEnrollment } from '../src/cli/simulate';

const EventType = temporal.api.enums.v1.EventType;

export interface HistorySize {
  events: number;
  bytes: number;
  activitiesScheduled: number;
  timersStarted: number;
  searchAttributeUpserts: number;
  /** Activities scheduled, by type (e.g. identifyUser: 1). */
  activityTypes: Record<string, number>;
  /** Events by type, without the EVENT_TYPE_ prefix (e.g. ACTIVITY_TASK_SCHEDULED: 3). */
  eventTypes: Record<string, number>;
  /** Attempts the run made (from its result or failure details), when known. */
  attempts?: number;
}

export function historySize(history: temporal.api.history.v1.IHistory): HistorySize {
  const events = history.events ?? [];
  const count = (type: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === type).length;
  const activityTypes: Record<string, number> = {};
  const eventTypes: Record<string, number> = {};
  for (const event of events) {
    const name = (EventType[event.eventType ?? 0] ?? String(event.eventType)).replace(/^EVENT_TYPE_/, '');
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
    const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) activityTypes[activity] = (activityTypes[activity] ?? 0) + 1;
  }
  return {
    events: events.length,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    activitiesScheduled: count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
    timersStarted: count(EventType.EVENT_TYPE_TIMER_STARTED),
    searchAttributeUpserts: count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
    activityTypes,
    eventTypes,
  };
}

export async function deliveredHistory(client: Client, workflowId: string, runId?: string): Promise<HistorySize> {
  return historySize(await client.workflow.getHandle(workflowId, runId).fetchHistory());
}

/**
 * Run one enrollment to its end with every upload refused (503, Retry-After: 1) under the
 * time-skipping server; return the size of its history.
 */
export async function failedAfterAllAttemptsHistory(progress?: (message: string) => void): Promise<HistorySize> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  const logger = createLogger({ level: 'silent' });
  const env = await createTimeSkippingEnv();
  const pki = await ensureDevPki(dataDir, logger);
  const gateway = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki });
  try {
    const refuse = await fetch(`${gateway.adminUrl}/sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ count: 10_000, status: 503, retryAfterSeconds: 1 }),
    });
    if (refuse.status !== 201) throw new Error(`the CEG simulator did not take the fault plan: HTTP ${refuse.status} ${await refuse.text()}`);
    const config = loadConfig({
      env: {
        ...(await developmentSettings(dataDir, logger)),
        DATA_DIR: dataDir,
        KEY_POOL_SIZE: '0',
        CEG_URL: gateway.url,
        CEG_RECIPIENT_CERT: join(dataDir, 'dev-pki', 'recipient.crt'),
        GATEWAY_TIMEOUT: '5s',
        LOG_LEVEL: 'silent',
      },
    });
    const deps = await buildActivityDeps(config, logger);
    const dataConverter = providerDataConverter(codecKeyring(config));
    const taskQueue = 'bench-history';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle({ providerFailureConverter: true }),
      activities: createActivities(deps),
      dataConverter,
    });
    const client = new Client({ connection: env.connection, namespace: 'default', dataConverter });
    const event = { ...simulatedEnrollment(0), eventTime: new Date(await env.currentTimeMs()).toISOString() };
    const workflowId = provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid);
    try {
      const history = await worker.runUntil(async () => {
        const handle = await client.workflow.start(WORKFLOW_TYPE, { workflowId, taskQueue, args: [{ event, policy: provisioningPolicy(config) }] });
        progress?.('running 12.5 days of attempts under time skipping (about 3 s of real time per attempt)');
        const ticker = setInterval(() => {
          handle.describe().then(
            (d) => progress?.(`attempt ${String(d.searchAttributes.Attempt?.[0] ?? '?')}, ${d.historyLength} events`),
            () => undefined,
          );
        }, 30_000);
        try {
          // Waiting through the environment's own client is what lets the test server skip time.
          await env.client.workflow.getHandle(workflowId).result().catch(() => undefined);
        } finally {
          clearInterval(ticker);
        }
        return handle.fetchHistory();
      });
      const size = historySize(history);
      const last = history.events?.at(-1);
      const details = last?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.details?.payloads?.[0];
      if (details) {
        const [report] = (await dataConverter.payloadCodecs![0]!.decode([details])).map((p) => JSON.parse(Buffer.from(p.data ?? new Uint8Array()).toString('utf8')) as { attempts?: number });
        size.attempts = report?.attempts;
      }
      return size;
    } finally {
      await closeActivityDeps(deps);
    }
  } finally {
    await gateway.close();
    await env.teardown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
