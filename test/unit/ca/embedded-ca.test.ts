import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedCa, MAX_VALIDITY_DAYS } from '../../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import type { CaAnswer, CertificateSigningRequest } from '../../../src/activities/ca/certificate-authority';
import { normalizeSerial } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../../src/activities/crypto/keys';
import { importSigningPair, signatureParams, x509 } from '../../../src/activities/crypto/x509';
import type { CredentialKind } from '../../../src/domain/enrollment';
import { createLogger } from '../../../src/logging';
import { assertFailure, opensslOk, openssl, tempDir } from '../crypto/support';

const RSA = { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' } as const;
const EC = { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' } as const;
const DAY_MS = 86_400_000;

interface Prepared {
  key: GeneratedKey;
  request: CertificateSigningRequest;
}

async function prepare(kind: CredentialKind, overrides: Partial<CertificateSigningRequest> = {}, keyOptions: typeof RSA | typeof EC = RSA): Promise<Prepared> {
  const email = overrides.email ?? `user-${randomUUID().slice(0, 8)}@example.test`;
  const key = await generateKeyPair(keyOptions);
  const csrPem = await buildSmimeCsr(key, { email, displayName: 'Mira Kovač' }, kind);
  return { key, request: { idempotencyKey: `smime-test/${randomUUID()}/${kind}`, kind, csrPem, email, displayName: 'Mira Kovač', validityDays: 365, ...overrides } };
}

function policiesOf(pem: string): string[] {
  return [...(new x509.X509Certificate(pem).getExtension(x509.CertificatePolicyExtension)?.policies ?? [])];
}

function crlUrls(certificate: x509.X509Certificate): (string | undefined)[] {
  return Array.from(certificate.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints ?? [], (dp) => dp.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier);
}

function issued(answer: CaAnswer): Extract<CaAnswer, { status: 'issued' }> {
  assert.equal(answer.status, 'issued', `expected an issued answer, got ${JSON.stringify(answer)}`);
  return answer as Extract<CaAnswer, { status: 'issued' }>;
}

describe('EmbeddedCa', () => {
  const dir = tempDir('embedded-ca');
  const caDir = join(dir.path, 'ca-state');
  let ca: EmbeddedCa;

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir });
  });
  after(() => dir.remove());

  /** `openssl verify` of a leaf against the CA's root, with the intermediate as untrusted chain. */
  function verifyLeaf(purpose: 'smimesign' | 'smimeencrypt', leafPem: string) {
    dir.file('root.pem', ca.rootCertificatePem);
    dir.file('intermediate.pem', ca.intermediateCertificatePem);
    dir.file('leaf.pem', leafPem);
    return openssl(['verify', '-purpose', purpose, '-CAfile', 'root.pem', '-untrusted', 'intermediate.pem', 'leaf.pem'], dir.path);
  }

  describe('its hierarchy', () => {
    it('creates a root and an intermediate with private keys readable by the owner only, and their CRLs', () => {
      const files = readdirSync(join(caDir, 'ca-v2')).sort();
      assert.deepEqual(files, ['intermediate-key.pem', 'intermediate.crl', 'intermediate.pem', 'root-key.pem', 'root.crl', 'root.pem']);
      for (const keyFile of ['root-key.pem', 'intermediate-key.pem']) assert.equal(statSync(join(caDir, 'ca-v2', keyFile)).mode & 0o777, 0o600, keyFile);
      assert.equal(readFileSync(join(caDir, 'ca-v2', 'root.pem'), 'utf8'), ca.rootCertificatePem);
    });

    it('makes the intermediate a BR subordinate CA: C and O, anyPolicy, CRL and issuer URLs of the root, EKU emailProtection', () => {
      const intermediate = new x509.X509Certificate(ca.intermediateCertificatePem);
      assert.equal(intermediate.subjectName.getField('C')[0], 'XX');
      assert.ok(intermediate.subjectName.getField('O')[0]);
      assert.deepEqual(policiesOf(ca.intermediateCertificatePem), ['2.5.29.32.0']);
      assert.deepEqual(crlUrls(intermediate), [UNSERVED_REPOSITORY.intermediate.crl]);
      assert.deepEqual(intermediate.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers.map((name) => name.value), [UNSERVED_REPOSITORY.intermediate.caIssuers]);
      assert.deepEqual([...(intermediate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.emailProtection]);
    });

    it('leaves a hierarchy made before the BR profile alone and makes a new one next to it', async () => {
      const legacyDir = join(dir.path, 'legacy-state');
      const legacy = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: legacyDir });
      renameSync(join(legacyDir, 'ca-v2'), join(legacyDir, 'ca')); // the layout of earlier versions
      const warnings: string[] = [];
      const logger = createLogger({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
      const upgraded = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: legacyDir, logger });
      assert.notEqual(upgraded.rootCertificatePem, legacy.rootCertificatePem);
      assert.equal(readFileSync(join(legacyDir, 'ca', 'root.pem'), 'utf8'), legacy.rootCertificatePem, 'the old root is kept');
      assert.match(warnings.join(''), /predates the S\/MIME Baseline Requirements profile/);
    });

    it('reuses the same hierarchy when opened again', async () => {
      const again = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir });
      assert.equal(again.rootCertificatePem, ca.rootCertificatePem);
      assert.equal(again.intermediateCertificatePem, ca.intermediateCertificatePem);
    });

    it('has a self-signed 10-year root CA and a 5-year intermediate with pathlen 0 (OpenSSL view)', async () => {
      const root = await opensslOk(['x509', '-noout', '-text'], dir.path, ca.rootCertificatePem);
      assert.match(root, /CA:TRUE/);
      assert.match(root, /Certificate Sign, CRL Sign/);
      const intermediate = await opensslOk(['x509', '-noout', '-text'], dir.path, ca.intermediateCertificatePem);
      assert.match(intermediate, /CA:TRUE, pathlen:0/);
      const rootCert = new x509.X509Certificate(ca.rootCertificatePem);
      const interCert = new x509.X509Certificate(ca.intermediateCertificatePem);
      assert.equal(rootCert.subject, rootCert.issuer);
      assert.equal(interCert.issuer, rootCert.subject);
      const years = (c: x509.X509Certificate) => (c.notAfter.getTime() - c.notBefore.getTime()) / (365.25 * DAY_MS);
      assert.ok(Math.abs(years(rootCert) - 10) < 0.01, `root lifetime ${years(rootCert)}`);
      assert.ok(Math.abs(years(interCert) - 5) < 0.01, `intermediate lifetime ${years(interCert)}`);
      dir.file('root.pem', ca.rootCertificatePem);
      dir.file('intermediate.pem', ca.intermediateCertificatePem);
      await opensslOk(['verify', '-CAfile', 'root.pem', 'intermediate.pem'], dir.path);
    });
  });

  describe('issuing', () => {
    let signing: Prepared;
    let signingAnswer: Extract<CaAnswer, { status: 'issued' }>;
    let leafText: string;

    before(async () => {
      signing = await prepare('signing');
      signingAnswer = issued(await ca.submit(signing.request));
      leafText = await opensslOk(['x509', '-noout', '-text'], dir.path, signingAnswer.certificatePem);
    });

    it('returns the leaf and the intermediate as the chain, without the root', () => {
      assert.deepEqual(signingAnswer.chainPem, [ca.intermediateCertificatePem]);
      assert.ok(!signingAnswer.chainPem.includes(ca.rootCertificatePem));
      assert.match(signingAnswer.requestId ?? '', /^emb-[0-9a-f]{32}$/);
    });

    it('issues a certificate that chains to the root for S/MIME signing', async () => {
      const result = await verifyLeaf('smimesign', signingAnswer.certificatePem);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /: OK$/m);
    });

    it('sets EKU to E-mail Protection only and SAN to the request email', async () => {
      const eku = await opensslOk(['x509', '-noout', '-ext', 'extendedKeyUsage'], dir.path, signingAnswer.certificatePem);
      assert.deepEqual(eku.trim().split('\n').map((l) => l.trim()), ['X509v3 Extended Key Usage:', 'E-mail Protection']);
      const san = await opensslOk(['x509', '-noout', '-ext', 'subjectAltName'], dir.path, signingAnswer.certificatePem);
      assert.deepEqual(san.trim().split('\n').map((l) => l.trim()), ['X509v3 Subject Alternative Name:', `email:${signing.request.email}`]);
    });

    it('gives a signing certificate critical key usage Digital Signature only', async () => {
      const ku = await opensslOk(['x509', '-noout', '-ext', 'keyUsage'], dir.path, signingAnswer.certificatePem);
      assert.deepEqual(ku.trim().split('\n').map((l) => l.trim()), ['X509v3 Key Usage: critical', 'Digital Signature']);
    });

    it('marks the leaf CA:FALSE and links it to the intermediate by key identifiers', async () => {
      assert.match(leafText, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      const interText = await opensslOk(['x509', '-noout', '-ext', 'subjectKeyIdentifier'], dir.path, ca.intermediateCertificatePem);
      const interSki = interText.split('\n')[1]!.trim();
      assert.match(leafText, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${interSki}`));
      assert.match(leafText, /X509v3 Subject Key Identifier:/);
    });

    it('names the subject CN = E = the address, never the display name (Mailbox-validated)', () => {
      const subject = new x509.X509Certificate(signingAnswer.certificatePem).subject;
      assert.equal(subject, `CN=${signing.request.email}, E=${signing.request.email}`);
    });

    it('asserts the mailbox-strict reserved policy by default, then the organisation OIDs', async () => {
      const withOids = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir, organisationPolicyOids: ['1.3.6.1.4.1.99999.1.2'] });
      const strict = issued(await withOids.submit((await prepare('signing')).request));
      assert.deepEqual(policiesOf(strict.certificatePem), ['2.23.140.1.5.1.3', '1.3.6.1.4.1.99999.1.2']);
      const multipurpose = issued(await withOids.submit((await prepare('signing', { profile: 'mailbox-multipurpose' })).request));
      assert.deepEqual(policiesOf(multipurpose.certificatePem), ['2.23.140.1.5.1.2', '1.3.6.1.4.1.99999.1.2']);
    });

    it('refuses an organisation OID in the reserved CA/B Forum arc', async () => {
      await assert.rejects(EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir, organisationPolicyOids: ['2.23.140.1.5.4.3'] }), /reserved S\/MIME policy/);
    });

    it('names its CRL and its issuer certificate over HTTP (cRLDistributionPoints, AIA caIssuers)', () => {
      const leaf = new x509.X509Certificate(signingAnswer.certificatePem);
      assert.deepEqual(crlUrls(leaf), [UNSERVED_REPOSITORY.leaves.crl]);
      const aia = leaf.getExtension(x509.AuthorityInfoAccessExtension);
      assert.deepEqual(aia?.caIssuers.map((name) => name.value), [UNSERVED_REPOSITORY.leaves.caIssuers]);
      assert.equal(aia?.ocsp.length, 0);
    });

    it('uses a random positive 16-byte serial', async () => {
      const serial = (await opensslOk(['x509', '-noout', '-serial'], dir.path, signingAnswer.certificatePem)).trim().replace(/^serial=/, '');
      assert.match(serial, /^[4-7][0-9A-F]{31}$/);
      assert.equal(normalizeSerial(new x509.X509Certificate(signingAnswer.certificatePem).serialNumber), serial.toLowerCase());
    });

    it('certifies the CSR key', () => {
      const cert = new x509.X509Certificate(signingAnswer.certificatePem);
      assert.deepEqual(Buffer.from(cert.publicKey.rawData), signing.key.publicKeySpki);
    });

    it('gives an RSA encryption certificate Key Encipherment and an EC one Key Agreement', async () => {
      const rsa = issued(await ca.submit((await prepare('encryption')).request));
      const rsaKu = await opensslOk(['x509', '-noout', '-ext', 'keyUsage'], dir.path, rsa.certificatePem);
      assert.deepEqual(rsaKu.trim().split('\n').map((l) => l.trim()), ['X509v3 Key Usage: critical', 'Key Encipherment']);
      const verified = await verifyLeaf('smimeencrypt', rsa.certificatePem);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);

      const ec = issued(await ca.submit((await prepare('encryption', {}, EC)).request));
      const ecKu = await opensslOk(['x509', '-noout', '-ext', 'keyUsage'], dir.path, ec.certificatePem);
      assert.deepEqual(ecKu.trim().split('\n').map((l) => l.trim()), ['X509v3 Key Usage: critical', 'Key Agreement']);
    });

    it('does not let a signing certificate pass as an encryption certificate', async () => {
      const result = await verifyLeaf('smimeencrypt', signingAnswer.certificatePem);
      assert.notEqual(result.code, 0);
      assert.match(result.stdout + result.stderr, /unsuitable certificate purpose/);
    });

    it('caps the lifetime at 825 days and honours shorter requests', async () => {
      const long = issued(await ca.submit((await prepare('signing', { validityDays: 2000 })).request));
      const longCert = new x509.X509Certificate(long.certificatePem);
      assert.equal((longCert.notAfter.getTime() - longCert.notBefore.getTime()) / DAY_MS, MAX_VALIDITY_DAYS);
      const short = issued(await ca.submit((await prepare('signing', { validityDays: 30 })).request));
      const shortCert = new x509.X509Certificate(short.certificatePem);
      assert.equal((shortCert.notAfter.getTime() - shortCert.notBefore.getTime()) / DAY_MS, 30);
      assert.ok(shortCert.notBefore.getTime() <= Date.now());
    });

    it('issues only emailProtection even when the CSR asks for more', async () => {
      const email = 'greedy@example.test';
      const key = await generateKeyPair(RSA);
      const keys = await importSigningPair(key.privateKeyPkcs8);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: [{ CN: ['greedy'] }],
        keys,
        signingAlgorithm: signatureParams(keys.privateKey),
        extensions: [
          new x509.SubjectAlternativeNameExtension([{ type: 'email', value: email }]),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection, x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
        ],
      });
      const answer = issued(await ca.submit({ idempotencyKey: randomUUID(), kind: 'signing', csrPem: csr.toString('pem'), email, validityDays: 30 }));
      const text = await opensslOk(['x509', '-noout', '-ext', 'extendedKeyUsage,keyUsage'], dir.path, answer.certificatePem);
      assert.match(text, /Extended Key Usage:\s+E-mail Protection\s*$/m);
      assert.ok(!/TLS Web/.test(text), text);
      assert.ok(!/Certificate Sign/.test(text), text);
    });
  });

  describe('refusals', () => {
    it('refuses a CSR for another email address', async () => {
      const { request } = await prepare('signing', { email: 'someone.else@example.test' });
      await assertFailure(ca.submit({ ...request, email: 'mira@example.test' }), 'CertificateRejected', /SAN rfc822Name must be exactly the request's email/);
    });

    it('refuses a CSR whose signature does not verify', async () => {
      const { request } = await prepare('signing');
      const der = Buffer.from(request.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der[der.length - 5]! ^= 0xff; // inside the signature value
      const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
      await assertFailure(ca.submit({ ...request, csrPem: pem }), 'CertificateRejected', /signature does not verify/);
    });

    it('refuses text that is not a CSR', async () => {
      const { request } = await prepare('signing');
      await assertFailure(ca.submit({ ...request, csrPem: 'hello' }), 'CertificateRejected', /not a PEM PKCS#10/);
    });

    it('refuses a non-positive validity', async () => {
      const { request } = await prepare('signing');
      await assertFailure(ca.submit({ ...request, validityDays: 0 }), 'CertificateRejected', /validityDays/);
    });

    it('refuses everything when configured to reject', async () => {
      const rejecting = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir, reject: true });
      const { request } = await prepare('signing');
      const failure = await assertFailure(rejecting.submit(request), 'CertificateRejected', /^embedded CA configured to reject$/);
      assert.equal(failure.nonRetryable, true);
    });
  });

  describe('idempotency', () => {
    it('answers a repeated submission with the same certificate and issues only once', async () => {
      const { request } = await prepare('encryption');
      const first = issued(await ca.submit(request));
      const second = issued(await ca.submit(request));
      assert.equal(second.certificatePem, first.certificatePem);
      assert.equal(second.requestId, first.requestId);
      assert.equal(ca.issued().filter((r) => r.idempotencyKey === request.idempotencyKey).length, 1);
    });

    it('issues once when the same request arrives concurrently', async () => {
      const { request } = await prepare('signing');
      const answers = await Promise.all(Array.from({ length: 5 }, () => ca.submit(request)));
      assert.equal(new Set(answers.map((a) => issued(a).certificatePem)).size, 1);
      assert.equal(ca.issued().filter((r) => r.idempotencyKey === request.idempotencyKey).length, 1);
    });

    it('answers the same after a restart (state on disk)', async () => {
      const { request } = await prepare('signing');
      const first = issued(await ca.submit(request));
      const restarted = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir });
      const again = issued(await restarted.submit(request));
      assert.equal(again.certificatePem, first.certificatePem);
      assert.equal(restarted.issued().filter((r) => r.idempotencyKey === request.idempotencyKey).length, 1);
    });

    it('refuses a repeated key with a different CSR', async () => {
      const { request } = await prepare('signing');
      issued(await ca.submit(request));
      const other = await prepare('signing', { email: request.email });
      await assertFailure(ca.submit({ ...other.request, idempotencyKey: request.idempotencyKey }), 'CertificateRejected', /already used with a different CSR/);
    });

    it('records what it issued: serial, key, email, kind, time', async () => {
      const { request } = await prepare('encryption');
      const answer = issued(await ca.submit(request));
      const record = ca.issued().find((r) => r.idempotencyKey === request.idempotencyKey);
      assert.ok(record);
      assert.equal(record.serial, normalizeSerial(new x509.X509Certificate(answer.certificatePem).serialNumber));
      assert.equal(record.email, request.email);
      assert.equal(record.kind, 'encryption');
      assert.ok(Math.abs(Date.parse(record.issuedAt) - Date.now()) < 60_000);
    });
  });

  describe('pending answers', () => {
    it('answers pending until pendingForMs has passed on the injected clock, then issues', async () => {
      let clock = Date.parse('2026-03-01T10:00:00Z');
      const slow = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir, pendingForMs: 15 * 60_000, now: () => clock });
      const { request } = await prepare('signing');
      const submitted = await slow.submit(request);
      assert.equal(submitted.status, 'pending');
      const requestId = (submitted as { requestId: string }).requestId;
      clock += 14 * 60_000;
      assert.deepEqual(await slow.poll(requestId), { status: 'pending', requestId });
      assert.equal(slow.issued().filter((r) => r.idempotencyKey === request.idempotencyKey).length, 0);
      clock += 60_000;
      const done = issued(await slow.poll(requestId));
      assert.equal(done.requestId, requestId);
      assert.equal(issued(await slow.poll(requestId)).certificatePem, done.certificatePem);
      assert.equal(issued(await slow.submit(request)).certificatePem, done.certificatePem);
      assert.equal(slow.issued().filter((r) => r.idempotencyKey === request.idempotencyKey).length, 1);
    });

    it('answers a repeated submission of a pending request with the same request id', async () => {
      const clock = Date.now();
      const slow = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir, pendingForMs: 60_000, now: () => clock });
      const { request } = await prepare('encryption');
      const first = await slow.submit(request);
      const second = await slow.submit(request);
      assert.equal(first.status, 'pending');
      assert.deepEqual(second, first);
    });

    it('refuses to poll an unknown request id', async () => {
      await assertFailure(ca.poll('emb-00000000000000000000000000000000'), 'CertificateRejected', /no request/);
      await assertFailure(ca.poll('../../etc/passwd'), 'CertificateRejected', /no request/);
    });
  });

  describe('revocation', () => {
    it('lists a revoked certificate on a fresh CRL signed by the intermediate, with reason and a growing CRL number', async () => {
      const before = new x509.X509Crl(await ca.currentCrl());
      const answer = issued(await ca.submit((await prepare('signing')).request));
      const serial = normalizeSerial(new x509.X509Certificate(answer.certificatePem).serialNumber);
      await ca.revoke(serial, 'keyCompromise');
      const der = await ca.currentCrl();
      const crl = new x509.X509Crl(der);
      assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.intermediateCertificatePem).publicKey }));
      const entry = crl.findRevoked(new x509.X509Certificate(answer.certificatePem));
      assert.ok(entry, 'the revoked serial is on the CRL');
      assert.equal(entry.reason, x509.X509CrlReason.keyCompromise);
      assert.ok(crl.nextUpdate && crl.nextUpdate.getTime() - crl.thisUpdate.getTime() <= 10 * DAY_MS, 'nextUpdate at most 10 days on (BR 4.9.7)');
      const number = (c: x509.X509Crl) => BigInt(`0x${Buffer.from(c.getExtension('2.5.29.20')!.value).toString('hex').slice(4)}`);
      assert.ok(number(crl) > number(before), 'CRL number grows');
      dir.file('crl.der', der);
      dir.file('intermediate.pem', ca.intermediateCertificatePem);
      const text = await opensslOk(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text', '-CAfile', 'intermediate.pem'], dir.path);
      assert.match(text, new RegExp(`Serial Number: ${serial.toUpperCase()}`));
    });

    it('sees a revocation another process made: the CRL is reissued when it lists fewer than were revoked', async () => {
      const other = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: caDir });
      const answer = issued(await ca.submit((await prepare('signing')).request));
      const serial = normalizeSerial(new x509.X509Certificate(answer.certificatePem).serialNumber);
      await other.revoke(serial, 'cessationOfOperation');
      assert.ok(new x509.X509Crl(await ca.currentCrl()).findRevoked(new x509.X509Certificate(answer.certificatePem)));
    });

    it('records a revocation once, with its reason', async () => {
      const answer = issued(await ca.submit((await prepare('signing')).request));
      const serial = normalizeSerial(new x509.X509Certificate(answer.certificatePem).serialNumber);
      await ca.revoke(serial.toUpperCase(), 'cessationOfOperation');
      await ca.revoke(serial, 'cessationOfOperation');
      const mine = ca.revocations().filter((r) => r.serial === serial);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.reason, 'cessationOfOperation');
      assert.ok(!Number.isNaN(Date.parse(mine[0]!.revokedAt)));
    });

    it('refuses to revoke a serial it never issued', async () => {
      await assertFailure(ca.revoke('7fffffffffffffffffffffffffffffff', 'keyCompromise'), 'CertificateRejected', /did not issue/);
      await assertFailure(ca.revoke('not-a-serial', 'keyCompromise'), 'CertificateRejected', /not a hexadecimal serial/);
    });
  });
});
