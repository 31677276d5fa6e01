/**
 * GET /v1/credentials and the expiry gauges on a real register: a SQLite file written through the
 * worker's CredentialRegister (requests, deliveries, a renewal's supersession, revocation,
 * removal), read by the API through its own connection to the same file — the one-host set-up
 * where the worker and the API share DATA_DIR/escrow.db. Filters, paging, viewer masking, what
 * never leaves the register, hostile input, and a database that is not there. Every answer is
 * checked against /openapi.json.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import { Keyring, Sealer } from '../../src/activities/crypto/sealing';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { CredentialRegister, type RegisteredCredential } from '../../src/activities/register/credential-register';
import { LazyCredentialRegister } from '../../src/api/credential-reader';
import { openApiDocument } from '../../src/api/openapi';
import type { CertificateInfo } from '../../src/domain/credentials';
import type { CredentialKind } from '../../src/domain/enrollment';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { apiConfig, bearer, clientFor, freePort, OPERATOR_TOKEN, request, startApi, VIEWER_TOKEN, type HttpAnswer, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { OpenApiConformance } from '../unit/api/openapi-conformance';

const DAY = 24 * 60 * 60 * 1000;

interface Item {
  id: string;
  kind: string;
  state: string;
  serialNumber?: string;
  thumbprintSha256?: string;
  notAfter?: string;
  deviceUuid: string;
  enrollmentUserUuid: string;
  email: string;
  deliveredAt?: string;
  workflowId: string;
  stateReason?: string;
}
interface Page {
  items: Item[];
  nextPageToken: string | null;
}

describe('GET /v1/credentials on a register shared with the worker', function () {
  this.timeout(60_000);
  const logger = createLogger({ level: 'silent' });
  const openapi = new OpenApiConformance(openApiDocument() as never);
  let dir: string;
  let workerDb: SqliteDatabase;
  let register: CredentialRegister;
  let reader: LazyCredentialRegister;
  let testConfig: TestConfig;
  let api: RunningApi;
  let connection: Connection;

  const alice = { user: randomUUID(), email: 'alice.liddell@example.test' };
  const bob = { user: randomUUID(), email: 'bob.builder@example.test' };
  const aliceIphone = randomUUID();
  const alicePixel = randomUUID();
  const bobIpad = randomUUID();
  const now = Date.now();
  let serial = 0x1000;
  /** Rows as the worker wrote them, by name. */
  const rows = new Map<string, RegisteredCredential>();

  /** One credential through the register's own steps: requested → issued → active (or stopped earlier). */
  async function credential(name: string, owner: { user: string; email: string }, deviceUuid: string, kind: CredentialKind, options: { notAfterInDays?: number; upTo?: 'requested' | 'issued' | 'active'; run?: string } = {}) {
    const workflowId = provisioningWorkflowId(owner.user, deviceUuid);
    const runId = options.run ?? randomUUID();
    const requestKey = `${workflowId}/${runId}/${kind}`;
    await register.begin({
      requestKey,
      workflowId,
      runId,
      enrollmentUserUuid: owner.user,
      deviceUuid,
      kind,
      email: owner.email,
      csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nMIIBfake\n-----END CERTIFICATE REQUEST-----\n',
      publicKeySha256: 'ab'.repeat(32),
      privateKeyPkcs8: randomBytes(64),
      deviceId: '4711',
      platform: 'Apple',
    });
    if (options.upTo !== 'requested') {
      serial += 1;
      const certificate: CertificateInfo = {
        certificatePem: '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n',
        chainPem: [],
        serial: serial.toString(16),
        thumbprint: randomBytes(32).toString('hex'),
        notBefore: new Date(now - DAY).toISOString(),
        notAfter: new Date(now + (options.notAfterInDays ?? 365) * DAY).toISOString(),
        subject: `CN=${owner.email}`,
        issuer: 'CN=Test CA',
      };
      await register.markIssued(requestKey, { certificate });
      if (options.upTo !== 'issued') await register.markDelivered(requestKey, { gateway: 'ceg', deliveredAt: new Date().toISOString(), pkcs12Profile: 'legacy' });
    }
    const row = (await register.byRequestKey(requestKey))!;
    rows.set(name, row);
    return row;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'api-credentials-'));
    const file = join(dir, 'escrow.db');
    workerDb = await SqliteDatabase.open({ file, logger });
    register = await CredentialRegister.open(workerDb, new Sealer(new Keyring([{ kid: 'worker', key: randomBytes(32) }])));
    // alice's iPhone: signing renewed once (the old one superseded, then revoked), encryption expiring in 10 days.
    await credential('aliceIphoneSigningOld', alice, aliceIphone, 'signing', { notAfterInDays: 20 });
    await credential('aliceIphoneEncryption', alice, aliceIphone, 'encryption', { notAfterInDays: 10 });
    await credential('aliceIphoneSigning', alice, aliceIphone, 'signing', { notAfterInDays: 365 });
    await register.retire(rows.get('aliceIphoneSigningOld')!.id, 'revoked', 'superseded by the renewal of run x/y');
    // alice's Pixel: signing active, expiring in 25 days; encryption still being requested.
    await credential('alicePixelSigning', alice, alicePixel, 'signing', { notAfterInDays: 25 });
    await credential('alicePixelEncryption', alice, alicePixel, 'encryption', { upTo: 'requested' });
    // bob's iPad: left UEM (removed), one issued but never delivered.
    await credential('bobIpadSigning', bob, bobIpad, 'signing', { notAfterInDays: 300 });
    await register.retire(rows.get('bobIpadSigning')!.id, 'removed', 'device unenrolled, wiped or deleted');
    await credential('bobIpadEncryption', bob, bobIpad, 'encryption', { upTo: 'issued', notAfterInDays: 300 });

    testConfig = apiConfig({ dataDir: dir });
    const unreachable = clientFor(`127.0.0.1:${await freePort()}`);
    connection = unreachable.connection;
    // The API's own connection to the worker's file, opened on first use as in production.
    reader = new LazyCredentialRegister(() => SqliteDatabase.open({ file, logger }));
    api = await startApi({ client: unreachable.client, config: testConfig.config, credentials: reader });
  });
  after(async () => {
    await api?.close();
    await reader?.close();
    await workerDb?.close();
    await connection?.close();
    testConfig?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(path: string, token = VIEWER_TOKEN, method = 'GET'): Promise<HttpAnswer> {
    const answer = await request(`${api.url}${path}`, { method, headers: { Authorization: bearer(token) } });
    openapi.assertConforms(method, path, answer);
    return answer;
  }
  async function page(path: string, token = VIEWER_TOKEN): Promise<Page> {
    const answer = await call(path, token);
    assert.equal(answer.status, 200, answer.text);
    return answer.json as Page;
  }
  function assertProblem(answer: HttpAnswer, status: number, field?: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    if (field !== undefined) assert.equal((answer.json as { field?: string }).field, field);
  }
  const ids = (items: Item[]) => items.map((i) => i.id).sort();
  const idsOf = (...names: string[]) => names.map((n) => rows.get(n)!.id).sort();

  it('lists every row newest first, with its public facts and nothing secret', async () => {
    const answer = await call('/v1/credentials', OPERATOR_TOKEN);
    const { items, nextPageToken } = answer.json as Page;
    assert.equal(items.length, rows.size);
    assert.equal(nextPageToken, null);
    // The rows were written in the map's order: the newest comes first.
    assert.deepEqual(
      items.map((i) => i.id),
      [...rows.values()].map((r) => r.id).reverse(),
      'newest first',
    );
    const current = items.find((i) => i.id === rows.get('aliceIphoneSigning')!.id)!;
    const row = rows.get('aliceIphoneSigning')!;
    assert.equal(current.state, 'active');
    assert.equal(current.kind, 'signing');
    assert.equal(current.serialNumber, row.serialNumber);
    assert.equal(current.thumbprintSha256, row.thumbprintSha256);
    assert.equal(current.notAfter, row.notAfter);
    assert.equal(current.deviceUuid, aliceIphone);
    assert.equal(current.enrollmentUserUuid, alice.user);
    assert.equal(current.workflowId, provisioningWorkflowId(alice.user, aliceIphone));
    assert.ok(current.deliveredAt);
    assert.equal(current.email, alice.email, 'operators see the address');
    const revoked = items.find((i) => i.id === rows.get('aliceIphoneSigningOld')!.id)!;
    assert.equal(revoked.state, 'revoked');
    assert.match(revoked.stateReason ?? '', /superseded by the renewal/);
    // The requested row still holds its encrypted key and CSR in the register: neither is shown.
    for (const secret of ['CERTIFICATE REQUEST', 'BEGIN CERTIFICATE', 'csr', 'key', 'Ciphertext', 'dek', 'holdsKey', 'certificate']) {
      assert.ok(!answer.text.includes(secret), `the answer mentions ${secret}`);
    }
  });

  it('viewers get the same rows with masked addresses', async () => {
    const { items } = await page('/v1/credentials');
    assert.equal(items.length, rows.size);
    for (const item of items) assert.match(item.email, /^[ab]\*\*\*@example\.test$/);
    assert.ok(!JSON.stringify(items).includes('alice.liddell'));
  });

  it('filters by device, by user (any case), by state, and by expiry — together too', async () => {
    assert.deepEqual(ids((await page(`/v1/credentials?deviceUuid=${aliceIphone}`)).items), idsOf('aliceIphoneSigningOld', 'aliceIphoneEncryption', 'aliceIphoneSigning'));
    assert.deepEqual(ids((await page(`/v1/credentials?userUuid=${bob.user.toUpperCase()}`)).items), idsOf('bobIpadSigning', 'bobIpadEncryption'));
    assert.deepEqual(ids((await page('/v1/credentials?state=active')).items), idsOf('aliceIphoneEncryption', 'aliceIphoneSigning', 'alicePixelSigning'));
    assert.deepEqual(ids((await page('/v1/credentials?state=removed')).items), idsOf('bobIpadSigning'));
    assert.deepEqual(ids((await page('/v1/credentials?state=requested')).items), idsOf('alicePixelEncryption'));
    // What expires within 30 days and is still held: the question renewal answers.
    const in30Days = new Date(now + 30 * DAY).toISOString();
    assert.deepEqual(ids((await page(`/v1/credentials?state=active&expiringBefore=${encodeURIComponent(in30Days)}`)).items), idsOf('aliceIphoneEncryption', 'alicePixelSigning'));
    // An offset is an instant like any other: 15 days from now at +02:00 is the same moment in UTC.
    const in15Days = new Date(now + 15 * DAY);
    const withOffset = new Date(in15Days.getTime() + 2 * 60 * 60 * 1000).toISOString().replace('Z', '+02:00');
    assert.deepEqual(ids((await page(`/v1/credentials?expiringBefore=${encodeURIComponent(withOffset)}`)).items), idsOf('aliceIphoneEncryption'));
    assert.deepEqual(ids((await page(`/v1/credentials?deviceUuid=${alicePixel}&state=active`)).items), idsOf('alicePixelSigning'));
    assert.deepEqual((await page(`/v1/credentials?deviceUuid=${randomUUID()}`)).items, []);
  });

  it('pages through every row exactly once; a token only works with its own filters', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const next: Page = await page(`/v1/credentials?pageSize=3${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
      seen.push(...next.items.map((i) => i.id));
      token = next.nextPageToken;
      pages += 1;
    } while (token && pages < 10);
    assert.deepEqual([...seen].sort(), [...rows.values()].map((r) => r.id).sort());
    assert.equal(new Set(seen).size, seen.length, 'no row twice');

    const first = await page('/v1/credentials?pageSize=2');
    assert.ok(first.nextPageToken);
    assertProblem(await call(`/v1/credentials?pageSize=2&state=active&pageToken=${encodeURIComponent(first.nextPageToken)}`), 400);
    const [position] = first.nextPageToken.split('.');
    assertProblem(await call(`/v1/credentials?pageToken=${Number(position) + 1}.${first.nextPageToken.split('.')[1]}`), 400);
    assertProblem(await call('/v1/credentials?pageToken=not-a-token'), 422, 'pageToken');
  });

  it('hostile or malformed filters: 422 naming the parameter, nothing read', async () => {
    assertProblem(await call('/v1/credentials?state=valid'), 422, 'state');
    assertProblem(await call(`/v1/credentials?deviceUuid=${encodeURIComponent("x' OR '1'='1")}`), 422, 'deviceUuid');
    assertProblem(await call('/v1/credentials?expiringBefore=2027-01-01'), 422, 'expiringBefore');
    assertProblem(await call('/v1/credentials?expiringBefore=2027-01-01T00:00:00'), 422, 'expiringBefore');
    assertProblem(await call('/v1/credentials?expiringBefore=tomorrow'), 422, 'expiringBefore');
    assertProblem(await call('/v1/credentials?pageSize=0'), 422, 'pageSize');
    assertProblem(await call('/v1/credentials?pageSize=5000'), 422, 'pageSize');
    assertProblem(await call('/v1/credentials?email=alice.liddell@example.test'), 422);
    assertProblem(await call('/v1/credentials'.concat('?state=active&state=revoked')), 422, 'state');
  });

  it('needs a token; other methods are 405', async () => {
    const anonymous = await request(`${api.url}/v1/credentials`);
    openapi.assertConforms('GET', '/v1/credentials', anonymous);
    assertProblem(anonymous, 401);
    const post = await request(`${api.url}/v1/credentials`, { method: 'POST', headers: { Authorization: bearer(OPERATOR_TOKEN) } });
    assertProblem(post, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });

  it('/metrics: active credentials expiring within 30 days, and all active ones, read at the scrape', async () => {
    const metrics = async () => {
      const answer = await request(`${api.url}/metrics`);
      assert.equal(answer.status, 200);
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(answer.text)?.[1]);
      return { expiring: value('smime_credentials_expiring_within_30d'), active: value('smime_credentials_active') };
    };
    assert.deepEqual(await metrics(), { expiring: 2, active: 3 });
    // The worker delivers one more, expiring in 5 days: the next scrape counts it.
    await credential('alicePixelEncryption2', alice, alicePixel, 'encryption', { notAfterInDays: 5 });
    assert.deepEqual(await metrics(), { expiring: 3, active: 4 });
  });

  describe('without the database', () => {
    let away: RunningApi;
    let awayReader: LazyCredentialRegister;
    let bare: RunningApi;
    let unreachable: ReturnType<typeof clientFor>;
    before(async () => {
      unreachable = clientFor(`127.0.0.1:${await freePort()}`);
      // A database that cannot be opened (its folder would be inside a file), as when PostgreSQL is down.
      awayReader = new LazyCredentialRegister(() => SqliteDatabase.open({ file: join(dir, 'escrow.db', 'missing', 'escrow.db'), logger }));
      away = await startApi({ client: unreachable.client, config: testConfig.config, credentials: awayReader });
      bare = await startApi({ client: unreachable.client, config: testConfig.config });
    });
    after(async () => {
      await away?.close();
      await awayReader?.close();
      await bare?.close();
      await unreachable?.connection.close();
    });

    it('503 with Retry-After (and the cause only in the log); the gauges read NaN, /metrics still answers', async () => {
      const answer = await request(`${away.url}/v1/credentials`, { headers: { Authorization: bearer(VIEWER_TOKEN) } });
      openapi.assertConforms('GET', '/v1/credentials', answer);
      assertProblem(answer, 503);
      assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      assert.ok(!answer.text.includes('missing'), 'no file path in the answer');
      assert.ok(away.lines.some((line) => line.includes('credential register unavailable')));
      const metrics = await request(`${away.url}/metrics`);
      assert.equal(metrics.status, 200);
      // prom-client writes NaN as "Nan"; Prometheus reads either (Go's ParseFloat ignores case).
      assert.match(metrics.text, /^smime_credentials_expiring_within_30d NaN$/im);
    });

    it('an API started without the register answers 503 and has no expiry gauges', async () => {
      const answer = await request(`${bare.url}/v1/credentials`, { headers: { Authorization: bearer(VIEWER_TOKEN) } });
      openapi.assertConforms('GET', '/v1/credentials', answer);
      assertProblem(answer, 503);
      const metrics = await request(`${bare.url}/metrics`);
      assert.doesNotMatch(metrics.text, /smime_credentials_active/);
    });
  });
});
