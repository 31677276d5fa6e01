/**
 * UemRestDirectory.lookUp against the UEM simulator on loopback: the address and UEM's numeric id
 * by UUID (the event's id a hint only), v1 and v2, Basic and OAuth; answers in every field case;
 * and every error class (404, 401/403, 5xx/429 with Retry-After, network, timeout, not JSON).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '../../../src/activities/adapters';
import { directoryRegistry } from '../../../src/activities/uem/registry';
import { UemRestDirectory, type UemRestDirectoryOptions } from '../../../src/activities/uem/uem-rest-directory';
import { ConfigError, loadConfig, type Config } from '../../../src/config';
import { createLogger } from '../../../src/logging';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';
import { projectPath } from '../../../src/tools/paths';
import { failureOf as failure } from '../../helpers/failures';
import { capturingLogger } from '../../helpers/loopback';

const USERS_FILE = projectPath('test', 'fixtures', 'uem', 'users.json');
const CREDENTIALS = { username: 'provider-api', password: 'uem-api-Password-1' };
const TENANT = 'tenant-code-0123456789';
const OAUTH = { clientId: 'provider-client', clientSecret: 'oauth-Client-Secret-1' };


describe('UemRestDirectory against the UEM simulator', function () {
  this.timeout(20_000);
  let sim: UemSimulator;

  before(async () => {
    sim = await startUemSimulator({ port: 0, ...CREDENTIALS, tenantCode: TENANT, fixtureFile: USERS_FILE, oauth: OAUTH });
  });
  after(async () => sim?.close());

  const directory = (overrides: Partial<UemRestDirectoryOptions> = {}) =>
    new UemRestDirectory({ baseUrl: sim.url, apiVersion: 'v2', tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 5000, ...overrides });

  /** The requests one look-up made. */
  async function requestsOf<T>(call: () => Promise<T>): Promise<{ result: T; requests: ReturnType<UemSimulator['requests']> }> {
    const before = sim.requests().length;
    const result = await call();
    return { result, requests: sim.requests().slice(before) };
  }
  const MIRA = 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b';

  it('v2: reads the user by UUID (Accept version=2, aw-tenant-code) and takes the hinted id once UEM\'s v1 record for it names the same UUID', async () => {
    const { result: user, requests } = await requestsOf(() => directory().lookUp({ enrollmentUserUuid: MIRA, enrollmentUserId: '318' }));
    assert.deepEqual(user, { email: 'mira.kovac@example.test', enrollmentUserId: '318', displayName: 'Mira Kovač', userName: 'mkovac' });
    assert.deepEqual(requests.map((r) => [r.path, r.accept, r.auth]), [
      [`/api/system/users/${MIRA}`, 'application/json;version=2', 'basic'],
      ['/api/system/users/318', 'application/json;version=1', 'basic'],
    ]);
  });

  it('v2 without a hint: the numeric id comes from the v1 user search by user name, the entry with the UUID', async () => {
    const { result: user, requests } = await requestsOf(() => directory().lookUp({ enrollmentUserUuid: MIRA }));
    assert.equal(user.enrollmentUserId, '318');
    assert.equal(user.email, 'mira.kovac@example.test');
    assert.equal(requests[1]!.path, '/api/system/users/search');
    assert.equal(new URLSearchParams(requests[1]!.query).get('username'), 'mkovac');
    assert.equal(requests[1]!.accept, 'application/json;version=1');
  });

  it("a forged hint (another user's id) is ignored: UEM's id and address for the UUID come back, never the other user's", async () => {
    const { logger, lines } = capturingLogger();
    // 319 is jberg's id; the event claims it for Mira's UUID.
    const user = await directory({ logger }).lookUp({ enrollmentUserUuid: MIRA, enrollmentUserId: '319' });
    assert.equal(user.enrollmentUserId, '318');
    assert.equal(user.email, 'mira.kovac@example.test');
    const warning = lines().find((l) => /belongs to another UEM user/.test(String(l.msg)));
    assert.ok(warning, 'the mismatch is logged');
    assert.doesNotMatch(JSON.stringify(lines()), /mira\.kovac@/, 'no address in the logs');
  });

  it('v2: any other user is a stable synthetic one whose email derives from the UUID, with the id the simulator gave it', async () => {
    const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
    const first = await directory().lookUp({ enrollmentUserUuid: uuid });
    const again = await directory().lookUp({ enrollmentUserUuid: uuid });
    assert.equal(first.email, 'user-0a1b2c3d@uem-sim.example.com');
    assert.match(first.enrollmentUserId ?? '', /^\d+$/);
    assert.deepEqual(first, again);
  });

  it('v1: one call when the hinted id is right — UEM\'s v1 record by id names the UUID (Accept version=1, Email)', async () => {
    const { result: user, requests } = await requestsOf(() => directory({ apiVersion: 'v1' }).lookUp({ enrollmentUserUuid: MIRA, enrollmentUserId: '318' }));
    assert.equal(user.email, 'mira.kovac@example.test');
    assert.equal(user.enrollmentUserId, '318');
    assert.equal(user.userName, 'mkovac');
    assert.deepEqual(requests.map((r) => [r.path, r.accept]), [['/api/system/users/318', 'application/json;version=1']]);
  });

  it('v1 with a forged hint, or without one, falls back to v2 by UUID and the search', async () => {
    const forged = await requestsOf(() => directory({ apiVersion: 'v1' }).lookUp({ enrollmentUserUuid: MIRA, enrollmentUserId: '319' }));
    assert.equal(forged.result.email, 'mira.kovac@example.test');
    assert.equal(forged.result.enrollmentUserId, '318');
    assert.deepEqual(forged.requests.map((r) => r.path), ['/api/system/users/319', `/api/system/users/${MIRA}`, '/api/system/users/search']);
    const none = await requestsOf(() => directory({ apiVersion: 'v1' }).lookUp({ enrollmentUserUuid: '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d' }));
    assert.equal(none.result.email, 'user-0a1b2c3d@uem-sim.example.com');
    assert.equal(none.requests[0]!.accept, 'application/json;version=2');
  });

  it('a user set through POST /sim/users answers with its id and address', async () => {
    const uuid = '5e6f7a8b-0000-4000-8000-00000000c0de';
    const response = await fetch(`${sim.adminUrl}/users`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify([{ uuid, id: 90210, email: 'lena.marsh@example.test', userName: 'lmarsh' }]) });
    assert.equal(response.status, 201);
    const user = await directory().lookUp({ enrollmentUserUuid: uuid.toUpperCase() });
    assert.deepEqual(user, { email: 'lena.marsh@example.test', enrollmentUserId: '90210', displayName: 'Sim User 5e6f7a8b', userName: 'lmarsh' });
  });

  it('an empty email comes back as no email (the activity decides UserHasNoEmail)', async () => {
    const user = await directory().lookUp({ enrollmentUserUuid: '6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d' });
    assert.equal(user.email, undefined);
    assert.equal(user.userName, 'jberg');
    assert.equal(user.displayName, 'Jonas Berg');
  });

  it('a trailing /api or slash on the base URL is tolerated', async () => {
    const user = await directory({ baseUrl: `${sim.url}/api/` }).lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' });
    assert.equal(user.email, 'mira.kovac@example.test');
  });

  it('OAuth: fetches a client-credentials token once, reuses it, and renews it after a revocation', async () => {
    const oauthDirectory = directory({ basic: undefined, oauth: { tokenUrl: sim.tokenUrl!, ...OAUTH } });
    const before = sim.tokensIssued();
    await Promise.all([1, 2, 3].map(() => oauthDirectory.lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' })));
    await oauthDirectory.lookUp({ enrollmentUserUuid: '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d' });
    assert.equal(sim.tokensIssued() - before, 1, 'one token for four look-ups');
    assert.equal(sim.requests().at(-1)!.auth, 'bearer');
    sim.revokeTokens();
    const user = await oauthDirectory.lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' });
    assert.equal(user.email, 'mira.kovac@example.test');
    assert.equal(sim.tokensIssued() - before, 2, 'a new token after the 401');
  });

  it('OAuth with a wrong client secret → non-retryable ConfigurationError', async () => {
    const err = await failure(directory({ basic: undefined, oauth: { tokenUrl: sim.tokenUrl!, clientId: OAUTH.clientId, clientSecret: 'wrong' } }).lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' }));
    assert.equal(err.type, 'ConfigurationError');
    assert.equal(err.nonRetryable, true);
    assert.doesNotMatch(err.message, /wrong|oauth-Client-Secret/);
  });

  it('404 → non-retryable UserNotFound', async () => {
    const err = await failure(directory().lookUp({ enrollmentUserUuid: 'dead0000-0000-4000-8000-000000000404' }));
    assert.equal(err.type, 'UserNotFound');
    assert.equal(err.nonRetryable, true);
  });

  it('401 (wrong password or tenant code) → non-retryable ConfigurationError, no secret in the message', async () => {
    for (const options of [{ basic: { username: CREDENTIALS.username, password: 'wrong-password' } }, { tenantCode: 'wrong-tenant' }]) {
      const err = await failure(directory(options).lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' }));
      assert.equal(err.type, 'ConfigurationError');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /401/);
      assert.doesNotMatch(err.message, /wrong-password|wrong-tenant|uem-api-Password-1|tenant-code-0123456789/);
    }
  });

  it('5xx and 429 → retryable DirectoryUnavailable', async () => {
    for (const uuid of ['dead0000-0000-4000-8000-000000000503', 'dead0000-0000-4000-8000-000000000429']) {
      const err = await failure(directory().lookUp({ enrollmentUserUuid: uuid }));
      assert.equal(err.type, 'DirectoryUnavailable');
      assert.equal(err.nonRetryable, false);
    }
  });
});

describe("UemRestDirectory reading UEM's answers", function () {
  this.timeout(20_000);
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });
  const UUID = 'da6d08af-1c2d-4e3f-8a9b-0c1d2e3f4a5b';

  /** A UEM that answers each path with a fixed JSON body (or a status). */
  async function uem(routes: Record<string, { status?: number; body?: unknown; headers?: Record<string, string> }>): Promise<string> {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const route = routes[path];
      if (!route) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errorCode":404,"message":"Not found."}');
      res.writeHead(route.status ?? 200, { 'Content-Type': 'application/json', ...route.headers }).end(route.body === undefined ? '' : JSON.stringify(route.body));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const lookUp = (baseUrl: string, hint?: string) =>
    new UemRestDirectory({ baseUrl, apiVersion: 'v2', tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 5000 }).lookUp({ enrollmentUserUuid: UUID, ...(hint ? { enrollmentUserId: hint } : {}) });
  const search = { '/api/system/users/search': { body: { Users: [{ Id: { Value: 4711 }, Uuid: UUID.toUpperCase(), UserName: 'asmith' }], Page: 0, PageSize: 500, Total: 1 } } };

  it("reads the v2 answer in camelCase, as UEM's ReadEnrollmentUserV2Model writes it", async () => {
    const url = await uem({ [`/api/system/users/${UUID}`]: { body: { uuid: UUID, userName: 'asmith', firstName: 'Ann', lastName: 'Smith', displayName: 'Ann Smith', emailAddress: 'ann.smith@example.test', status: true } }, ...search });
    assert.deepEqual(await lookUp(url), { email: 'ann.smith@example.test', enrollmentUserId: '4711', displayName: 'Ann Smith', userName: 'asmith' });
  });

  it('still reads snake_case and PascalCase names, and joins first and last name when there is no display name', async () => {
    const snake = await uem({ [`/api/system/users/${UUID}`]: { body: { uuid: UUID, user_name: 'asmith', first_name: 'Ann', last_name: 'Smith', email_address: 'ann.smith@example.test' } }, ...search });
    assert.deepEqual(await lookUp(snake), { email: 'ann.smith@example.test', enrollmentUserId: '4711', displayName: 'Ann Smith', userName: 'asmith' });
  });

  it('no v1 record names the UUID → no enrollmentUserId (never the hint)', async () => {
    const url = await uem({
      [`/api/system/users/${UUID}`]: { body: { uuid: UUID, userName: 'asmith', emailAddress: 'ann.smith@example.test' } },
      '/api/system/users/77': { body: { Uuid: '11111111-2222-4333-8444-555555555555', Email: 'someone.else@example.test' } },
      '/api/system/users/search': { body: { Users: [{ Id: { Value: 9 }, Uuid: '11111111-2222-4333-8444-555555555555', UserName: 'asmith2' }], Page: 0, PageSize: 500, Total: 1 } },
    });
    const user = await lookUp(url, '77');
    assert.equal(user.email, 'ann.smith@example.test');
    assert.equal(user.enrollmentUserId, undefined);
  });

  it('429 with Retry-After → retryable DirectoryUnavailable whose next retry waits that long', async () => {
    const url = await uem({ [`/api/system/users/${UUID}`]: { status: 429, body: { errorCode: 429, message: 'Too many requests.' }, headers: { 'Retry-After': '12' } } });
    const err = await failure(lookUp(url));
    assert.equal(err.type, 'DirectoryUnavailable');
    assert.equal(err.nonRetryable, false);
    assert.equal(err.nextRetryDelay, 12_000);
    assert.match(err.message, /429.*Too many requests/);
  });

  it('a v2 answer naming another UUID → ConfigurationError (the wrong UEM or version answered)', async () => {
    const url = await uem({ [`/api/system/users/${UUID}`]: { body: { uuid: '11111111-2222-4333-8444-555555555555', emailAddress: 'x@example.test' } } });
    assert.equal((await failure(lookUp(url))).type, 'ConfigurationError');
  });
});

