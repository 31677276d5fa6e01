/**
 * Unenroll after delivery: UEM's Break MDM event for a device whose provisioning run already
 * delivered starts retireSmime, which removes the device's credentials from the gateway and
 * revokes its signing certificate; the user's escrowed encryption key stays. The revocation shows
 * on the CRL the certificate names, which the embedded CA's repository serves over HTTP.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toPem } from '../../src/activities/crypto/certificate-info';
import { x509 } from '../../src/activities/crypto/x509';
import { statusQuery } from '../../src/workflows/definitions';
import { retireWorkflowId } from '../../src/workflows/definitions';
import { apiConfig, postEvent, startApi, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const run = promisify(execFile);

describe('unenroll after delivery retires the device\'s credentials (dev server, real activities)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let api: RunningApi;
  let test: TestConfig;
  let work: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'unenroll-crl-'));
    stack = await startProviderStack({ codec: false });
    test = apiConfig({ taskQueue: stack.taskQueue });
    api = await startApi({ client: stack.client, config: test.config });
  });
  after(async () => {
    await api?.close();
    await stack?.stop();
    test?.cleanUp();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function opensslOut(args: string[]): string {
    const result = spawnSync('openssl', args, { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  }

  const breakMdm = (user: string, device: string) =>
    JSON.stringify({ EventId: 39, EventType: 'BreakMDMConfirmed', DeviceUUID: device, EnrollmentUserUUID: user, EventTime: new Date().toISOString() });

  it('the CRL named in the delivered signing certificate lists it once the device is unenrolled (fetched over HTTP, checked by OpenSSL)', async () => {
    const event = enrollmentEvent();
    const handle = await stack.start(event);
    await handle.result();
    const received = join(stack.dataDir, 'ceg-sim', 'received', event.enrollmentUserUuid, event.deviceUuid);
    const leafPem = opensslOut(['pkcs12', '-in', join(received, 'signing.p12'), '-clcerts', '-nokeys', '-passin', `file:${join(received, 'signing.pass')}`]);
    const leaf = new x509.X509Certificate(leafPem);
    const crlUrl = leaf.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier;
    const issuerUrl = leaf.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers[0]?.value;
    assert.ok(crlUrl?.startsWith('http://') && issuerUrl?.startsWith('http://'), `HTTP CRL and issuer URLs in the certificate: ${crlUrl}, ${issuerUrl}`);

    // OpenSSL fetches the CRLs itself from the URLs in the leaf and the intermediate; the root names
    // no CRL (it is the trust anchor), so the root's own CRL — the one the intermediate's URL
    // names — is fetched here and handed over, for -crl_check_all to check every level.
    const intermediate = new x509.X509Certificate(stack.ca.intermediateCertificatePem);
    const rootCrlUrl = intermediate.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier;
    const files = { leaf: join(work, 'leaf.pem'), root: join(work, 'root.pem'), chain: join(work, 'chain.pem'), rootCrl: join(work, 'root.crl') };
    writeFileSync(files.leaf, leafPem);
    writeFileSync(files.root, stack.ca.rootCertificatePem);
    writeFileSync(files.chain, stack.ca.intermediateCertificatePem);
    const rootCrl = await fetch(rootCrlUrl!);
    assert.equal(rootCrl.status, 200, `the intermediate's CRL URL answers: ${rootCrlUrl}`);
    writeFileSync(files.rootCrl, toPem(Buffer.from(await rootCrl.arrayBuffer()), 'X509 CRL'));
    // Asynchronously: the repository server answering OpenSSL runs in this process's event loop.
    const verify = () =>
      run('openssl', ['verify', '-crl_check_all', '-crl_download', '-CRLfile', files.rootCrl, '-purpose', 'smimesign', '-CAfile', files.root, '-untrusted', files.chain, files.leaf], { encoding: 'utf8', timeout: 30_000 }).then(
        ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
        (error: { code?: number; stdout?: string; stderr?: string }) => ({ status: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
      );
    const before = await verify();
    assert.equal(before.status, 0, `valid before the unenroll:\n${before.stdout}${before.stderr}`);

    const answer = await postEvent(api.url, breakMdm(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal(answer.status, 202, answer.text);
    await stack.client.workflow.getHandle(retireWorkflowId(handle.workflowId, handle.firstExecutionRunId)).result();

    const after = await verify();
    assert.notEqual(after.status, 0, 'revoked after the unenroll');
    assert.match(after.stdout + after.stderr, /certificate revoked/);

    // And by hand: the CRL at that URL, signed by the certificate at the issuer URL, with nextUpdate.
    const crlResponse = await fetch(crlUrl!);
    assert.equal(crlResponse.status, 200);
    assert.equal(crlResponse.headers.get('content-type'), 'application/pkix-crl');
    const crl = new x509.X509Crl(Buffer.from(await crlResponse.arrayBuffer()));
    const issuer = new x509.X509Certificate(Buffer.from(await (await fetch(issuerUrl!)).arrayBuffer()));
    assert.ok(await crl.verify({ publicKey: issuer.publicKey }), 'signed by the issuer the certificate names');
    assert.ok(crl.nextUpdate && crl.nextUpdate > new Date(), 'a nextUpdate in the future');
    const entry = crl.findRevoked(leaf);
    assert.ok(entry, 'the revoked certificate is listed');
    assert.equal(entry.reason, x509.X509CrlReason.cessationOfOperation);
  });

  it('revokes the signing certificate, removes the credentials at the gateway and keeps the escrowed encryption key', async () => {
    const event = enrollmentEvent();
    const handle = await stack.start(event);
    const report = await handle.result();
    const signingSerial = report.credentials.find((c: { kind: string }) => c.kind === 'signing')!.serial!;
    const encryptionSerial = report.credentials.find((c: { kind: string }) => c.kind === 'encryption')!.serial!;
    assert.equal((await handle.query(statusQuery)).stage, 'Delivered');

    const answer = await postEvent(api.url, breakMdm(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal(answer.status, 202, answer.text);
    assert.equal((answer.json as { outcome: string }).outcome, 'retire-started');

    const retire = stack.client.workflow.getHandle(retireWorkflowId(handle.workflowId, handle.firstExecutionRunId));
    const cleanUp = (await retire.result()) as { removedFromGateway: boolean; revokedSerials: string[] };
    assert.equal(cleanUp.removedFromGateway, true);
    assert.deepEqual(cleanUp.revokedSerials, [signingSerial]);
    const revokedHere = () => stack.ca.revocations().filter((r) => r.serial === signingSerial || r.serial === encryptionSerial);
    assert.deepEqual(revokedHere().map((r) => r.serial), [signingSerial], 'only the signing certificate is revoked');
    assert.ok(!stack.ca.revocations().some((r) => r.serial === encryptionSerial));
    const deletions = (await (await fetch(`${stack.sim.adminUrl}/sim/deletions`)).json()) as { deviceUuid: string }[];
    assert.ok(deletions.some((d) => d.deviceUuid === event.deviceUuid), 'the gateway was asked to remove the device\'s credentials');
    const escrowed = await stack.escrow.active({ enrollmentUserUuid: event.enrollmentUserUuid, kind: 'encryption', scope: 'user' });
    assert.equal(escrowed?.certificate.serial, encryptionSerial, 'the encryption key stays in escrow');

    const again = await postEvent(api.url, breakMdm(event.enrollmentUserUuid, event.deviceUuid));
    assert.equal((again.json as { outcome: string }).outcome, 'already-retired', 'a repeated unenroll changes nothing');
    assert.equal(revokedHere().length, 1);
  });
});
