/**
 * The management API against the dev server with a worker on fake activities: start, look at
 * (open, delivered, failed), list with filters and paging, cancel, retry, terminate — and every
 * real response validated against /openapi.json with ajv.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { openApiDocument } from '../../src/api/openapi';
import { provisioningWorkflowId, type EnrollmentEvent } from '../../src/domain/enrollment';
import { nonRetryable, retryable } from '../../src/domain/errors';
import { enrollmentPayload } from '../../src/peers/uem-sim/events';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities } from '../helpers/fake-activities';
import { devServerEnv } from '../helpers/temporal';
import { apiConfig, bearer, OPERATOR_TOKEN, postEvent, request, startApi, startWorker, VIEWER_TOKEN, type HttpAnswer, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { OpenApiConformance } from '../unit/api/openapi-conformance';

interface View {
  workflowId: string;
  runId: string;
  executionStatus: string;
  stage: string;
  attempt: number;
  enrollmentUserUuid?: string;
  deviceUuid?: string;
  status?: { stage: string; email?: string; credentials: { serial?: string }[] };
  result?: { stage: string; email: string; credentials: { serial?: string }[] };
  failure?: { type: string; message: string; reason?: string; lastError?: { type?: string; message: string } };
  summary?: string;
}

describe('management API on the dev server', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let testConfig: TestConfig;
  let api: RunningApi;
  let worker: { stop(): Promise<void> };
  const stuck = new Set<string>();
  const noEmail = new Set<string>();
  const openapi = new OpenApiConformance(openApiDocument() as never);

  before(async function () {
    this.timeout(180_000);
    env = await devServerEnv();
    testConfig = apiConfig();
    const activities = fakeActivities(async () => Date.now(), {
      async identifyUser({ event }) {
        if (noEmail.has(event.enrollmentUserUuid)) throw nonRetryable('UserHasNoEmail', 'neither the event nor UEM has an email for this user');
        return { email: event.email ?? 'someone@example.test', source: 'event' };
      },
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

  async function call(method: string, path: string, token: string, json?: unknown): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Authorization: bearer(token) };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const answer = await request(`${api.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    openapi.assertConforms(method, path, answer);
    return answer;
  }
  const view = async (workflowId: string, token = OPERATOR_TOKEN) => (await call('GET', `/v1/enrollments/${workflowId}`, token)).json as View;
  const startBody = (event: EnrollmentEvent) => ({ enrollmentUserUuid: event.enrollmentUserUuid.toUpperCase(), deviceUuid: event.deviceUuid, email: event.email, platform: 'Apple', userName: 'mkovac', deviceName: 'Mira iPhone' });

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('POST /v1/enrollments with an email while a UEM directory is configured → 422, nothing started', async () => {
    const withDirectory = apiConfig({ taskQueue: testConfig.config.taskQueue, apiTokens: `${OPERATOR_TOKEN}:operator`, uemApiUrl: 'https://uem.example.test' });
    const directoryApi = await startApi({ client: env.client, config: withDirectory.config });
    try {
      const event = enrollmentEvent({ email: 'ceo@bank.example' });
      const answer = await request(`${directoryApi.url}/v1/enrollments`, { method: 'POST', headers: { Authorization: bearer(OPERATOR_TOKEN), 'Content-Type': 'application/json' }, body: JSON.stringify(startBody(event)) });
      assert.equal(answer.status, 422, answer.text);
      assert.match(answer.text, /address comes from UEM/);
      const runs = await env.client.workflow.count(`WorkflowId = '${provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid)}'`);
      assert.equal(runs.count, 0);
    } finally {
      await directoryApi.close();
      withDirectory.cleanUp();
    }
  });

  it('POST /v1/enrollments → 201 with Location; again while open → 200 joined', async () => {
    const event = enrollmentEvent();
    stuck.add(event.enrollmentUserUuid);
    const created = await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event));
    assert.equal(created.status, 201, created.text);
    const { workflowId, runId } = created.json as { workflowId: string; runId: string };
    assert.equal(workflowId, provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal(created.headers.get('location'), `/v1/enrollments/${workflowId}`);
    const joined = await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event));
    assert.equal(joined.status, 200);
    assert.deepEqual(joined.json, { workflowId, runId, outcome: 'joined' });
    await env.client.workflow.getHandle(workflowId).terminate('test finished');
  });

  it('GET an open run: stage and attempt at the top, the status query\'s content, the summary', async () => {
    const event = enrollmentEvent();
    stuck.add(event.enrollmentUserUuid);
    const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
    const open = await until('the wait for the next slot', async () => {
      const v = await view(workflowId);
      return v.stage === 'WaitingToRetry' ? v : undefined;
    });
    assert.equal(open.executionStatus, 'RUNNING');
    assert.equal(open.attempt, 1);
    assert.equal(open.status?.stage, 'WaitingToRetry');
    assert.match(JSON.stringify(open.status), /GatewayUnavailable/);
    assert.equal(open.summary, 'S/MIME for mkovac (' + event.email + ') on Mira iPhone');
    assert.doesNotMatch(JSON.stringify(open), /sealed:/, 'no sealed secret in the view');
    await env.client.workflow.getHandle(workflowId).terminate('test finished');
  });

  it('GET a delivered run: COMPLETED, stage Delivered, the delivery report', async () => {
    const event = enrollmentEvent();
    const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
    await env.client.workflow.getHandle(workflowId).result();
    const delivered = await view(workflowId);
    assert.equal(delivered.executionStatus, 'COMPLETED');
    assert.equal(delivered.stage, 'Delivered');
    assert.equal(delivered.result?.email, event.email);
    assert.equal(delivered.status, undefined);
  });

  it('GET a failed run: FAILED, stage Failed, the failure with reason and last error', async () => {
    const event = enrollmentEvent({ email: undefined });
    noEmail.add(event.enrollmentUserUuid);
    const payload = enrollmentPayload(event, 'json');
    const answer = await postEvent(api.url, payload.body, payload.contentType);
    const { workflowId } = answer.json as { workflowId: string };
    await assert.rejects(env.client.workflow.getHandle(workflowId).result(), WorkflowFailedError);
    const failed = await view(workflowId);
    assert.equal(failed.executionStatus, 'FAILED');
    assert.equal(failed.stage, 'Failed');
    assert.equal(failed.failure?.type, 'DeliveryFailed');
    assert.equal(failed.failure?.reason, 'NonRetryableError');
    assert.equal(failed.failure?.lastError?.type, 'UserHasNoEmail');
  });

  it('a viewer sees identifiers, stage, attempts, serials and failure types, but no personal data in the clear', async () => {
    // Open: the status query's address masked, the summary (names) left out.
    const open = enrollmentEvent({ email: 'mira.kovac@example.test' });
    stuck.add(open.enrollmentUserUuid);
    const { workflowId: openId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(open))).json as { workflowId: string };
    const running = await until('the status query with the address', async () => {
      const v = await view(openId, VIEWER_TOKEN);
      return v.status?.email ? v : undefined;
    });
    assert.equal(running.executionStatus, 'RUNNING');
    assert.equal(running.summary, undefined);
    assert.equal(running.status?.email, 'm***@example.test');
    assert.equal(running.enrollmentUserUuid, open.enrollmentUserUuid);
    assert.equal(running.deviceUuid, open.deviceUuid);
    assert.equal((await view(openId)).status?.email, 'mira.kovac@example.test', 'an operator sees the address');
    await env.client.workflow.getHandle(openId).terminate('test finished');

    // Delivered: the report's address masked.
    const delivered = enrollmentEvent({ email: 'mira.kovac@example.test' });
    const { workflowId: deliveredId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(delivered))).json as { workflowId: string };
    await env.client.workflow.getHandle(deliveredId).result();
    const report = await view(deliveredId, VIEWER_TOKEN);
    assert.equal(report.result?.email, 'm***@example.test');
    assert.ok(report.result?.credentials.some((c) => c.serial), 'serials are shown');
    assert.ok(!JSON.stringify(report).includes('mira.kovac'), 'the address appears nowhere');
    assert.ok(!JSON.stringify(report).includes('mkovac') && !JSON.stringify(report).includes('Mira iPhone'), 'nor the user or device name');

    // Failed: types and counts stay, messages are withheld.
    const failedEvent = enrollmentEvent({ email: undefined });
    noEmail.add(failedEvent.enrollmentUserUuid);
    const payload = enrollmentPayload(failedEvent, 'json');
    const { workflowId: failedId } = (await postEvent(api.url, payload.body, payload.contentType)).json as { workflowId: string };
    await assert.rejects(env.client.workflow.getHandle(failedId).result(), WorkflowFailedError);
    const failure = (await view(failedId, VIEWER_TOKEN)).failure!;
    assert.equal(failure.type, 'DeliveryFailed');
    assert.equal(failure.lastError?.type, 'UserHasNoEmail');
    assert.equal(failure.message, '(shown to operators only)');
    assert.equal(failure.lastError?.message, '(shown to operators only)');
    assert.match((await view(failedId)).failure!.lastError!.message, /email/, 'an operator reads the message');
  });

  it('GET an unknown provisioning workflow → 404', async () => {
    const event = enrollmentEvent();
    const answer = await call('GET', `/v1/enrollments/${provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid)}`, VIEWER_TOKEN);
    assert.equal(answer.status, 404);
  });

  it('lists through visibility with filters and page tokens', async () => {
    const events = [enrollmentEvent(), enrollmentEvent(), enrollmentEvent()];
    const shared = events[0]!.enrollmentUserUuid;
    events[1] = { ...events[1]!, enrollmentUserUuid: shared }; // one user, two devices
    const ids: string[] = [];
    for (const event of events) {
      const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
      ids.push(workflowId);
      await env.client.workflow.getHandle(workflowId).result();
    }
    type List = { items: { workflowId: string; stage: string; deviceUuid?: string }[]; nextPageToken: string | null };
    const byDevice = await until('the device in visibility', async () => {
      const list = (await call('GET', `/v1/enrollments?deviceUuid=${events[2]!.deviceUuid}&stage=Delivered`, VIEWER_TOKEN)).json as List;
      return list.items.length > 0 ? list : undefined;
    });
    assert.deepEqual(byDevice.items.map((i) => i.workflowId), [ids[2]]);
    assert.equal(byDevice.items[0]!.stage, 'Delivered');

    const byUser = await until('both devices of the user', async () => {
      const list = (await call('GET', `/v1/enrollments?userUuid=${shared}`, VIEWER_TOKEN)).json as List;
      return list.items.length === 2 ? list : undefined;
    });
    assert.deepEqual(new Set(byUser.items.map((i) => i.workflowId)), new Set([ids[0], ids[1]]));

    const first = (await call('GET', `/v1/enrollments?userUuid=${shared}&pageSize=1`, VIEWER_TOKEN)).json as List;
    assert.equal(first.items.length, 1);
    assert.ok(first.nextPageToken, 'a token for the second page');
    const second = (await call('GET', `/v1/enrollments?userUuid=${shared}&pageSize=1&pageToken=${first.nextPageToken}`, VIEWER_TOKEN)).json as List;
    assert.equal(second.items.length, 1);
    assert.notEqual(second.items[0]!.workflowId, first.items[0]!.workflowId);

    for (const token of ['bm90LWEtdG9rZW4.AAAAAAAAAAAAAAAA', `${first.nextPageToken!.slice(0, -2)}xx`]) {
      const bad = await call('GET', `/v1/enrollments?userUuid=${shared}&pageSize=1&pageToken=${token}`, VIEWER_TOKEN);
      assert.equal(bad.status, 400, bad.text);
    }
    const otherFilters = await call('GET', `/v1/enrollments?pageSize=1&pageToken=${first.nextPageToken}`, VIEWER_TOKEN);
    assert.equal(otherFilters.status, 400, 'a token is bound to its filters');
    assert.equal((await call('GET', '/v1/enrollments?pageToken=not-a-token', VIEWER_TOKEN)).status, 422);
  });

  it('retry signals retryNow (202) on an open run; 409 once it has closed', async () => {
    const event = enrollmentEvent();
    stuck.add(event.enrollmentUserUuid);
    const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
    const answer = await call('POST', `/v1/enrollments/${workflowId}/retry`, OPERATOR_TOKEN);
    assert.equal(answer.status, 202, answer.text);
    assert.equal((answer.json as { action: string }).action, 'retry');
    // A signal that arrives while a workflow task is running is buffered until that task completes.
    let signalled = false;
    for (let i = 0; i < 100 && !signalled; i++) {
      const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
      signalled = !!history.events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'retryNow');
      if (!signalled) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(signalled, 'retryNow reached the workflow history');
    await env.client.workflow.getHandle(workflowId).terminate('test finished');
    assert.equal((await call('POST', `/v1/enrollments/${workflowId}/retry`, OPERATOR_TOKEN)).status, 409);
  });

  it('cancel → 202, the run ends Cancelled after clean-up; cancelling again → 409', async () => {
    const event = enrollmentEvent();
    stuck.add(event.enrollmentUserUuid);
    const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
    const answer = await call('POST', `/v1/enrollments/${workflowId}/cancel`, OPERATOR_TOKEN, { reason: 'user left the company' });
    assert.equal(answer.status, 202, answer.text);
    await assert.rejects(env.client.workflow.getHandle(workflowId).result(), WorkflowFailedError);
    const cancelled = await view(workflowId);
    assert.equal(cancelled.executionStatus, 'CANCELLED');
    assert.equal(cancelled.stage, 'Cancelled');
    assert.equal(cancelled.failure?.type, 'Cancelled');
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    assert.ok(history.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes?.cause === 'user left the company'));
    assert.equal((await call('POST', `/v1/enrollments/${workflowId}/cancel`, OPERATOR_TOKEN)).status, 409);
  });

  it('terminate needs a reason, → 202, records it; terminating again → 409; unknown → 404', async () => {
    const event = enrollmentEvent();
    stuck.add(event.enrollmentUserUuid);
    const { workflowId } = (await call('POST', '/v1/enrollments', OPERATOR_TOKEN, startBody(event))).json as { workflowId: string };
    assert.equal((await call('POST', `/v1/enrollments/${workflowId}/terminate`, OPERATOR_TOKEN, {})).status, 422);
    const answer = await call('POST', `/v1/enrollments/${workflowId}/terminate`, OPERATOR_TOKEN, { reason: 'wrong tenant' });
    assert.equal(answer.status, 202, answer.text);
    const terminated = await view(workflowId);
    assert.equal(terminated.executionStatus, 'TERMINATED');
    assert.equal(terminated.failure?.type, 'Terminated');
    assert.match(terminated.failure?.message ?? '', /wrong tenant/);
    assert.equal((await call('POST', `/v1/enrollments/${workflowId}/terminate`, OPERATOR_TOKEN, { reason: 'again' })).status, 409);
    const unknown = enrollmentEvent();
    assert.equal((await call('POST', `/v1/enrollments/${provisioningWorkflowId(unknown.enrollmentUserUuid, unknown.deviceUuid)}/terminate`, OPERATOR_TOKEN, { reason: 'x' })).status, 404);
  });

  it('readyz → 200 when Temporal answers', async () => {
    const answer = await request(`${api.url}/readyz`);
    openapi.assertConforms('GET', '/readyz', answer);
    assert.equal(answer.status, 200);
  });

  it('every success status of the management API was validated against the document', () => {
    for (const expected of [
      'POST /v1/enrollments 201',
      'POST /v1/enrollments 200',
      'GET /v1/enrollments 200',
      'GET /v1/enrollments/{workflowId} 200',
      'GET /v1/enrollments/{workflowId} 404',
      'POST /v1/enrollments/{workflowId}/cancel 202',
      'POST /v1/enrollments/{workflowId}/retry 202',
      'POST /v1/enrollments/{workflowId}/terminate 202',
      'POST /v1/enrollments/{workflowId}/terminate 409',
      'GET /readyz 200',
    ]) {
      assert.ok(openapi.checked.has(expected), `${expected} was not exercised`);
    }
  });
});
