import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { nonRetryable, retryable } from '../../src/domain/errors';
import { defaultPolicy } from '../../src/domain/policy';
import { DAY_MS, HOUR_MS, MINUTE_MS, defaultSchedule } from '../../src/domain/schedule';
import { certificateIssuedSignal, retryNowSignal, statusQuery } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities, fakeSummary } from '../helpers/fake-activities';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { withProvisioning, type Run } from '../helpers/workflow-harness';

async function failureOf(run: Run): Promise<ApplicationFailure> {
  const error = await run.handle.result().then(
    () => assert.fail('expected the workflow to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  assert.ok(error.cause instanceof ApplicationFailure);
  return error.cause;
}

/**
 * Poll the status query until the workflow reaches a stage, moving the server's clock 5 s at a
 * time (enough for quick activity retries, far short of any 4-hour slot).
 */
async function untilStage(env: TestWorkflowEnvironment, run: Run, stage: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const status = await run.handle.query(statusQuery).catch(() => undefined);
    if (status?.stage === stage) return;
    await env.sleep(5_000);
  }
  assert.fail(`workflow never reached ${stage}`);
}

describe('provisionSmime lifecycle (time-skipping)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  const clock = () => env.currentTimeMs();
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => env?.teardown());

  async function freshEvent() {
    return enrollmentEvent({ eventTime: new Date(await env.currentTimeMs()).toISOString() });
  }

  it('delivers in one attempt with one step per stage, in at most 30 history events, and writes Delivered', async () => {
    const activities = fakeActivities(clock);
    await withProvisioning(env, activities, await freshEvent(), async ({ handle }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 1);
      assert.deepEqual(report.credentials.map((c) => [c.kind, c.state]), [['signing', 'delivered'], ['encryption', 'delivered']]);
      const description = await handle.describe();
      assert.equal(description.searchAttributes.Stage?.[0], 'Delivered');
      assert.equal(description.searchAttributes.Attempt?.[0], 1);
      const history = await handle.fetchHistory();
      assert.ok(history.events!.length <= 30, `${history.events!.length} events`);
      const activityTypes = history.events!.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name] : []));
      assert.deepEqual(activityTypes, ['identifyUser', 'requestCertificates', 'deliverCredentials']);
    });
  });

  it('waits for a CA that keeps the request pending for 2 days (asks every 15 min, hourly after a day), then delivers in the first attempt', async () => {
    let readyAt = Infinity;
    const activities = fakeActivities(clock, {
      async request(kind) {
        readyAt = (await clock()) + 2 * DAY_MS;
        return { kind, state: 'pending', requestId: `order-${kind}` };
      },
      async check(kind) {
        if ((await clock()) < readyAt) return { kind, state: 'pending', requestId: `order-${kind}` };
        return { kind, state: 'issued', certificate: fakeSummary(kind, 7) };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle, startedAt }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 1);
      assert.ok(Date.parse(report.deliveredAt) >= startedAt + 2 * DAY_MS);
      assert.ok(Date.parse(report.deliveredAt) < startedAt + 2 * DAY_MS + HOUR_MS + 5 * MINUTE_MS, 'within one (hourly) ask of issuance');
      const history = await handle.fetchHistory();
      assert.ok(history.events!.length <= 45, `the wait costs no event per ask (${history.events!.length} events)`);
    });
    assert.equal(activities.callsOf('requestCertificates').length, 2, 'submitted once per kind');
    const asks = activities.callsOf('awaitIssuance', 'signing');
    const gaps = asks.slice(1).map((p, i) => Math.round((p.at - asks[i]!.at) / MINUTE_MS));
    assert.ok(gaps.slice(0, 90).every((g) => g === 15), `every 15 minutes on the first day: ${gaps.slice(0, 10).join(',')}`);
    assert.ok(gaps.slice(-20).every((g) => g === 60), `hourly on the second day: ${gaps.slice(-5).join(',')}`);
    assert.ok(asks.length >= 118 && asks.length <= 123, `96 asks the first day, 24 the second (${asks.length})`);
  });

  it('is woken by certificateIssued instead of waiting for the next ask', async () => {
    let issued = false;
    const activities = fakeActivities(clock, {
      async request(kind) {
        return { kind, state: 'pending', requestId: `order-${kind}` };
      },
      async check(kind) {
        return issued ? { kind, state: 'issued', certificate: fakeSummary(kind, 3) } : { kind, state: 'pending', requestId: `order-${kind}` };
      },
    });
    const policy = { ...defaultPolicy(), issuancePollIntervalMs: 6 * HOUR_MS };
    await withProvisioning(
      env,
      activities,
      await freshEvent(),
      async (run) => {
        await untilStage(env, run, 'AwaitingIssuance');
        issued = true;
        await run.handle.signal(certificateIssuedSignal, { requestId: 'order-signing' });
        const report = await run.handle.result();
        assert.ok(Date.parse(report.deliveredAt) < run.startedAt + HOUR_MS, 'delivered long before the 6-hour ask');
      },
      policy,
    );
  });

  it('waits for another device of the user that is issuing the shared credential, then delivers it', async () => {
    let theirsReadyAt = Infinity;
    const activities = fakeActivities(clock, {
      async request(kind) {
        if (kind === 'signing') return { kind, state: 'issued', certificate: fakeSummary(kind, 1) };
        theirsReadyAt = (await clock()) + 20_000;
        return { kind, state: 'waiting', heldBy: 'smime-other-device/run' };
      },
      async check(kind) {
        if ((await clock()) < theirsReadyAt) return { kind, state: 'waiting', heldBy: 'smime-other-device/run' };
        return { kind, state: 'issued', certificate: fakeSummary(kind, 2), escrowId: 'escrow-1' };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle, startedAt }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 1);
      assert.equal(report.credentials.find((c) => c.kind === 'encryption')?.escrowId, 'escrow-1');
      assert.ok(Date.parse(report.deliveredAt) - startedAt < 2 * MINUTE_MS, 'seconds, not the CA poll interval');
    });
    assert.deepEqual(activities.callsOf('awaitIssuance').map((c) => c.kind).filter((k) => k !== 'encryption'), [], 'only the waiting credential is asked about');
  });

  it('fails with WindowClosed and one notification when issuance outlasts the 12.5-day window', async () => {
    const activities = fakeActivities(clock, {
      async request(kind) {
        return { kind, state: 'pending', requestId: `order-${kind}` };
      },
      async check(kind) {
        return { kind, state: 'pending', requestId: `order-${kind}` };
      },
    });
    const policy = { ...defaultPolicy(), issuancePollIntervalMs: 6 * HOUR_MS };
    await withProvisioning(
      env,
      activities,
      await freshEvent(),
      async (run) => {
        const failure = await failureOf(run);
        assert.equal(failure.type, 'DeliveryFailed');
        assert.match(failure.message, /window closed/);
      },
      policy,
    );
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.notices[0]!.reason, 'WindowClosed');
  });

  it('notifies at once, without touching the CA, when the user has no email', async () => {
    const activities = fakeActivities(clock, {
      async identifyUser({ event }) {
        throw nonRetryable('UserHasNoEmail', `UEM has no usable email address for user ${event.enrollmentUserUuid}`);
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      const failure = await failureOf(run);
      assert.match(failure.message, /after 1 attempt: an error that retrying cannot fix; last error: UserHasNoEmail/);
      const description = await run.handle.describe();
      assert.ok(Date.parse(description.closeTime!.toISOString()) - run.startedAt < MINUTE_MS, 'no waiting for slots');
    });
    assert.equal(activities.callsOf('identifyUser').length, 1, 'non-retryable: no quick retries either');
    assert.equal(activities.callsOf('requestCertificates').length, 0);
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.notices[0]!.reason, 'NonRetryableError');
    assert.equal(activities.notices[0]!.lastError?.type, 'UserHasNoEmail');
  });

  it('stops at a CA rejection without further attempts', async () => {
    const activities = fakeActivities(clock, {
      async request() {
        throw nonRetryable('CertificateRejected', 'policy forbids this domain');
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      const failure = await failureOf(run);
      assert.match(failure.message, /CertificateRejected: policy forbids this domain/);
    });
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.callsOf('deliverCredentials').length, 0);
  });

  it('ends Cancelled, cleaning up what this run requested, when cancelled while waiting for the next slot', async () => {
    const activities = fakeActivities(clock, {
      async deliver(kind) {
        if (kind === 'encryption') throw retryable('GatewayUnavailable', 'HTTP 502');
        return {};
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      await untilStage(env, run, 'WaitingToRetry');
      await run.handle.cancel();
      const error = await run.handle.result().then(
        () => assert.fail('expected cancellation'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure);
      const description = await run.handle.describe();
      assert.equal(description.status.name, 'CANCELLED');
      assert.equal(description.searchAttributes.Stage?.[0], 'Cancelled');
    });
    const cleanUps = activities.callsOf('cleanUpEnrollment');
    assert.equal(cleanUps.length, 1);
    const input = cleanUps[0]!.input as { reason: string; enrollment?: { workflowId: string; runId: string } };
    assert.equal(input.reason, 'cancelled');
    assert.match(input.enrollment?.workflowId ?? '', /^smime-/, 'the run names itself, so only what it requested is retired');
    assert.equal(activities.notices.length, 0, 'cancellation is not a failure');
  });

  it('retryNow skips the wait: the next attempt runs at once', async () => {
    let gatewayUp = false;
    const activities = fakeActivities(clock, {
      async deliver() {
        if (!gatewayUp) throw retryable('GatewayUnavailable', 'HTTP 503');
        return {};
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      await untilStage(env, run, 'WaitingToRetry');
      const waiting = await run.handle.query(statusQuery);
      assert.equal(waiting.attempt, 1, 'attempt 1 failed; attempt 2 waits for its slot');
      assert.ok(Date.parse(waiting.nextAttemptAt!) >= run.startedAt + 4 * HOUR_MS - MINUTE_MS);
      gatewayUp = true;
      await run.handle.signal(retryNowSignal);
      const report = await run.handle.result();
      assert.equal(report.attempts, 2);
      assert.ok(Date.parse(report.deliveredAt) - run.startedAt < 10 * MINUTE_MS, 'attempt 2 did not wait for the 4-hour slot');
    });
  });

  it('an attempt redoes only what is not done: certificates are requested once, quick tries inside the attempt', async () => {
    let encryptionUploads = 0;
    const activities = fakeActivities(clock, {
      async deliver(kind) {
        if (kind === 'encryption' && ++encryptionUploads <= 4) throw retryable('GatewayUnavailable', 'timeout');
        return {};
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 2);
    });
    assert.equal(activities.callsOf('requestCertificates', 'encryption').length, 1);
    assert.equal(activities.callsOf('identifyUser').length, 1, 'the user is known after attempt 1');
    assert.equal(activities.callsOf('deliverCredentials', 'encryption').length, 5, '4 quick tries in attempt 1, then attempt 2');
  });

  it('the status query reports progress and never a secret; the search attributes say where the run rests', async () => {
    const activities = fakeActivities(clock, {
      async deliver() {
        throw retryable('GatewayUnavailable', 'HTTP 503');
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      await untilStage(env, run, 'WaitingToRetry');
      const status = await run.handle.query(statusQuery);
      assert.equal(status.lastError?.type, 'GatewayUnavailable');
      assert.equal(status.lastError?.attempt, 1);
      assert.deepEqual(status.credentials.map((c) => c.state), ['issued', 'issued']);
      assert.ok(status.credentials.every((c) => c.serial && c.thumbprint && c.notAfter));
      assert.doesNotMatch(JSON.stringify(status), /sealed:|PRIVATE KEY|password/i);
      const description = await run.handle.describe();
      assert.equal(description.searchAttributes.Stage?.[0], 'WaitingToRetry');
      assert.equal(description.searchAttributes.Attempt?.[0], 1, 'the attempt that failed');
    });
  });

  it('event-driven schedule: attempts at 0, 1, 5, 15, 30 min, 1, 2, 4 h, then every 4 h; at most 75', async () => {
    const activities = fakeActivities(clock, {
      async deliver() {
        throw retryable('GatewayUnavailable', 'HTTP 503');
      },
    });
    const policy = { ...defaultPolicy(), schedule: defaultSchedule('event-driven') };
    await withProvisioning(
      env,
      activities,
      await freshEvent(),
      async (run) => {
        await failureOf(run);
        // The first of each attempt's four quick tries.
        const tries = activities.callsOf('deliverCredentials', 'signing');
        const starts = tries.filter((_, i) => i % 4 === 0).map((c) => c.at - run.startedAt);
        assert.equal(starts.length, 75);
        const minutes = starts.slice(0, 10).map((ms) => Math.round(ms / MINUTE_MS));
        assert.deepEqual(minutes, [0, 1, 5, 15, 30, 60, 120, 240, 480, 720]);
        assert.ok(starts.every((ms) => ms <= 12.5 * DAY_MS));
      },
      policy,
    );
  });
});
