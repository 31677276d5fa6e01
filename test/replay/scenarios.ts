/**
 * The lifecycle paths the replay corpus covers, each recorded under the time-skipping server with
 * activities replaced at the activity boundary (no secrets, stable contents).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { retryable } from '../../src/domain/errors';
import { DAY_MS } from '../../src/domain/schedule';
import { statusQuery, type RenewalRequest } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities, fakeSummary, type FakeActivities } from '../helpers/fake-activities';
import type { Run } from '../helpers/workflow-harness';

export interface Scenario {
  name: string;
  /** @param clock the server's clock (skipped time). */
  activities: (clock: () => Promise<number>) => FakeActivities;
  /** Drive the run to its end. */
  drive: (env: TestWorkflowEnvironment, run: Run) => Promise<void>;
  /** A renewal run (started by a reconcile or a renewal on demand). */
  renewal?: RenewalRequest;
}

const settle = async (run: Run) => {
  await run.handle.result().catch(() => undefined);
};

export const SCENARIOS: Scenario[] = [
  {
    name: 'delivered',
    activities: (clock) => fakeActivities(clock),
    drive: async (_env, run) => settle(run),
  },
  {
    name: 'failed-after-75-attempts',
    activities: (clock) =>
      fakeActivities(clock, {
        async deliver() {
          throw retryable('GatewayUnavailable', 'HTTP 503 from gateway');
        },
      }),
    drive: async (_env, run) => settle(run),
  },
  {
    name: 'ca-pending-then-issued',
    activities: (clock) => {
      let readyAt = Infinity;
      return fakeActivities(clock, {
        async request(kind) {
          readyAt = (await clock()) + 1 * DAY_MS;
          return { kind, state: 'pending', requestId: `order-${kind}` };
        },
        async check(kind) {
          return (await clock()) < readyAt ? { kind, state: 'pending', requestId: `order-${kind}` } : { kind, state: 'issued', certificate: fakeSummary(kind, 5) };
        },
      });
    },
    drive: async (_env, run) => settle(run),
  },
  {
    name: 'renewal-delivered',
    activities: (clock) => fakeActivities(clock),
    drive: async (_env, run) => settle(run),
    renewal: { reason: 'expires within 30 days', sweepId: 'smime-reconcile-2f0b6d0e-8a3c-4c1e-9d7a-5b6c7d8e9f01' },
  },
  {
    name: 'cancelled-while-waiting',
    activities: (clock) =>
      fakeActivities(clock, {
        async deliver() {
          throw retryable('GatewayUnavailable', 'connect ECONNREFUSED');
        },
      }),
    drive: async (env, run) => {
      for (let i = 0; i < 100; i++) {
        const status = await run.handle.query(statusQuery);
        if (status.stage === 'WaitingToRetry') break;
        await env.sleep(5_000);
      }
      await run.handle.cancel();
      await settle(run);
    },
  },
];

export function scenarioEvent(eventTime: number) {
  // Fixed identities keep the corpus diff-friendly when it is refreshed.
  return enrollmentEvent({
    enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
    deviceUuid: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
    email: 'mira.kovac@example.test',
    eventTime: new Date(eventTime).toISOString(),
  });
}
