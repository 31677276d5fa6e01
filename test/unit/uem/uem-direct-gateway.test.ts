/**
 * UemDirectGateway against the UEM simulator on loopback (which opens each PKCS#12 and checks
 * it), Basic and OAuth; then against bare HTTP servers for what the simulator does not do
 * (timeouts, redirects, an error message that echoes input); then the factory.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CredentialUpload, CredentialGateway } from '../../../src/activities/ceg/credential-gateway';
import { createUemDirectGateway, UemDirectGateway, type UemDirectGatewayOptions } from '../../../src/activities/ceg/uem-direct-gateway';
import { ConfigError, loadConfig } from '../../../src/config';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';
import { tempDir } from '../crypto/support';
import { forgeCredential, opensslCredential, uploadOf, type TestCredential } from '../ceg/credential-fixtures';
import { failureOf as failure } from '../../helpers/failures';

const CREDENTIALS = { username: 'provider-api', password: 'uem-api-Password-1' };
const TENANT = 'tenant-code-0123456789';
const OAUTH = { clientId: 'provider-client', clientSecret: 'oauth-Client-Secret-1' };
const USER_ID = '5120';
const EMAIL = 'lena.weber@example.test';


describe('UemDirectGateway against the UEM simulator', function () {
  this.timeout(30_000);
  let sim: UemSimulator;
  let work: ReturnType<typeof tempDir>;
  let signing: TestCredential;
  let encryption: TestCredential;

  before(async () => {
    work = tempDir('uem-direct');
    sim = await startUemSimulator({
      port: 0,
      ...CREDENTIALS,
      tenantCode: TENANT,
      oauth: OAUTH,
      users: [
        { id: USER_ID, email: EMAIL },
        { id: 404, status: 404 },
        { id: 503, status: 503, retryAfterSeconds: 7 },
        { id: 429, status: 429 },
      ],
    });
    [signing, encryption] = await Promise.all([opensslCredential(work.path, { email: EMAIL }), opensslCredential(work.path, { email: EMAIL })]);
  });
  after(async () => {
    await sim?.close();
    work?.remove();
  });

  const gateway = (overrides: Partial<UemDirectGatewayOptions> = {}) =>
    new UemDirectGateway({ baseUrl: sim.url, tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 5000, ...overrides });
  const upload = (credential: TestCredential, overrides: Partial<CredentialUpload> = {}) => uploadOf(credential, { enrollmentUserId: USER_ID, ...overrides });
  const uploadsFor = (userId: string) => sim.directUploads().filter((u) => u.userId === userId);

  it('uploads a signing credential: POST uploadsmimecerts by EnrollmentUserId, Accept version=1, recorded as signing', async () => {
    const before = uploadsFor(USER_ID).length;
    const receipt = await gateway().upload(upload(signing, { kind: 'signing' }));
    assert.deepEqual(receipt, { alreadyPresent: false });
    const recorded = uploadsFor(USER_ID).slice(before);
    assert.equal(recorded.length, 1);
    assert.deepEqual(recorded[0]!.kinds, ['signing']);
    assert.deepEqual(recorded[0]!.thumbprints, { signing: signing.thumbprint });
    const request = sim.requests().at(-1)!;
    assert.deepEqual([request.method, request.path, request.accept, request.auth, request.status], ['POST', `/api/system/users/${USER_ID}/uploadsmimecerts`, 'application/json;version=1', 'basic', 200]);
  });

  it('uploads an encryption credential as the Encryption object only', async () => {
    const before = uploadsFor(USER_ID).length;
    await gateway().upload(upload(encryption, { kind: 'encryption' }));
    const recorded = uploadsFor(USER_ID).slice(before);
    assert.deepEqual(recorded.map((u) => [u.kinds, u.thumbprints]), [[['encryption'], { encryption: encryption.thumbprint }]]);
  });

  it('sends earlier encryption credentials in UEM\'s Archived list; the simulator opens each (an expired one too) and records its thumbprint', async () => {
    const current = await opensslCredential(work.path, { email: EMAIL });
    const older = await opensslCredential(work.path, { email: EMAIL, password: current.password });
    const expired = forgeCredential({ email: 'lena.weber@old-name.example', expired: true, password: current.password });
    const archived = [older, expired].map((c) => ({ pkcs12: c.pkcs12, thumbprint: c.thumbprint, notAfter: new Date().toISOString() }));
    const before = uploadsFor(USER_ID).length;
    assert.equal(gateway().carriesArchived, true);
    await gateway().upload(upload(current, { kind: 'encryption', archived }));
    const recorded = uploadsFor(USER_ID).slice(before);
    assert.deepEqual(recorded.map((u) => [u.kinds, u.thumbprints, u.archivedThumbprints]), [[['encryption'], { encryption: current.thumbprint }, [older.thumbprint, expired.thumbprint]]]);
  });

  it('an Archived certificate that does not open with the password → GatewayRejected naming it, nothing recorded', async () => {
    const current = await opensslCredential(work.path, { email: EMAIL });
    const other = await opensslCredential(work.path, { email: EMAIL });
    const before = uploadsFor(USER_ID).length;
    const err = await failure(gateway().upload(upload(current, { kind: 'encryption', archived: [{ pkcs12: other.pkcs12, thumbprint: other.thumbprint, notAfter: new Date().toISOString() }] })));
    assert.equal(err.type, 'GatewayRejected');
    assert.match(err.message, /Archived certificate 1: the certificate payload cannot be opened/);
    assert.equal(uploadsFor(USER_ID).length, before);
  });

  it('archived credentials with a signing credential → GatewayRejected, and nothing is sent', async () => {
    const before = sim.requests().length;
    const err = await failure(gateway().upload(upload(signing, { kind: 'signing', archived: [{ pkcs12: encryption.pkcs12, thumbprint: encryption.thumbprint, notAfter: new Date().toISOString() }] })));
    assert.equal(err.type, 'GatewayRejected');
    assert.equal(sim.requests().length, before);
  });

  it('uploading the same credential twice is harmless: both succeed', async () => {
    const credential = upload(signing, { kind: 'signing' });
    const first = await gateway().upload(credential);
    const second = await gateway().upload(credential);
    assert.deepEqual([first, second], [{ alreadyPresent: false }, { alreadyPresent: false }]);
  });

  it('the simulator records no secret: neither the password nor the PKCS#12', async () => {
    await gateway().upload(upload(signing));
    const recorded = JSON.stringify(sim.directUploads());
    assert.ok(!recorded.includes(signing.password));
    assert.ok(!recorded.includes(signing.pkcs12.toString('base64').slice(0, 40)));
  });

  it('a wrong password → non-retryable GatewayRejected with the status and UEM\'s message, not the password', async () => {
    const err = await failure(gateway().upload(upload(signing, { password: 'not-the-Password-42' })));
    assert.equal(err.type, 'GatewayRejected');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /HTTP 400/);
    assert.match(err.message, /cannot be opened with the password/);
    assert.doesNotMatch(err.message, /not-the-Password-42/);
  });

  it('a certificate for another email address → GatewayRejected', async () => {
    const other = await opensslCredential(work.path, { email: 'someone.else@example.test' });
    const err = await failure(gateway().upload(upload(other)));
    assert.equal(err.type, 'GatewayRejected');
    assert.match(err.message, /email address does not match/);
    assert.equal(uploadsFor(USER_ID).filter((u) => u.thumbprints?.signing === other.thumbprint).length, 0);
  });

  it('a PKCS#12 whose key is not the certificate\'s → GatewayRejected', async () => {
    const err = await failure(gateway().upload(upload(forgeCredential({ email: EMAIL, mismatchedKey: true }))));
    assert.equal(err.type, 'GatewayRejected');
    assert.match(err.message, /matches its private key/);
  });

  it('a user UEM does not know (404) → GatewayRejected', async () => {
    const err = await failure(gateway().upload(upload(signing, { enrollmentUserId: '404' })));
    assert.equal(err.type, 'GatewayRejected');
    assert.match(err.message, /HTTP 404/);
  });

  it('no EnrollmentUserId → GatewayRejected naming it, and nothing is sent', async () => {
    const before = sim.requests().length;
    const err = await failure(gateway().upload(upload(signing, { enrollmentUserId: undefined })));
    assert.equal(err.type, 'GatewayRejected');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /EnrollmentUserId/);
    assert.equal(sim.requests().length, before);
  });

  it('wrong Basic credentials or tenant code (401) → non-retryable ConfigurationError without the secrets', async () => {
    for (const options of [{ basic: { username: CREDENTIALS.username, password: 'wrong-password' } }, { tenantCode: 'wrong-tenant' }]) {
      const err = await failure(gateway(options).upload(upload(signing)));
      assert.equal(err.type, 'ConfigurationError');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /HTTP 401/);
      assert.doesNotMatch(err.message, /wrong-password|wrong-tenant|uem-api-Password-1|tenant-code-0123456789/);
    }
  });

  it('OAuth: one token for several uploads, a new one after UEM revokes it', async () => {
    const oauthGateway = gateway({ basic: undefined, oauth: { tokenUrl: sim.tokenUrl!, ...OAUTH } });
    const before = sim.tokensIssued();
    await Promise.all([oauthGateway.upload(upload(signing)), oauthGateway.upload(upload(encryption, { kind: 'encryption' }))]);
    await oauthGateway.upload(upload(signing));
    assert.equal(sim.tokensIssued() - before, 1, 'one token for three uploads');
    assert.equal(sim.requests().at(-1)!.auth, 'bearer');
    sim.revokeTokens();
    const receipt = await oauthGateway.upload(upload(signing));
    assert.deepEqual(receipt, { alreadyPresent: false });
    assert.equal(sim.tokensIssued() - before, 2, 'a new token after the 401');
  });

  it('OAuth with a wrong client secret → ConfigurationError', async () => {
    const err = await failure(gateway({ basic: undefined, oauth: { tokenUrl: sim.tokenUrl!, clientId: OAUTH.clientId, clientSecret: 'wrong-secret' } }).upload(upload(signing)));
    assert.equal(err.type, 'ConfigurationError');
    assert.doesNotMatch(err.message, /wrong-secret|oauth-Client-Secret-1/);
  });

  it('503 with Retry-After → retryable GatewayUnavailable whose next retry waits that long', async () => {
    const err = await failure(gateway().upload(upload(signing, { enrollmentUserId: '503' })));
    assert.equal(err.type, 'GatewayUnavailable');
    assert.equal(err.nonRetryable, false);
    assert.equal(err.nextRetryDelay, 7000);
    assert.match(err.message, /HTTP 503/);
  });

  it('429 without Retry-After → GatewayUnavailable with no delay of its own', async () => {
    const err = await failure(gateway().upload(upload(signing, { enrollmentUserId: '429' })));
    assert.equal(err.type, 'GatewayUnavailable');
    assert.equal(err.nextRetryDelay, undefined);
  });

  it('offers no delete: UEM has no call to remove uploaded S/MIME certificates', () => {
    const asGateway: CredentialGateway = gateway();
    assert.equal(asGateway.delete, undefined);
    assert.equal(asGateway.type, 'uem-direct');
  });
});

describe('UemDirectGateway without a working UEM', function () {
  this.timeout(20_000);
  let server: Server | undefined;
  let work: ReturnType<typeof tempDir>;
  let credential: TestCredential;
  before(async () => {
    work = tempDir('uem-direct-down');
    credential = await opensslCredential(work.path, { email: EMAIL });
  });
  after(() => work?.remove());
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const send = (baseUrl: string, timeoutMs = 5000) =>
    new UemDirectGateway({ baseUrl, tenantCode: TENANT, basic: CREDENTIALS, timeoutMs }).upload(uploadOf(credential, { enrollmentUserId: USER_ID }));

  it('server down (connection refused) → retryable GatewayUnavailable', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const err = await failure(send(url));
    assert.equal(err.type, 'GatewayUnavailable');
    assert.equal(err.nonRetryable, false);
  });

  it('no answer within GATEWAY_TIMEOUT → GatewayUnavailable naming the timeout', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    const err = await failure(send(url, 300));
    assert.equal(err.type, 'GatewayUnavailable');
    assert.match(err.message, /300 ms/);
    assert.ok(Date.now() - started < 3000);
  });

  it('a redirect is not followed (the credential stays here) → ConfigurationError', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits += 1;
      res.writeHead(302, { Location: 'https://login.example.test/sso?session=abc' }).end();
    });
    const err = await failure(send(url));
    assert.equal(err.type, 'ConfigurationError');
    assert.match(err.message, /login\.example\.test/);
    assert.doesNotMatch(err.message, /session=abc/);
    assert.equal(hits, 1);
  });

  it('an error message that echoes what we sent is scrubbed before it goes into the failure', async () => {
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const sent = JSON.parse(body) as { Signing: { CertificatePayload: string; Password: string } };
        res.writeHead(422, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errorCode: 1001, message: `Bad password ${sent.Signing.Password} for ${sent.Signing.CertificatePayload}` }));
      });
    });
    const err = await failure(send(url));
    assert.equal(err.type, 'GatewayRejected');
    assert.match(err.message, /HTTP 422: Bad password \[redacted\] for \[redacted\]/);
    assert.ok(!err.message.includes(credential.password));
    assert.ok(!JSON.stringify(err.details).includes(credential.password));
  });

  it('403 → ConfigurationError; 500 → GatewayUnavailable; 409 → GatewayRejected', async () => {
    let status = 403;
    const url = await serve((_req, res) => {
      res.writeHead(status).end();
    });
    assert.equal((await failure(send(url))).type, 'ConfigurationError');
    status = 500;
    assert.equal((await failure(send(url))).type, 'GatewayUnavailable');
    status = 409;
    assert.equal((await failure(send(url))).type, 'GatewayRejected');
  });

  it('201 and 204 are successes too', async () => {
    let status = 201;
    const url = await serve((_req, res) => {
      res.writeHead(status).end();
    });
    assert.deepEqual(await send(url), { alreadyPresent: false });
    status = 204;
    assert.deepEqual(await send(url), { alreadyPresent: false });
  });
});

describe('createUemDirectGateway', () => {
  const config = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides: { gatewayType: 'uem-direct', ...overrides } });

  it('builds a uem-direct gateway from the UEM_API_* settings', () => {
    const gateway = createUemDirectGateway(config({ uemApiUrl: 'http://127.0.0.1:8081', uemApiUsername: 'u', uemApiPassword: 'p', uemApiTenantCode: 't' }));
    assert.ok(gateway instanceof UemDirectGateway);
    assert.equal(gateway.type, 'uem-direct');
  });

  it('refuses missing credentials and tenant code at worker start, naming the keys', () => {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { gatewayType: 'uem-direct', uemApiUrl: 'http://127.0.0.1:8081' }, role: 'worker' }),
      (err: unknown) => err instanceof ConfigError && /UEM_API_TENANT_CODE/.test(err.message) && /UEM_API_USERNAME/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ env: {}, overrides: { gatewayType: 'uem-direct' }, role: 'worker' }),
      (err: unknown) => err instanceof ConfigError && /UEM_API_URL: required when GATEWAY_TYPE=uem-direct/.test(err.message),
    );
  });

  it('refuses a UEM_API_URL that is not an https URL (plain http only to loopback)', () => {
    assert.throws(
      () => createUemDirectGateway(config({ uemApiUrl: 'ftp://uem.example.test', uemApiUsername: 'u', uemApiPassword: 'p', uemApiTenantCode: 't' })),
      (err: unknown) => err instanceof ConfigError && /UEM_API_URL: must be an https URL/.test(err.message),
    );
  });
});