describe('UemRestDirectory without a working UEM', function () {
  this.timeout(20_000);
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const lookUp = (baseUrl: string, timeoutMs = 5000) =>
    new UemRestDirectory({ baseUrl, apiVersion: 'v2', tenantCode: TENANT, basic: CREDENTIALS, timeoutMs }).lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b' });

  it('connection refused → retryable DirectoryUnavailable', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const err = await failure(lookUp(url));
    assert.equal(err.type, 'DirectoryUnavailable');
    assert.equal(err.nonRetryable, false);
  });

  it('no answer within the timeout → retryable DirectoryUnavailable', async () => {
    const url = await serve(() => undefined); // never answers
    const started = Date.now();
    const err = await failure(lookUp(url, 300));
    assert.equal(err.type, 'DirectoryUnavailable');
    assert.match(err.message, /300 ms/);
    assert.ok(Date.now() - started < 3000);
  });

  it('a 200 that is not JSON (a login page) → non-retryable ConfigurationError', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>Sign in</html>');
    });
    const err = await failure(lookUp(url));
    assert.equal(err.type, 'ConfigurationError');
  });

  it('403 → ConfigurationError; 500 → DirectoryUnavailable', async () => {
    let status = 403;
    const url = await serve((_req, res) => {
      res.writeHead(status).end();
    });
    assert.equal((await failure(lookUp(url))).type, 'ConfigurationError');
    status = 500;
    assert.equal((await failure(lookUp(url))).type, 'DirectoryUnavailable');
  });
});

