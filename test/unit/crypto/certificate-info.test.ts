import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { certificateInfo, certificatePublicKeySha256, normalizeSerial, splitPemBundle } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../../src/activities/crypto/keys';
import { opensslOk, tempDir } from './support';

describe('certificate-info', () => {
  const dir = tempDir('certinfo');
  let ca: EmbeddedCa;
  let key: GeneratedKey;
  let certificatePem: string;
  let chainPem: string[];

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: dir.path });
    key = await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-384' });
    const email = 'info@example.test';
    const answer = await ca.submit({ idempotencyKey: randomUUID(), kind: 'signing', csrPem: await buildSmimeCsr(key, { email, displayName: 'Info Test' }, 'signing'), email, displayName: 'Info Test', validityDays: 90 });
    assert.equal(answer.status, 'issued');
    ({ certificatePem, chainPem } = answer as { certificatePem: string; chainPem: string[] });
  });
  after(() => dir.remove());

  describe('certificateInfo', () => {
    it('reports serial and SHA-256 thumbprint as OpenSSL does, in lower-case hex', async () => {
      const info = await certificateInfo(certificatePem, chainPem);
      const out = await opensslOk(['x509', '-noout', '-serial', '-fingerprint', '-sha256'], dir.path, certificatePem);
      const serial = /serial=([0-9A-F]+)/.exec(out)![1]!;
      const fingerprint = /Fingerprint=([0-9A-F:]+)/.exec(out)![1]!;
      assert.equal(info.serial, serial.toLowerCase().replace(/^0+/, ''));
      assert.equal(info.thumbprint, fingerprint.replace(/:/g, '').toLowerCase());
    });

    it('reports ISO dates, subject and issuer', async () => {
      const info = await certificateInfo(certificatePem, chainPem);
      assert.match(info.notBefore, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal((Date.parse(info.notAfter) - Date.parse(info.notBefore)) / 86_400_000, 90);
      assert.equal(info.subject, 'CN=info@example.test, E=info@example.test');
      assert.match(info.issuer, /^C=XX, O=smime-escrow-provider development CA, CN=smime-escrow-provider dev S\/MIME issuing CA [0-9a-f]{6}$/);
    });

    it('returns the certificate and chain as normalised PEM', async () => {
      const info = await certificateInfo(certificatePem.replace(/\n/g, '\r\n'), chainPem);
      assert.equal(info.certificatePem, certificatePem);
      assert.deepEqual(info.chainPem, [ca.intermediateCertificatePem]);
    });

    it('refuses something that is not a certificate', async () => {
      await assert.rejects(certificateInfo('nope', []), /certificate is not a PEM X.509 certificate/);
      await assert.rejects(certificateInfo(certificatePem, ['nope']), /chain certificate 1 is not a PEM X.509 certificate/);
    });
  });

  describe('certificatePublicKeySha256', () => {
    it('equals the generated key fingerprint for the matching certificate', () => {
      assert.equal(certificatePublicKeySha256(certificatePem), key.publicKeySha256);
    });

    it('differs for another key', () => {
      assert.notEqual(certificatePublicKeySha256(ca.intermediateCertificatePem), key.publicKeySha256);
    });
  });

  describe('splitPemBundle', () => {
    it('splits a bundle in order, ignoring text between blocks and CRLF line ends', () => {
      const bundle = `subject=leaf\r\n${certificatePem.replace(/\n/g, '\r\n')}\r\nsome comment\n${ca.intermediateCertificatePem}\n${ca.rootCertificatePem}`;
      assert.deepEqual(splitPemBundle(bundle), [certificatePem, ca.intermediateCertificatePem, ca.rootCertificatePem]);
    });

    it('returns nothing for text without certificates, and skips keys', () => {
      assert.deepEqual(splitPemBundle('hello'), []);
      assert.deepEqual(splitPemBundle('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), []);
    });
  });

  describe('normalizeSerial', () => {
    it('gives one form for every spelling of the same serial', () => {
      for (const spelling of ['00AB:CD:01', '0xabcd01', 'ABCD01', '00abcd01']) assert.equal(normalizeSerial(spelling), 'abcd01');
      assert.equal(normalizeSerial('00'), '0');
    });

    it('refuses non-hex input', () => {
      assert.throws(() => normalizeSerial('12g4'), /hexadecimal/);
    });
  });
});
