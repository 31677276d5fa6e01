import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { parseUemEvent } from '../../../src/api/webhook/parse-uem-event';
import { enrollmentPayload, uemFields, uemPayload } from '../../../src/peers/uem-sim/events';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';
import { SimUserDirectory, syntheticUserForId, syntheticUserForUuid } from '../../../src/peers/uem-sim/users';
import { enrollmentEvent } from '../../helpers/events';
import { tempDir } from '../crypto/support';
import { forgeCredential, opensslCredential, type TestCredential } from '../ceg/credential-fixtures';

const TENANT = 'sim-tenant-code';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('UEM simulator', function () {
  this.timeout(20_000);
  let sim: UemSimulator;
  before(async () => {
    sim = await startUemSimulator({
      port: 0,
      username: 'api-user',
      password: 'api-Password',
      tenantCode: TENANT,
      users: [{ uuid: '11111111-2222-4333-8444-555555555555', id: 77, email: '', userName: 'noemail' }],
      oauth: { clientId: 'cid', clientSecret: 'csecret', tokenLifetimeSeconds: 120 },
      extend(api, context) {
        // A test's own route, behind the same auth, recording into uploads; it answers this path
        // instead of the built-in uploadsmimecerts handler (extend routes are matched first).
        api.post('/system/users/:id/uploadsmimecerts', express.json(), (req, res) => {
          context.uploads.push({ userId: String(req.params.id), receivedAt: new Date().toISOString(), kind: (req.body as { kind?: string }).kind });
          res.status(204).end();
        });
      },
    });
  });
  after(async () => sim?.close());

  const get = (path: string, headers: Record<string, string>) => fetch(`${sim.url}${path}`, { headers });
  const goodHeaders = (version: number) => ({ Authorization: basic('api-user', 'api-Password'), 'aw-tenant-code': TENANT, Accept: `application/json;version=${version}` });

  it('answers v2 by UUID with camelCase fields and no numeric id, as ReadEnrollmentUserV2Model', async () => {
    const response = await get('/api/system/users/AB12CD34-0000-4000-8000-000000000001', goodHeaders(2));
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.emailAddress, 'user-ab12cd34@uem-sim.example.com');
    assert.equal(body.userName, 'user-ab12cd34');
    assert.equal(body.displayName, 'Sim User ab12cd34');
    assert.equal(body.uuid, 'ab12cd34-0000-4000-8000-000000000001');
    assert.equal(body.email_address, undefined);
    assert.equal(body.id, undefined);
    assert.equal(body.Id, undefined);
  });

  it('a user read by UUID is found again by the v1 read of its id and by the v1 user search', async () => {
    const uuid = 'cd34ab12-0000-4000-8000-000000000002';
    await get(`/api/system/users/${uuid}`, goodHeaders(2));
    const found = (await (await get('/api/system/users/search?username=user-cd34ab12', goodHeaders(1))).json()) as { Users: Array<{ Id: { Value: number }; Uuid: string }>; Total: number };
    assert.equal(found.Total, 1);
    assert.equal(found.Users[0]!.Uuid, uuid);
    const byId = (await (await get(`/api/system/users/${found.Users[0]!.Id.Value}`, goodHeaders(1))).json()) as Record<string, unknown>;
    assert.equal(byId.Uuid, uuid);
    assert.equal(byId.Email, 'user-cd34ab12@uem-sim.example.com');
  });

  it('user search with no match answers 204 without a body', async () => {
    const response = await get('/api/system/users/search?username=nobody-by-that-name', goodHeaders(1));
    assert.equal(response.status, 204);
    assert.equal(await response.text(), '');
  });

  it('answers v1 by numeric id with PascalCase fields', async () => {
    const response = await get('/api/system/users/4711', goodHeaders(1));
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.Email, 'user-4711@uem-sim.example.com');
    assert.deepEqual(body.Id, { Value: 4711 });
  });

  it('a fixture user may have an empty email, by UUID and by id', async () => {
    const v2 = (await (await get('/api/system/users/11111111-2222-4333-8444-555555555555', goodHeaders(2))).json()) as Record<string, unknown>;
    const v1 = (await (await get('/api/system/users/77', goodHeaders(1))).json()) as Record<string, unknown>;
    assert.equal(v2.emailAddress, '');
    assert.equal(v1.Email, '');
  });

  it('404 for an id that does not fit the version', async () => {
    assert.equal((await get('/api/system/users/4711', goodHeaders(2))).status, 404);
    assert.equal((await get('/api/system/users/not-a-number', goodHeaders(1))).status, 404);
  });

  it('401 without aw-tenant-code, with a wrong one, or with wrong credentials', async () => {
    const path = '/api/system/users/4711';
    assert.equal((await get(path, { Authorization: basic('api-user', 'api-Password') })).status, 401);
    assert.equal((await get(path, { ...goodHeaders(1), 'aw-tenant-code': 'other' })).status, 401);
    assert.equal((await get(path, { ...goodHeaders(1), Authorization: basic('api-user', 'nope') })).status, 401);
    assert.equal((await get(path, { ...goodHeaders(1), Authorization: 'Bearer invented' })).status, 401);
  });

  it('issues OAuth tokens only for the right client and accepts them as Bearer', async () => {
    const token = async (secret: string, grant = 'client_credentials') =>
      fetch(sim.tokenUrl!, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: grant, client_id: 'cid', client_secret: secret }).toString() });
    assert.equal((await token('wrong')).status, 401);
    assert.equal((await token('csecret', 'password')).status, 400);
    const issued = (await (await token('csecret')).json()) as { access_token: string; expires_in: number };
    assert.equal(issued.expires_in, 120);
    const response = await get('/api/system/users/4711', { 'aw-tenant-code': TENANT, Authorization: `Bearer ${issued.access_token}` });
    assert.equal(response.status, 200);
  });

  it('routes added through `extend` sit behind the same auth, come before the built-in ones, and record uploads', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${sim.url}/api/system/users/4711/uploadsmimecerts`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{"kind":"signing"}' });
    assert.equal((await post({})).status, 401);
    assert.equal(sim.directUploads().length, 0);
    assert.equal((await post(goodHeaders(1))).status, 204);
    assert.deepEqual(sim.directUploads().map((u) => [u.userId, u.kind]), [['4711', 'signing']]);
  });

  it('loads users from a fixture file and refuses a bad one with a message naming the entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uem-sim-'));
    try {
      const good = join(dir, 'good.json');
      writeFileSync(good, JSON.stringify([{ id: '5', email: 'five@example.test' }]));
      const other = await startUemSimulator({ port: 0, username: 'u', password: 'p', tenantCode: 't', fixtureFile: good });
      try {
        const body = (await (await fetch(`${other.url}/api/system/users/5`, { headers: { Authorization: basic('u', 'p'), 'aw-tenant-code': 't' } })).json()) as Record<string, unknown>;
        assert.equal(body.Email, 'five@example.test');
      } finally {
        await other.close();
      }
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify([{ uuid: 'not-a-uuid' }]));
      await assert.rejects(startUemSimulator({ port: 0, username: 'u', password: 'p', tenantCode: 't', fixtureFile: bad }), /uuid: must be a UUID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('UEM simulator: direct S/MIME upload (uploadsmimecerts)', function () {
  this.timeout(30_000);
  const email = 'ida.holm@example.test';
  let sim: UemSimulator;
  let work: ReturnType<typeof tempDir>;
  let signing: TestCredential;
  let encryption: TestCredential;
  before(async () => {
    work = tempDir('uem-sim-upload');
    sim = await startUemSimulator({ port: 0, username: 'api-user', password: 'api-Password', tenantCode: TENANT, users: [{ id: 61, email }, { id: 62, email: '' }] });
    [signing, encryption] = await Promise.all([opensslCredential(work.path, { email }), opensslCredential(work.path, { email })]);
  });
  after(async () => {
    await sim?.close();
    work?.remove();
  });

  const headers = { Authorization: basic('api-user', 'api-Password'), 'aw-tenant-code': TENANT, Accept: 'application/json;version=1', 'Content-Type': 'application/json' };
  const post = (userId: string | number, body: string) => fetch(`${sim.url}/api/system/users/${userId}/uploadsmimecerts`, { method: 'POST', headers, body });
  const object = (c: TestCredential, password = c.password) => ({ CertificatePayload: c.pkcs12.toString('base64'), Password: password });
  async function refusal(response: Response): Promise<{ errorCode: number; message: string }> {
    assert.equal(response.status, 400);
    assert.match(response.headers.get('content-type') ?? '', /json/);
    return (await response.json()) as { errorCode: number; message: string };
  }

  it('takes Signing and Encryption in one request: 200, both recorded with their thumbprints', async () => {
    const response = await post(61, JSON.stringify({ Signing: object(signing), Encryption: object(encryption) }));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
    const recorded = sim.directUploads().at(-1)!;
    assert.equal(recorded.userId, '61');
    assert.deepEqual(recorded.kinds, ['signing', 'encryption']);
    assert.deepEqual(recorded.thumbprints, { signing: signing.thumbprint, encryption: encryption.thumbprint });
    assert.ok(!Number.isNaN(Date.parse(recorded.receivedAt)));
  });

  it('is behind the same authentication as the look-ups', async () => {
    const response = await fetch(`${sim.url}/api/system/users/61/uploadsmimecerts`, { method: 'POST', headers: { ...headers, 'aw-tenant-code': 'other' }, body: JSON.stringify({ Signing: object(signing) }) });
    assert.equal(response.status, 401);
  });

  it('refuses the whole upload when one object is bad, and records nothing', async () => {
    const before = sim.directUploads().length;
    const body = await refusal(await post(61, JSON.stringify({ Signing: object(signing), Encryption: object(encryption, 'wrong') })));
    assert.equal(body.errorCode, 400);
    assert.match(body.message, /^Encryption certificate: .*password/);
    assert.equal(sim.directUploads().length, before);
  });

  it('refuses a certificate without EKU emailProtection', async () => {
    const tls = await opensslCredential(work.path, { email, eku: 'clientAuth' });
    assert.match((await refusal(await post(61, JSON.stringify({ Signing: object(tls) })))).message, /email protection/);
  });

  it('refuses an expired certificate', async () => {
    assert.match((await refusal(await post(61, JSON.stringify({ Signing: object(forgeCredential({ email, expired: true })) })))).message, /validity/);
  });

  it('refuses a body with neither object, one that is not JSON, and a user without an email address', async () => {
    assert.match((await refusal(await post(61, JSON.stringify({ signing: object(signing) })))).message, /Signing or an Encryption/);
    assert.match((await refusal(await post(61, '{"Signing": '))).message, /Invalid request body/);
    assert.match((await refusal(await post(62, JSON.stringify({ Signing: object(signing) })))).message, /no email address/);
  });

  it('a synthetic user (no fixture) takes a certificate for an address in the simulator\'s domain, and refuses any other', async () => {
    const inDomain = await opensslCredential(work.path, { email: 'user-0a1b2c3d@uem-sim.example.com' });
    assert.equal((await post(9001, JSON.stringify({ Signing: object(inDomain) }))).status, 200);
    assert.match((await refusal(await post(9001, JSON.stringify({ Signing: object(signing) })))).message, /email address does not match/);
  });

  it('answers 404 for an id that is not a number', async () => {
    assert.equal((await post('abc', JSON.stringify({ Signing: object(signing) }))).status, 404);
  });
});

describe('UEM simulator users and events', () => {
  it('synthetic users are stable and derive their email from the UUID or id', () => {
    assert.deepEqual(syntheticUserForUuid('ABCDEF01-0000-4000-8000-000000000000'), syntheticUserForUuid('abcdef01-0000-4000-8000-000000000000'));
    assert.equal(syntheticUserForId('9').email, 'user-9@uem-sim.example.com');
    assert.match(syntheticUserForId('9').uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    const directory = new SimUserDirectory([{ uuid: 'abcdef01-0000-4000-8000-000000000000', status: 404 }]);
    assert.deepEqual(directory.lookUpByUuid('ABCDEF01-0000-4000-8000-000000000000'), { status: 404 });
  });

  it('the payloads `npm run simulate` sends are accepted by the webhook parser, JSON and XML alike', () => {
    const event = enrollmentEvent({ deviceName: 'Ana <"Tab"> & Co', userName: "o'neil" });
    for (const format of ['json', 'xml'] as const) {
      const payload = enrollmentPayload(event, format);
      const parsed = parseUemEvent(payload.contentType, payload.body);
      assert.equal(parsed.kind, 'enrollment');
      assert.deepEqual((parsed as { event: unknown }).event, event, format);
    }
    const blank = enrollmentPayload(event, 'xml', { blankEmail: true });
    assert.equal((parseUemEvent(blank.contentType, blank.body) as { event: { email?: string } }).event.email, undefined);
  });

  it('any event type can be played, e.g. Break MDM Confirmed', () => {
    const event = enrollmentEvent();
    const payload = uemPayload(uemFields('Break MDM Confirmed', event), 'xml');
    assert.equal(parseUemEvent(payload.contentType, payload.body).kind, 'unenrollment');
  });
});
