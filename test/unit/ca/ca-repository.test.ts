/**
 * The CA repository server (src/peers/ca-repository): what the URLs in the embedded CA's
 * certificates point to, over plain HTTP on loopback — the current CRLs and the CA certificates,
 * DER with their media types — and nothing else.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { repositoryUrls } from '../../../src/activities/ca/embedded/repository';
import { normalizeSerial } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair } from '../../../src/activities/crypto/keys';
import { x509 } from '../../../src/activities/crypto/x509';
import { startCaRepository, type CaRepository } from '../../../src/peers/ca-repository';
import { tempDir } from '../crypto/support';

describe('CA repository server', () => {
  const dir = tempDir('ca-repository');
  let repository: CaRepository;
  let ca: EmbeddedCa;

  before(async () => {
    repository = await startCaRepository({ port: 0 });
    ca = await EmbeddedCa.open({ dir: join(dir.path, 'ca'), repository: repositoryUrls(repository.baseUrl('embedded-ca')) });
    repository.publish('embedded-ca', ca);
  });
  after(async () => {
    await repository?.close();
    dir.remove();
  });

  it('serves the CA certificates its certificates name, DER as application/pkix-cert', async () => {
    const intermediate = new x509.X509Certificate(ca.intermediateCertificatePem);
    const rootUrl = intermediate.getExtension(x509.AuthorityInfoAccessExtension)!.caIssuers[0]!.value;
    const response = await fetch(rootUrl);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/pkix-cert');
    assert.equal(new x509.X509Certificate(Buffer.from(await response.arrayBuffer())).toString('pem'), new x509.X509Certificate(ca.rootCertificatePem).toString('pem'));
    const issuer = await fetch(ca.repository.leaves.caIssuers!);
    assert.equal(new x509.X509Certificate(Buffer.from(await issuer.arrayBuffer())).subject, intermediate.subject);
  });

  it('serves the current CRL, which lists a revocation as soon as it is made', async () => {
    const email = 'crl@example.com';
    const key = await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' });
    const answer = await ca.submit({ idempotencyKey: randomUUID(), kind: 'signing', csrPem: await buildSmimeCsr(key, { email }, 'signing'), email, validityDays: 90 });
    assert.equal(answer.status, 'issued');
    const leaf = new x509.X509Certificate((answer as { certificatePem: string }).certificatePem);
    const crlUrl = leaf.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
    const fetchCrl = async () => {
      const response = await fetch(crlUrl);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/pkix-crl');
      return new x509.X509Crl(Buffer.from(await response.arrayBuffer()));
    };
    assert.equal((await fetchCrl()).findRevoked(leaf), null);
    await ca.revoke(normalizeSerial(leaf.serialNumber), 'superseded');
    const crl = await fetchCrl();
    assert.ok(crl.findRevoked(leaf), 'listed right after the revocation');
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.intermediateCertificatePem).publicKey }));
  });

  it("serves the root's CRL where the intermediate says", async () => {
    const intermediate = new x509.X509Certificate(ca.intermediateCertificatePem);
    const url = intermediate.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
    const crl = new x509.X509Crl(Buffer.from(await (await fetch(url)).arrayBuffer()));
    assert.equal(crl.issuer, new x509.X509Certificate(ca.rootCertificatePem).subject);
    assert.equal(crl.entries.length, 0);
  });

  it('answers HEAD without a body, 404 for anything not published, 405 for other methods', async () => {
    const head = await fetch(ca.repository.leaves.crl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 0);
    for (const path of ['/embedded-ca/root-key.pem', '/other-ca/intermediate.crl', '/embedded-ca/intermediate.crl/x', '/']) {
      assert.equal((await fetch(`http://127.0.0.1:${repository.port}${path}`)).status, 404, path);
    }
    assert.equal((await fetch(ca.repository.leaves.crl, { method: 'POST' })).status, 405);
  });

  it('refuses a name that cannot be a path segment', () => {
    assert.throws(() => repository.publish('../etc', ca), /not a repository name/);
  });
});
