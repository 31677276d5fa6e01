/**
 * GATEWAY_TYPE=uem-direct end to end: the dev server, real activities and the embedded CA, with
 * the gateway built by `createUemDirectGateway` and the user directory from settings pointing at
 * the UEM simulator, which opens every PKCS#12 it receives and checks it against the user's email
 * in its directory. The address and the numeric user id come from UEM's directory by UUID, never
 * from the event (issue 16).
 */
import assert from 'node:assert/strict';
import { createUemDirectGateway } from '../../src/activities/ceg/uem-direct-gateway';
import { createUemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { simulatedEnrollment } from '../../src/cli/simulate';
import { loadConfig } from '../../src/config';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const UEM = { username: 'provider-api', password: 'uem-api-Password-1', tenantCode: 'tenant-code-0123456789' };

describe('UEM direct upload end to end (dev server, real activities, UEM simulator)', function () {
  this.timeout(120_000);
  let uem: UemSimulator;
  let stack: ProviderStack;

  const config = () =>
    loadConfig({
      env: {},
      overrides: { gatewayType: 'uem-direct', uemApiUrl: uem.url, uemApiUsername: UEM.username, uemApiPassword: UEM.password, uemApiTenantCode: UEM.tenantCode, gatewayTimeout: '10s' },
    });

  before(async () => {
    uem = await startUemSimulator({ port: 0, ...UEM });
    stack = await startProviderStack({ directory: createUemRestDirectory(config()), overrides: { gateway: createUemDirectGateway(config()) } });
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

  it('a user no fixture names (as `npm run simulate` enrolls them) is Delivered to the id UEM has for the UUID', async () => {
    const event = simulatedEnrollment(0);
    const report = await (await stack.start(event)).result();
    assert.equal(report.stage, 'Delivered');
    const uemId = (await createUemRestDirectory(config()).lookUp({ enrollmentUserUuid: event.enrollmentUserUuid })).enrollmentUserId;
    const kinds = uem.directUploads().filter((u) => u.userId === uemId).flatMap((u) => u.kinds ?? []);
    assert.deepEqual(kinds.sort(), ['encryption', 'signing']);
  });

  it('a forged event — another address, another account\'s numeric id — gets the certificate for UEM\'s address, uploaded to UEM\'s id for the UUID', async () => {
    const victim = enrollmentEvent({ enrollmentUserId: '7302', email: 'lena.marsh@example.test' });
    uem.users.add({ id: 7302, uuid: victim.enrollmentUserUuid, email: 'lena.marsh@example.test' });
    uem.users.add({ id: 7303, uuid: '0e0e0e0e-0000-4000-8000-00000000beef', email: 'mallory@example.test' });
    const forged = { ...victim, enrollmentUserId: '7303', email: 'ceo@example.test' };
    const report = await (await stack.start(forged)).result();
    assert.equal(report.stage, 'Delivered');
    assert.equal(report.email, 'lena.marsh@example.test', 'the certificate names UEM\'s address');
    assert.deepEqual(uem.directUploads().filter((u) => u.userId === '7303'), [], 'nothing for the forged account');
    assert.deepEqual(uem.directUploads().filter((u) => u.userId === '7302').flatMap((u) => u.kinds ?? []).sort(), ['encryption', 'signing']);
  });
});
