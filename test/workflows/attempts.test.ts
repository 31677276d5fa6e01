import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { retryable } from '../../src/domain/errors';
import { DAY_MS, HOUR_MS } from '../../src/domain/schedule';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities } from '../helpers/fake-activities';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { withProvisioning } from '../helpers/workflow-harness';

describe('provisionSmime attempts (time-skipping, real durations)', function () {
  let env: TestWorkflowEnvironment;
  const clock = () => env.currentTimeMs();
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => env?.teardown());

  it('delivers at the first 4-hour slot after the gateway recovers from a 3-day outage', async function () {
    this.timeout(120_000);
    const eventTime = await env.currentTimeMs();
    const recoversAt = eventTime + 3 * DAY_MS + HOUR_MS; // up between the 72 h and 76 h slots
    const activities = fakeActivities(clock, {
      async deliver() {
        if ((await clock()) < recoversAt) throw retryable('GatewayUnavailable', 'connect ECONNREFUSED');
        return {};
      },
    });
    const event = enrollmentEvent({ eventTime: new Date(eventTime).toISOString() });
    const report = await withProvisioning(env, activities, event, async ({ handle, startedAt }) => {
      const result = await handle.result();
      const deliveredAt = Date.parse(result.deliveredAt);
      assert.equal(result.attempts, 20, 'attempts at 0 h, 4 h, ... 76 h');
      assert.ok(deliveredAt >= startedAt + 76 * HOUR_MS && deliveredAt < startedAt + 76 * HOUR_MS + 10 * 60_000, `delivered at +${(deliveredAt - startedAt) / HOUR_MS} h`);
      return result;
    });
    assert.equal(report.stage, 'Delivered');
    assert.equal(activities.callsOf('requestCertificates').length, 2, 'one certificate per kind, kept across attempts');
    assert.equal(activities.notices.length, 0);
  });

  it('makes exactly 75 attempts when the gateway never comes back, then notifies once and fails', async function () {
    this.timeout(180_000);
    const eventTime = await env.currentTimeMs();
    const activities = fakeActivities(clock, {
      async deliver() {
        throw retryable('GatewayUnavailable', 'HTTP 503 from gateway');
      },
    });
    const event = enrollmentEvent({ eventTime: new Date(eventTime).toISOString() });
    await withProvisioning(env, activities, event, async ({ handle }) => {
      const error = await handle.result().then(
        () => assert.fail('expected failure'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowFailedError);
      const failure = error.cause;
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, 'DeliveryFailed');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /75 attempts/);
      assert.match(failure.message, /GatewayUnavailable/);
      const description = await handle.describe();
      assert.equal(description.searchAttributes.Stage?.[0], 'Failed');
      assert.equal(description.searchAttributes.Attempt?.[0], 75);
      const history = await handle.fetchHistory();
      assert.ok(history.events!.length <= 800, `a 75-attempt failure in ${history.events!.length} events`);
      const bytes = temporal.api.history.v1.History.encode(history).finish().length;
      assert.ok(bytes <= 500 * 1024, `a 75-attempt failure in ${bytes} bytes`);
    });
    // Four quick tries per attempt; the first of each is the attempt's start.
    const firstTries = activities.callsOf('deliverCredentials', 'signing').filter((_, i) => i % 4 === 0);
    assert.equal(firstTries.length, 75, 'one signing delivery per slot');
    const last = Math.max(...firstTries.map((c) => c.at));
    assert.ok(last <= eventTime + 12.5 * DAY_MS, 'no attempt after EventTime + 12.5 days');
    assert.equal(activities.notices.length, 1, 'exactly one notification');
    assert.equal(activities.notices[0]!.attempts, 75);
    assert.equal(activities.notices[0]!.reason, 'AttemptsExhausted');
  });
});
