/**
 * GATEWAY_TYPE=uem-direct end to end: the dev server, real activities and the embedded CA, with
 * the gateway built by `createUemDirectGateway` from settings pointing at the UEM simulator,
 * which opens every PKCS#12 it receives and checks it against the user's email in its directory.
 */
import assert from 'node:assert/strict';
import { createUemDirectGateway } from '../../src/activities/ceg/uem-direct-gateway';
import { simulatedEnrollment } from '../../src/cli/simulate';
import { loadConfig } from '../../src/config';
import { DELIVERY_FAILED } from '../../src/domain/errors';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const UEM = { username: 'provider-api', password: 'uem-api-Password-1', tenantCode: 'tenant-code-0123456789' };

describe('UEM direct upload end to end (dev server, real activities, UEM simulator)', function () {
  this.timeout(120_000);
  let uem: UemSimulator;
  let stack: ProviderStack;

  before(async () => {
    uem = await startUemSimulator({ port: 0, ...UEM });
    const config = loadConfig({
      env: {},
      overrides: { gatewayType: 'uem-direct', uemApiUrl: uem.url, uemApiUsername: UEM.username, uemApiPassword: UEM.password, uemApiTenantCode: UEM.tenantCode, gatewayTimeout: '10s' },
    });
    stack = await startProviderStack({ overrides: { gateway: createUemDirectGateway(config) } });
  });
  after(async () => {
    await stack?.stop();
    await uem?.close();
  });

  it('an enrollment is Delivered: UEM received the signing and the encryption credential for the user', async () => {
    const event = enrollmentEvent({ enrollmentUserId: '7301', email: 'ana.ruiz@example.test' });
    uem.users.add({ id: 7301, uuid: event.enrollmentUserUuid, email: 'ana.ruiz@example.test' });
    const report = await (await stack.start(event)).result();
    assert.equal(report.stage, 'Delivered');
    const uploads = uem.directUploads().filter((u) => u.userId === '7301');
    assert.deepEqual(uploads.flatMap((u) => u.kinds ?? []).sort(), ['encryption', 'signing']);
    const received = Object.assign({}, ...uploads.map((u) => u.thumbprints));
    for (const credential of report.credentials) {
      assert.equal(credential.state, 'delivered');
      assert.equal(received[credential.kind], credential.thumbprint, `${credential.kind}: UEM holds the certificate the workflow delivered`);
    }
    const ceg = (await (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json()) as { deviceUuid: string }[];
    assert.equal(ceg.filter((u) => u.deviceUuid === event.deviceUuid).length, 0, 'nothing went to CEG');
  });

  it('an event as `npm run simulate` sends it (a user no fixture names) is Delivered too, as in the dev stack', async () => {
    const event = simulatedEnrollment(0);
    const report = await (await stack.start(event)).result();
    assert.equal(report.stage, 'Delivered');
    const kinds = uem.directUploads().filter((u) => u.userId === event.enrollmentUserId).flatMap((u) => u.kinds ?? []);
    assert.deepEqual(kinds.sort(), ['encryption', 'signing']);
  });

  it('a user whose UEM email differs from the certificate\'s fails at once (GatewayRejected) and is notified', async () => {
    const event = enrollmentEvent({ enrollmentUserId: '7302', email: 'old.address@example.test' });
    uem.users.add({ id: 7302, uuid: event.enrollmentUserUuid, email: 'new.address@example.test' });
    const handle = await stack.start(event);
    await assert.rejects(handle.result(), (err: Error) => (err.cause as { type?: string } | undefined)?.type === DELIVERY_FAILED);
    const notice = stack.notices.find((n) => n.deviceUuid === event.deviceUuid);
    assert.ok(notice, 'a failure notice for the device');
    assert.equal(notice.reason, 'NonRetryableError');
    assert.equal(notice.attempts, 1);
    assert.equal(notice.lastError?.type, 'GatewayRejected');
    assert.match(notice.lastError?.message ?? '', /email address does not match/);
    assert.equal(uem.directUploads().filter((u) => u.userId === '7302').length, 0);
  });
});
