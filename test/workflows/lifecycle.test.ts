import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { nonRetryable, retryable } from '../../src/domain/errors';
import { defaultPolicy } from '../../src/domain/policy';
import { DAY_MS, HOUR_MS, MINUTE_MS, defaultSchedule } from '../../src/domain/schedule';
import { certificateIssuedSignal, retryNowSignal, statusQuery } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities, fakeCertificate, serverNow } from '../helpers/fake-activities';
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
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => env?.teardown());

  async function freshEvent() {
    return enrollmentEvent({ eventTime: new Date(await env.currentTimeMs()).toISOString() });
  }

  it('waits for a CA that keeps the request pending for 2 days (polls every 15 min, hourly after a day), then delivers in the first attempt', async () => {
    let readyAt = Infinity;
    const activities = fakeActivities({
      async requestCertificate({ kind }) {
        readyAt = serverNow() + 2 * DAY_MS;
        return { status: 'pending', requestId: `order-${kind}` };
      },
      async checkIssuance({ kind, requestId }) {
        if (serverNow() < readyAt) return { status: 'pending', requestId };
        return { status: 'issued', certificate: fakeCertificate(kind, 7), requestId };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle, startedAt }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 1);
      assert.ok(Date.parse(report.deliveredAt) >= startedAt + 2 * DAY_MS);
      assert.ok(Date.parse(report.deliveredAt) < startedAt + 2 * DAY_MS + HOUR_MS + 5 * MINUTE_MS, 'within one (hourly) poll of issuance');
    });
    assert.equal(activities.callsOf('requestCertificate').length, 2, 'submitted once per kind');
    const polls = activities.callsOf('checkIssuance').filter((c) => (c.input as { kind: string }).kind === 'signing');
    const gaps = polls.slice(1).map((p, i) => Math.round((p.at - polls[i]!.at) / MINUTE_MS));
    assert.ok(gaps.slice(0, 90).every((g) => g === 15), 'every 15 minutes on the first day');
    assert.ok(gaps.slice(-20).every((g) => g === 60), 'hourly on the second day');
    assert.ok(polls.length >= 118 && polls.length <= 122, `96 polls the first day, 24 the second (${polls.length})`);
  });

  it('is woken by certificateIssued instead of waiting for the next poll', async () => {
    let issued = false;
    const activities = fakeActivities({
      async requestCertificate({ kind }) {
        return { status: 'pending', requestId: `order-${kind}` };
      },
      async checkIssuance({ kind, requestId }) {
        return issued ? { status: 'issued', certificate: fakeCertificate(kind, 3), requestId } : { status: 'pending', requestId };
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
        assert.ok(Date.parse(report.deliveredAt) < run.startedAt + HOUR_MS, 'delivered long before the 6-hour poll');
      },
      policy,
    );
  });

  it('fails with WindowClosed and one notification when issuance outlasts the 12.5-day window', async () => {
    const activities = fakeActivities({
      async requestCertificate({ kind }) {
        return { status: 'pending', requestId: `order-${kind}` };
      },
      async checkIssuance({ requestId }) {
        return { status: 'pending', requestId };
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
    const activities = fakeActivities({
      async resolveUser(event) {
        throw nonRetryable('UserHasNoEmail', `UEM has no usable email address for user ${event.enrollmentUserUuid}`);
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      const failure = await failureOf(run);
      assert.match(failure.message, /after 1 attempt: an error that retrying cannot fix; last error: UserHasNoEmail/);
      const description = await run.handle.describe();
      assert.ok(Date.parse(description.closeTime!.toISOString()) - run.startedAt < MINUTE_MS, 'no waiting for slots');
    });
    assert.equal(activities.callsOf('resolveUser').length, 1, 'non-retryable: no quick retries either');
    assert.equal(activities.callsOf('generateKeyPair').length, 0);
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.notices[0]!.reason, 'NonRetryableError');
    assert.equal(activities.notices[0]!.lastError?.type, 'UserHasNoEmail');
  });

  it('stops at a CA rejection without further attempts', async () => {
    const activities = fakeActivities({
      async requestCertificate() {
        throw nonRetryable('CertificateRejected', 'policy forbids this domain');
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      const failure = await failureOf(run);
      assert.match(failure.message, /CertificateRejected: policy forbids this domain/);
    });
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.callsOf('uploadCredential').length, 0);
  });

  it('ends Cancelled with clean-up run when cancelled while waiting for the next slot', async () => {
    const activities = fakeActivities({
      async uploadCredential({ kind }) {
        if (kind === 'encryption') throw retryable('GatewayUnavailable', 'HTTP 502');
        return { deliveredAt: new Date(serverNow()).toISOString(), alreadyPresent: false };
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
    const input = cleanUps[0]!.input as { credentials: { kind: string; delivered: boolean; serial?: string }[] };
    assert.deepEqual(
      input.credentials.map((c) => [c.kind, c.delivered, !!c.serial]),
      [
        ['signing', true, true],
        ['encryption', false, true],
      ],
    );
    assert.equal(activities.notices.length, 0, 'cancellation is not a failure');
  });

  it('retryNow skips the wait: the next attempt runs at once', async () => {
    let gatewayUp = false;
    const activities = fakeActivities({
      async uploadCredential() {
        if (!gatewayUp) throw retryable('GatewayUnavailable', 'HTTP 503');
        return { deliveredAt: new Date(serverNow()).toISOString(), alreadyPresent: false };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      await untilStage(env, run, 'WaitingToRetry');
      const waiting = await run.handle.query(statusQuery);
      assert.equal(waiting.attempt, 1);
      assert.ok(Date.parse(waiting.nextAttemptAt!) >= run.startedAt + 4 * HOUR_MS - MINUTE_MS);
      gatewayUp = true;
      await run.handle.signal(retryNowSignal);
      const report = await run.handle.result();
      assert.equal(report.attempts, 2);
      assert.ok(Date.parse(report.deliveredAt) - run.startedAt < 10 * MINUTE_MS, 'attempt 2 did not wait for the 4-hour slot');
    });
  });

  it('an attempt redoes only what is not done: issued certificates are kept, delivered ones not re-sent', async () => {
    let encryptionUploads = 0;
    const activities = fakeActivities({
      async uploadCredential({ kind }) {
        if (kind === 'encryption' && ++encryptionUploads <= 4) throw retryable('GatewayUnavailable', 'timeout');
        return { deliveredAt: new Date(serverNow()).toISOString(), alreadyPresent: false };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle }) => {
      const report = await handle.result();
      assert.equal(report.attempts, 2);
    });
    const byKind = (name: Parameters<typeof activities.callsOf>[0], kind: string) =>
      activities.callsOf(name).filter((c) => (c.input as { kind: string }).kind === kind).length;
    assert.equal(byKind('generateKeyPair', 'encryption'), 1);
    assert.equal(byKind('requestCertificate', 'encryption'), 1);
    assert.equal(byKind('encryptCredential', 'encryption'), 1);
    assert.equal(byKind('uploadCredential', 'signing'), 1, 'the delivered signing credential is not re-sent');
    assert.equal(byKind('uploadCredential', 'encryption'), 5, '4 quick retries in attempt 1, then attempt 2');
  });

  it('gives transient errors a few quick retries inside the attempt, with one idempotency key', async () => {
    let lost = 2;
    const activities = fakeActivities({
      async requestCertificate({ kind }) {
        if (lost-- > 0) throw retryable('CaUnavailable', 'socket hang up after submit');
        return { status: 'issued', certificate: fakeCertificate(kind, 1), requestId: 'r1' };
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async ({ handle }) => {
      assert.equal((await handle.result()).attempts, 1);
    });
    const signingRequests = activities.callsOf('requestCertificate').filter((c) => (c.input as { kind: string }).kind === 'signing');
    const keys = new Set(signingRequests.map((c) => (c.input as { idempotencyKey: string }).idempotencyKey));
    assert.equal(keys.size, 1, 'the same key on every retry');
    assert.match([...keys][0]!, /^smime-.+\/.+\/signing$/);
  });

  it('the status query reports progress and never a secret', async () => {
    const activities = fakeActivities({
      async uploadCredential() {
        throw retryable('GatewayUnavailable', 'HTTP 503');
      },
    });
    await withProvisioning(env, activities, await freshEvent(), async (run) => {
      await untilStage(env, run, 'WaitingToRetry');
      const status = await run.handle.query(statusQuery);
      assert.equal(status.attempt, 1);
      assert.equal(status.lastError?.type, 'GatewayUnavailable');
      assert.deepEqual(status.credentials.map((c) => c.state), ['encrypted', 'encrypted']);
      assert.ok(status.credentials.every((c) => c.serial && c.thumbprint && c.notAfter));
      assert.doesNotMatch(JSON.stringify(status), /sealed:|PRIVATE KEY|password/i);
      const description = await run.handle.describe();
      assert.equal(description.searchAttributes.Stage?.[0], 'WaitingToRetry');
      assert.equal(description.searchAttributes.Attempt?.[0], 1);
    });
  });

  it('event-driven schedule: attempts at 0, 1, 5, 15, 30 min, 1, 2, 4 h, then every 4 h; at most 75', async () => {
    const activities = fakeActivities({
      async uploadCredential() {
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
        const starts = activities
          .callsOf('uploadCredential')
          .filter((c) => c.attempt === 1 && (c.input as { kind: string }).kind === 'signing')
          .map((c) => c.at - run.startedAt);
        assert.equal(starts.length, 75);
        const minutes = starts.slice(0, 10).map((ms) => Math.round(ms / MINUTE_MS));
        assert.deepEqual(minutes, [0, 1, 5, 15, 30, 60, 120, 240, 480, 720]);
        assert.ok(starts.every((ms) => ms <= 12.5 * DAY_MS));
      },
      policy,
    );
  });
});
