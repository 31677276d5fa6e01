/**
 * The step-ca adapter against a real step-ca (built from the Go module proxy on first use,
 * configured here from scratch on loopback): S/MIME profile, idempotency, a lost answer,
 * rejection, revocation, outages.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { Agent, request as undiciRequest } from 'undici';
import type { CaAnswer, CertificateSigningRequest } from '../../src/activities/ca/certificate-authority';
import { StepCa, type StepCaOptions } from '../../src/activities/ca/step-ca';
import { ProvisionerKey } from '../../src/activities/ca/step-ca/provisioner-key';
import { certificatePublicKeySha256 } from '../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../src/activities/crypto/csr';
import { generateKeyPair as generateCredentialKey } from '../../src/activities/crypto/keys';
import { createLogger } from '../../src/logging';
import { opensslSmimeCsr, startLossyProxy, startStepCa, STEP_CA_PUBLICATION, type LossyProxy, type StepCaFixture } from '../helpers/step-ca';
import { failureOf } from '../helpers/failures';

const run = promisify(execFile);
const logger = createLogger({ level: 'silent' });

describe('step-ca adapter against a real step-ca', function () {
  this.timeout(30_000);
  let ca: StepCaFixture;
  let dir: string;
  const adapters: StepCa[] = [];

  before(async function () {
    // The first run builds step-ca with `go install` (minutes on 2 cores); later runs find it cached.
    this.timeout(20 * 60_000);
    ca = await startStepCa({ allowedEmails: ['@example.com'] });
    dir = mkdtempSync(join(tmpdir(), 'step-ca-test-'));
  });

  after(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await ca?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function adapter(overrides: Partial<StepCaOptions> = {}): Promise<StepCa> {
    const created = await StepCa.create({
      url: ca.url,
      rootPem: ca.rootPem,
      provisionerName: ca.provisionerName,
      provisionerJwk: StepCa.readProvisionerKey(ca.provisionerKeyFile),
      ledgerDir: join(dir, 'ledger'),
      requestTimeoutMs: 10_000,
      logger,
      publication: STEP_CA_PUBLICATION.leaves,
      ...overrides,
    });
    adapters.push(created);
    return created;
  }

  let counter = 0;
  async function request(overrides: Partial<CertificateSigningRequest> & { keyType?: 'rsa' | 'ec'; commonName?: string } = {}): Promise<CertificateSigningRequest> {
    counter += 1;
    const email = overrides.email ?? `user${counter}@example.com`;
    const csrPem = overrides.csrPem ?? (await opensslSmimeCsr({ email, commonName: overrides.commonName ?? `User ${counter}`, keyType: overrides.keyType ?? 'rsa', dir }));
    return { idempotencyKey: `wf-${counter}/${overrides.kind ?? 'signing'}`, kind: 'signing', csrPem, email, validityDays: 365, ...overrides };
  }

  function issued(answer: CaAnswer) {
    assert.equal(answer.status, 'issued');
    return answer as Extract<CaAnswer, { status: 'issued' }>;
  }

  async function certificateText(pem: string): Promise<string> {
    const file = join(dir, `cert-${Date.now()}-${Math.random().toString(16).slice(2)}.pem`);
    writeFileSync(file, pem);
    return (await run('openssl', ['x509', '-in', file, '-noout', '-text', '-nameopt', 'RFC2253'])).stdout;
  }

  async function opensslVerify(answer: Extract<CaAnswer, { status: 'issued' }>, purpose: string): Promise<string> {
    const leaf = join(dir, `leaf-${Date.now()}.pem`);
    const chain = join(dir, `chain-${Date.now()}.pem`);
    writeFileSync(leaf, answer.certificatePem);
    writeFileSync(chain, answer.chainPem.join(''));
    return (await run('openssl', ['verify', '-CAfile', ca.rootFile, '-untrusted', chain, '-purpose', purpose, leaf])).stdout;
  }


  function serialOf(pem: string): string {
    return BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString(16);
  }

  it('issues a signing certificate: EKU emailProtection, SAN email, digitalSignature only, chain to the root', async () => {
    const req = await request({ kind: 'signing', keyType: 'ec', email: 'alice@example.com', commonName: 'Alice Example' });
    const answer = issued(await (await adapter()).submit(req));
    const text = await certificateText(answer.certificatePem);
    assert.match(text, /Subject: CN=alice@example\.com/);
    assert.match(text, /X509v3 Subject Alternative Name: \n\s+email:alice@example\.com\n/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+E-mail Protection\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(text, /CA:FALSE/);
    assert.equal(answer.chainPem.length, 1, 'the intermediate comes with the certificate');
    assert.match(await opensslVerify(answer, 'smimesign'), /: OK/);
  });

  it('issues an RSA encryption certificate with keyEncipherment only', async () => {
    const req = await request({ kind: 'encryption', keyType: 'rsa', email: 'bob@example.com' });
    const answer = issued(await (await adapter()).submit(req));
    const text = await certificateText(answer.certificatePem);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Key Encipherment\n/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+E-mail Protection\n/);
    assert.match(text, /email:bob@example\.com/);
    assert.match(await opensslVerify(answer, 'smimeencrypt'), /: OK/);
  });

  it('writes the S/MIME BR extensions the token carries: the profile\'s policy (then the organisation\'s), CRL distribution point, AIA', async () => {
    const strict = issued(await (await adapter({ organisationPolicyOids: ['1.3.6.1.4.1.99999.1.2'] })).submit(await request({ kind: 'signing' })));
    const text = await certificateText(strict.certificatePem);
    assert.match(text, /X509v3 Certificate Policies: \n\s+Policy: 2\.23\.140\.1\.5\.1\.3\n\s+Policy: 1\.3\.6\.1\.4\.1\.99999\.1\.2\n/);
    assert.match(text, new RegExp(`X509v3 CRL Distribution Points: \\n\\s+Full Name:\\n\\s+URI:${STEP_CA_PUBLICATION.leaves.crl.replace(/\./g, '\\.')}`));
    assert.match(text, new RegExp(`CA Issuers - URI:${STEP_CA_PUBLICATION.leaves.caIssuers.replace(/\./g, '\\.')}`));
    assert.doesNotMatch(text, /1\.3\.6\.1\.4\.1\.37476/, 'no smallstep provisioner extension');
    const multipurpose = issued(await (await adapter()).submit(await request({ kind: 'signing', profile: 'mailbox-multipurpose' })));
    assert.match(await certificateText(multipurpose.certificatePem), /Policy: 2\.23\.140\.1\.5\.1\.2\n/);
  });

  it('the template refuses a token whose first policy is not a Mailbox-validated reserved OID', async () => {
    const provisioner = await ProvisionerKey.fromJwk(ca.provisionerName, StepCa.readProvisionerKey(ca.provisionerKeyFile));
    const email = 'reserved@example.com';
    const req = await request({ kind: 'signing', email, commonName: email });
    const der = Buffer.from(req.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const ott = await provisioner.signToken({
      caUrl: ca.url,
      subject: req.email,
      email: req.email,
      kind: 'signing',
      csrSha256: createHash('sha256').update(der).digest(),
      jti: randomUUID(),
      serialHex: '4a11ce',
      policies: ['1.3.6.1.4.1.99999.1.2'],
      publication: STEP_CA_PUBLICATION.leaves,
    });
    const dispatcher = new Agent({ connect: { ca: ca.rootPem } });
    try {
      const response = await undiciRequest(`${ca.url}/1.0/sign`, { method: 'POST', body: JSON.stringify({ csr: req.csrPem, ott }), headers: { 'content-type': 'application/json' }, dispatcher });
      const body = await response.body.text();
      assert.equal(response.statusCode, 400, body);
      assert.match(body, /the first of smime\.policies must be a Mailbox-validated reserved policy/);
      assert.ok(!ca.issuedSerials().includes('4a11ce'), 'nothing was signed');
    } finally {
      await dispatcher.close();
    }
  });

  it('issues an EC encryption certificate with keyAgreement (an EC key cannot encipher)', async () => {
    const req = await request({ kind: 'encryption', keyType: 'ec' });
    const text = await certificateText(issued(await (await adapter()).submit(req)).certificatePem);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Key Agreement\n/);
  });

  it("accepts the provider's own CSR (CN = E = the address, RSA 2048) for the CSR's key", async () => {
    const key = await generateCredentialKey({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const csrPem = await buildSmimeCsr(key, { email: 'erin@example.com', displayName: 'Erin Example' }, 'encryption');
    const answer = issued(await (await adapter()).submit(await request({ kind: 'encryption', email: 'erin@example.com', displayName: 'Erin Example', csrPem })));
    assert.equal(certificatePublicKeySha256(answer.certificatePem), key.publicKeySha256);
    const text = await certificateText(answer.certificatePem);
    assert.match(text, /Subject: CN=erin@example\.com\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Key Encipherment\n/);
    assert.match(await opensslVerify(answer, 'smimeencrypt'), /: OK/);
  });

  it('answers a repeated idempotency key from the ledger: same serial, one certificate, no second call to step-ca', async () => {
    const ca1 = await adapter();
    const req = await request();
    const first = issued(await ca1.submit(req));
    const signsBefore = ca.signRequests();
    const second = issued(await (await adapter()).submit(req));
    assert.equal(serialOf(second.certificatePem), serialOf(first.certificatePem));
    assert.equal(second.certificatePem, first.certificatePem);
    assert.equal(ca.signRequests(), signsBefore, 'step-ca was not asked again');
    assert.equal(ca.issuedSerials().filter((s) => s === serialOf(first.certificatePem)).length, 1);
  });

  describe('an answer lost on the way back', () => {
    let proxy: LossyProxy;
    before(async () => {
      proxy = await startLossyProxy(ca, dir);
    });
    after(async () => {
      await proxy?.close();
    });

    it('the retry revokes the certificate nobody received and delivers exactly one valid certificate', async () => {
      const viaProxy = await adapter({ url: proxy.url, rootPem: ca.rootPem + proxy.certificatePem, ledgerDir: join(dir, 'ledger-lossy') });
      const req = await request();
      const issuedBefore = ca.issuedSerials();

      proxy.loseAnswers(1);
      const lost = await failureOf(viaProxy.submit(req));
      assert.equal(lost.type, 'CaUnavailable');
      assert.equal(lost.nonRetryable, false);
      const orphans = ca.issuedSerials().filter((s) => !issuedBefore.includes(s));
      assert.equal(orphans.length, 1, 'step-ca did sign before the answer was lost');

      const retried = issued(await viaProxy.submit(req));
      const delivered = serialOf(retried.certificatePem);
      assert.notEqual(delivered, orphans[0]);
      const revoked = await ca.revokedSerials();
      assert.ok(revoked.includes(orphans[0]!), 'the unreceived certificate is on the CRL');
      assert.ok(!revoked.includes(delivered), 'the delivered certificate is valid');

      const again = issued(await viaProxy.submit(req));
      assert.equal(serialOf(again.certificatePem), delivered, 'and from then on the ledger answers');
    });

    it('a lost revocation during the retry is also recovered: still one valid certificate', async () => {
      const viaProxy = await adapter({ url: proxy.url, rootPem: ca.rootPem + proxy.certificatePem, ledgerDir: join(dir, 'ledger-lossy-2') });
      const req = await request();
      const issuedBefore = ca.issuedSerials();
      proxy.loseAnswers(1);
      assert.equal((await failureOf(viaProxy.submit(req))).type, 'CaUnavailable'); // the sign answer is lost
      proxy.loseAnswers(1, '/1.0/revoke');
      assert.equal((await failureOf(viaProxy.submit(req))).type, 'CaUnavailable'); // the retry's revocation answer is lost
      const delivered = serialOf(issued(await viaProxy.submit(req)).certificatePem); // "already revoked" counts as done
      const newSerials = ca.issuedSerials().filter((s) => !issuedBefore.includes(s));
      assert.equal(newSerials.length, 2);
      const revoked = await ca.revokedSerials();
      assert.deepEqual(newSerials.filter((s) => !revoked.includes(s)), [delivered]);
    });
  });

  it('a retry on a worker without the first ledger revokes the unrecorded certificate and issues one new one', async () => {
    const req = await request();
    const first = serialOf(issued(await (await adapter({ ledgerDir: join(dir, 'worker-a') })).submit(req)).certificatePem);
    const second = serialOf(issued(await (await adapter({ ledgerDir: join(dir, 'worker-b') })).submit(req)).certificatePem);
    assert.notEqual(second, first);
    const revoked = await ca.revokedSerials();
    assert.ok(revoked.includes(first));
    assert.ok(!revoked.includes(second));
  });

  it('an email the CA policy does not allow is CertificateRejected (non-retryable)', async () => {
    const req = await request({ email: 'mallory@elsewhere.test' });
    const failure = await failureOf((await adapter()).submit(req));
    assert.equal(failure.type, 'CertificateRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /not allowed/);
  });

  it('a CSR for another address than the request is CertificateRejected', async () => {
    const csrPem = await opensslSmimeCsr({ email: 'carol@example.com', keyType: 'ec', dir });
    const failure = await failureOf((await adapter()).submit(await request({ email: 'dave@example.com', csrPem })));
    assert.equal(failure.type, 'CertificateRejected');
  });

  it('tokens signed by a key step-ca does not know are CertificateRejected, and nothing is revoked', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const stranger = await adapter({ provisionerJwk: await exportJWK(privateKey), ledgerDir: join(dir, 'ledger-stranger') });
    const revokedBefore = await ca.revokedSerials();
    const failure = await failureOf(stranger.submit(await request()));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /401/);
    assert.deepEqual(await ca.revokedSerials(), revokedBefore);
  });

  it('revoke puts the serial on the CRL, and a second revoke is harmless', async () => {
    const ca1 = await adapter();
    const serial = serialOf(issued(await ca1.submit(await request())).certificatePem);
    await ca1.revoke(serial, 'cessationOfOperation');
    await ca1.revoke(serial, 'cessationOfOperation');
    assert.ok((await ca.revokedSerials()).includes(serial));
  });

  it('a CA that does not answer is CaUnavailable (retryable)', async () => {
    const down = await adapter({ url: 'https://127.0.0.1:9', ledgerDir: join(dir, 'ledger-down') });
    const failure = await failureOf(down.submit(await request()));
    assert.equal(failure.type, 'CaUnavailable');
    assert.equal(failure.nonRetryable, false);
  });

  it('a TLS certificate that does not chain to CA_ROOT_FILE is a ConfigurationError', async () => {
    const wrongRoot = await adapter({ rootPem: await selfSignedPem(), ledgerDir: join(dir, 'ledger-tls') });
    const failure = await failureOf(wrongRoot.submit(await request()));
    assert.equal(failure.type, 'ConfigurationError');
  });

  it('poll answers from the ledger, and refuses ids it never gave out', async () => {
    const ca1 = await adapter();
    const answer = issued(await ca1.submit(await request()));
    assert.ok(answer.requestId);
    assert.equal(issued(await ca1.poll(answer.requestId)).certificatePem, answer.certificatePem);
    assert.equal((await failureOf(ca1.poll('order-123'))).type, 'ConfigurationError');
  });

  it('keeps no token in the ledger', () => {
    for (const name of readdirSync(join(dir, 'ledger'))) {
      const text = readFileSync(join(dir, 'ledger', name), 'utf8');
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]+\.eyJ/, `${name} holds a JWS`);
    }
  });

  async function selfSignedPem(): Promise<string> {
    const { stdout } = await run('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'other.key'), '-subj', '/CN=Other Root', '-days', '1']);
    return stdout;
  }
});
