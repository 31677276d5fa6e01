/**
 * The escrow store, one suite against both backends: SQLite (a file in a temporary data folder)
 * and PostgreSQL (a real server from the Debian packages, started once, a fresh database per
 * location). Claims, leases, renewal, concurrency (in one process, across connections, and for
 * SQLite across processes), encryption at rest, key rotation and tampering.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants, createPrivateKey, privateDecrypt, publicEncrypt, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { CertificateInfo } from '../../src/domain/credentials';
import { certificateInfo } from '../../src/activities/crypto/certificate-info';
import { generateKeyPair } from '../../src/activities/crypto/keys';
import { Keyring, type KeyringKey } from '../../src/activities/crypto/sealing';
import { importSigningPair, x509 } from '../../src/activities/crypto/x509';
import { createAdapter } from '../../src/activities/adapters';
import { ConfigError, loadConfig, type SettingName } from '../../src/config';
import { databaseRegistry } from '../../src/activities/database/registry';
import {
  SqlEscrowStore,
  ESCROW_ERRORS,
  PostgresEscrowStore,
  SqliteEscrowStore,
  USER_SCOPE,
  type ClaimResult,
  type EscrowKey,
  type EscrowStore,
} from '../../src/activities/escrow';
import { createLogger } from '../../src/logging';
import { closedPort, failsWith } from '../helpers/loopback';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

const logger = createLogger({ level: 'silent' });
const PROJECT_ROOT = join(__dirname, '..', '..');
const DAY_MS = 86_400_000;

interface TestCredential {
  certificate: CertificateInfo;
  privateKeyPkcs8: Buffer;
}

/** A storage location: one SQLite file or one PostgreSQL database. */
interface Location {
  open(keyring: Keyring, options?: { waitPollMs?: number }): Promise<EscrowStore>;
  /** Everything the backend keeps at rest for this location, as bytes. */
  bytesAtRest(): Promise<Buffer>;
  /** Overwrite a column of one credential row with another row's value (a tampering attacker). */
  copyColumn(column: 'key_ciphertext' | 'dek_wrapped', fromId: string, toId: string): Promise<void>;
}

interface Backend {
  name: string;
  newLocation(): Promise<Location>;
}

const kek = (kid: string): KeyringKey => ({ kid, key: randomBytes(32) });

/** The escrow as the worker opens it: the database through its registry, then the escrow on it. */
async function openThroughRegistry(overrides: Partial<Record<SettingName, string>>): Promise<EscrowStore> {
  const database = await createAdapter(databaseRegistry, loadConfig({ env: {}, overrides }), logger);
  return SqlEscrowStore.open(database, { keyring: new Keyring([kek('k1')]), logger, ownsDatabase: true });
}

async function makeCredential(email: string, validDays: number): Promise<TestCredential> {
  const key = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
  const keys = await importSigningPair(key.privateKeyPkcs8);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    name: [{ CN: [email] }, { E: [email] }],
    keys,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY_MS),
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  });
  return { certificate: await certificateInfo(certificate.toString('pem'), []), privateKeyPkcs8: key.privateKeyPkcs8 };
}

const userKey = (user = randomUUID()): EscrowKey => ({ enrollmentUserUuid: user, kind: 'encryption', scope: USER_SCOPE });

function toStore(key: EscrowKey, credential: TestCredential) {
  return { ...key, certificate: credential.certificate, privateKeyPkcs8: credential.privateKeyPkcs8 };
}

function claimed(result: ClaimResult): Extract<ClaimResult, { status: 'claimed' }> {
  assert.equal(result.status, 'claimed', `expected a claim, got ${JSON.stringify({ ...result, credential: undefined })}`);
  return result as Extract<ClaimResult, { status: 'claimed' }>;
}

function counts(results: { status: string }[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const r of results) tally[r.status] = (tally[r.status] ?? 0) + 1;
  return tally;
}

/** Bytes that exist only in the private key: never in the certificate, which is public and stored. */
function secretNeedles(pkcs8: Buffer): { label: string; bytes: Buffer }[] {
  const jwk = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  const d = Buffer.from(jwk.d!, 'base64url');
  const p = Buffer.from(jwk.p!, 'base64url');
  return [
    { label: 'PKCS#8 DER', bytes: pkcs8 },
    { label: 'PKCS#8 base64', bytes: Buffer.from(pkcs8.toString('base64')) },
    { label: 'PKCS#8 hex', bytes: Buffer.from(pkcs8.toString('hex')) },
    { label: 'private exponent', bytes: d },
    { label: 'private exponent hex', bytes: Buffer.from(d.toString('hex')) },
    { label: 'prime p', bytes: p },
  ];
}

const rsaOaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };

describe('escrow store', function () {
  this.timeout(60_000);
  const credentials: TestCredential[] = [];
  let expiringSoon: TestCredential;

  before(async function () {
    this.timeout(120_000);
    for (let i = 0; i < 4; i++) credentials.push(await makeCredential(`user${i}@example.com`, 365));
    expiringSoon = await makeCredential('renew@example.com', 10);
  });
  const cred = (i: number): TestCredential => credentials[i]!;

  // --- SQLite --------------------------------------------------------------------------------
  describe('SQLite backend', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'escrow-sqlite-'));
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    const sqliteLocation = (file: string): Location => ({
      open: (keyring, options = {}) => SqliteEscrowStore.open({ file, keyring, logger, ...options }),
      bytesAtRest: async () =>
        Buffer.concat([file, `${file}-wal`, `${file}-shm`, `${file}-journal`].filter((f) => existsSync(f)).map((f) => readFileSync(f))),
      copyColumn: async (column, fromId, toId) => {
        const db = new Database(file);
        try {
          db.prepare(`UPDATE escrowed_credentials SET ${column} = (SELECT ${column} FROM escrowed_credentials WHERE id = ?) WHERE id = ?`).run(fromId, toId);
        } finally {
          db.close();
        }
      },
    });

    const backend: Backend = {
      name: 'sqlite',
      newLocation: async () => sqliteLocation(join(mkdtempSync(join(dir, 'data-')), 'escrow.db')),
    };
    escrowSuite(backend);

    it('keeps the database file private to its owner (mode 0600, folder 0700)', async () => {
      const dataDir = join(dir, 'fresh', 'data');
      const store = await openThroughRegistry({ escrowStore: 'sqlite', dataDir });
      try {
        assert.equal(store.type, 'sqlite');
        const key = userKey();
        const claim = claimed(await store.claim(key, 'wf-mode'));
        await store.store(claim.claimId, 'wf-mode', toStore(key, cred(0)));
        for (const name of readdirSync(dataDir).filter((n) => n.startsWith('escrow.db'))) {
          assert.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, `${name} mode`);
        }
        assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      } finally {
        await store.close();
      }
    });

    it('two connections to one file: 20 concurrent claimers, one claim, then all get the same credential', async () => {
      const location = await backend.newLocation();
      const keyring = new Keyring([kek('k1')]);
      const [a, b] = [await location.open(keyring), await location.open(keyring)];
      try {
        const key = userKey();
        const owners = Array.from({ length: 20 }, (_, i) => `wf-${i}`);
        const results = await Promise.all(owners.map((owner, i) => (i % 2 ? a : b).claim(key, owner)));
        assert.deepEqual(counts(results), { claimed: 1, wait: 19 });
        const winner = owners[results.findIndex((r) => r.status === 'claimed')]!;
        const claim = claimed(results.find((r) => r.status === 'claimed')!);
        const stored = await a.store(claim.claimId, winner, toStore(key, cred(1)));
        const after = await Promise.all(owners.map((owner, i) => (i % 2 ? b : a).claim(key, owner)));
        for (const r of after) {
          assert.equal(r.status, 'exists');
          assert.equal(r.status === 'exists' && r.credential.id, stored.credential.id);
          assert.ok(r.status === 'exists' && r.credential.privateKeyPkcs8.equals(cred(1).privateKeyPkcs8));
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('four processes racing on one file: exactly one claim among 20 claimers', async function () {
      this.timeout(120_000);
      const file = join(mkdtempSync(join(dir, 'procs-')), 'escrow.db');
      const keyringKey = kek('k1');
      // Create the schema first, so the race is about claims and not about who migrates.
      await (await SqliteEscrowStore.open({ file, keyring: new Keyring([keyringKey]), logger })).close();
      const key = userKey();
      const script = `
        const { SqliteEscrowStore } = require('./src/activities/escrow');
        const { Keyring } = require('./src/activities/crypto/sealing');
        const { createLogger } = require('./src/logging');
        const [file, kid, keyB64, user, prefix] = process.argv.slice(1);
        (async () => {
          const store = await SqliteEscrowStore.open({ file, keyring: new Keyring([{ kid, key: Buffer.from(keyB64, 'base64') }]), logger: createLogger({ level: 'silent' }) });
          process.stdout.write('ready\\n');
          await new Promise((resolve) => process.stdin.once('data', resolve));
          const results = [];
          for (let i = 0; i < 5; i++) {
            const r = await store.claim({ enrollmentUserUuid: user, kind: 'encryption', scope: 'user' }, prefix + '-' + i);
            results.push({ status: r.status, claimId: r.claimId, owner: prefix + '-' + i });
          }
          await store.close();
          process.stdout.write(JSON.stringify(results) + '\\n');
          process.exit(0);
        })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
      `;
      const children = Array.from({ length: 4 }, (_, n) => {
        const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script, file, keyringKey.kid, keyringKey.key.toString('base64'), key.enrollmentUserUuid, `proc${n}`], {
          cwd: PROJECT_ROOT,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const ready = new Promise<void>((resolve, reject) => {
          child.stdout.on('data', () => out.includes('ready\n') && resolve());
          child.once('exit', (code) => reject(new Error(`child ${n} exited ${code} before it was ready: ${err}`)));
        });
        const done = new Promise<{ status: string; claimId?: string; owner: string }[]>((resolve, reject) =>
          child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.split('\n')[1]!)) : reject(new Error(`child ${n} exited ${code}: ${err}`)))),
        );
        return { child, ready, done };
      });
      try {
        await Promise.all(children.map((c) => c.ready));
        for (const c of children) c.child.stdin.end('go\n');
        const results = (await Promise.all(children.map((c) => c.done))).flat();
        assert.equal(results.length, 20);
        assert.deepEqual(counts(results), { claimed: 1, wait: 19 });
        // ...and the winner's claim is the one the file holds.
        const winner = results.find((r) => r.status === 'claimed')!;
        const store = await SqliteEscrowStore.open({ file, keyring: new Keyring([keyringKey]), logger });
        try {
          const again = claimed(await store.claim(key, winner.owner));
          assert.equal(again.claimId, winner.claimId);
        } finally {
          await store.close();
        }
      } finally {
        for (const c of children) if (c.child.exitCode === null) c.child.kill();
      }
    });
  });

  // --- PostgreSQL ----------------------------------------------------------------------------
  describe('PostgreSQL backend', () => {
    let pg: TestPostgres;
    before(async function () {
      this.timeout(120_000);
      pg = await startTestPostgres();
    });
    after(async () => {
      await pg?.stop();
    });

    const backend: Backend = {
      name: 'postgres',
      newLocation: async () => {
        const url = await pg.createDatabase('escrow');
        return {
          open: (keyring, options = {}) => PostgresEscrowStore.open({ connectionString: url, keyring, logger, ...options }),
          bytesAtRest: async () => {
            // The table as a client sees it, and the database's files on disk after a checkpoint.
            const rows = await pg.query<Record<string, unknown>>(url, 'SELECT * FROM escrowed_credentials');
            const cells = rows.flatMap((row) => Object.values(row).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v)))));
            await pg.query(url, 'CHECKPOINT');
            const [database] = await pg.query<{ oid: number }>(url, 'SELECT oid FROM pg_database WHERE datname = current_database()');
            const files = [...walk(join(pg.server.dataDir, 'base', String(database!.oid))), ...walk(join(pg.server.dataDir, 'pg_wal'))];
            return Buffer.concat([...cells, ...files.map((f) => readFileSync(f))]);
          },
          copyColumn: async (column, fromId, toId) => {
            await pg.query(url, `UPDATE escrowed_credentials SET ${column} = (SELECT ${column} FROM escrowed_credentials WHERE id = $1) WHERE id = $2`, [fromId, toId]);
          },
        };
      },
    };
    escrowSuite(backend);

    it('two pools: 20 concurrent claimers, one claim, then all get the same credential', async () => {
      const location = await backend.newLocation();
      const keyring = new Keyring([kek('k1')]);
      const [a, b] = [await location.open(keyring), await location.open(keyring)];
      try {
        const key = userKey();
        const owners = Array.from({ length: 20 }, (_, i) => `wf-${i}`);
        await Promise.all([warmUp(a, key), warmUp(b, key)]);
        const results = await Promise.all(owners.map((owner, i) => (i % 2 ? a : b).claim(key, owner)));
        assert.deepEqual(counts(results), { claimed: 1, wait: 19 });
        const index = results.findIndex((r) => r.status === 'claimed');
        const stored = await b.store(claimed(results[index]!).claimId, owners[index]!, toStore(key, cred(2)));
        const after = await Promise.all(owners.map((owner, i) => (i % 2 ? b : a).claim(key, owner)));
        assert.ok(after.every((r) => r.status === 'exists' && r.credential.id === stored.credential.id));
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('wrong database password: ConfigurationError, without the password in the message', async () => {
      const url = new URL(pg.server.url);
      url.password = 'not-the-password';
      const err = await failsWith(PostgresEscrowStore.open({ connectionString: url.toString(), keyring: new Keyring([kek('k1')]), logger }), 'ConfigurationError', true);
      assert.doesNotMatch(err.message, /not-the-password/);
    });

    it('no server on the port: EscrowUnavailable (retryable)', async () => {
      const url = new URL(pg.server.url);
      url.port = String(await closedPort());
      await failsWith(
        PostgresEscrowStore.open({ connectionString: url.toString(), keyring: new Keyring([kek('k1')]), logger, connectTimeoutMs: 2_000 }),
        ESCROW_ERRORS.Unavailable,
        false,
      );
    });

    it('the registry opens PostgreSQL from ESCROW_DATABASE_URL, and refuses without it', async () => {
      const url = await pg.createDatabase('factory');
      const store = await openThroughRegistry({ escrowStore: 'postgres', escrowDatabaseUrl: url, dataDir: tmpdir() });
      try {
        assert.equal(store.type, 'postgres');
        assert.equal(await store.active(userKey()), undefined);
      } finally {
        await store.close();
      }
      await assert.rejects(
        openThroughRegistry({ escrowStore: 'postgres', dataDir: tmpdir() }),
        (err: unknown) => err instanceof ConfigError && /ESCROW_DATABASE_URL: required/.test(err.message),
      );
    });
  });

  // --- the shared suite ----------------------------------------------------------------------
  function escrowSuite(backend: Backend): void {
    describe(`the same suite (${backend.name})`, () => {
      let location: Location;
      let store: EscrowStore;
      const keyring = new Keyring([kek('k1')]);

      before(async () => {
        location = await backend.newLocation();
        store = await location.open(keyring, { waitPollMs: 1_000 });
      });
      after(async () => store?.close());

      it('grants a claim when nothing is escrowed, and tells another owner to wait', async () => {
        const key = userKey();
        const first = claimed(await store.claim(key, 'wf-a'));
        const second = await store.claim(key, 'wf-b');
        assert.equal(second.status, 'wait');
        assert.ok(second.status === 'wait');
        assert.equal(second.heldBy, 'wf-a');
        assert.ok(second.retryAfterMs >= 100 && second.retryAfterMs <= 1_000, `retryAfterMs ${second.retryAfterMs}`);
        assert.equal(second.leaseExpiresAt, first.leaseExpiresAt);
      });

      it('gives the holder the same claim again, with a renewed lease', async () => {
        const key = userKey();
        const first = claimed(await store.claim(key, 'wf-a', { leaseMs: 60_000 }));
        await sleep(20);
        const again = claimed(await store.claim(key, 'wf-a', { leaseMs: 60_000 }));
        assert.equal(again.claimId, first.claimId);
        assert.ok(Date.parse(again.leaseExpiresAt) > Date.parse(first.leaseExpiresAt));
      });

      it('stores the credential and answers every later claim with it', async () => {
        const key = userKey();
        assert.equal(await store.active(key), undefined);
        const claim = claimed(await store.claim(key, 'wf-a'));
        const result = await store.store(claim.claimId, 'wf-a', toStore(key, cred(0)));
        assert.equal(result.stored, true);
        assert.equal(result.credential.status, 'active');
        assert.equal(result.credential.certificate.thumbprint, cred(0).certificate.thumbprint);
        for (const owner of ['wf-a', 'wf-b']) {
          const answer = await store.claim(key, owner);
          assert.equal(answer.status, 'exists');
          assert.ok(answer.status === 'exists');
          assert.equal(answer.credential.id, result.credential.id);
          assert.ok(answer.credential.privateKeyPkcs8.equals(cred(0).privateKeyPkcs8));
          assert.deepEqual(answer.credential.certificate, cred(0).certificate);
        }
        const active = await store.active(key);
        assert.equal(active?.id, result.credential.id);
        assert.equal((await store.get(result.credential.id))?.id, result.credential.id);
      });

      it('is idempotent: storing again under the same claim returns the same credential', async () => {
        const key = userKey();
        const claim = claimed(await store.claim(key, 'wf-a'));
        const first = await store.store(claim.claimId, 'wf-a', toStore(key, cred(0)));
        const retry = await store.store(claim.claimId, 'wf-a', toStore(key, cred(0)));
        assert.equal(retry.stored, true);
        assert.equal(retry.credential.id, first.credential.id);
        assert.equal((await store.history(key.enrollmentUserUuid)).length, 1);
      });

      it('lets another owner claim once the lease has expired; the old holder then cannot store', async () => {
        const key = userKey();
        const old = claimed(await store.claim(key, 'wf-slow', { leaseMs: 500 }));
        assert.equal((await store.claim(key, 'wf-next')).status, 'wait');
        await sleep(600);
        const next = claimed(await store.claim(key, 'wf-next'));
        assert.notEqual(next.claimId, old.claimId);
        const lost = await failsWith(store.store(old.claimId, 'wf-slow', toStore(key, cred(1))), ESCROW_ERRORS.ClaimLost, true);
        assert.match(lost.message, /claim again/);
        assert.equal(await store.active(key), undefined);
        // Once the new holder has stored, the old one is handed that credential instead.
        const stored = await store.store(next.claimId, 'wf-next', toStore(key, cred(2)));
        const late = await store.store(old.claimId, 'wf-slow', toStore(key, cred(1)));
        assert.equal(late.stored, false);
        assert.equal(late.credential.id, stored.credential.id);
        assert.ok(late.credential.privateKeyPkcs8.equals(cred(2).privateKeyPkcs8));
        assert.equal((await store.history(key.enrollmentUserUuid)).length, 1);
      });

      it('keeps an expired claim for its holder while nobody else has taken it over', async () => {
        const key = userKey();
        const claim = claimed(await store.claim(key, 'wf-a', { leaseMs: 50 }));
        await sleep(100);
        const result = await store.store(claim.claimId, 'wf-a', toStore(key, cred(0)));
        assert.equal(result.stored, true);
      });

      it('release frees the claim for others; a release by another owner changes nothing', async () => {
        const key = userKey();
        const claim = claimed(await store.claim(key, 'wf-a'));
        await store.release(claim.claimId, 'wf-b');
        assert.equal((await store.claim(key, 'wf-b')).status, 'wait');
        await store.release(claim.claimId, 'wf-a');
        claimed(await store.claim(key, 'wf-b'));
        await failsWith(store.store(claim.claimId, 'wf-a', toStore(key, cred(0))), ESCROW_ERRORS.ClaimLost, true);
      });

      it('renews: an expiring credential is replaced, the old one kept (superseded) and still opens', async () => {
        const key = userKey();
        const first = await store.store(claimed(await store.claim(key, 'wf-1')).claimId, 'wf-1', toStore(key, expiringSoon));
        const renewBefore = new Date(Date.now() + 30 * DAY_MS);
        // Without renewBefore, the expiring one still counts; with it, a replacing claim is granted.
        assert.equal((await store.claim(key, 'wf-2')).status, 'exists');
        const renewal = claimed(await store.claim(key, 'wf-2', { renewBefore }));
        assert.equal(renewal.replacing, first.credential.id);
        assert.equal((await store.claim(key, 'wf-3', { renewBefore })).status, 'wait');
        const second = await store.store(renewal.claimId, 'wf-2', toStore(key, cred(3)));
        assert.equal(second.stored, true);

        assert.equal((await store.active(key))?.id, second.credential.id);
        const history = await store.history(key.enrollmentUserUuid, 'encryption');
        assert.deepEqual(history.map((c) => [c.id, c.status]), [[second.credential.id, 'active'], [first.credential.id, 'superseded']]);
        assert.equal(history[1]!.supersededBy, second.credential.id);
        assert.ok(history[1]!.supersededAt);
        // Mail encrypted to the old certificate still opens with the escrowed old key.
        const mailKey = randomBytes(32);
        const wrapped = publicEncrypt({ key: new X509Certificate(expiringSoon.certificate.certificatePem).publicKey, ...rsaOaep }, mailKey);
        const opened = privateDecrypt({ key: createPrivateKey({ key: history[1]!.privateKeyPkcs8, format: 'der', type: 'pkcs8' }), ...rsaOaep }, wrapped);
        assert.ok(opened.equals(mailKey));
        // A renewal of a fresh credential is not needed: it exists.
        assert.equal((await store.claim(key, 'wf-4', { renewBefore })).status, 'exists');
      });

      it('keeps kinds and scopes apart: per-device signing beside the per-user encryption key', async () => {
        const user = randomUUID();
        const encryption = userKey(user);
        const signingDevice1: EscrowKey = { enrollmentUserUuid: user, kind: 'signing', scope: randomUUID() };
        const signingDevice2: EscrowKey = { ...signingDevice1, scope: randomUUID() };
        await store.store(claimed(await store.claim(encryption, 'wf-d1')).claimId, 'wf-d1', toStore(encryption, cred(0)));
        const s1 = claimed(await store.claim(signingDevice1, 'wf-d1'));
        const s2 = claimed(await store.claim(signingDevice2, 'wf-d2'));
        await store.store(s1.claimId, 'wf-d1', toStore(signingDevice1, cred(1)));
        await store.store(s2.claimId, 'wf-d2', toStore(signingDevice2, cred(2)));
        assert.equal((await store.history(user)).length, 3);
        assert.deepEqual((await store.history(user, 'signing')).map((c) => c.scope).sort(), [signingDevice1.scope, signingDevice2.scope].sort());
        assert.equal((await store.active(signingDevice2))?.certificate.thumbprint, cred(2).certificate.thumbprint);
      });

      it('refuses a private key that does not belong to the certificate, and malformed keys', async () => {
        const key = userKey();
        const claim = claimed(await store.claim(key, 'wf-a'));
        const mismatched = { ...toStore(key, cred(0)), privateKeyPkcs8: cred(1).privateKeyPkcs8 };
        const err = await failsWith(store.store(claim.claimId, 'wf-a', mismatched), ESCROW_ERRORS.InvalidInput, true);
        assert.match(err.message, /does not belong/);
        await failsWith(store.claim({ ...key, kind: 'decryption' as 'encryption' }, 'wf-a'), ESCROW_ERRORS.InvalidInput, true);
        await failsWith(store.claim({ ...key, scope: '' }, 'wf-a'), ESCROW_ERRORS.InvalidInput, true);
      });

      it('20 concurrent claimers for one user: exactly one claim; after the store all get the same credential', async () => {
        const key = userKey();
        const owners = Array.from({ length: 20 }, (_, i) => `wf-${i}`);
        await warmUp(store, key);
        const results = await Promise.all(owners.map((owner) => store.claim(key, owner)));
        assert.deepEqual(counts(results), { claimed: 1, wait: 19 });
        const index = results.findIndex((r) => r.status === 'claimed');
        const stored = await store.store(claimed(results[index]!).claimId, owners[index]!, toStore(key, cred(3)));
        const after = await Promise.all(owners.map((owner) => store.claim(key, owner)));
        assert.ok(after.every((r) => r.status === 'exists' && r.credential.id === stored.credential.id && r.credential.privateKeyPkcs8.equals(cred(3).privateKeyPkcs8)));
      });

      it('keeps no private key in the clear at rest', async () => {
        const key = userKey();
        for (const [i, c] of credentials.entries()) {
          const k = { ...key, scope: `scope-${i}` };
          await store.store(claimed(await store.claim(k, 'wf-rest')).claimId, 'wf-rest', toStore(k, c));
        }
        const bytes = await location.bytesAtRest();
        // The scan sees what is stored: the (public) certificates are there...
        const certificateBody = cred(0).certificate.certificatePem.split('\n')[1]!;
        assert.ok(bytes.includes(Buffer.from(certificateBody)), 'the scan should find the stored certificate');
        // ...and no private key, in any encoding.
        for (const c of [...credentials, expiringSoon]) {
          for (const needle of secretNeedles(c.privateKeyPkcs8)) {
            assert.equal(bytes.indexOf(needle.bytes), -1, `${needle.label} of ${c.certificate.subject} found at rest`);
          }
        }
      });

      it('measures claim + store latency', async () => {
        const samples: number[] = [];
        for (let i = 0; i < 25; i++) {
          const key = userKey();
          const started = process.hrtime.bigint();
          const claim = claimed(await store.claim(key, 'wf-bench'));
          await store.store(claim.claimId, 'wf-bench', toStore(key, cred(i % 4)));
          samples.push(Number(process.hrtime.bigint() - started) / 1e6);
        }
        samples.sort((a, b) => a - b);
        const p50 = samples[Math.floor(samples.length / 2)]!;
        const p95 = samples[Math.floor(samples.length * 0.95)]!;
        console.log(`      claim+store latency (${backend.name}): p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, n=${samples.length}`);
        assert.ok(p50 < 1_000, `p50 ${p50} ms`);
      });

      describe('keys', () => {
        it('rotation: rewrap under a new KEK; with the old KEK removed, everything still opens', async () => {
          const isolated = await backend.newLocation();
          const k1 = kek('kek-2024');
          const k2 = kek('kek-2025');
          const before = await isolated.open(new Keyring([k1]));
          const users = [userKey(), userKey()];
          try {
            for (const [i, key] of users.entries()) {
              await before.store(claimed(await before.claim(key, 'wf-r')).claimId, 'wf-r', toStore(key, cred(i)));
            }
            assert.deepEqual(await before.rewrap(new Keyring([k2, k1])), { rewrapped: 2 });
            assert.deepEqual(await before.rewrap(new Keyring([k2, k1])), { rewrapped: 0 });
            // The store now seals with the new key too.
            const third = userKey();
            await before.store(claimed(await before.claim(third, 'wf-r')).claimId, 'wf-r', toStore(third, cred(2)));
            users.push(third);
          } finally {
            await before.close();
          }
          const after = await isolated.open(new Keyring([k2]));
          try {
            for (const [i, key] of users.entries()) {
              assert.ok((await after.active(key))?.privateKeyPkcs8.equals(cred(i).privateKeyPkcs8), `user ${i}`);
            }
            // Only the old KEK: a typed failure that names the key id it lacks.
            const stale = await isolated.open(new Keyring([k1]));
            try {
              const err = await failsWith(stale.active(users[0]!), 'SealingError', true);
              assert.match(err.message, /"kek-2025"/);
            } finally {
              await stale.close();
            }
          } finally {
            await after.close();
          }
        });

        it('a different key under the same kid: SealingError naming the kid', async () => {
          const isolated = await backend.newLocation();
          const key = userKey();
          const writer = await isolated.open(new Keyring([kek('kek-a')]));
          try {
            await writer.store(claimed(await writer.claim(key, 'wf')).claimId, 'wf', toStore(key, cred(0)));
          } finally {
            await writer.close();
          }
          const impostor = await isolated.open(new Keyring([kek('kek-a')]));
          try {
            const err = await failsWith(impostor.history(key.enrollmentUserUuid), 'SealingError', true);
            assert.match(err.message, /"kek-a"/);
            await failsWith(impostor.rewrap(new Keyring([kek('kek-b'), kek('kek-a')])), 'SealingError', true);
          } finally {
            await impostor.close();
          }
        });

        it('a ciphertext or wrapped data key moved onto another row does not open', async () => {
          const isolated = await backend.newLocation();
          const ring = new Keyring([kek('k1')]);
          const s = await isolated.open(ring);
          try {
            const [victim, attacker] = [userKey(), userKey()];
            const v = await s.store(claimed(await s.claim(victim, 'wf')).claimId, 'wf', toStore(victim, cred(0)));
            const a = await s.store(claimed(await s.claim(attacker, 'wf')).claimId, 'wf', toStore(attacker, cred(1)));
            await isolated.copyColumn('key_ciphertext', v.credential.id, a.credential.id);
            await failsWith(s.active(attacker), 'SealingError', true);
            await isolated.copyColumn('dek_wrapped', v.credential.id, a.credential.id);
            await failsWith(s.active(attacker), 'SealingError', true);
            assert.ok((await s.active(victim))?.privateKeyPkcs8.equals(cred(0).privateKeyPkcs8));
          } finally {
            await s.close();
          }
        });
      });
    });
  }
});

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/** Open the pool's connections first, so the claims that follow really run side by side. */
async function warmUp(store: EscrowStore, key: EscrowKey): Promise<void> {
  await Promise.all(Array.from({ length: 10 }, () => store.active(key)));
}
