/**
 * A renewed user's earlier encryption key travels with the new one: real activities on the dev
 * server, the SQLite escrow, the embedded CA and the CEG simulator; OpenSSL reads what the
 * gateway holds. ESCROW_RENEW_WITHIN is set beyond the certificates' validity, so the second
 * device's enrollment finds the user's escrowed key "expiring" and issues a new one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DAY_MS } from '../../src/domain/schedule';
import type { SimUploadRecord } from '../../src/peers/ceg-sim';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

/** SHA-256 thumbprint and public key (DER, hex) of the leaf in a PKCS#12 the gateway holds. */
function heldCertificate(file: string, passFile: string): { thumbprint: string; publicKey: string } {
  const cert = spawnSync('openssl', ['pkcs12', '-in', file, '-clcerts', '-nokeys', '-legacy', '-passin', `file:${passFile}`], { encoding: 'utf8' });
  assert.equal(cert.status, 0, cert.stderr);
  const fingerprint = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: cert.stdout, encoding: 'utf8' });
  const spki = spawnSync('openssl', ['x509', '-noout', '-pubkey'], { input: cert.stdout, encoding: 'utf8' });
  const publicKey = spawnSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki.stdout }).stdout.toString('hex');
  return { thumbprint: fingerprint.stdout.trim().split('=')[1]!.replace(/:/g, '').toLowerCase(), publicKey };
}

/** The private key in a held PKCS#12, as OpenSSL's public half of it (proves the key is there, not just the certificate). */
function heldKeyPublicHalf(file: string, passFile: string): string {
  const key = spawnSync('openssl', ['pkcs12', '-in', file, '-nocerts', '-noenc', '-legacy', '-passin', `file:${passFile}`], { encoding: 'utf8' });
  assert.equal(key.status, 0, key.stderr);
  return spawnSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: key.stdout }).stdout.toString('hex');
}

describe('earlier encryption keys delivered as history after a renewal (dev server, real activities)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  before(async () => {
    stack = await startProviderStack({ codec: false, overrides: { renewWithinMs: 400 * DAY_MS } });
  });
  after(async () => stack?.stop());

  const uploads = async (): Promise<SimUploadRecord[]> => (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json() as Promise<SimUploadRecord[]>;

  it('a second device, whose enrollment renews the user\'s encryption key, receives the first key as archived', async () => {
    const user = randomUUID();
    const first = enrollmentEvent({ enrollmentUserUuid: user, deviceUuid: randomUUID(), email: 'paula@example.test' });
    const second = enrollmentEvent({ enrollmentUserUuid: user, deviceUuid: randomUUID(), email: 'paula@example.test' });
    await (await stack.start(first)).result();
    await (await stack.start(second)).result();

    const history = await stack.escrow.history(user, 'encryption');
    assert.deepEqual(history.map((c) => c.status), ['active', 'superseded'], 'the second enrollment renewed the key, the first stays escrowed');
    const [renewed, original] = [history[0]!, history[1]!];

    const held = await uploads();
    const firstEncryption = held.find((u) => u.deviceUuid === first.deviceUuid && u.kind === 'encryption')!;
    const secondEncryption = held.find((u) => u.deviceUuid === second.deviceUuid && u.kind === 'encryption')!;
    const secondSigning = held.find((u) => u.deviceUuid === second.deviceUuid && u.kind === 'signing')!;
    assert.equal(firstEncryption.thumbprint, original.certificate.thumbprint);
    assert.equal(firstEncryption.archivedThumbprints, undefined, 'the user\'s first key has no history');
    assert.equal(secondEncryption.thumbprint, renewed.certificate.thumbprint);
    assert.deepEqual(secondEncryption.archivedThumbprints, [original.certificate.thumbprint]);
    assert.equal(secondSigning.archivedThumbprints, undefined, 'signing never carries history');

    // What the gateway stored for the second device: the first device's key, opening with the slot's password.
    const dir = join(stack.dataDir, 'ceg-sim', 'received', user, second.deviceUuid);
    const archivedFile = join(dir, 'encryption.archived', `${original.certificate.thumbprint}.p12`);
    const archived = heldCertificate(archivedFile, join(dir, 'encryption.pass'));
    const firstDevice = join(stack.dataDir, 'ceg-sim', 'received', user, first.deviceUuid);
    const firstKey = heldCertificate(join(firstDevice, 'encryption.p12'), join(firstDevice, 'encryption.pass'));
    assert.equal(archived.thumbprint, original.certificate.thumbprint);
    assert.equal(archived.publicKey, firstKey.publicKey);
    assert.equal(heldKeyPublicHalf(archivedFile, join(dir, 'encryption.pass')), firstKey.publicKey, 'the archived file holds the first key\'s private half');
  });
});
