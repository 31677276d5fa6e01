/**
 * Renewal on demand on the dev server with real activities, the UEM simulator (directory,
 * inventory, profile installs), the CEG simulator and the embedded CA:
 *  - one device: a new signing certificate at the gateway, the profile re-installed once, the old
 *    signing certificate revoked (superseded) only after the new one was uploaded, the register
 *    showing the new one active and the old one revoked; the user's encryption key unchanged;
 *  - a whole user with two devices and no profile id: one new encryption key for both (the old one
 *    kept in the escrow), and one re-install notice naming both devices.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { startRenewal } from '../../src/temporal/fleet';
import type { SweepProgress } from '../../src/workflows/fleet-definitions';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack, type ProviderStackOptions } from '../helpers/provider-stack';

interface Upload {
  enrollmentUserUuid: string;
  deviceUuid: string;
  kind: string;
  thumbprint: string;
  receivedAt: string;
}

describe('renewal on demand (dev server, UEM and CEG simulators, real activities)', function () {
  this.timeout(300_000);
  let uem: UemSimulator;
  const stacks: ProviderStack[] = [];

  before(async () => {
    uem = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
  });
  after(async () => {
    for (const stack of stacks) await stack.stop();
    await uem?.close();
  });

  async function stackWith(overrides: ProviderStackOptions['overrides'] = {}): Promise<ProviderStack> {
    const directory = new UemRestDirectory({ baseUrl: uem.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 10_000 });
    const stack = await startProviderStack({ directory, inventory: directory, overrides: { keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }), ...overrides } });
    stacks.push(stack);
    return stack;
  }

  /** A device UEM knows, enrolled and delivered through the provider. */
  async function enrolled(stack: ProviderStack, enrollmentUserUuid = randomUUID()): Promise<{ enrollmentUserUuid: string; deviceUuid: string }> {
    const device = uem.inventory.put({ deviceUuid: randomUUID(), enrollmentUserUuid });
    const handle = await stack.start(enrollmentEvent({ enrollmentUserUuid, deviceUuid: device.deviceUuid, deviceId: String(device.deviceId), email: undefined }));
    await handle.result();
    return { enrollmentUserUuid, deviceUuid: device.deviceUuid };
  }

  async function uploads(stack: ProviderStack, deviceUuid: string): Promise<Upload[]> {
    const all = (await (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json()) as Upload[];
    return all.filter((u) => u.deviceUuid === deviceUuid);
  }

  async function activeSerial(stack: ProviderStack, device: { enrollmentUserUuid: string; deviceUuid: string }, kind: string): Promise<string> {
    const rows = await stack.register.ofDevice(device.enrollmentUserUuid, device.deviceUuid, ['active']);
    return rows.find((r) => r.kind === kind)!.serialNumber!;
  }

  it('renews one device: new signing certificate at the gateway, profile re-installed once, the old one revoked only after', async () => {
    const stack = await stackWith({ smimeProfileId: 77 });
    const device = await enrolled(stack);
    const oldSigning = await activeSerial(stack, device, 'signing');
    const oldEncryption = await activeSerial(stack, device, 'encryption');
    const before = await uploads(stack, device.deviceUuid);

    const id = await startRenewal(stack.client, stack.taskQueue, { selector: { deviceUuid: device.deviceUuid }, reason: 'profile change' });
    const result = (await stack.client.workflow.getHandle(id).result()) as SweepProgress;
    assert.equal(result.counts.selected, 1);
    assert.equal(result.counts.started, 1);
    assert.deepEqual(result.outcomes, { running: 0, completed: 1, failed: 0, cancelled: 0 });

    const newSigning = await activeSerial(stack, device, 'signing');
    assert.notEqual(newSigning, oldSigning, 'a new signing certificate');
    assert.equal(await activeSerial(stack, device, 'encryption'), oldEncryption, 'the user\'s encryption credential is not expiring: kept');
    const signingUpload = (await uploads(stack, device.deviceUuid)).find((u) => u.kind === 'signing')!;
    assert.notEqual(signingUpload.thumbprint, before.find((u) => u.kind === 'signing')!.thumbprint, 'the gateway holds the new one');

    const installs = uem.profileInstalls().filter((i) => i.deviceUuid === device.deviceUuid);
    assert.equal(installs.length, 1, 'the S/MIME profile re-installed once');
    assert.equal(installs[0]!.profileId, 77);
    const revocation = stack.ca.revocations().find((r) => r.serial === oldSigning.toLowerCase() || r.serial === oldSigning);
    assert.ok(revocation, 'the superseded signing certificate is revoked');
    assert.equal(revocation.reason, 'superseded');
    assert.ok(Date.parse(revocation.revokedAt) >= Date.parse(signingUpload.receivedAt), 'revoked after the new one reached the gateway, never before');
    assert.ok(Date.parse(revocation.revokedAt) >= Date.parse(installs[0]!.receivedAt), 'and after the phone was told to fetch it');
    const rows = await stack.register.ofDevice(device.enrollmentUserUuid, device.deviceUuid, ['active', 'revoked', 'superseded']);
    assert.deepEqual(rows.filter((r) => r.kind === 'signing').map((r) => `${r.serialNumber === newSigning ? 'new' : 'old'}:${r.state}`).sort(), ['new:active', 'old:revoked']);
    assert.equal(stack.reinstallNotices.length, 0, 'UEM re-installed it: nobody needs telling');
  });

  it('renews a whole user: one new encryption key for both devices, the old one kept in escrow, one re-install notice naming both', async () => {
    const stack = await stackWith();
    const user = randomUUID();
    const first = await enrolled(stack, user);
    const second = await enrolled(stack, user);
    const oldEncryption = await activeSerial(stack, first, 'encryption');
    assert.equal(await activeSerial(stack, second, 'encryption'), oldEncryption, 'one encryption key per user');

    const id = await startRenewal(stack.client, stack.taskQueue, { selector: { userUuid: user }, reason: 'domain rename' });
    const result = (await stack.client.workflow.getHandle(id).result()) as SweepProgress;
    assert.equal(result.counts.started, 2);
    assert.equal(result.outcomes?.completed, 2);

    const renewed = [await activeSerial(stack, first, 'encryption'), await activeSerial(stack, second, 'encryption')];
    assert.notEqual(renewed[0], oldEncryption, 'a new encryption key');
    assert.equal(renewed[1], renewed[0], 'the same new key on both devices');
    const history = await stack.escrow.history(user, 'encryption');
    assert.deepEqual(history.map((c) => c.certificate.serial).sort(), [oldEncryption, renewed[0]].sort(), 'the old key stays escrowed: older mail still opens');

    assert.equal(stack.reinstallNotices.length, 1, 'one notice for the batch');
    const notice = stack.reinstallNotices[0]!;
    assert.equal(notice.workflowId, id);
    assert.equal(notice.total, 2);
    assert.deepEqual(notice.devices.map((d) => d.deviceUuid).sort(), [first.deviceUuid, second.deviceUuid].sort());
    assert.match(notice.reason, /domain rename/);
  });
});
