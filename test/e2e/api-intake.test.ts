/**
 * The UEM webhook against the run's Temporal dev server, with a worker running the real workflow
 * on fake activities: starts, the three idempotency cases, racing duplicates, unenrollment,
 * Temporal going away and coming back, and a burst of 200 distinct events.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { provisioningWorkflowId, type EnrollmentEvent } from '../../src/domain/enrollment';
import { retryable } from '../../src/domain/errors';
import { enrollmentPayload, uemFields, uemPayload } from '../../src/peers/uem-sim/events';
import { defaultPolicy } from '../../src/domain/policy';
import { startProvisioning, type ProvisioningMemo } from '../../src/temporal/start';
import { projectPath } from '../../src/tools/paths';
import { searchAttributes } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities, type FakeActivities } from '../helpers/fake-activities';
import { devServerEnv } from '../helpers/temporal';
import {
  apiConfig,
  clientFor,
  freePort,
  postEvent,
  startApi,
  startForwarder,
  startWorker,
  type HttpAnswer,
  type RunningApi,
  type TestConfig,
} from '../helpers/api-harness';

const SAMPLES = projectPath('test', 'fixtures', 'uem-events');

interface WebhookBody {
  outcome: string;
  workflowId?: string;
  runId?: string;
  workflows?: { workflowId: string; runId?: string; outcome: string }[];
}

describe('UEM webhook on the dev server', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let testConfig: TestConfig;
  let api: RunningApi;
  let worker: { stop(): Promise<void> };
  let activities: FakeActivities;
  /** Users whose uploads fail (retryably): their runs stay open. */
  const stuck = new Set<string>();

  before(async function () {
    this.timeout(180_000);
    env = await devServerEnv();
    testConfig = apiConfig();
    activities = fakeActivities(async () => Date.now(), {
      async deliver(_kind, input) {
        if (stuck.has(input.enrollment.enrollmentUserUuid)) throw retryable('GatewayUnavailable', 'simulated gateway outage');
        return {};
      },
    });
    worker = await startWorker(env, testConfig.config.taskQueue, activities);
    api = await startApi({ client: env.client, config: testConfig.config });
  });
  after(async function () {
    this.timeout(60_000);
    await api?.close();
    await worker?.stop();
    testConfig?.cleanUp();
  });

  const post = (event: EnrollmentEvent, format: 'json' | 'xml' = 'json') => {
    const payload = enrollmentPayload(event, format);
    return postEvent(api.url, payload.body, payload.contentType);
  };
  const body = (answer: HttpAnswer) => answer.json as WebhookBody;
  const handleOf = (answer: HttpAnswer) => env.client.workflow.getHandle(body(answer).workflowId!, body(answer).runId!, { followRuns: false });
  const stuckEvent = (overrides: Partial<EnrollmentEvent> = {}) => {
    const event = enrollmentEvent(overrides);
    stuck.add(event.enrollmentUserUuid);
    return event;
  };
  const later = (event: EnrollmentEvent, ms: number): EnrollmentEvent => ({ ...event, eventTime: new Date(Date.parse(event.eventTime) + ms).toISOString() });

  async function terminateQuietly(answer: HttpAnswer): Promise<void> {
    await handleOf(answer).terminate('test finished').catch(() => undefined);
  }

  describe('starting', () => {
    it('an enrollment → 202 started; the run has typed search attributes, a summary by name, the EventTime memo, and is delivered', async () => {
      const event = enrollmentEvent({ userName: 'mkovac', email: 'mira.kovac@example.test', deviceName: 'Mira iPhone' });
      const answer = await post(event);
      assert.equal(answer.status, 202, answer.text);
      assert.equal(body(answer).outcome, 'started');
      assert.equal(body(answer).workflowId, provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid));
      const handle = handleOf(answer);
      const report = await handle.result();
      assert.equal(report.stage, 'Delivered');
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(searchAttributes.deviceUuid), event.deviceUuid);
      assert.equal(description.typedSearchAttributes.get(searchAttributes.enrollmentUserUuid), event.enrollmentUserUuid);
      assert.equal((description.memo as unknown as ProvisioningMemo).eventTime, event.eventTime);
      assert.equal(await description.staticSummary(), 'S/MIME for mkovac (mira.kovac@example.test) on Mira iPhone');
      const details = await description.staticDetails();
      assert.match(details ?? '', new RegExp(`DeviceUUID:\\*\\* ${event.deviceUuid}`));
      assert.match(details ?? '', /Platform:\*\* Apple/);
    });

    it('the search attributes are set at start: Stage=Received, Attempt=0, before any worker has run', async () => {
      const event = enrollmentEvent();
      // A task queue no worker polls: whatever the run shows was written by the start itself.
      const result = await startProvisioning(env.client, { event, policy: defaultPolicy(), taskQueue: `nobody-${event.deviceUuid}` });
      assert.equal(result.outcome, 'started');
      const handle = env.client.workflow.getHandle(result.workflowId, result.runId);
      try {
        const description = await handle.describe();
        assert.equal(description.typedSearchAttributes.get(searchAttributes.stage), 'Received');
        assert.equal(description.typedSearchAttributes.get(searchAttributes.attempt), 0);
        assert.equal(description.typedSearchAttributes.get(searchAttributes.deviceUuid), event.deviceUuid);
        assert.equal(description.historyLength, 2, 'started and a workflow task scheduled: nothing else');
      } finally {
        await handle.terminate('test finished');
      }
    });

    it('every basic enrollment sample (JSON, XML, blank email, legacy date) is accepted and started', async () => {
      for (const file of ['enrollment-full.json', 'enrollment-blank-email.json', 'enrollment-legacy.xml', 'enrollment-legacy-date.json']) {
        const answer = await postEvent(api.url, readFileSync(join(SAMPLES, file)), file.endsWith('.xml') ? 'application/xml' : 'application/json');
        assert.equal(answer.status, 202, `${file}: ${answer.text}`);
        assert.equal(body(answer).outcome, 'started', file);
        await handleOf(answer).result().catch(() => undefined);
      }
    });
  });

  describe('idempotency', () => {
    it('a repeat while the run is open lands on it (Temporal answers it like the original); a newer event joins it: 200', async () => {
      const event = stuckEvent();
      const first = await post(event);
      assert.equal(first.status, 202);
      const again = await post(event, 'xml');
      assert.equal(again.status, 202, again.text);
      assert.deepEqual(again.json, { outcome: 'started', eventType: 'MDM Enrollment Complete', workflowId: body(first).workflowId, runId: body(first).runId });
      const newer = await post(later(event, 60_000));
      assert.equal(newer.status, 200);
      assert.deepEqual(newer.json, { outcome: 'joined', eventType: 'MDM Enrollment Complete', workflowId: body(first).workflowId, runId: body(first).runId });
      await terminateQuietly(first);
    });

    it('a fresh event is acknowledged with one call to Temporal', async () => {
      const calls: string[] = [];
      const counting = new Proxy(env.client.workflowService, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.push(String(name));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const client = Object.create(env.client, { workflowService: { value: counting } }) as typeof env.client;
      const result = await startProvisioning(client, { event: stuckEvent(), policy: defaultPolicy(), taskQueue: testConfig.config.taskQueue });
      assert.equal(result.outcome, 'started');
      assert.deepEqual(calls, ['startWorkflowExecution']);
      await env.client.workflow.getHandle(result.workflowId).terminate('test finished');
    });

    it('the same event after the run closed is a duplicate: 200, the old run, no second run', async () => {
      const event = enrollmentEvent();
      const first = await post(event);
      await handleOf(first).result();
      const again = await post(event);
      assert.equal(again.status, 200, again.text);
      assert.equal(body(again).outcome, 'duplicate');
      assert.equal(body(again).runId, body(first).runId);
      const latest = await env.client.workflow.getHandle(body(first).workflowId!).describe();
      assert.equal(latest.runId, body(first).runId, 'still the first run');
      assert.equal(activities.calls.filter((c) => c.name === 'identifyUser' && (c.input as { event: EnrollmentEvent }).event.enrollmentUserUuid === event.enrollmentUserUuid).length, 1);
    });

    it('a newer enrollment after the run closed starts a new run; the older event, redelivered late, starts nothing', async () => {
      const event = enrollmentEvent({ eventTime: new Date(Date.now() - 2 * 3_600_000).toISOString() });
      const first = await post(event);
      await handleOf(first).result();
      const next = await post(later(event, 3_600_000));
      assert.equal(next.status, 202, next.text);
      assert.equal(body(next).outcome, 'started');
      assert.equal(body(next).workflowId, body(first).workflowId);
      assert.notEqual(body(next).runId, body(first).runId);
      assert.equal((await handleOf(next).result()).stage, 'Delivered');
      const older = await post(event);
      assert.equal(body(older).outcome, 'duplicate', 'the first event again is still a duplicate (an old event is compared with the latest run)');
      assert.equal(body(older).runId, body(next).runId);
    });

    it('identical events arriving at the same moment start exactly one run', async () => {
      for (let round = 0; round < 3; round += 1) {
        const event = stuckEvent();
        const answers = await Promise.all([post(event), post(event, 'xml'), post(event), post(event, 'xml')]);
        assert.ok(answers.every((a) => a.status === 202 || a.status === 200), `round ${round}: ${answers.map((a) => a.text).join(' ')}`);
        assert.equal(new Set(answers.map((a) => body(a).runId)).size, 1, 'one run');
        await terminateQuietly(answers[0]!);
      }
    });
  });

  describe('unenrollment', () => {
    async function untilUploadTried(event: EnrollmentEvent): Promise<void> {
      const deadline = Date.now() + 30_000;
      while (!activities.calls.some((c) => c.name === 'deliverCredentials' && (c.input as { enrollment: { enrollmentUserUuid: string } }).enrollment.enrollmentUserUuid === event.enrollmentUserUuid)) {
        if (Date.now() > deadline) assert.fail('the upload was never attempted');
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    it('Break MDM Confirmed cancels the open run: clean-up runs, the workflow ends Cancelled, the enrollment stays handled', async () => {
      const event = stuckEvent();
      const started = await post(event);
      await untilUploadTried(event);
      const unenroll = uemPayload(uemFields('BreakMDMConfirmed', later(event, 60_000)), 'json');
      const answer = await postEvent(api.url, unenroll.body, unenroll.contentType);
      assert.equal(answer.status, 202, answer.text);
      assert.equal(body(answer).outcome, 'cancel-requested');
      assert.deepEqual(body(answer).workflows, [{ workflowId: body(started).workflowId, runId: body(started).runId, outcome: 'cancel-requested' }]);
      const error = await handleOf(started).result().then(
        () => assert.fail('the run was not cancelled'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, String(error));
      assert.ok(activities.calls.some((c) => c.name === 'cleanUpEnrollment' && (c.input as { event: EnrollmentEvent }).event.enrollmentUserUuid === event.enrollmentUserUuid));
      assert.equal((await handleOf(started).describe()).status.name, 'CANCELLED');
      const retried = await post(event);
      assert.equal(body(retried).outcome, 'duplicate', 'a redelivery of the enrollment does not restart it');
    });

    it('Device Delete with only the DeviceUUID cancels the device\'s open runs (found through visibility)', async () => {
      const event = stuckEvent();
      const started = await post(event);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const found = await env.client.workflow.count(`DeviceUUID = '${event.deviceUuid}' AND ExecutionStatus = 'Running'`);
        if (found.count > 0) break;
        if (Date.now() > deadline) assert.fail('the run never appeared in visibility');
        await new Promise((r) => setTimeout(r, 200));
      }
      const payload = uemPayload({ EventType: 'Device Delete', EventTime: new Date().toISOString(), DeviceUUID: event.deviceUuid }, 'xml');
      const answer = await postEvent(api.url, payload.body, payload.contentType);
      assert.equal(answer.status, 202, answer.text);
      assert.equal(body(answer).outcome, 'cancel-requested');
      await assert.rejects(handleOf(started).result(), WorkflowFailedError);
    });

    it('an unenrollment older than the open run is stale and leaves it running', async () => {
      const event = stuckEvent();
      const started = await post(event);
      const payload = uemPayload(uemFields('Enterprise Wipe', later(event, -3_600_000)), 'json');
      const answer = await postEvent(api.url, payload.body, payload.contentType);
      assert.equal(answer.status, 202);
      assert.equal(body(answer).outcome, 'stale');
      assert.equal((await handleOf(started).describe()).status.name, 'RUNNING');
      await terminateQuietly(started);
    });

    it('an unenrollment with nothing to cancel → 202 not-found', async () => {
      const payload = uemPayload(uemFields('Break MDM Confirmed', enrollmentEvent()), 'json');
      const answer = await postEvent(api.url, payload.body, payload.contentType);
      assert.equal(answer.status, 202);
      assert.equal(body(answer).outcome, 'not-found');
    });
  });

  describe('Temporal unreachable', () => {
    it('503 with Retry-After while Temporal is away; the same event succeeds when it is back', async function () {
      this.timeout(90_000);
      const port = await freePort();
      const { client, connection } = clientFor(`127.0.0.1:${port}`);
      const cutOff = await startApi({ client, config: testConfig.config, temporalTimeoutMs: 3000 });
      let forwarder: { close(): Promise<void> } | undefined;
      try {
        const event = enrollmentEvent();
        const payload = enrollmentPayload(event, 'json');
        const down = await postEvent(cutOff.url, payload.body, payload.contentType);
        assert.equal(down.status, 503, down.text);
        assert.ok(Number(down.headers.get('retry-after')) > 0);

        forwarder = await startForwarder(port, env.address);
        let answer: HttpAnswer = down;
        const deadline = Date.now() + 60_000;
        while (answer.status === 503 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          answer = await postEvent(cutOff.url, payload.body, payload.contentType);
        }
        assert.equal(answer.status, 202, `after Temporal came back: ${answer.status} ${answer.text}`);
        assert.equal(body(answer).outcome, 'started', 'nothing had been started while Temporal was away');
        assert.equal((await handleOf(answer).result()).stage, 'Delivered');
      } finally {
        await cutOff.close();
        await connection.close();
        await forwarder?.close();
      }
    });
  });

  describe('a burst', () => {
    it('200 distinct events at once → 200 accepted, 200 workflows, none lost', async function () {
      this.timeout(180_000);
      const events = Array.from({ length: 200 }, (_, i) => enrollmentEvent({ deviceName: `Burst device ${i}` }));
      const started = Date.now();
      const answers = await Promise.all(events.map((event, i) => post(event, i % 2 === 0 ? 'json' : 'xml')));
      const statuses = answers.map((a) => a.status);
      assert.deepEqual([...new Set(statuses)], [202], `statuses: ${statuses.join(',')}`);
      const ids = new Set(answers.map((a) => body(a).workflowId));
      assert.equal(ids.size, 200);
      for (const [i, event] of events.entries()) assert.equal(body(answers[i]!).workflowId, provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid));
      const accepted = Date.now() - started;
      const results = await Promise.all(answers.map((a) => handleOf(a).result()));
      assert.equal(results.filter((r) => r.stage === 'Delivered').length, 200);
      process.stderr.write(`      200 events accepted in ${accepted} ms, all delivered after ${Date.now() - started} ms\n`);
    });
  });
});
