/**
 * The CEG simulator itself, spoken to directly over HTTPS with the dev client certificate: the
 * contract's error answers, the admin API, persistence across restarts, and the process entry.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CegGateway } from '../../src/activities/ceg/ceg-gateway';
import { credentialPath, PROBLEM_MEDIA_TYPE } from '../../src/activities/ceg/wire-contract';
import { ensureDevPki, type DevPki } from '../../src/peers/dev-pki';
import { startCegSimulator, type CegSimulator, type SimUploadRecord } from '../../src/peers/ceg-sim';
import { encryptPasswordForRecipient, forgeCredential, opensslCredential, thumbprintOfPem, uploadOf, type TestCredential } from '../unit/ceg/credential-fixtures';

const run = promisify(execFile);

interface RawAnswer {
  status: number;
  contentType: string;
  body: any;
}

describe('CEG simulator', function () {
  this.timeout(30_000);
  let dataDir: string;
  let pki: DevPki;
  let sim: CegSimulator;
  let alice: TestCredential;

  /** One HTTPS call with the dev client certificate, no client library in between. */
  const raw = (method: string, path: string, body?: string | Buffer, contentType = 'application/json'): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const req = request(
        new URL(path, sim.url),
        {
          method,
          ca: pki.caCertPem,
          cert: pki.clientCertPem,
          key: pki.clientKeyPem,
          agent: false,
          headers: body === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: text ? JSON.parse(text) : undefined });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const bodyOf = (credential: TestCredential, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ pkcs12: credential.pkcs12.toString('base64'), password: credential.password, thumbprint: credential.thumbprint, email: credential.email, ...extra });
  const slotPath = () => credentialPath(crypto.randomUUID(), crypto.randomUUID(), 'signing');
  const encryptionPath = () => credentialPath(crypto.randomUUID(), crypto.randomUUID(), 'encryption');
  const admin = async (path: string, init?: RequestInit) => fetch(`${sim.adminUrl}${path}`, init);

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ceg-sim-test-'));
    await mkdir(join(dataDir, 'work'));
    pki = await ensureDevPki(dataDir);
    sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint.toUpperCase()], pki });
    alice = await opensslCredential(join(dataDir, 'work'), { email: 'alice@example.test' });
  });

  after(async () => {
    await sim?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('contract answers', () => {
    it('answers 201 "created" with a receipt, then 200 "already-present" with the same receipt', async () => {
      const path = slotPath();
      const first = await raw('PUT', path, bodyOf(alice));
      const second = await raw('PUT', path, bodyOf(alice));

      assert.equal(first.status, 201);
      assert.equal(first.body.status, 'created');
      assert.equal(first.body.thumbprint, alice.thumbprint);
      assert.equal(second.status, 200);
      assert.deepEqual(second.body, { ...first.body, status: 'already-present' });
    });

    it('answers 415 problem+json to a body that is not application/json', async () => {
      const answer = await raw('PUT', slotPath(), 'pkcs12=abc', 'application/x-www-form-urlencoded');
      assert.equal(answer.status, 415);
      assert.equal(answer.contentType.split(';')[0], PROBLEM_MEDIA_TYPE);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:unsupported-media-type');
    });

    it('answers 400 to a body that is not JSON', async () => {
      const answer = await raw('PUT', slotPath(), '{"pkcs12":');
      assert.equal(answer.status, 400);
      assert.equal(answer.body.detail, 'the body is not JSON');
    });

    it('answers 400 naming the broken fields, without their values', async () => {
      const answer = await raw('PUT', slotPath(), bodyOf(alice, { thumbprint: 'xyz', email: 'nobody' }));
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body.errors.map((e: { path: string }) => e.path).sort(), ['email', 'thumbprint']);
      assert.ok(!JSON.stringify(answer.body).includes('nobody'));
    });

    it('answers 400 to a path that does not name two UUIDs and a kind', async () => {
      const answer = await raw('PUT', `/api/v1/credentials/not-a-uuid/${crypto.randomUUID()}/signing`, bodyOf(alice));
      assert.equal(answer.status, 400);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:invalid-path');
    });

    it('answers 413 to a body over 1 MiB', async () => {
      const answer = await raw('PUT', slotPath(), JSON.stringify({ pkcs12: 'A'.repeat(1_100_000) }));
      assert.equal(answer.status, 413);
    });

    it('answers 404 problem+json outside the contract', async () => {
      const answer = await raw('GET', '/api/v1/credentials');
      assert.equal(answer.status, 404);
      assert.equal(answer.contentType.split(';')[0], PROBLEM_MEDIA_TYPE);
    });

    it('answers 422 when password and passwordEncrypted disagree', async () => {
      const passwordEncrypted = await encryptPasswordForRecipient('something else', pki.recipientCertPath);
      const answer = await raw('PUT', slotPath(), bodyOf(alice, { passwordEncrypted }));
      assert.equal(answer.status, 422);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:password-mismatch');
    });

    it('records concurrent identical uploads to one slot once', async () => {
      const path = slotPath();
      const answers = await Promise.all([0, 1, 2].map(() => raw('PUT', path, bodyOf(alice))));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 201]);
      const deviceUuid = path.split('/')[5];
      const held = ((await (await admin('/sim/uploads')).json()) as SimUploadRecord[]).filter((u) => u.deviceUuid === deviceUuid);
      assert.equal(held.length, 1);
    });
  });

  describe('archived credentials', () => {
    const work = () => join(dataDir, 'work');
    const archivedOf = (...credentials: TestCredential[]) => credentials.map((c) => ({ pkcs12: c.pkcs12.toString('base64'), thumbprint: c.thumbprint }));
    const held = async (path: string) => {
      const [, , , , enrollmentUserUuid, deviceUuid, kind] = path.split('/');
      return ((await (await admin('/sim/uploads')).json()) as SimUploadRecord[]).find((u) => u.enrollmentUserUuid === enrollmentUserUuid && u.deviceUuid === deviceUuid && u.kind === kind);
    };
    /** The certificate thumbprint OpenSSL reads from a stored archived file, opened with the slot's password file. */
    const storedThumbprint = async (path: string, thumbprint: string) => {
      const [, , , , enrollmentUserUuid, deviceUuid, kind] = path.split('/');
      const dir = join(dataDir, 'ceg-sim', 'received', enrollmentUserUuid!, deviceUuid!);
      const { stdout } = await run('openssl', ['pkcs12', '-in', join(dir, `${kind}.archived`, `${thumbprint}.p12`), '-clcerts', '-nokeys', '-legacy', '-passin', `file:${join(dir, `${kind}.pass`)}`]);
      return thumbprintOfPem(stdout.slice(stdout.indexOf('-----BEGIN')));
    };

    it('accepts earlier keys with an encryption upload (an expired one, one for an old address), stores them and lists their thumbprints', async () => {
      const current = await opensslCredential(work(), { email: 'ines@example.test' });
      const older = await opensslCredential(work(), { email: 'ines@example.test', password: current.password });
      const expired = forgeCredential({ email: 'ines@old-name.example', expired: true, password: current.password });
      const path = encryptionPath();

      const first = await raw('PUT', path, bodyOf(current, { archived: archivedOf(older, expired) }));
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.deepEqual((await held(path))?.archivedThumbprints, [older.thumbprint, expired.thumbprint]);
      assert.equal(await storedThumbprint(path, older.thumbprint), older.thumbprint);
      assert.equal(await storedThumbprint(path, expired.thumbprint), expired.thumbprint);

      const repeat = await raw('PUT', path, bodyOf(current, { archived: archivedOf(older, expired) }));
      assert.equal(repeat.status, 200);
      assert.equal(repeat.body.status, 'already-present');
    });

    it('a replacement brings its own archived list: files it does not name are removed', async () => {
      const first = await opensslCredential(work(), { email: 'jon@example.test' });
      const oldest = forgeCredential({ email: 'jon@example.test', password: first.password });
      const path = encryptionPath();
      assert.equal((await raw('PUT', path, bodyOf(first, { archived: archivedOf(oldest) }))).status, 201);

      // The renewal: `second` replaces `first`, with a history of its own.
      const second = await opensslCredential(work(), { email: 'jon@example.test' });
      const earlier = await opensslCredential(work(), { email: 'jon@example.test', password: second.password });
      const answer = await raw('PUT', path, bodyOf(second, { archived: archivedOf(earlier) }));
      assert.equal(answer.status, 201);
      assert.equal(answer.body.status, 'replaced');
      assert.deepEqual((await held(path))?.archivedThumbprints, [earlier.thumbprint]);
      const [, , , , user, device] = path.split('/');
      assert.deepEqual(await readdir(join(dataDir, 'ceg-sim', 'received', user!, device!, 'encryption.archived')), [`${earlier.thumbprint}.p12`]);
    });

    it('answers 400 archived-not-allowed to archived credentials on a signing upload', async () => {
      const older = await opensslCredential(work(), { email: alice.email, password: alice.password });
      const answer = await raw('PUT', slotPath(), bodyOf(alice, { archived: archivedOf(older) }));
      assert.equal(answer.status, 400);
      assert.equal(answer.contentType.split(';')[0], PROBLEM_MEDIA_TYPE);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:archived-not-allowed');
    });

    it('answers 422 naming the entry when an archived file does not open with the password, and stores nothing', async () => {
      const current = await opensslCredential(work(), { email: 'kim@example.test' });
      const older = await opensslCredential(work(), { email: 'kim@example.test', password: current.password });
      const otherPassword = await opensslCredential(work(), { email: 'kim@example.test' });
      const path = encryptionPath();
      const answer = await raw('PUT', path, bodyOf(current, { archived: archivedOf(older, otherPassword) }));
      assert.equal(answer.status, 422);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:wrong-password');
      assert.deepEqual(answer.body.errors.map((e: { path: string }) => e.path), ['archived.1']);
      assert.equal(await held(path), undefined);
    });

    it('answers 422 when an archived file holds a key that is not its certificate\'s', async () => {
      const current = await opensslCredential(work(), { email: 'lea@example.test' });
      const broken = forgeCredential({ email: 'lea@example.test', mismatchedKey: true, password: current.password });
      const answer = await raw('PUT', encryptionPath(), bodyOf(current, { archived: archivedOf(broken) }));
      assert.equal(answer.status, 422);
      assert.equal(answer.body.type, 'urn:smime-escrow-provider:ceg:key-mismatch');
    });

    it('the client sends archived credentials with an encryption upload and refuses them on a signing one', async () => {
      const current = await opensslCredential(work(), { email: 'max@example.test' });
      const older = await opensslCredential(work(), { email: 'max@example.test', password: current.password });
      const client = new CegGateway({ url: sim.url, clientCertPem: pki.clientCertPem, clientKeyPem: pki.clientKeyPem, caPem: pki.caCertPem, timeoutMs: 10_000 });
      try {
        assert.equal(client.carriesArchived, true);
        const archived = [{ pkcs12: older.pkcs12, thumbprint: older.thumbprint.toUpperCase(), notAfter: new Date().toISOString() }];
        const upload = uploadOf(current, { kind: 'encryption', archived });
        await client.upload(upload);
        const path = credentialPath(upload.enrollmentUserUuid, upload.deviceUuid, 'encryption');
        assert.deepEqual((await held(path))?.archivedThumbprints, [older.thumbprint]);

        const before = ((await (await admin('/sim/stats')).json()) as { uploadRequests: number }).uploadRequests;
        await assert.rejects(client.upload(uploadOf(current, { kind: 'signing', archived })), (err: Error & { type?: string }) => err.type === 'GatewayRejected');
        const after = ((await (await admin('/sim/stats')).json()) as { uploadRequests: number }).uploadRequests;
        assert.equal(after, before, 'nothing was sent');
      } finally {
        await client.close();
      }
    });
  });

  describe('admin API', () => {
    it('listens on 127.0.0.1 only', async () => {
      const port = Number(new URL(sim.adminUrl).port);
      assert.equal(new URL(sim.adminUrl).hostname, '127.0.0.1');
      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.2', port }, () => (socket.destroy(), resolve()));
          socket.on('error', reject);
        }),
        { code: 'ECONNREFUSED' },
      );
    });

    it('refuses a fault plan it cannot apply', async () => {
      const response = await admin('/sim/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 2 }) });
      assert.equal(response.status, 400);
    });

    it('counts a fault plan down upload by upload', async () => {
      await admin('/sim/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 2, status: 500 }) });
      assert.equal((await raw('PUT', slotPath(), bodyOf(alice))).status, 500);
      assert.deepEqual(await (await admin('/sim/faults')).json(), { count: 1, status: 500 });
      assert.equal((await raw('PUT', slotPath(), bodyOf(alice))).status, 500);
      assert.equal((await raw('PUT', slotPath(), bodyOf(alice))).status, 201);
    });

    it('forgets everything, files included, on DELETE /sim/uploads', async () => {
      await raw('PUT', slotPath(), bodyOf(alice));
      const reset = await admin('/sim/uploads', { method: 'DELETE' });
      assert.equal(reset.status, 204);
      assert.deepEqual(await (await admin('/sim/uploads')).json(), []);
      assert.deepEqual(await readdir(join(dataDir, 'ceg-sim', 'received')), []);
    });
  });

  it('still knows what it holds after a restart', async () => {
    const path = slotPath();
    assert.equal((await raw('PUT', path, bodyOf(alice))).status, 201);
    await sim.close();
    sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki });

    const again = await raw('PUT', path, bodyOf(alice));
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'already-present');
  });

  it('runs as a process from its settings, trusting the dev client by default, and stops on SIGTERM', async function () {
    this.timeout(60_000);
    const processDir = join(dataDir, 'process');
    const [port, adminPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', 'src/peers/ceg-sim/main.ts'], {
      cwd: process.cwd(),
      env: { ...process.env, DATA_DIR: processDir, CEG_SIM_PORT: String(port), CEG_SIM_ADMIN_PORT: String(adminPort), CEG_SIM_ALLOWED_THUMBPRINTS: '', LOG_LEVEL: 'warn', CONFIG_FILE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
      });
      assert.match(banner, new RegExp(`gateway https://127\\.0\\.0\\.1:${port} .*admin http://127\\.0\\.0\\.1:${adminPort}/sim/uploads`));

      const processPki = await ensureDevPki(processDir);
      const client = new CegGateway({ url: `https://127.0.0.1:${port}`, clientCertPem: processPki.clientCertPem, clientKeyPem: processPki.clientKeyPem, caPem: processPki.caCertPem, timeoutMs: 10_000 });
      try {
        const receipt = await client.upload(uploadOf(alice));
        assert.equal(receipt.alreadyPresent, false);
      } finally {
        await client.close();
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

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
