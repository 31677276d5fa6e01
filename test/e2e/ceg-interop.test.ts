/**
 * What the project's crypto module builds (pkijs PKCS#12, Node RSA-OAEP) is accepted by the CEG
 * simulator's independent OpenSSL checks, in both profiles and both password transports.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CegGateway } from '../../src/activities/ceg/ceg-gateway';
import { encryptForRecipient, randomPassword } from '../../src/activities/crypto/password';
import { buildPkcs12 } from '../../src/activities/crypto/pkcs12';
import type { Pkcs12Profile } from '../../src/domain/credentials';
import { startCegSimulator, type CegSimulator, type SimUploadRecord } from '../../src/peers/ceg-sim';
import { ensureDevPki, type DevPki } from '../../src/peers/dev-pki';
import { thumbprintOfPem, uploadOf } from '../unit/ceg/credential-fixtures';

const run = promisify(execFile);

describe('crypto module output at the CEG simulator', function () {
  this.timeout(30_000);
  let dataDir: string;
  let pki: DevPki;
  let sim: CegSimulator;
  let gateway: CegGateway;
  let privateKey: KeyObject;
  let certificatePem: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ceg-interop-test-'));
    pki = await ensureDevPki(dataDir);
    sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki });
    gateway = new CegGateway({ url: sim.url, clientCertPem: pki.clientCertPem, clientKeyPem: pki.clientKeyPem, caPem: pki.caCertPem, timeoutMs: 10_000 });
    // An S/MIME certificate made by OpenSSL for a key made by Node: neither is the module under test.
    privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const keyPath = join(dataDir, 'alice.key');
    const certPath = join(dataDir, 'alice.crt');
    await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await run('openssl', ['req', '-x509', '-key', keyPath, '-out', certPath, '-days', '5', '-subj', '/CN=Alice',
      '-addext', 'extendedKeyUsage=emailProtection', '-addext', 'subjectAltName=email:alice@example.test']);
    certificatePem = await readFile(certPath, 'utf8');
  });

  after(async () => {
    await gateway?.close();
    await sim?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const cases: { profile: Pkcs12Profile; encrypted: boolean }[] = [
    { profile: 'legacy', encrypted: false },
    { profile: 'modern', encrypted: true },
  ];
  for (const { profile, encrypted } of cases) {
    it(`accepts a ${profile} PKCS#12 with the password sent ${encrypted ? 'encrypted to the recipient certificate' : 'in the clear'}`, async () => {
      const password = randomPassword();
      const pkcs12 = await buildPkcs12({
        privateKeyPkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
        certificatePem,
        chainPem: [],
        password,
        profile,
        friendlyName: 'Alice S/MIME',
      });
      const upload = uploadOf(
        { pkcs12, password, thumbprint: thumbprintOfPem(certificatePem), email: 'alice@example.test', certPem: certificatePem },
        { profile, ...(encrypted ? { passwordForRecipient: encryptForRecipient(password, pki.recipientCertPem) } : {}) },
      );
      const receipt = await gateway.upload(upload);

      assert.equal(receipt.alreadyPresent, false);
      const records = (await (await fetch(`${sim.adminUrl}/sim/uploads`)).json()) as SimUploadRecord[];
      const record = records.find((r) => r.deviceUuid === upload.deviceUuid);
      assert.equal(record?.profile, profile);
      assert.equal(record?.passwordTransport, encrypted ? 'encrypted' : 'clear');
    });
  }
});
