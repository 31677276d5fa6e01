import assert from 'node:assert/strict';
import { buildSmimeCsr, smimeSubjectName } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../../src/activities/crypto/keys';
import { x509 } from '../../../src/activities/crypto/x509';
import { opensslOk, tempDir } from './support';

/** The requested-extensions block of `openssl req -text`, one trimmed line each. */
function requestedExtensions(text: string): string[] {
  const start = text.indexOf('Requested Extensions:');
  assert.ok(start >= 0, text);
  const end = text.indexOf('Signature Algorithm:', start);
  return text
    .slice(start, end)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .slice(1);
}

describe('buildSmimeCsr', () => {
  const dir = tempDir('csr');
  let rsa: GeneratedKey;
  let ec: GeneratedKey;

  before(async () => {
    [rsa, ec] = await Promise.all([
      generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' }),
      generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }),
    ]);
  });
  after(() => dir.remove());

  async function inspect(csrPem: string): Promise<string> {
    dir.file('request.csr', csrPem);
    return opensslOk(['req', '-in', 'request.csr', '-noout', '-text', '-verify'], dir.path);
  }

  it('is a PEM PKCS#10 request whose signature OpenSSL verifies (SHA-256)', async () => {
    const pem = await buildSmimeCsr(rsa, { email: 'mira@example.test' }, 'signing');
    assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
    dir.file('request.csr', pem);
    const result = await opensslOk(['req', '-in', 'request.csr', '-noout', '-verify', '-text'], dir.path);
    assert.match(result, /Signature Algorithm: sha256WithRSAEncryption/);
  });

  it('asks for SAN email, EKU E-mail Protection only, critical Digital Signature for signing', async () => {
    const text = await inspect(await buildSmimeCsr(rsa, { email: 'mira@example.test', displayName: 'Mira Kovac' }, 'signing'));
    assert.deepEqual(requestedExtensions(text), [
      'X509v3 Subject Alternative Name:',
      'email:mira@example.test',
      'X509v3 Extended Key Usage:',
      'E-mail Protection',
      'X509v3 Key Usage: critical',
      'Digital Signature',
    ]);
    assert.match(text, /Subject: CN = mira@example.test, emailAddress = mira@example.test/);
  });

  it('asks for Key Encipherment for an RSA encryption key', async () => {
    const text = await inspect(await buildSmimeCsr(rsa, { email: 'mira@example.test' }, 'encryption'));
    assert.deepEqual(requestedExtensions(text).slice(-2), ['X509v3 Key Usage: critical', 'Key Encipherment']);
  });

  it('asks for Key Agreement for an EC encryption key and signs with ECDSA-SHA-256', async () => {
    const text = await inspect(await buildSmimeCsr(ec, { email: 'mira@example.test' }, 'encryption'));
    assert.deepEqual(requestedExtensions(text).slice(-2), ['X509v3 Key Usage: critical', 'Key Agreement']);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  });

  it('carries the key it was made for', async () => {
    const csr = new x509.Pkcs10CertificateRequest(await buildSmimeCsr(ec, { email: 'mira@example.test' }, 'signing'));
    assert.deepEqual(Buffer.from(csr.publicKey.rawData), ec.publicKeySpki);
  });

  it('never puts the display name in the subject: CN is the address (Mailbox-validated, CA/B Forum S/MIME BR)', async () => {
    const csr = new x509.Pkcs10CertificateRequest(await buildSmimeCsr(rsa, { email: 'a@example.test', displayName: "Pat O'Brien" }, 'signing'));
    assert.deepEqual(csr.subjectName.getField('CN'), ['a@example.test']);
    assert.ok(!csr.subject.includes('Brien'), csr.subject);
  });

  it('drops the CN rather than cut it when the address is longer than the 64 characters a CN may have', () => {
    assert.deepEqual(smimeSubjectName({ email: 'a@example.test' }), [{ CN: ['a@example.test'] }, { E: ['a@example.test'] }]);
    const longEmail = `${'y'.repeat(60)}@example.test`;
    assert.deepEqual(smimeSubjectName({ email: longEmail }), [{ E: [longEmail] }]);
  });
});
