/**
 * Who decides the mailbox, through the front door: a webhook event posted over HTTP that names
 * another address (and another account's numeric id) for a user UEM knows, delivered to the CEG
 * gateway (the CEG simulator checks the address in the certificate it receives). The certificate,
 * the upload and the register name UEM's address for the event's user UUID, never the forged one;
 * a user UEM does not know gets no certificate at all.
 *
 * Dev server, real activities (the UEM REST directory against the UEM simulator), the API's real
 * webhook.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createUemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { loadConfig } from '../../src/config';
import { enrollmentPayload } from '../../src/peers/uem-sim/events';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { apiConfig, postEvent, startApi, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const UEM = { username: 'provider-api', password: 'uem-api-Password-1', tenantCode: 'tenant-code-0123456789' };

describe('a forged address in a webhook event (dev server, CEG gateway, UEM directory)', function () {
  this.timeout(120_000);
  let uem: UemSimulator;
  let stack: ProviderStack;
  let testConfig: TestConfig;
  let api: RunningApi;

  before(async () => {
    uem = await startUemSimulator({ port: 0, ...UEM });
    const uemSettings = { uemApiUrl: uem.url, uemApiUsername: UEM.username, uemApiPassword: UEM.password, uemApiTenantCode: UEM.tenantCode };
    stack = await startProviderStack({ directory: createUemRestDirectory(loadConfig({ env: {}, overrides: uemSettings })) });
    testConfig = apiConfig({ taskQueue: stack.taskQueue, ...uemSettings });
    api = await startApi({ client: stack.client, config: testConfig.config });
  });
  after(async () => {
    await api?.close();
    await stack?.stop();
    testConfig?.cleanUp();
    await uem?.close();
  });

  async function post(event: ReturnType<typeof enrollmentEvent>): Promise<{ workflowId: string; runId: string }> {
    const payload = enrollmentPayload(event, 'json');
    const answer = await postEvent(api.url, payload.body, payload.contentType);
    assert.equal(answer.status, 202, answer.text);
    return answer.json as { workflowId: string; runId: string };
  }

  it('gets the certificate for UEM\'s address: in the report, at the gateway and in the register', async () => {
    const victim = enrollmentEvent({ enrollmentUserId: '7402', email: 'nora.field@example.test' });
    uem.users.add({ id: 7402, uuid: victim.enrollmentUserUuid, email: 'nora.field@example.test' });
    uem.users.add({ id: 7403, uuid: randomUUID(), email: 'mallory@example.test' });
    const started = await post({ ...victim, enrollmentUserId: '7403', email: 'ceo@example.test' });

    const report = await stack.client.workflow.getHandle(started.workflowId, started.runId).result();
    assert.equal(report.stage, 'Delivered');
    assert.equal(report.email, 'nora.field@example.test');
    const uploads = (await (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json()) as { deviceUuid: string; email: string; kind: string }[];
    const ours = uploads.filter((u) => u.deviceUuid === victim.deviceUuid);
    assert.deepEqual(ours.map((u) => u.kind).sort(), ['encryption', 'signing']);
    assert.ok(ours.every((u) => u.email === 'nora.field@example.test'), 'the gateway checked UEM\'s address in both certificates');
    assert.ok(!uploads.some((u) => u.email === 'ceo@example.test'), 'nothing anywhere for the forged address');
    const rows = await stack.register.ofDevice(victim.enrollmentUserUuid, victim.deviceUuid, ['active']);
    assert.deepEqual(rows.map((r) => r.email), ['nora.field@example.test', 'nora.field@example.test']);
  });

  it('a user UEM does not know gets no certificate: the run fails without requesting one', async () => {
    const stranger = enrollmentEvent({ email: 'ceo@example.test' });
    uem.users.add({ uuid: stranger.enrollmentUserUuid, status: 404 });
    const started = await post(stranger);
    await assert.rejects(stack.client.workflow.getHandle(started.workflowId, started.runId).result(), (err: Error & { cause?: { type?: string; details?: unknown[] } }) => {
      assert.equal(err.cause?.type, 'DeliveryFailed');
      const report = err.cause?.details?.[0] as { lastError?: { type?: string }; credentials?: { state: string }[] };
      assert.equal(report.lastError?.type, 'UserNotFound', 'UEM answered 404 for the UUID: the event\'s address is not used instead');
      assert.deepEqual(report.credentials?.map((c) => c.state), ['not-started', 'not-started'], 'no certificate was asked for');
      return true;
    });
    assert.deepEqual(await stack.register.ofDevice(stranger.enrollmentUserUuid, stranger.deviceUuid, ['requested', 'pending', 'issued', 'active']), []);
    const uploads = (await (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json()) as { deviceUuid: string }[];
    assert.ok(!uploads.some((u) => u.deviceUuid === stranger.deviceUuid));
  });
});
