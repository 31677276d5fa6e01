import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../../src/activities/crypto/keys';
import { encryptForRecipient, PASSWORD_ALPHABET, passwordEntropyBits, randomPassword } from '../../../src/activities/crypto/password';
import { toPem } from '../../../src/activities/crypto/certificate-info';
import { assertFailure, openssl, opensslOk, tempDir } from './support';

describe('randomPassword', () => {
  it('has at least 128 bits of entropy', () => {
    assert.ok(passwordEntropyBits() >= 128, `${passwordEntropyBits()} bits`);
    assert.equal(randomPassword().length * Math.log2(PASSWORD_ALPHABET.length), passwordEntropyBits());
  });

  it('uses printable ASCII without ambiguous characters, quotes, backslash or space', () => {
    const all = Array.from({ length: 300 }, randomPassword).join('');
    assert.match(all, /^[\x21-\x7e]+$/);
    for (const banned of ['0', 'O', 'o', '1', 'l', 'I', '|', '"', "'", '`', '\\', ' ', '&', '<', '>', ',']) {
      assert.ok(!all.includes(banned), `contains ${banned}`);
    }
    assert.equal(new Set(PASSWORD_ALPHABET).size, PASSWORD_ALPHABET.length);
  });

  it('draws from the whole alphabet and never repeats a password', () => {
    const passwords = Array.from({ length: 2000 }, randomPassword);
    assert.equal(new Set(passwords).size, passwords.length);
    assert.equal(new Set(passwords.join('')).size, PASSWORD_ALPHABET.length);
  });
});

describe('encryptForRecipient', () => {
  const dir = tempDir('recipient');
  let ca: EmbeddedCa;
  let rsaKey: GeneratedKey;
  let rsaCertificate: string;
  let ecCertificate: string;

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: dir.path });
    const issue = async (key: GeneratedKey) => {
      const email = 'gateway@example.test';
      const answer = await ca.submit({ idempotencyKey: randomUUID(), kind: 'encryption', csrPem: await buildSmimeCsr(key, { email }, 'encryption'), email, validityDays: 30 });
      assert.equal(answer.status, 'issued');
      return (answer as { certificatePem: string }).certificatePem;
    };
    rsaKey = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    rsaCertificate = await issue(rsaKey);
    ecCertificate = await issue(await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }));
    dir.file('recipient.key', toPem(rsaKey.privateKeyPkcs8, 'PRIVATE KEY'));
  });
  after(() => dir.remove());

  it('is RSA-OAEP with SHA-256 and MGF1-SHA-256, as OpenSSL decrypts it', async () => {
    const password = randomPassword();
    dir.file('password.bin', Buffer.from(encryptForRecipient(password, rsaCertificate), 'base64'));
    const decrypted = await opensslOk(
      ['pkeyutl', '-decrypt', '-inkey', 'recipient.key', '-in', 'password.bin', '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'],
      dir.path,
    );
    assert.equal(decrypted, password);
  });

  it('does not decrypt with SHA-1 as the OAEP or the MGF1 digest (the parameters matter)', async () => {
    dir.file('password-other.bin', Buffer.from(encryptForRecipient(randomPassword(), rsaCertificate), 'base64'));
    const decrypt = (oaepMd: string, mgf1Md: string) =>
      openssl(
        ['pkeyutl', '-decrypt', '-inkey', 'recipient.key', '-in', 'password-other.bin', '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${oaepMd}`, '-pkeyopt', `rsa_mgf1_md:${mgf1Md}`],
        dir.path,
      );
    assert.notEqual((await decrypt('sha1', 'sha1')).code, 0);
    assert.notEqual((await decrypt('sha256', 'sha1')).code, 0);
    assert.equal((await decrypt('sha256', 'sha256')).code, 0);
  });

  it('is randomised: the same password encrypts differently each time', () => {
    assert.notEqual(encryptForRecipient('same', rsaCertificate), encryptForRecipient('same', rsaCertificate));
  });

  it('refuses a certificate without an RSA key as a configuration error', async () => {
    await assertFailure(() => encryptForRecipient('pw', ecCertificate), 'ConfigurationError', /has a ec key; RSA-OAEP needs an RSA key/);
  });

  it('refuses something that is not a certificate as a configuration error', async () => {
    await assertFailure(() => encryptForRecipient('pw', 'not a certificate'), 'ConfigurationError', /CEG_RECIPIENT_CERT/);
  });
});
