/**
 * The end-to-end proof that what the provider delivers works as S/MIME: OpenSSL takes the key and
 * certificate out of our PKCS#12, signs and verifies mail against the embedded root, and
 * encrypts to our encryption certificates and decrypts with the key from the bundle.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type KeyOptions } from '../../../src/activities/crypto/keys';
import { randomPassword } from '../../../src/activities/crypto/password';
import { buildPkcs12 } from '../../../src/activities/crypto/pkcs12';
import type { Pkcs12Profile } from '../../../src/domain/credentials';
import type { CredentialKind } from '../../../src/domain/enrollment';
import { openssl, opensslOk, tempDir } from './support';

const MESSAGE = 'Content-Type: text/plain\r\n\r\nQuarterly numbers attached. -- Mira\r\n';
const RSA: KeyOptions = { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' };
const EC: KeyOptions = { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' };

describe('S/MIME with OpenSSL, from our PKCS#12', () => {
  const dir = tempDir('smime');
  let ca: EmbeddedCa;

  /**
   * Issue a credential, pack it as PKCS#12 with `profile`, and let OpenSSL unpack it into
   * `<name>.cert.pem` and `<name>.key.pem`, as a mail client importing the bundle would.
   */
  async function deliver(name: string, kind: CredentialKind, keyOptions: KeyOptions, profile: Pkcs12Profile): Promise<void> {
    const email = 'mira@example.test';
    const key = await generateKeyPair(keyOptions);
    const answer = await ca.submit({ idempotencyKey: randomUUID(), kind, csrPem: await buildSmimeCsr(key, { email }, kind), email, validityDays: 30 });
    assert.equal(answer.status, 'issued');
    const { certificatePem, chainPem } = answer as { certificatePem: string; chainPem: string[] };
    const password = randomPassword();
    dir.file(`${name}.password`, password);
    dir.file(`${name}.p12`, await buildPkcs12({ privateKeyPkcs8: key.privateKeyPkcs8, certificatePem, chainPem, password, profile, friendlyName: name }));
    const passin = ['-passin', `file:${name}.password`];
    await opensslOk(['pkcs12', '-in', `${name}.p12`, '-nokeys', '-clcerts', '-out', `${name}.cert.pem`, ...passin], dir.path);
    await opensslOk(['pkcs12', '-in', `${name}.p12`, '-nokeys', '-cacerts', '-out', `${name}.chain.pem`, ...passin], dir.path);
    await opensslOk(['pkcs12', '-in', `${name}.p12`, '-nocerts', '-nodes', '-out', `${name}.key.pem`, ...passin], dir.path);
  }

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'ca') });
    dir.file('root.pem', ca.rootCertificatePem);
    dir.file('message.txt', MESSAGE);
    await deliver('signing-legacy', 'signing', RSA, 'legacy');
    await deliver('signing-modern-ec', 'signing', EC, 'modern');
    await deliver('encryption-rsa', 'encryption', RSA, 'modern');
    await deliver('encryption-rsa-legacy', 'encryption', RSA, 'legacy');
    await deliver('encryption-ec', 'encryption', EC, 'modern');
  });
  after(() => dir.remove());

  for (const signer of ['signing-legacy', 'signing-modern-ec']) {
    it(`signs with the ${signer} credential and verifies against the embedded root`, async () => {
      await opensslOk(
        ['cms', '-sign', '-nodetach', '-md', 'sha256', '-in', 'message.txt', '-signer', `${signer}.cert.pem`, '-inkey', `${signer}.key.pem`, '-certfile', `${signer}.chain.pem`, '-out', `${signer}.p7m`, '-outform', 'PEM'],
        dir.path,
      );
      const verified = await openssl(['cms', '-verify', '-in', `${signer}.p7m`, '-inform', 'PEM', '-CAfile', 'root.pem', '-purpose', 'smimesign', '-out', `${signer}.verified.txt`], dir.path);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stderr, /Verification successful/);
      assert.equal(readFileSync(join(dir.path, `${signer}.verified.txt`), 'utf8').replace(/\r\n/g, '\n'), MESSAGE.replace(/\r\n/g, '\n'));
    });
  }

  it('does not verify against a different root', async () => {
    const other = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'other-ca') });
    dir.file('other-root.pem', other.rootCertificatePem);
    await opensslOk(
      ['cms', '-sign', '-nodetach', '-in', 'message.txt', '-signer', 'signing-legacy.cert.pem', '-inkey', 'signing-legacy.key.pem', '-certfile', 'signing-legacy.chain.pem', '-out', 'foreign.p7m', '-outform', 'PEM'],
      dir.path,
    );
    const result = await openssl(['cms', '-verify', '-in', 'foreign.p7m', '-inform', 'PEM', '-CAfile', 'other-root.pem', '-out', 'foreign.txt'], dir.path);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unable to get local issuer certificate/);
  });

  for (const recipient of ['encryption-rsa', 'encryption-rsa-legacy', 'encryption-ec']) {
    it(`encrypts to the ${recipient} certificate and decrypts with the key from the PKCS#12`, async () => {
      await opensslOk(['cms', '-encrypt', '-aes256', '-in', 'message.txt', '-out', `${recipient}.enc`, '-outform', 'PEM', `${recipient}.cert.pem`], dir.path);
      const encrypted = readFileSync(join(dir.path, `${recipient}.enc`), 'utf8');
      assert.ok(!encrypted.includes('Quarterly'), 'ciphertext must not contain the message');
      await opensslOk(['cms', '-decrypt', '-in', `${recipient}.enc`, '-inform', 'PEM', '-recip', `${recipient}.cert.pem`, '-inkey', `${recipient}.key.pem`, '-out', `${recipient}.dec`], dir.path);
      assert.equal(readFileSync(join(dir.path, `${recipient}.dec`), 'utf8'), MESSAGE);
    });
  }

  it('cannot decrypt mail for the encryption certificate with another key', async () => {
    await opensslOk(['cms', '-encrypt', '-aes256', '-in', 'message.txt', '-out', 'for-rsa.enc', '-outform', 'PEM', 'encryption-rsa.cert.pem'], dir.path);
    const result = await openssl(['cms', '-decrypt', '-in', 'for-rsa.enc', '-inform', 'PEM', '-inkey', 'encryption-rsa-legacy.key.pem', '-out', 'for-rsa.dec'], dir.path);
    assert.notEqual(result.code, 0);
  });
});
