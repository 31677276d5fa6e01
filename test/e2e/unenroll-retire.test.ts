/**
 * Unenroll after delivery: UEM's Break MDM event for a device whose provisioning run already
 * delivered starts retireSmime, which removes the device's credentials from the gateway and
 * revokes its signing certificate; the user's escrowed encryption key stays.
 */
import assert from 'node:assert/strict';
import { statusQuery } from '../../src/workflows/definitions';
import { retireWorkflowId } from '../../src/workflows/definitions';
import { apiConfig, postEvent, startApi, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

describe('unenroll after delivery retires the device\'s credentials (dev server, real activities)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let api: RunningApi;
  let test: TestConfig;
  before(async () => {
    stack = await startProviderStack({ codec: false });
    test = apiConfig({ taskQueue: stack.taskQueue });
    api = await startApi({ client: stack.client, config: test.config });
  });
  after(async () => {
    await api?.close();
    await stack?.stop();
    test?.cleanUp();
  });

  const breakMdm = (user: string, device: string) =>
    JSON.stringify({ EventId: 39, EventType: 'BreakMDMConfirmed', DeviceUUID: device, EnrollmentUserUUID: user, EventTime: new Date().toISOString() });

  it('revokes the signing certificate, removes the credentials at the gateway and keeps the escrowed encryption key', async () => {
    const event = enrollmentEvent();
    const handle = await stack.start(event);
    const report = await handle.result();
    const signingSerial = report.credentials.find((c: { kind: string }) => c.kind === 'signing')!.serial!;
    const encryptionSerial = report.credentials.find((c: { kind: string }) => c.kind === 'encryption')!.serial!;
    assert.equal((await handle.query(statusQuery)).stage, 'Delivered');

    const answer = await postEvent(api.url, breakMdm(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal(answer.status, 202, answer.text);
    assert.equal((answer.json as { outcome: string }).outcome, 'retire-started');

    const retire = stack.client.workflow.getHandle(retireWorkflowId(handle.workflowId, handle.firstExecutionRunId));
    const cleanUp = (await retire.result()) as { removedFromGateway: boolean; revokedSerials: string[] };
    assert.equal(cleanUp.removedFromGateway, true);
    assert.deepEqual(cleanUp.revokedSerials, [signingSerial]);
    assert.deepEqual(stack.ca.revocations().map((r) => r.serial), [signingSerial], 'only the signing certificate is revoked');
    assert.ok(!stack.ca.revocations().some((r) => r.serial === encryptionSerial));
    const deletions = (await (await fetch(`${stack.sim.adminUrl}/sim/deletions`)).json()) as { deviceUuid: string }[];
    assert.ok(deletions.some((d) => d.deviceUuid === event.deviceUuid), 'the gateway was asked to remove the device\'s credentials');
    const escrowed = await stack.escrow.active({ enrollmentUserUuid: event.enrollmentUserUuid, kind: 'encryption', scope: 'user' });
    assert.equal(escrowed?.certificate.serial, encryptionSerial, 'the encryption key stays in escrow');

    const again = await postEvent(api.url, breakMdm(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal((again.json as { outcome: string }).outcome, 'already-retired', 'a repeated unenroll changes nothing');
    assert.equal(stack.ca.revocations().length, 1);
  });
});