describe('the user directory registry', () => {
  const config = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides });
  const build = (cfg: Config) => createAdapter(directoryRegistry, cfg, createLogger({ level: 'silent' }));

  it('has no directory when UEM_API_URL is empty', async () => {
    assert.equal(await build(config({})), undefined);
  });

  it('builds a uem-rest directory from the UEM_API_* settings', async () => {
    const directory = await build(config({ uemApiUrl: 'http://127.0.0.1:8081', uemApiUsername: 'u', uemApiPassword: 'p', uemApiTenantCode: 't' }));
    assert.equal(directory?.type, 'uem-rest');
  });

  it('refuses a half configuration at start, naming the keys', () => {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { uemApiUrl: 'http://127.0.0.1:8081' }, role: 'api' }),
      (err: unknown) => err instanceof ConfigError && /UEM_API_TENANT_CODE/.test(err.message) && /UEM_API_USERNAME/.test(err.message),
    );
  });

  it('refuses plain http to anything but loopback', async () => {
    await assert.rejects(
      build(config({ uemApiUrl: 'http://uem.example.test', uemApiUsername: 'u', uemApiPassword: 'p', uemApiTenantCode: 't' })),
      (err: unknown) => err instanceof ConfigError && /UEM_API_URL: must be https/.test(err.message),
    );
  });
});
