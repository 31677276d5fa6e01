/**
 * CegGateway (the client) against the CEG simulator: real HTTPS with mTLS on loopback, the real
 * dev PKI in a temporary data folder, PKCS#12 files made by the OpenSSL CLI (and node-forge for
 * the broken ones OpenSSL will not write), checked by the simulator with the OpenSSL CLI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { CegGateway, createCegGateway } from '../../src/activities/ceg/ceg-gateway';
import { assertConfigFor, ConfigError, loadConfig, type SettingName } from '../../src/config';
import { ensureDevPki, type DevPki } from '../../src/peers/dev-pki';
import { startCegSimulator, type CegSimulator, type SimDeletionRecord, type SimUploadRecord } from '../../src/peers/ceg-sim';
import {
  encryptPasswordForRecipient,
  forgeCredential,
  opensslClientCertificate,
  opensslCredential,
  uploadOf,
  type TestCredential,
} from '../unit/ceg/credential-fixtures';

describe('CEG gateway client against the CEG simulator (mTLS on loopback)', function () {
  this.timeout(30_000);
  let dataDir: string;
  let workDir: string;
  let pki: DevPki;
  let sim: CegSimulator;
  let gateway: CegGateway;
  let alice: TestCredential;
  const opened: CegGateway[] = [];

  const clientFor = (overrides: Partial<ConstructorParameters<typeof CegGateway>[0]> = {}) => {
    const client = new CegGateway({ url: sim.url, clientCertPem: pki.clientCertPem, clientKeyPem: pki.clientKeyPem, caPem: pki.caCertPem, timeoutMs: 10_000, ...overrides });
    opened.push(client);
    return client;
  };
  const admin = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${sim.adminUrl}${path}`, init);
    assert.ok(response.ok, `admin ${path}: HTTP ${response.status}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };
  const injectFault = (fault: Record<string, unknown>) =>
    admin('/sim/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  const uploads = () => admin<SimUploadRecord[]>('/sim/uploads');
  const stats = () => admin<{ tlsConnections: number; uploadRequests: number }>('/sim/stats');

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'ceg-gateway-test-'));
    workDir = join(dataDir, 'work');
    await mkdir(workDir);
    pki = await ensureDevPki(dataDir);
    sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki });
    gateway = clientFor();
    alice = await opensslCredential(workDir, { email: 'alice@example.test' });
  });

  afterEach(async () => {
    await admin('/sim/faults', { method: 'DELETE' });
  });

  after(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await sim?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('accepted uploads', () => {
    it('stores a new credential: recorded, PKCS#12 and password written 0600 beside each other', async () => {
      const upload = uploadOf(alice, { profile: 'modern' });
      const receipt = await gateway.upload(upload);

      assert.equal(receipt.alreadyPresent, false);
      assert.match(receipt.receiptId ?? '', /^[0-9a-f-]{36}$/);
      const record = (await uploads()).find((u) => u.deviceUuid === upload.deviceUuid);
      assert.ok(record, 'the simulator lists the upload');
      assert.equal(record.thumbprint, alice.thumbprint);
      assert.equal(record.email, 'alice@example.test');
      assert.equal(record.kind, 'signing');
      assert.equal(record.profile, 'modern');
      assert.equal(record.passwordTransport, 'clear');
      assert.equal(record.uploadedBy, pki.clientThumbprint);
      assert.ok(!JSON.stringify(record).includes(alice.password), 'the listing never shows the password');

      const dir = join(dataDir, 'ceg-sim', 'received', upload.enrollmentUserUuid, upload.deviceUuid);
      assert.deepEqual(await readFile(join(dir, 'signing.p12')), alice.pkcs12);
      assert.equal(await readFile(join(dir, 'signing.pass'), 'utf8'), alice.password);
      assert.equal((await stat(join(dir, 'signing.p12'))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'signing.pass'))).mode & 0o777, 0o600);
    });

    it('answers "already present" to a repeat of the same credential and records it once', async () => {
      const upload = uploadOf(alice);
      const first = await gateway.upload(upload);
      const second = await gateway.upload(upload);

      assert.equal(second.alreadyPresent, true);
      assert.equal(second.receiptId, first.receiptId);
      const held = (await uploads()).filter((u) => u.deviceUuid === upload.deviceUuid);
      assert.equal(held.length, 1);
    });

    it('replaces the credential in a slot when a renewal (another certificate) arrives', async () => {
      const renewed = await opensslCredential(workDir, { email: 'alice@example.test' });
      const upload = uploadOf(alice);
      await gateway.upload(upload);
      const receipt = await gateway.upload({ ...upload, pkcs12: renewed.pkcs12, password: renewed.password, thumbprint: renewed.thumbprint });

      assert.equal(receipt.alreadyPresent, false);
      const held = (await uploads()).filter((u) => u.deviceUuid === upload.deviceUuid);
      assert.deepEqual(held.map((u) => u.thumbprint), [renewed.thumbprint]);
    });

    it('accepts an rfc822Name with an apostrophe (Node quotes it in its SAN text; the DER does not)', async () => {
      const obrien = forgeCredential({ email: "o'brien@example.test" }); // OpenSSL's -addext would drop the quote
      const receipt = await gateway.upload(uploadOf(obrien));
      assert.equal(receipt.alreadyPresent, false);
    });

    it('keeps signing and encryption credentials of one device apart', async () => {
      const upload = uploadOf(alice);
      await gateway.upload(upload);
      await gateway.upload({ ...upload, kind: 'encryption' });

      const kinds = (await uploads()).filter((u) => u.deviceUuid === upload.deviceUuid).map((u) => u.kind).sort();
      assert.deepEqual(kinds, ['encryption', 'signing']);
    });

    it('records the legacy profile of a 3DES / SHA-1 MAC PKCS#12', async () => {
      const legacy = await opensslCredential(workDir, { email: 'bob@example.test', profile: 'legacy' });
      const upload = uploadOf(legacy, { profile: 'legacy' });
      await gateway.upload(upload);

      const record = (await uploads()).find((u) => u.deviceUuid === upload.deviceUuid);
      assert.equal(record?.profile, 'legacy');
      assert.equal(record?.algorithms.mac, 'sha1');
    });

    it('sends only the encrypted password when there is one, and the simulator opens the PKCS#12 with it', async () => {
      const passwordEncrypted = await encryptPasswordForRecipient(alice.password, pki.recipientCertPath);
      // A wrong clear password proves it is not sent: were it sent, the simulator would refuse the mismatch.
      const upload = uploadOf(alice, { password: 'not-the-password', passwordForRecipient: passwordEncrypted });
      const receipt = await gateway.upload(upload);

      assert.equal(receipt.alreadyPresent, false);
      const record = (await uploads()).find((u) => u.deviceUuid === upload.deviceUuid);
      assert.equal(record?.passwordTransport, 'encrypted');
      const pass = join(dataDir, 'ceg-sim', 'received', upload.enrollmentUserUuid, upload.deviceUuid, 'signing.pass');
      assert.equal(await readFile(pass, 'utf8'), alice.password);
    });

    it('reuses one TLS connection for consecutive uploads', async () => {
      const client = clientFor();
      const before = await stats();
      await client.upload(uploadOf(alice));
      await client.upload(uploadOf(alice));
      const after = await stats();

      assert.equal(after.uploadRequests - before.uploadRequests, 2);
      assert.equal(after.tlsConnections - before.tlsConnections, 1);
    });

    it('keeps a burst\'s connections open for the next burst instead of handshaking again', async () => {
      const client = clientFor();
      const burst = () => Promise.all(Array.from({ length: 8 }, () => client.upload(uploadOf(alice))));
      await burst();
      const between = await stats();
      await burst();
      const after = await stats();

      assert.equal(after.uploadRequests - between.uploadRequests, 8);
      assert.equal(after.tlsConnections - between.tlsConnections, 0);
    });
  });

  describe('rejected uploads (GatewayRejected, non-retryable)', () => {
    const rejection = async (promise: Promise<unknown>) => {
      const err = await expectFailure(promise, 'GatewayRejected');
      assert.equal(err.nonRetryable, true);
      return err;
    };

    it('refuses data that is not a PKCS#12', async () => {
      const err = await rejection(gateway.upload(uploadOf(alice, { pkcs12: randomBytes(600) })));
      assert.equal(detailsOf(err).httpStatus, 422);
      assert.match(err.message, /not a readable PKCS#12/);
    });

    it('refuses a PKCS#12 the password does not open, without echoing the password', async () => {
      const wrong = 'Wr0ng-' + randomBytes(8).toString('hex');
      const err = await rejection(gateway.upload(uploadOf(alice, { password: wrong })));
      assert.equal(detailsOf(err).httpStatus, 422);
      assert.match(err.message, /password does not open/);
      assert.ok(!err.message.includes(wrong) && !JSON.stringify(err.details).includes(wrong));
    });

    it('refuses a certificate whose SAN rfc822Name is not the email sent', async () => {
      const other = await opensslCredential(workDir, { email: 'carol@example.test', sanEmail: 'mallory@example.test' });
      const err = await rejection(gateway.upload(uploadOf(other)));
      assert.match(err.message, /rfc822Name/);
    });

    it('refuses a thumbprint that matches no certificate in the PKCS#12', async () => {
      const err = await rejection(gateway.upload(uploadOf(alice, { thumbprint: 'ab'.repeat(32) })));
      assert.match(err.message, /thumbprint/);
    });

    it('refuses a certificate without extended key usage emailProtection', async () => {
      const tls = await opensslCredential(workDir, { email: 'dave@example.test', eku: 'clientAuth' });
      const err = await rejection(gateway.upload(uploadOf(tls)));
      assert.match(err.message, /emailProtection/);
    });

    it('refuses a PKCS#12 whose private key is not the certificate\'s', async () => {
      const err = await rejection(gateway.upload(uploadOf(forgeCredential({ email: 'erin@example.test', mismatchedKey: true }))));
      assert.match(err.message, /private key does not belong/);
    });

    it('refuses an expired certificate', async () => {
      const err = await rejection(gateway.upload(uploadOf(forgeCredential({ email: 'frank@example.test', expired: true }))));
      assert.match(err.message, /expired/);
    });

    it('refuses a PKCS#12 whose algorithms are not those of the profile sent', async () => {
      const err = await rejection(gateway.upload(uploadOf(alice, { profile: 'legacy' })));
      assert.match(err.message, /profile/);
    });

    it('refuses an encrypted password the recipient key cannot open', async () => {
      const err = await rejection(gateway.upload(uploadOf(alice, { passwordForRecipient: randomBytes(256).toString('base64') })));
      assert.match(err.message, /passwordEncrypted cannot be decrypted/);
    });

    it('refuses, before sending, an upload that breaks the contract', async () => {
      const before = await stats();
      const err = await rejection(gateway.upload(uploadOf(alice, { email: 'not an address' })));
      assert.match(err.message, /email/);
      assert.equal((await stats()).uploadRequests, before.uploadRequests);
    });

    it('reports 403 when the client certificate is not on the allow list', async () => {
      const unlisted = await opensslClientCertificate(workDir, { certPath: pki.caCertPath, keyPath: pki.caKeyPath });
      const client = clientFor({ clientCertPem: unlisted.certPem, clientKeyPem: unlisted.keyPem });
      const err = await rejection(client.upload(uploadOf(alice)));
      assert.equal(detailsOf(err).httpStatus, 403);
      assert.match(err.message, /client certificate/);
    });

    it('reports a client certificate refused with a TLS alert (OpenSSL s_server as the gateway)', async () => {
      const foreign = await ensureDevPki(join(dataDir, 'foreign'));
      const server = await opensslTlsServer(pki);
      try {
        const client = clientFor({ url: server.url, clientCertPem: foreign.clientCertPem, clientKeyPem: foreign.clientKeyPem });
        const err = await rejection(client.upload(uploadOf(alice)));
        assert.match(err.message, /refused our client certificate during the TLS handshake \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\)/);
      } finally {
        server.stop();
      }
    });
  });

  describe('a client certificate from another CA, at the simulator', () => {
    // Node's TLS server closes such a connection without a TLS alert, which a client cannot tell
    // from a network failure: it stays retryable (and the failure notice names the reset).
    it('is not accepted: the connection is closed and nothing is recorded', async () => {
      const foreign = await ensureDevPki(join(dataDir, 'foreign'));
      const upload = uploadOf(alice);
      const err = await expectFailure(clientFor({ clientCertPem: foreign.clientCertPem, clientKeyPem: foreign.clientKeyPem }).upload(upload), 'GatewayUnavailable');
      assert.match(err.message, /ECONNRESET/);
      assert.equal((await uploads()).filter((u) => u.deviceUuid === upload.deviceUuid).length, 0);
    });
  });

  describe('configuration errors (ConfigurationError, non-retryable)', () => {
    it('refuses a gateway whose server certificate does not chain to the configured CA', async () => {
      const foreign = await ensureDevPki(join(dataDir, 'foreign'));
      const err = await expectFailure(clientFor({ caPem: foreign.caCertPem }).upload(uploadOf(alice)), 'ConfigurationError');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /cannot be verified/);
    });

    it('refuses unusable client TLS material at construction', () => {
      assert.throws(() => clientFor({ clientKeyPem: 'not a key' }), (err: unknown) => err instanceof ConfigError && /CEG_CLIENT_KEY/.test(err.message) && !err.message.includes('not a key'));
    });

    it('refuses a URL that is not https', () => {
      assert.throws(() => clientFor({ url: 'http://127.0.0.1:1' }), (err: unknown) => err instanceof ConfigError && /CEG_URL: must be https/.test(err.message));
    });
  });

  describe('transient failures (GatewayUnavailable, retryable)', () => {
    const unavailable = async (promise: Promise<unknown>) => {
      const err = await expectFailure(promise, 'GatewayUnavailable');
      assert.equal(err.nonRetryable, false);
      return err;
    };

    it('reports 503 as unavailable, and the next upload goes through', async () => {
      await injectFault({ count: 1, status: 503 });
      const upload = uploadOf(alice);
      const err = await unavailable(gateway.upload(upload));
      assert.equal(detailsOf(err).httpStatus, 503);

      const receipt = await gateway.upload(upload);
      assert.equal(receipt.alreadyPresent, false);
    });

    it('passes Retry-After on as the next retry delay', async () => {
      await injectFault({ count: 1, status: 429, retryAfterSeconds: 7 });
      const err = await unavailable(gateway.upload(uploadOf(alice)));
      assert.equal(detailsOf(err).httpStatus, 429);
      assert.equal(err.nextRetryDelay, 7000);
    });

    it('gives up after the timeout when the gateway is slow, and the retry finds the credential already there', async () => {
      await injectFault({ count: 1, delayMs: 1500 });
      const upload = uploadOf(alice);
      const err = await unavailable(clientFor({ timeoutMs: 300 }).upload(upload));
      assert.match(err.message, /no answer within 300 ms/);

      // The slow request was still processed by the gateway: the retry is a harmless repeat.
      await waitFor(async () => (await uploads()).some((u) => u.deviceUuid === upload.deviceUuid), 10_000);
      const receipt = await gateway.upload(upload);
      assert.equal(receipt.alreadyPresent, true);
    });

    it('reports a dropped connection as unavailable', async () => {
      await injectFault({ count: 1, dropConnection: true });
      await unavailable(gateway.upload(uploadOf(alice)));
    });

    it('reports a refused connection as unavailable', async () => {
      const port = await freePort();
      await unavailable(clientFor({ url: `https://127.0.0.1:${port}` }).upload(uploadOf(alice)));
    });
  });

  describe('delete', () => {
    it('removes every credential of the device, and a second delete is harmless', async () => {
      const upload = uploadOf(alice);
      await gateway.upload(upload);
      await gateway.upload({ ...upload, kind: 'encryption' });

      await gateway.delete(upload);
      await gateway.delete(upload);

      assert.equal((await uploads()).filter((u) => u.deviceUuid === upload.deviceUuid).length, 0);
      const deletions = (await admin<SimDeletionRecord[]>('/sim/deletions')).filter((d) => d.deviceUuid === upload.deviceUuid);
      assert.deepEqual(deletions.map((d) => d.removedKinds.sort()), [['encryption', 'signing'], []]);
      await assert.rejects(stat(join(dataDir, 'ceg-sim', 'received', upload.enrollmentUserUuid, upload.deviceUuid)), { code: 'ENOENT' });
    });
  });

  describe('createCegGateway (GATEWAY_TYPE=ceg)', () => {
    const workerConfig = (overrides: Partial<Record<SettingName, string>>) =>
      loadConfig({
        env: {},
        overrides: {
          dataDir,
          cegUrl: sim.url,
          cegClientCertFile: pki.clientCertPath,
          cegClientKeyFile: pki.clientKeyPath,
          cegCaFile: pki.caCertPath,
          gatewayTimeout: '5s',
          ...overrides,
        },
      });

    it('builds the client from the four settings and uploads with them', async () => {
      const client = createCegGateway(workerConfig({}));
      opened.push(client);
      const receipt = await client.upload(uploadOf(alice));
      assert.equal(receipt.alreadyPresent, false);
    });

    it('has no development fallback: the worker names each missing setting', () => {
      const bare = loadConfig({ env: {}, overrides: { dataDir, sealingKeys: `s:${randomBytes(32).toString('base64')}`, codecKeys: `c:${randomBytes(32).toString('base64')}`, devMode: 'true' } });
      assert.throws(
        () => assertConfigFor(bare, 'worker'),
        (err: unknown) => err instanceof ConfigError && ['CEG_URL', 'CEG_CLIENT_CERT', 'CEG_CLIENT_KEY', 'CEG_CA_FILE'].every((key) => err.problems.some((p) => p.startsWith(`${key}: required when GATEWAY_TYPE=ceg`))),
      );
    });

    it('names the setting whose file cannot be read, or holds no PEM', () => {
      assert.throws(() => createCegGateway(workerConfig({ cegClientCertFile: join(workDir, 'missing.crt') })), (err: unknown) => err instanceof ConfigError && /^CEG_CLIENT_CERT: cannot read/.test(err.problems[0]!));
      assert.throws(() => createCegGateway(workerConfig({ cegCaFile: pki.clientKeyPath })), (err: unknown) => err instanceof ConfigError && /^CEG_CA_FILE: .* holds no PEM certificate/.test(err.problems[0]!));
    });
  });
});

async function expectFailure(promise: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, `expected ${type}, got ${err.type}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${type}, but the call succeeded`);
}

function detailsOf(err: ApplicationFailure): Record<string, unknown> {
  return (err.details?.[0] ?? {}) as Record<string, unknown>;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * `openssl s_server` requiring a client certificate from the dev CA and refusing others with a
 * TLS alert, as OpenSSL-, Java- and IIS-based gateways do. One connection, then it exits.
 */
async function opensslTlsServer(pki: DevPki): Promise<{ url: string; stop(): void }> {
  const child = spawn('openssl', [
    's_server', '-accept', '127.0.0.1:0', '-naccept', '1', '-www',
    '-cert', pki.serverCertPath, '-key', pki.serverKeyPath,
    '-CAfile', pki.caCertPath, '-Verify', '1', '-verify_return_error',
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`openssl s_server exited with ${code}: ${seen}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /ACCEPT [^\n]*:(\d+)/.exec(seen);
      if (match) resolve(Number(match[1]));
    });
  });
  return { url: `https://127.0.0.1:${port}`, stop: () => void child.kill() };
}

/** A loopback port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
