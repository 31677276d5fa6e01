import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { ensureDevPki, type DevPki } from '../../../src/peers/dev-pki';

const run = promisify(execFile);
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('dev PKI', function () {
  this.timeout(30_000);
  let dataDir: string;
  let pki: DevPki;
  const logLines: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dev-pki-test-'));
    const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) });
    pki = await ensureDevPki(dataDir, pino({ level: 'info' }, sink));
  });

  after(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps private keys 0600 in a 0700 folder', async () => {
    assert.equal((await stat(pki.dir)).mode & 0o777, 0o700);
    for (const key of [pki.caKeyPath, pki.serverKeyPath, pki.clientKeyPath, pki.recipientKeyPath]) {
      assert.equal((await stat(key)).mode & 0o777, 0o600, key);
    }
  });

  it('issues a server certificate for localhost, 127.0.0.1 and ::1 with EKU serverAuth, signed by the dev CA', () => {
    const ca = new X509Certificate(pki.caCertPem);
    const server = new X509Certificate(pki.serverCertPem);
    assert.ok(server.verify(ca.publicKey));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkIP('::1'), '::1');
    assert.deepEqual(server.keyUsage, [EKU_SERVER_AUTH]);
    assert.equal(ca.ca, true);
  });

  it('issues the dev client certificate with EKU clientAuth and reports its SHA-256 thumbprint', () => {
    const client = new X509Certificate(pki.clientCertPem);
    assert.match(client.subject, /CN=smime-escrow-provider dev client/);
    assert.deepEqual(client.keyUsage, [EKU_CLIENT_AUTH]);
    assert.equal(pki.clientThumbprint, createHash('sha256').update(client.raw).digest('hex'));
  });

  it('issues an RSA gateway recipient certificate that OpenSSL verifies against the dev CA', async () => {
    const recipient = new X509Certificate(pki.recipientCertPem);
    assert.equal(recipient.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(recipient.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const { stdout } = await run('openssl', ['verify', '-CAfile', pki.caCertPath, pki.recipientCertPath, pki.clientCertPath, pki.serverCertPath]);
    assert.equal(stdout.match(/: OK/g)?.length, 3);
  });

  it('logs its creation once, with paths and without key material', async () => {
    await ensureDevPki(dataDir);
    const created = logLines.filter((l) => l.includes('created the development PKI'));
    assert.equal(created.length, 1);
    assert.ok(created[0]!.includes(pki.caCertPath));
    assert.ok(!logLines.join('').includes('PRIVATE KEY'));
  });

  it('returns the same PKI on later calls', async () => {
    const again = await ensureDevPki(dataDir);
    assert.equal(again.clientThumbprint, pki.clientThumbprint);
    assert.equal(again.caCertPem, pki.caCertPem);
  });

  it('gives two processes starting at once the same PKI', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'dev-pki-race-'));
    try {
      const script = `require('./src/peers/dev-pki').ensureDevPki(${JSON.stringify(fresh)}).then((p) => process.stdout.write(p.clientThumbprint + ' ' + p.caCertPem.length))`;
      const child = () => run(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: process.cwd() });
      const [first, second] = await Promise.all([child(), child()]);
      assert.match(first.stdout, /^[0-9a-f]{64} \d+$/);
      assert.equal(second.stdout, first.stdout);
      assert.equal((await child()).stdout, first.stdout);
      assert.deepEqual(await readdir(fresh), ['dev-pki'], 'no staging folder is left behind');
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('says which file is missing when the folder was damaged', async () => {
    const damaged = await mkdtemp(join(tmpdir(), 'dev-pki-damaged-'));
    try {
      const made = await ensureDevPki(damaged);
      await unlink(made.clientKeyPath);
      const script = `require('./src/peers/dev-pki').ensureDevPki(${JSON.stringify(damaged)}).catch((e) => { process.stdout.write(e.message); })`;
      const { stdout } = await run(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: process.cwd() });
      assert.match(stdout, /incomplete \(client\.key: ENOENT\); delete the folder/);
    } finally {
      await rm(damaged, { recursive: true, force: true });
    }
  });
});
