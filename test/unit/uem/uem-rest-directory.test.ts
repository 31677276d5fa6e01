/**
 * UemRestDirectory against the UEM simulator on loopback: v1 and v2 look-ups, Basic and OAuth,
 * and every error class (404, 401/403, 5xx/429, network, timeout, not JSON).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUserDirectory, UemRestDirectory, type UemRestDirectoryOptions } from '../../../src/activities/uem/uem-rest-directory';
import { ConfigError, loadConfig } from '../../../src/config';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';
import { projectPath } from '../../../src/tools/paths';
import { failureOf as failure } from '../../helpers/failures';

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

  it('v2: looks the user up by UUID with Accept version=2 and aw-tenant-code, and reads email_address', async () => {
    const user = await directory().lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b', enrollmentUserId: '318' });
    assert.deepEqual(user, { email: 'mira.kovac@example.test', displayName: 'Mira Kovač', userName: 'mkovac' });
    const last = sim.requests().at(-1)!;
    assert.equal(last.path, '/api/system/users/b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b');
    assert.equal(last.accept, 'application/json;version=2');
    assert.equal(last.auth, 'basic');
  });

  it('v2: any other user is a stable synthetic one whose email derives from the UUID', async () => {
    const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
    const first = await directory().lookUp({ enrollmentUserUuid: uuid });
    const again = await directory().lookUp({ enrollmentUserUuid: uuid });
    assert.equal(first.email, 'user-0a1b2c3d@uem-sim.example.com');
    assert.deepEqual(first, again);
  });

  it('v1: looks the user up by numeric id with Accept version=1 and reads Email', async () => {
    const user = await directory({ apiVersion: 'v1' }).lookUp({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b', enrollmentUserId: '318' });
    assert.equal(user.email, 'mira.kovac@example.test');
    assert.equal(user.userName, 'mkovac');
    const last = sim.requests().at(-1)!;
    assert.equal(last.path, '/api/system/users/318');
    assert.equal(last.accept, 'application/json;version=1');
  });

  it('v1 without an EnrollmentUserId falls back to v2 by UUID', async () => {
    const user = await directory({ apiVersion: 'v1' }).lookUp({ enrollmentUserUuid: '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d' });
    assert.equal(user.email, 'user-0a1b2c3d@uem-sim.example.com');
    assert.equal(sim.requests().at(-1)!.accept, 'application/json;version=2');
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

describe('createUserDirectory', () => {
  const config = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides });

  it('is undefined when UEM_API_URL is empty', () => {
    assert.equal(createUserDirectory(config({})), undefined);
  });

  it('builds a uem-rest directory from the UEM_API_* settings', () => {
    const directory = createUserDirectory(config({ uemApiUrl: 'http://127.0.0.1:8081', uemApiUsername: 'u', uemApiPassword: 'p', uemApiTenantCode: 't' }));
    assert.equal(directory?.type, 'uem-rest');
  });

  it('refuses a half configuration, naming the keys', () => {
    assert.throws(
      () => createUserDirectory(config({ uemApiUrl: 'http://127.0.0.1:8081' })),
      (err: unknown) => err instanceof ConfigError && /UEM_API_TENANT_CODE/.test(err.message) && /UEM_API_USERNAME/.test(err.message),
    );
  });
});
