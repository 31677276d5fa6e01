/**
 * Which earlier encryption credentials go with an upload as history: the selection itself, and
 * `deliver()` with a real SQLite escrow holding a renewed user's keys, the embedded CA's
 * certificates and a gateway that records what it was given.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import type { CredentialGateway, CredentialUpload } from '../../../src/activities/ceg/credential-gateway';
import type { EnrollmentRef, IdentifiedUser } from '../../../src/activities/contract';
import { certificateInfo } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair } from '../../../src/activities/crypto/keys';
import { readPkcs12 } from '../../../src/activities/crypto/pkcs12';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { SqliteDatabase } from '../../../src/activities/database/sqlite-database';
import { SqlEscrowStore, USER_SCOPE, type EscrowedCredential, type EscrowKey, type EscrowStore } from '../../../src/activities/escrow';
import { earlierCredentials } from '../../../src/activities/lifecycle/archived-credentials';
import { deliver, type DeliveryDeps } from '../../../src/activities/lifecycle/delivery';
import { requestKeyOf } from '../../../src/activities/lifecycle/issuance';
import type { CredentialRegister, RegisteredCredential } from '../../../src/activities/register/credential-register';
import type { CertificateInfo } from '../../../src/domain/credentials';
import type { CredentialKind } from '../../../src/domain/enrollment';
import { createLogger } from '../../../src/logging';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { openssl, tempDir } from '../crypto/support';

const logger = createLogger({ level: 'silent' });

describe('archived encryption credentials', () => {
  describe('selection', () => {
    const entry = (id: string, created: number, scope = USER_SCOPE, notAfter = '2030-01-01T00:00:00.000Z'): EscrowedCredential => ({
      id,
      enrollmentUserUuid: 'u',
      kind: 'encryption',
      scope,
      certificate: { thumbprint: `t-${id}`, notAfter } as CertificateInfo,
      privateKeyPkcs8: Buffer.alloc(0),
      status: 'superseded',
      createdAt: new Date(created).toISOString(),
    });
    // As the escrow lists them: newest first. e1 expired long ago; d9 is another scope.
    const history = [entry('e5', 5), entry('e4', 4), entry('d9', 3, 'device-9'), entry('e3', 3), entry('e2', 2), entry('e1', 1, USER_SCOPE, '2020-01-01T00:00:00.000Z')];
    const ids = (list: EscrowedCredential[]) => list.map((c) => c.id);

    it('takes the credentials escrowed before the current one, newest first, expired ones included', () => {
      assert.deepEqual(ids(earlierCredentials(history, 'e5', 10)), ['e4', 'e3', 'e2', 'e1']);
    });

    it('is bounded by the limit, keeping the newest', () => {
      assert.deepEqual(ids(earlierCredentials(history, 'e5', 2)), ['e4', 'e3']);
    });

    it('leaves out what was escrowed after the current one, and other scopes', () => {
      assert.deepEqual(ids(earlierCredentials(history, 'e3', 10)), ['e2', 'e1']);
    });

    it('is empty with limit 0, for the first credential, and for an id not in the history', () => {
      assert.deepEqual(earlierCredentials(history, 'e5', 0), []);
      assert.deepEqual(earlierCredentials(history, 'e1', 10), []);
      assert.deepEqual(earlierCredentials(history, 'unknown', 10), []);
    });
  });

  describe('deliver()', function () {
    this.timeout(30_000);
    const dir = tempDir('archived');
    let ca: EmbeddedCa;
    let database: SqliteDatabase;
    let escrow: EscrowStore;
    const email = 'renee@example.test';
    const user = randomUUID();
    /** The user's encryption credentials, oldest first: each renewal superseded the one before. */
    const generations: EscrowedCredential[] = [];
    let historyReads = 0;

    async function issue(kind: CredentialKind): Promise<{ certificate: CertificateInfo; privateKeyPkcs8: Buffer }> {
      const key = await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' });
      const answer = await ca.submit({ idempotencyKey: randomUUID(), kind, csrPem: await buildSmimeCsr(key, { email }, kind), email, validityDays: 30 });
      assert.equal(answer.status, 'issued');
      const { certificatePem, chainPem } = answer as { certificatePem: string; chainPem: string[] };
      return { certificate: await certificateInfo(certificatePem, chainPem), privateKeyPkcs8: key.privateKeyPkcs8 };
    }

    before(async () => {
      ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'ca') });
      database = await SqliteDatabase.open({ file: join(dir.path, 'escrow.db'), logger });
      escrow = await SqlEscrowStore.open(database, { keyring: new Keyring([{ kid: 'k1', key: Buffer.alloc(32, 7) }]), logger });
      const key: EscrowKey = { enrollmentUserUuid: user, kind: 'encryption', scope: USER_SCOPE };
      for (let i = 0; i < 4; i++) {
        // Renewal: the active one counts as expiring, so a claim to replace it is granted.
        const claim = await escrow.claim(key, `run-${i}`, { renewBefore: new Date(Date.now() + 400 * 86_400_000) });
        assert.equal(claim.status, 'claimed');
        const stored = await escrow.store((claim as { claimId: string }).claimId, `run-${i}`, { ...key, ...(await issue('encryption')) });
        generations.push(stored.credential);
      }
    });
    after(async () => {
      await database?.close();
      dir.remove();
    });

    interface Setup {
      kind?: CredentialKind;
      /** The escrowed generation the device receives (index into `generations`); none: a device key. */
      generation?: number;
      carriesArchived?: boolean;
      limit?: number;
    }

    /** Deliver one credential through a recording gateway; what the gateway was handed. */
    async function delivered(setup: Setup): Promise<CredentialUpload> {
      const kind = setup.kind ?? 'encryption';
      const enrollment: EnrollmentRef = { workflowId: `wf-${randomUUID()}`, runId: randomUUID(), enrollmentUserUuid: user, deviceUuid: randomUUID() };
      const escrowed = setup.generation === undefined ? undefined : generations[setup.generation]!;
      const own = escrowed ? undefined : await issue(kind);
      const row = {
        id: randomUUID(),
        requestKey: requestKeyOf(enrollment, kind),
        enrollmentUserUuid: user,
        deviceUuid: enrollment.deviceUuid,
        kind,
        email,
        state: 'issued',
        certificate: escrowed?.certificate ?? own!.certificate,
        ...(escrowed ? { escrowId: escrowed.id } : {}),
      } as RegisteredCredential;
      const register = {
        byRequestKey: async (requestKey: string) => (requestKey === row.requestKey ? row : undefined),
        privateKey: async () => own?.privateKeyPkcs8,
        markDelivered: async (_key: string, delivery: { gateway: string; deliveredAt: string; pkcs12Profile: string }) => ({ ...row, state: 'active', ...delivery }),
      } as unknown as CredentialRegister;
      const uploads: CredentialUpload[] = [];
      const gateway: CredentialGateway = {
        type: 'recording',
        carriesArchived: setup.carriesArchived ?? true,
        async upload(credential) {
          uploads.push(credential);
          return { alreadyPresent: false };
        },
      };
      const countingEscrow = Object.assign(Object.create(escrow) as EscrowStore, {
        history: (...args: Parameters<EscrowStore['history']>) => {
          historyReads++;
          return escrow.history(...args);
        },
        get: (id: string) => escrow.get(id),
      });
      const deps: DeliveryDeps = { gateway, escrow: countingEscrow, register, pkcs12: { defaultProfile: 'modern', byPlatform: { Apple: 'legacy' } }, archivedEncryptionKeys: setup.limit ?? 5 };
      const user_: IdentifiedUser = { email, source: 'event' };
      await new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') }).run(deliver, deps, { enrollment, user: user_, platform: 'Apple', kind });
      assert.equal(uploads.length, 1);
      return uploads[0]!;
    }

    const thumbprints = (upload: CredentialUpload) => upload.archived?.map((a) => a.thumbprint);
    const thumbprintOf = (i: number) => generations[i]!.certificate.thumbprint;

    it('sends the earlier generations with the current one, newest first, each opening with the upload password to its own key', async () => {
      const upload = await delivered({ generation: 3 });
      assert.deepEqual(thumbprints(upload), [thumbprintOf(2), thumbprintOf(1), thumbprintOf(0)]);
      for (const [i, archived] of upload.archived!.entries()) {
        const generation = generations[2 - i]!;
        const opened = await readPkcs12(archived.pkcs12, upload.password);
        assert.ok(opened.privateKeyPkcs8.equals(generation.privateKeyPkcs8), `archived[${i}] holds generation ${2 - i}'s key`);
        assert.equal(archived.notAfter, generation.certificate.notAfter);
      }
    });

    it('builds each archived file with the main file\'s profile (legacy for Apple here)', async () => {
      const upload = await delivered({ generation: 3, limit: 1 });
      assert.equal(upload.profile, 'legacy');
      const passFile = dir.file(`pass-${randomUUID()}`, upload.password);
      // OpenSSL prints the algorithms on stderr; a wrong password would fail the MAC.
      const info = await openssl(['pkcs12', '-info', '-noout', '-legacy', '-passin', `file:${passFile}`], dir.path, upload.archived![0]!.pkcs12);
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stderr, /MAC: sha1/);
      assert.match(info.stderr, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
    });

    it('is bounded by ARCHIVED_ENCRYPTION_KEYS', async () => {
      assert.deepEqual(thumbprints(await delivered({ generation: 3, limit: 2 })), [thumbprintOf(2), thumbprintOf(1)]);
    });

    it('a device still receiving an older generation gets only what came before it', async () => {
      assert.deepEqual(thumbprints(await delivered({ generation: 1 })), [thumbprintOf(0)]);
    });

    it('sends no archived list for the user\'s first credential', async () => {
      assert.equal((await delivered({ generation: 0 })).archived, undefined);
    });

    it('sends none, and reads no history, with ARCHIVED_ENCRYPTION_KEYS=0', async () => {
      const before = historyReads;
      assert.equal((await delivered({ generation: 3, limit: 0 })).archived, undefined);
      assert.equal(historyReads, before);
    });

    it('sends none, and reads no history, to a gateway that cannot carry them', async () => {
      const before = historyReads;
      assert.equal((await delivered({ generation: 3, carriesArchived: false })).archived, undefined);
      assert.equal(historyReads, before);
    });

    it('sends none with a signing credential, the device\'s own or a shared one', async () => {
      const before = historyReads;
      assert.equal((await delivered({ kind: 'signing' })).archived, undefined);
      // SIGNING_CREDENTIAL_SCOPE=user: an escrowed signing credential has no history to send either.
      assert.equal((await delivered({ kind: 'signing', generation: 3 })).archived, undefined);
      assert.equal(historyReads, before);
    });
  });
});
