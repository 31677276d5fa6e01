/**
 * The credential register, one suite against both databases the provider runs on: SQLite (a file
 * in a temporary folder) and PostgreSQL (a real server from the Debian packages, a fresh database
 * per test). Every method the lifecycle, the fleet sweeps and the API use, with the same rows, so a
 * query one dialect accepts and the other refuses (or types differently) fails here.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, Sealer } from '../../src/activities/crypto/sealing';
import type { ProviderDatabase } from '../../src/activities/database/database';
import { PostgresDatabase } from '../../src/activities/database/postgres-database';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { CredentialRegister, type NewRequest } from '../../src/activities/register/credential-register';
import type { CertificateInfo } from '../../src/domain/credentials';
import type { CredentialKind } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

const logger = createLogger({ level: 'silent' });
const DAY_MS = 86_400_000;

interface Backend {
  name: string;
  open(): Promise<ProviderDatabase>;
}

const folders: string[] = [];
let postgres: TestPostgres | undefined;

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'register-'));
      folders.push(dir);
      return SqliteDatabase.open({ file: join(dir, 'provider.db'), logger });
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      postgres ??= await startTestPostgres();
      return PostgresDatabase.open({ connectionString: await postgres.createDatabase('register'), logger });
    },
  },
];

after(async () => {
  await postgres?.stop();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

for (const backend of BACKENDS) {
  describe(`credential register on ${backend.name}`, function () {
    this.timeout(120_000);
    let db: ProviderDatabase;
    let register: CredentialRegister;
    let serial = 0;

    beforeEach(async () => {
      db = await backend.open();
      register = await CredentialRegister.open(db, new Sealer(new Keyring([{ kid: 'k1', key: randomBytes(32) }])));
    });
    afterEach(async () => db?.close());

    function request(user: string, device: string, kind: CredentialKind, extra: Partial<NewRequest> = {}): NewRequest {
      return {
        requestKey: `${user}/${device}/${kind}/${randomUUID()}`,
        workflowId: `smime-${user}-${device}`,
        runId: randomUUID(),
        enrollmentUserUuid: user,
        deviceUuid: device,
        kind,
        email: `${user}@example.test`,
        ...extra,
      };
    }

    function certificate(notAfterMs: number): CertificateInfo {
      serial += 1;
      return {
        certificatePem: '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n',
        chainPem: [],
        serial: serial.toString(16).padStart(16, '0'),
        thumbprint: randomBytes(32).toString('hex'),
        notBefore: new Date(notAfterMs - 365 * DAY_MS).toISOString(),
        notAfter: new Date(notAfterMs).toISOString(),
        subject: 'CN=test',
        issuer: 'CN=Test CA',
      };
    }

    /** A credential taken through requested → issued → active, as a delivery does. */
    async function delivered(user: string, device: string, kind: CredentialKind, options: { notAfterMs?: number; deliveredAt?: string; escrowId?: string; runId?: string } = {}) {
      const row = await register.begin(request(user, device, kind, { privateKeyPkcs8: options.escrowId ? undefined : randomBytes(48), ...(options.runId ? { runId: options.runId } : {}) }));
      await register.markIssued(row.requestKey, { certificate: certificate(options.notAfterMs ?? Date.now() + 365 * DAY_MS), escrowId: options.escrowId });
      return register.markDelivered(row.requestKey, { gateway: 'ceg', deliveredAt: options.deliveredAt ?? new Date().toISOString(), pkcs12Profile: 'legacy' });
    }

    it('begin is idempotent per request key and keeps the private key encrypted, readable only through the register', async () => {
      const key = randomBytes(64);
      const asked = request('u1', 'd1', 'signing', { privateKeyPkcs8: key, csrPem: 'CSR' });
      const first = await register.begin(asked);
      const again = await register.begin({ ...asked, privateKeyPkcs8: randomBytes(64) });
      assert.equal(again.id, first.id);
      assert.equal(first.state, 'requested');
      assert.equal(first.holdsKey, true);
      assert.deepEqual(await register.privateKey(first), key, 'the first key stays');
      assert.equal(typeof first.createdAt, 'string');
      assert.ok(!Number.isNaN(Date.parse(first.createdAt)), 'times come back as ISO 8601 text');
    });

    it('moves requested → pending → issued → active; a repeat of an earlier step changes nothing', async () => {
      const row = await register.begin(request('u1', 'd1', 'signing', { privateKeyPkcs8: randomBytes(48) }));
      await register.markPending(row.requestKey, 'ca-1');
      const issuedCertificate = certificate(Date.parse('2027-12-01T00:00:00Z'));
      await register.markIssued(row.requestKey, { certificate: issuedCertificate });
      await register.markPending(row.requestKey, 'ca-2');
      const issued = (await register.byRequestKey(row.requestKey))!;
      assert.equal(issued.state, 'issued');
      assert.equal(issued.caRequestId, 'ca-1', 'a late pending does not step back');
      assert.equal(issued.notAfter, '2027-12-01T00:00:00.000Z');
      assert.equal(issued.serialNumber, issuedCertificate.serial);
      assert.equal(issued.holdsKey, true, 'a device credential keeps its key until delivery');
      const active = await register.markDelivered(row.requestKey, { gateway: 'ceg', deliveredAt: '2026-12-01T10:00:00Z', pkcs12Profile: 'modern' });
      assert.equal(active.state, 'active');
      assert.equal(active.deliveredAt, '2026-12-01T10:00:00.000Z');
      assert.equal(active.holdsKey, false, 'the device key is wiped at delivery');
      assert.equal(await register.privateKey(active), undefined);
    });

    it('an escrowed (shared) credential drops the row\'s copy of the key when issued', async () => {
      const row = await register.begin(request('u1', 'd1', 'encryption', { privateKeyPkcs8: randomBytes(48) }));
      await register.markIssued(row.requestKey, { certificate: certificate(Date.now() + DAY_MS), escrowId: 'escrow-1' });
      const issued = (await register.byRequestKey(row.requestKey))!;
      assert.equal(issued.escrowId, 'escrow-1');
      assert.equal(issued.holdsKey, false);
    });

    it('a newer delivery of the same kind supersedes the device\'s active credential; supersededSigning lists it, never an escrowed one', async () => {
      const old = await delivered('u1', 'd1', 'signing');
      await delivered('u1', 'd1', 'encryption', { escrowId: 'escrow-1' });
      const renewed = await delivered('u1', 'd1', 'signing');
      await delivered('u1', 'd1', 'encryption', { escrowId: 'escrow-2' });
      const states = await register.ofDevice('u1', 'd1', ['active', 'superseded']);
      assert.deepEqual(states.map((c) => [c.kind, c.state]), [['signing', 'superseded'], ['encryption', 'superseded'], ['signing', 'active'], ['encryption', 'active']]);
      assert.match((await register.byRequestKey(old.requestKey))!.stateReason ?? '', new RegExp(renewed.serialNumber!));
      assert.deepEqual((await register.supersededSigning('u1', 'd1')).map((c) => c.id), [old.id]);
      await register.retire(old.id, 'revoked', 'superseded');
      assert.deepEqual(await register.supersededSigning('u1', 'd1'), [], 'a revoked one is not asked for again');
    });

    it('holders: one entry per device (two active credentials, one device), filtered, paged by cursor without a device on two pages', async () => {
      const soon = Date.now() + 10 * DAY_MS;
      const late = Date.now() + 300 * DAY_MS;
      for (let i = 0; i < 5; i += 1) {
        await delivered(`u${i}`, `d${i}`, 'signing', { notAfterMs: i % 2 === 0 ? soon : late, deliveredAt: `2026-0${i + 1}-01T00:00:00Z` });
        await delivered(`u${i}`, `d${i}`, 'encryption', { notAfterMs: late, escrowId: `e${i}` });
      }
      const all: string[] = [];
      let after = 0;
      for (let pages = 0; ; pages += 1) {
        assert.ok(pages < 10, 'the cursor moves');
        const page = await register.holders({}, { after, limit: 2 });
        all.push(...page.devices.map((d) => d.deviceUuid));
        if (page.nextAfter === undefined) break;
        after = page.nextAfter;
      }
      assert.deepEqual(all, ['d0', 'd1', 'd2', 'd3', 'd4'], 'every device once, in delivery order');

      const expiring = await register.holders({ expiringBefore: new Date(Date.now() + 30 * DAY_MS).toISOString() }, { after: 0, limit: 100 });
      assert.deepEqual(expiring.devices.map((d) => d.deviceUuid), ['d0', 'd2', 'd4']);
      assert.equal(expiring.devices[0]!.notAfter, new Date(soon).toISOString(), 'the earliest notAfter of the device');
      assert.equal(expiring.devices[0]!.email, 'u0@example.test');
      assert.equal(typeof expiring.devices[0]!.seq, 'number');
      assert.equal(expiring.nextAfter, undefined);

      assert.deepEqual((await register.holders({ userUuid: 'u3' }, { after: 0, limit: 100 })).devices.map((d) => d.deviceUuid), ['d3']);
      assert.deepEqual((await register.holders({ deviceUuid: 'd1' }, { after: 0, limit: 100 })).devices.map((d) => d.deviceUuid), ['d1']);
      assert.deepEqual((await register.holders({ deliveredBefore: '2026-02-15T00:00:00Z' }, { after: 0, limit: 100 })).devices.map((d) => d.deviceUuid), ['d0', 'd1']);
    });

    it('a scan: devices it saw are not unseen; unseenShare counts devices, not credentials; a forgotten scan sees nothing', async () => {
      for (const device of ['d1', 'd2', 'd3']) {
        await delivered('u1', device, 'signing');
        await delivered('u1', device, 'encryption', { escrowId: 'e1' });
      }
      const scan = `scan-${randomUUID()}`;
      await register.markSeen(scan, ['d1', 'd3', 'd-not-held']);
      await register.markSeen(scan, ['d1']);
      assert.deepEqual(await register.unseenShare(scan), { holders: 3, unseen: 1 });
      assert.deepEqual((await register.unseenHolders(scan, { after: 0, limit: 10 })).devices.map((d) => d.deviceUuid), ['d2']);
      assert.deepEqual([...(await register.devicesHoldingActive(['d1', 'd2', 'd-not-held']))].sort(), ['d1', 'd2']);
      await register.forgetScan(scan);
      assert.deepEqual(await register.unseenShare(scan), { holders: 3, unseen: 3 });
    });

    it('profile re-installs: queued once per run, pending per sweep or all, gone once notified', async () => {
      const entry = (sweepId: string, device: string) => ({ workflowId: `smime-u1-${device}`, runId: `run-${device}`, sweepId, reason: 'expires within 30 days', enrollmentUserUuid: 'u1', deviceUuid: device, serialNumber: '0a', email: 'u1@example.test' });
      await register.queueReinstall(entry('sweep-a', 'd1'));
      await register.queueReinstall(entry('sweep-a', 'd1'));
      await register.queueReinstall(entry('sweep-a', 'd2'));
      await register.queueReinstall(entry('sweep-b', 'd3'));
      const ofA = await register.pendingReinstalls('sweep-a', 100);
      assert.deepEqual(ofA.map((p) => p.deviceUuid), ['d1', 'd2']);
      assert.equal(ofA[0]!.serialNumber, '0a');
      assert.equal(ofA[0]!.deviceId, undefined);
      assert.equal(typeof ofA[0]!.seq, 'number');
      assert.deepEqual((await register.pendingReinstalls(undefined, 2)).map((p) => p.deviceUuid), ['d1', 'd2'], 'the limit holds');
      await register.markReinstallsNotified(ofA.map((p) => p.seq));
      assert.deepEqual((await register.pendingReinstalls(undefined, 100)).map((p) => p.deviceUuid), ['d3']);
    });

    it('list pages newest first with filters; countActiveExpiringBefore counts active credentials only', async () => {
      const soon = Date.now() + 5 * DAY_MS;
      const retired = await delivered('u1', 'd1', 'signing', { notAfterMs: soon });
      await register.retire(retired.id, 'removed', 'device left');
      await delivered('u1', 'd2', 'signing', { notAfterMs: soon });
      await delivered('u2', 'd3', 'signing', { notAfterMs: Date.now() + 200 * DAY_MS });
      const cutoff = new Date(Date.now() + 30 * DAY_MS).toISOString();
      assert.equal(await register.countActiveExpiringBefore(cutoff), 1);

      const first = await register.list({}, { size: 2 });
      assert.deepEqual(first.items.map((c) => c.deviceUuid), ['d3', 'd2']);
      const second = await register.list({}, { size: 2, after: first.last });
      assert.deepEqual(second.items.map((c) => c.deviceUuid), ['d1']);
      assert.equal(second.last, undefined);
      assert.deepEqual((await register.list({ userUuid: 'u1', state: 'removed' }, { size: 10 })).items.map((c) => c.deviceUuid), ['d1']);
      assert.deepEqual((await register.list({ expiringBefore: cutoff }, { size: 10 })).items.map((c) => c.deviceUuid), ['d2', 'd1']);
      assert.equal((await register.byRequestKey(retired.requestKey))!.stateReason, 'device left');
    });
  });
}
