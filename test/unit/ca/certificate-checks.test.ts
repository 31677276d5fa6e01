/**
 * The checks every certificate a CA returns must pass before delivery: a good certificate from the
 * embedded CA passes; certificates made wrong on purpose — each signed by the same intermediate,
 * so only the one thing under test is wrong — are refused as CertificateRejected naming the check.
 */
import assert from 'node:assert/strict';
import { randomUUID, type webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateChecks, type CertificateCheckPolicy, type CertificateExpectation } from '../../../src/activities/ca/certificate-checks';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { publicationExtensions, randomSerial } from '../../../src/activities/ca/embedded/authority';
import { toPem } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../../src/activities/crypto/keys';
import { importSigningPair, x509 } from '../../../src/activities/crypto/x509';
import type { CredentialKind } from '../../../src/domain/enrollment';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { assertFailure, tempDir } from '../crypto/support';

const DAY_MS = 86_400_000;
const EMAIL = 'ann@example.test';
const RSA = { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' } as const;
const EC = { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' } as const;

interface LeafSpec {
  key: GeneratedKey;
  subject?: x509.JsonName;
  emails?: string[];
  extraSans?: x509.JsonGeneralName[];
  keyUsage?: x509.KeyUsageFlags;
  ekus?: string[];
  policies?: string[];
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
}

describe('certificate checks before delivery', () => {
  const dir = tempDir('certificate-checks');
  let ca: EmbeddedCa;
  let otherCa: EmbeddedCa;
  let intermediate: x509.X509Certificate;
  let intermediateKey: webcrypto.CryptoKey;
  let rsaKey: GeneratedKey;
  let ecKey: GeneratedKey;
  let policy: CertificateCheckPolicy;

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'ca') });
    otherCa = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'other') });
    intermediate = new x509.X509Certificate(ca.intermediateCertificatePem);
    const keyPem = readFileSync(join(dir.path, 'ca', 'ca-v2', 'intermediate-key.pem'), 'utf8');
    intermediateKey = (await importSigningPair(Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'))).privateKey;
    [rsaKey, ecKey] = await Promise.all([generateKeyPair(RSA), generateKeyPair(EC)]);
    policy = { profile: 'mailbox-strict', trustRootsPem: [ca.rootCertificatePem], maxValidityDays: 365, minValidityDays: 30 };
  });
  after(() => dir.remove());

  /** A leaf signed by the embedded CA's intermediate: the BR profile unless the spec says otherwise. */
  async function leaf(spec: LeafSpec): Promise<string> {
    const publicKey = new x509.PublicKey(spec.key.publicKeySpki);
    const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: spec.subject ?? [{ CN: [EMAIL] }, { E: [EMAIL] }],
      issuer: intermediate.subjectName,
      notBefore,
      notAfter: spec.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS),
      publicKey,
      signingKey: intermediateKey,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(spec.ca ?? false, undefined, true),
        new x509.KeyUsagesExtension(spec.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(spec.ekus ?? [x509.ExtendedKeyUsage.emailProtection]),
        new x509.SubjectAlternativeNameExtension([...(spec.emails ?? [EMAIL]).map((value) => ({ type: 'email' as const, value })), ...(spec.extraSans ?? [])]),
        new x509.CertificatePolicyExtension(spec.policies ?? ['2.23.140.1.5.1.3']),
        ...publicationExtensions(UNSERVED_REPOSITORY.leaves),
        new x509.AuthorityKeyIdentifierExtension(intermediate.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId),
      ],
    });
    return toPem(Buffer.from(certificate.rawData));
  }

  function expectation(key: GeneratedKey, kind: CredentialKind = 'signing', email = EMAIL): CertificateExpectation {
    return { kind, email, publicKeySha256: key.publicKeySha256 };
  }

  function check(certificatePem: string, expected: CertificateExpectation, overrides: Partial<CertificateCheckPolicy> = {}, chainPem = [ca.intermediateCertificatePem]) {
    return new CertificateChecks({ ...policy, ...overrides }).check({ certificatePem, chainPem }, expected);
  }

  describe('what passes', () => {
    for (const [kind, keyOptions] of [['signing', RSA], ['signing', EC], ['encryption', RSA], ['encryption', EC]] as const) {
      it(`${kind} certificate, ${keyOptions.algorithm.toUpperCase()} key, from the embedded CA`, async () => {
        const key = await generateKeyPair(keyOptions);
        const answer = await ca.submit({ idempotencyKey: randomUUID(), kind, csrPem: await buildSmimeCsr(key, { email: EMAIL }, kind), email: EMAIL, validityDays: 365 });
        assert.equal(answer.status, 'issued');
        await check((answer as { certificatePem: string }).certificatePem, expectation(key, kind));
      });
    }

    it('a multipurpose certificate that also allows clientAuth, under mailbox-multipurpose', async () => {
      const pem = await leaf({ key: rsaKey, policies: ['2.23.140.1.5.1.2'], ekus: [x509.ExtendedKeyUsage.emailProtection, x509.ExtendedKeyUsage.clientAuth] });
      await check(pem, expectation(rsaKey), { profile: 'mailbox-multipurpose' });
    });

    it('the address in another case, and no CN', async () => {
      await check(await leaf({ key: rsaKey, emails: ['Ann@Example.test'], subject: [{ E: ['ann@example.test'] }] }), expectation(rsaKey));
    });
  });

  describe('what is refused, naming the check', () => {
    it('public-key: a certificate for another key', async () => {
      await assertFailure(check(await leaf({ key: ecKey }), expectation(rsaKey)), 'CertificateRejected', /check "public-key" failed: the CA returned a signing certificate for a different public key/);
    });

    it('san-email: a certificate for another address', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, emails: ['mallory@example.test'] }), expectation(rsaKey)), 'CertificateRejected', /check "san-email" failed: the certificate is for mallory@example.test, not ann@example.test/);
    });

    it('san-email: another address or a DNS name besides the right one', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, emails: [EMAIL, 'eve@example.test'] }), expectation(rsaKey)), 'CertificateRejected', /check "san-email" failed: the certificate names eve@example.test besides/);
      await assertFailure(check(await leaf({ key: rsaKey, extraSans: [{ type: 'dns', value: 'example.test' }] }), expectation(rsaKey)), 'CertificateRejected', /check "san-email" failed: .*dns:example.test/);
    });

    it('subject: a display name as CN, or an organisation in a Mailbox-validated certificate', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, subject: [{ CN: ["Ann O'Example"] }] }), expectation(rsaKey)), 'CertificateRejected', /check "subject" failed: the subject's CN is "Ann O'Example"/);
      await assertFailure(check(await leaf({ key: rsaKey, subject: [{ O: ['Example Ltd'] }, { CN: [EMAIL] }] }), expectation(rsaKey)), 'CertificateRejected', /check "subject" failed: the subject carries O=Example Ltd/);
    });

    it('basic-constraints: a CA certificate', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, ca: true }), expectation(rsaKey)), 'CertificateRejected', /check "basic-constraints" failed/);
    });

    it('key-usage: encryption without keyEncipherment (RSA) or keyAgreement (EC), or with more than the kind allows', async () => {
      await assertFailure(check(await leaf({ key: rsaKey }), expectation(rsaKey, 'encryption')), 'CertificateRejected', /check "key-usage" failed: .*keyEncipherment is required for RSA keys/);
      await assertFailure(check(await leaf({ key: ecKey, keyUsage: x509.KeyUsageFlags.keyEncipherment }), expectation(ecKey, 'encryption')), 'CertificateRejected', /check "key-usage" failed: .*keyAgreement is required for EC keys/);
      await assertFailure(
        check(await leaf({ key: rsaKey, keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment }), expectation(rsaKey, 'signing')),
        'CertificateRejected',
        /check "key-usage" failed: .*also has keyEncipherment/,
      );
    });

    it('extended-key-usage: without emailProtection', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, ekus: [x509.ExtendedKeyUsage.clientAuth] }), expectation(rsaKey)), 'CertificateRejected', /check "extended-key-usage" failed: the certificate does not allow emailProtection/);
    });

    it('extended-key-usage: clientAuth besides under mailbox-strict; serverAuth under any profile', async () => {
      const both = await leaf({ key: rsaKey, ekus: [x509.ExtendedKeyUsage.emailProtection, x509.ExtendedKeyUsage.clientAuth] });
      await assertFailure(check(both, expectation(rsaKey)), 'CertificateRejected', /check "extended-key-usage" failed: a mailbox-strict certificate allows emailProtection only/);
      const tls = await leaf({ key: rsaKey, policies: ['2.23.140.1.5.1.2'], ekus: [x509.ExtendedKeyUsage.emailProtection, x509.ExtendedKeyUsage.serverAuth] });
      await assertFailure(check(tls, expectation(rsaKey), { profile: 'mailbox-multipurpose' }), 'CertificateRejected', /check "extended-key-usage" failed: the certificate also allows serverAuth/);
    });

    it('policy: none, another generation, two reserved OIDs, or a configured organisation OID missing', async () => {
      await assertFailure(check(await leaf({ key: rsaKey, policies: ['1.3.6.1.4.1.99999.1'] }), expectation(rsaKey)), 'CertificateRejected', /check "policy" failed: expected exactly one .* 2\.23\.140\.1\.5\.1\.3 \(mailbox-strict\); the certificate has none/);
      await assertFailure(check(await leaf({ key: rsaKey, policies: ['2.23.140.1.5.1.1'] }), expectation(rsaKey)), 'CertificateRejected', /check "policy" failed: .*has 2\.23\.140\.1\.5\.1\.1/);
      await assertFailure(check(await leaf({ key: rsaKey, policies: ['2.23.140.1.5.1.3', '2.23.140.1.5.4.3'] }), expectation(rsaKey)), 'CertificateRejected', /check "policy" failed/);
      await assertFailure(check(await leaf({ key: rsaKey }), expectation(rsaKey), { organisationPolicyOids: ['1.3.6.1.4.1.99999.1.2'] }), 'CertificateRejected', /check "policy" failed: .*lacks the configured policy OID\(s\) 1\.3\.6\.1\.4\.1\.99999\.1\.2/);
    });

    it('validity: not yet valid, expiring too soon, or longer than asked for', async () => {
      const future = new Date(Date.now() + 2 * DAY_MS);
      await assertFailure(check(await leaf({ key: rsaKey, notBefore: future }), expectation(rsaKey)), 'CertificateRejected', /check "validity" failed: the certificate is not valid before/);
      await assertFailure(check(await leaf({ key: rsaKey, notAfter: new Date(Date.now() + 10 * DAY_MS) }), expectation(rsaKey)), 'CertificateRejected', /check "validity" failed: .*at least 30 are required \(CERT_MIN_VALIDITY_DAYS\)/);
      await assertFailure(check(await leaf({ key: rsaKey, notAfter: new Date(Date.now() + 400 * DAY_MS) }), expectation(rsaKey)), 'CertificateRejected', /check "validity" failed: .*more than the 365 asked for \(CERT_VALIDITY_DAYS\)/);
    });

    it('chain: a certificate that does not lead to the configured root', async () => {
      await assertFailure(check(await leaf({ key: rsaKey }), expectation(rsaKey), { trustRootsPem: [otherCa.rootCertificatePem] }), 'CertificateRejected', /check "chain" failed: the certificate does not chain to a configured root/);
    });

    it('chain: no intermediate sent along', async () => {
      await assertFailure(check(await leaf({ key: rsaKey }), expectation(rsaKey), {}, []), 'CertificateRejected', /check "chain" failed/);
    });

    it('is non-retryable: asking the same CA again gives the same certificate', async () => {
      const failure = await assertFailure(check(await leaf({ key: rsaKey, emails: ['mallory@example.test'] }), expectation(rsaKey)), 'CertificateRejected', /san-email/);
      assert.equal(failure.nonRetryable, true);
    });
  });

  it('needs at least one root', () => {
    assert.throws(() => new CertificateChecks({ ...policy, trustRootsPem: [] }), /at least one trusted root/);
  });
});
