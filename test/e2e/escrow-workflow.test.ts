/**
 * One encryption key per user, across devices: real activities, the SQLite escrow, the embedded CA
 * and the CEG simulator on the dev server; OpenSSL reads what each device received.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EnrollmentEvent } from '../../src/domain/enrollment';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

/** SHA-256 of the public key inside what the gateway received for a device. */
function receivedPublicKey(stack: ProviderStack, event: EnrollmentEvent, kind: string): string {
  const dir = join(stack.dataDir, 'ceg-sim', 'received', event.enrollmentUserUuid, event.deviceUuid);
  const cert = spawnSync('openssl', ['pkcs12', '-in', join(dir, `${kind}.p12`), '-clcerts', '-nokeys', '-passin', `file:${join(dir, `${kind}.pass`)}`], { encoding: 'utf8' });
  assert.equal(cert.status, 0, cert.stderr);
  const spki = spawnSync('openssl', ['x509', '-noout', '-pubkey'], { input: cert.stdout, encoding: 'utf8' });
  return spawnSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki.stdout }).stdout.toString('hex');
}

describe('encryption-key escrow across a user\'s devices (dev server, real activities)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  before(async () => {
    stack = await startProviderStack({ codec: false });
  });
  after(async () => stack?.stop());

  const userEvent = (enrollmentUserUuid: string, email: string) => enrollmentEvent({ enrollmentUserUuid, deviceUuid: randomUUID(), email });

  it('a second device of the same user receives the same encryption key, and its own signing key', async () => {
    const user = randomUUID();
    const first = userEvent(user, 'nadia@example.test');
    const second = userEvent(user, 'nadia@example.test');
    await (await stack.start(first)).result();
    const report = await (await stack.start(second)).result();
    assert.equal(receivedPublicKey(stack, first, 'encryption'), receivedPublicKey(stack, second, 'encryption'));
    assert.notEqual(receivedPublicKey(stack, first, 'signing'), receivedPublicKey(stack, second, 'signing'));
    const issued = stack.ca.issued().filter((r) => r.email === 'nadia@example.test');
    assert.deepEqual(issued.map((r) => r.kind).sort(), ['encryption', 'signing', 'signing'], 'one encryption certificate for the user');
    assert.ok(report.credentials.find((c: { kind: string }) => c.kind === 'encryption')?.escrowId);
  });

  it('devices of one user enrolling at the same moment end up with the same encryption key', async () => {
    const user = randomUUID();
    const events = Array.from({ length: 4 }, () => userEvent(user, 'omar@example.test'));
    const handles = await Promise.all(events.map((e) => stack.start(e)));
    await Promise.all(handles.map((h) => h.result()));
    const keys = new Set(events.map((e) => receivedPublicKey(stack, e, 'encryption')));
    assert.equal(keys.size, 1, 'every device has the same encryption key');
    const encryptionCerts = stack.ca.issued().filter((r) => r.email === 'omar@example.test' && r.kind === 'encryption');
    assert.equal(encryptionCerts.length, 1, 'issued once: the other devices waited for the claim');
    const history = await stack.escrow.history(user, 'encryption');
    assert.equal(history.length, 1);
    assert.equal(history[0]!.status, 'active');
  });
});
