/**
 * The API with Temporal unreachable (a client pointed at a closed loopback port): every answer
 * that does not need Temporal, and 503 + Retry-After for those that do. Every response is checked
 * against /openapi.json.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type express from 'express';
import type { Connection } from '@temporalio/client';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { createApp } from '../../../src/api/app';
import { openApiDocument } from '../../../src/api/openapi';
import { SqliteDatabase } from '../../../src/activities/database/sqlite-database';
import { AesGcmPayloadCodec } from '../../../src/temporal/codec';
import { codecOperations } from '../../../src/temporal/codec-operations';
import { createCodecRouter } from '../../../src/temporal/codec-server';
import { SqlCodecSessionStore } from '../../../src/temporal/codec-sessions';
import { projectPath } from '../../../src/tools/paths';
import {
  apiConfig,
  basic,
  bearer,
  capturingLogger,
  clientFor,
  freePort,
  OPERATOR_TOKEN,
  request,
  startApi,
  VIEWER_TOKEN,
  WEBHOOK_PASSWORD,
  WEBHOOK_PASSWORD_NEXT,
  WEBHOOK_USER,
  WEBHOOK_USER_NEXT,
  type HttpAnswer,
  type RunningApi,
  type TestConfig,
} from '../../helpers/api-harness';
import { OpenApiConformance, registeredRoutes } from './openapi-conformance';

const SAMPLES = projectPath('test', 'fixtures', 'uem-events');
const OURS = projectPath('test', 'fixtures', 'uem');
const fixture = (dir: string, file: string) => readFileSync(join(dir, file));
const AN_ID = 'smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f';

describe('API without Temporal (closed port)', function () {
  this.timeout(30_000);
  let api: RunningApi;
  let testConfig: TestConfig;
  let connection: Connection;
  const openapi = new OpenApiConformance(openApiDocument() as never);

  before(async () => {
    testConfig = apiConfig();
    const unreachable = clientFor(`127.0.0.1:${await freePort()}`);
    connection = unreachable.connection;
    api = await startApi({ client: unreachable.client, config: testConfig.config, temporalTimeoutMs: 3000 });
  });
  after(async () => {
    await api?.close();
    await connection?.close();
    testConfig?.cleanUp();
  });

  /** Request, then check the answer against the OpenAPI document. */
  async function call(method: string, path: string, init: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpAnswer> {
    const answer = await request(`${api.url}${path}`, { method, ...init });
    openapi.assertConforms(method, path, answer);
    return answer;
  }
  const webhook = (body: string | Buffer, contentType = 'application/json', authorization = basic()) =>
    call('POST', '/webhooks/uem', { headers: { 'Content-Type': contentType, Authorization: authorization }, body });

  function assertProblem(answer: HttpAnswer, status: number, field?: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = answer.json as { status: number; type: string; title: string; field?: string; requestId?: string };
    assert.equal(problem.status, status);
    assert.match(problem.type, /^urn:smime-escrow-provider:problem:/);
    assert.equal(problem.requestId, answer.headers.get('x-request-id'));
    if (field !== undefined) assert.equal(problem.field, field);
  }

  describe('health', () => {
    it('GET /healthz → 200 while Temporal is down', async () => {
      const answer = await call('GET', '/healthz');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { status: 'ok' });
    });

    it('GET /readyz → 503 with Retry-After while Temporal is down', async () => {
      const answer = await call('GET', '/readyz');
      assertProblem(answer, 503);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
    });
  });

  describe('webhook authentication', () => {
    it('GET (Test Connection) → 200 with either of the rotating pairs', async () => {
      for (const authorization of [basic(WEBHOOK_USER, WEBHOOK_PASSWORD), basic(WEBHOOK_USER_NEXT, WEBHOOK_PASSWORD_NEXT)]) {
        const answer = await call('GET', '/webhooks/uem', { headers: { Authorization: authorization } });
        assert.equal(answer.status, 200);
      }
    });

    it('GET without or with wrong credentials → 401 with a Basic challenge', async () => {
      for (const headers of [{}, { Authorization: basic(WEBHOOK_USER, 'wrong') }, { Authorization: bearer(OPERATOR_TOKEN) }] as Record<string, string>[]) {
        const answer = await call('GET', '/webhooks/uem', { headers });
        assertProblem(answer, 401);
        assert.match(answer.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      }
    });

    it('POST with wrong credentials → 401 before the body is looked at (even if it is too large or not JSON)', async () => {
      assertProblem(await webhook(fixture(SAMPLES, 'enrollment-full.json'), 'application/json', basic('uem-console', 'guess')), 401);
      assertProblem(await webhook(Buffer.alloc(100 * 1024, 'x'), 'text/plain', basic('nobody', 'x')), 401);
    });
  });

  describe('webhook bad input: 4xx problem details, never 5xx, nothing started', () => {
    it('415 for a Content-Type other than JSON or XML', async () => {
      assertProblem(await webhook('EventType=x', 'application/x-www-form-urlencoded'), 415);
      assertProblem(await webhook('hello', 'text/plain'), 415);
    });

    it('413 for a body over 64 KiB', async () => {
      const big = JSON.stringify({ EventType: 'MDM Enrollment Complete', Padding: 'x'.repeat(65 * 1024) });
      assertProblem(await webhook(big), 413);
    });

    it('400 for malformed JSON, malformed XML, a DOCTYPE, a wrong root, an empty body', async () => {
      assertProblem(await webhook(fixture(OURS, 'json-truncated.json')), 400);
      assertProblem(await webhook(fixture(OURS, 'xml-truncated.xml'), 'application/xml'), 400);
      assertProblem(await webhook(fixture(OURS, 'xml-external-entity.xml'), 'text/xml'), 400);
      assertProblem(await webhook(fixture(OURS, 'xml-entity-expansion.xml'), 'application/xml'), 400);
      assertProblem(await webhook(fixture(OURS, 'xml-wrong-root.xml'), 'application/xml'), 400);
      assertProblem(await webhook(''), 400);
    });

    it('422 naming the field for an enrollment without a valid DeviceUUID / EnrollmentUserUUID / EventTime', async () => {
      assertProblem(await webhook(fixture(OURS, 'json-missing-device-uuid.json')), 422, 'DeviceUUID');
      assertProblem(await webhook(fixture(OURS, 'json-bad-user-uuid.json')), 422, 'EnrollmentUserUUID');
      assertProblem(await webhook(fixture(OURS, 'json-bad-event-time.json')), 422, 'EventTime');
    });

    it('odd bodies never produce a 5xx', async () => {
      const bodies: [string, string | Buffer][] = [
        ['application/json', '{"__proto__": {"polluted": true}, "EventType": "MDM Enrollment Complete"}'],
        ['application/json', '{"constructor": {"prototype": {"x": 1}}, "EventType": 7}'],
        ['application/json', `${'['.repeat(5000)}${']'.repeat(5000)}`],
        ['application/json', '{"EventType": "MDM Enrollment Complete", "DeviceUUID": 1e309, "EnrollmentUserUUID": true, "EventTime": {"a": 1}}'],
        ['application/json', '"just a string"'],
        ['application/json', 'null'],
        ['application/json', Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])],
        ['application/xml', '<Eventlog><EventType><![CDATA[MDM Enrollment Complete]]></EventType></Eventlog>'],
        ['application/xml', '<?xml version="1.0"?><Eventlog><EventType>x</EventType><EventType>y</EventType></Eventlog>'],
        ['application/xml', `<Eventlog>${'<a>'.repeat(2000)}${'</a>'.repeat(2000)}</Eventlog>`],
        ['application/xml', Buffer.from([0x3c, 0xff, 0xfe, 0x3e])],
        ['application/json; charset=shift_jis', '{"EventType": "Compromised Status Changed"}'],
      ];
      for (const [contentType, body] of bodies) {
        const answer = await webhook(body, contentType);
        assert.ok(answer.status < 500, `${contentType} ${String(body).slice(0, 60)} → ${answer.status} ${answer.text}`);
        assert.notEqual(answer.status, 200, 'nothing was started or joined');
        assert.ok(answer.status !== 202 || (answer.json as { outcome: string }).outcome === 'ignored');
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('405 with Allow for other methods', async () => {
      const answer = await request(`${api.url}/webhooks/uem`, { method: 'PUT', headers: { Authorization: basic() } });
      assertProblem(answer, 405);
      assert.equal(answer.headers.get('allow'), 'GET, POST');
    });
  });

  describe('webhook events that need no Temporal, and 503 for those that do', () => {
    it('an event the provider does not act on → 202 ignored', async () => {
      const answer = await webhook(fixture(SAMPLES, 'compromised-status.json'));
      assert.equal(answer.status, 202);
      assert.deepEqual(answer.json, { outcome: 'ignored', eventType: 'Compromised Status Changed' });
    });

    it('a valid enrollment while Temporal is unreachable → 503 with Retry-After', async () => {
      const started = Date.now();
      const answer = await webhook(fixture(SAMPLES, 'enrollment-full.json'));
      assertProblem(answer, 503);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
      assert.ok(Date.now() - started < 10_000, 'answers within the Temporal deadline');
    });

    it('an unenrollment while Temporal is unreachable → 503 (UEM retries; the cancellation is not lost)', async () => {
      assertProblem(await webhook(fixture(SAMPLES, 'break-mdm-no-spaces.json')), 503);
      assertProblem(await webhook(fixture(OURS, 'xml-device-wipe.xml'), 'application/xml'), 503);
    });
  });

  describe('management API auth and validation', () => {
    it('401 without a token or with an unknown one', async () => {
      assertProblem(await call('GET', '/v1/enrollments'), 401);
      assertProblem(await call('GET', '/v1/enrollments', { headers: { Authorization: bearer('not-a-known-token-000000') } }), 401);
      assertProblem(await call('GET', '/v1/enrollments', { headers: { Authorization: basic() } }), 401);
    });

    it('403 when a viewer tries to act', async () => {
      const headers = { Authorization: bearer(VIEWER_TOKEN), 'Content-Type': 'application/json' };
      assertProblem(await call('POST', '/v1/enrollments', { headers, body: '{}' }), 403);
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/cancel`, { headers }), 403);
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/retry`, { headers }), 403);
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/terminate`, { headers, body: '{"reason":"x"}' }), 403);
    });

    it('404 for an id that is not a provisioning workflow (Temporal is not asked)', async () => {
      assertProblem(await call('GET', '/v1/enrollments/some-other-workflow', { headers: { Authorization: bearer(VIEWER_TOKEN) } }), 404);
      assertProblem(await call('POST', '/v1/enrollments/x/cancel', { headers: { Authorization: bearer(OPERATOR_TOKEN) } }), 404);
    });

    it('422 for invalid list filters and start fields; 415 and 400 for bodies that are not JSON', async () => {
      const viewer = { Authorization: bearer(VIEWER_TOKEN) };
      assertProblem(await call('GET', '/v1/enrollments?stage=Sleeping', { headers: viewer }), 422, 'stage');
      assertProblem(await call('GET', "/v1/enrollments?deviceUuid=x'%20OR%20'1'='1", { headers: viewer }), 422, 'deviceUuid');
      assertProblem(await call('GET', '/v1/enrollments?pageSize=0', { headers: viewer }), 422, 'pageSize');
      const operator = { Authorization: bearer(OPERATOR_TOKEN), 'Content-Type': 'application/json' };
      assertProblem(await call('POST', '/v1/enrollments', { headers: operator, body: '{"deviceUuid":"3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f"}' }), 422, 'enrollmentUserUuid');
      assertProblem(
        await call('POST', '/v1/enrollments', {
          headers: operator,
          body: JSON.stringify({ enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b', deviceUuid: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f', email: 'not-an-email' }),
        }),
        422,
        'email',
      );
      assertProblem(await call('POST', '/v1/enrollments', { headers: operator, body: '{"enrollmentUserUuid":' }), 400);
      assertProblem(await call('POST', '/v1/enrollments', { headers: { ...operator, 'Content-Type': 'text/plain' }, body: 'x' }), 415);
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/terminate`, { headers: operator, body: '{}' }), 422, 'reason');
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/terminate`, { headers: operator, body: '{"reason":"   "}' }), 422, 'reason');
    });

    it('503 with Retry-After for reads and actions while Temporal is unreachable', async () => {
      const viewer = { Authorization: bearer(VIEWER_TOKEN) };
      const operator = { Authorization: bearer(OPERATOR_TOKEN) };
      assertProblem(await call('GET', '/v1/enrollments', { headers: viewer }), 503);
      assertProblem(await call('GET', `/v1/enrollments/${AN_ID}`, { headers: viewer }), 503);
      assertProblem(await call('POST', `/v1/enrollments/${AN_ID}/retry`, { headers: operator }), 503);
      const answer = await call('POST', `/v1/enrollments/${AN_ID}/cancel`, { headers: operator });
      assertProblem(answer, 503);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
    });
  });

  describe('cross-cutting', () => {
    it('unknown routes → 404 problem details', async () => {
      const answer = await request(`${api.url}/nope`);
      assertProblem(answer, 404);
    });

    it('echoes a sane X-Request-Id and replaces an odd one', async () => {
      const kept = await request(`${api.url}/healthz`, { headers: { 'X-Request-Id': 'uem-retry-42' } });
      assert.equal(kept.headers.get('x-request-id'), 'uem-retry-42');
      const replaced = await request(`${api.url}/healthz`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
      assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    });

    it('logs one line per request with id, route, status and latency, and never an Authorization header or password', async () => {
      await webhook(fixture(SAMPLES, 'compromised-status.json'));
      await call('GET', '/v1/enrollments/some-other-workflow', { headers: { Authorization: bearer(VIEWER_TOKEN) } });
      const requests = api.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === 'request');
      const webhookLine = requests.find((l) => l.route === '/webhooks/uem' && l.status === 202);
      assert.ok(webhookLine, 'the webhook request was logged');
      assert.equal(typeof webhookLine.reqId, 'string');
      assert.equal(typeof webhookLine.latencyMs, 'number');
      assert.ok(requests.some((l) => l.route === '/v1/enrollments/:workflowId' && l.status === 404));
      const all = api.lines.join('\n');
      for (const secret of [WEBHOOK_PASSWORD, WEBHOOK_PASSWORD_NEXT, VIEWER_TOKEN, OPERATOR_TOKEN, basic().slice(6)]) {
        assert.ok(!all.includes(secret), 'a credential appears in the log');
      }
      assert.doesNotMatch(all, /authorization/i);
    });

    it('counts webhook events by type and outcome on /metrics', async () => {
      await webhook(fixture(SAMPLES, 'compromised-status.json'));
      const answer = await call('GET', '/metrics');
      assert.equal(answer.status, 200);
      assert.match(answer.text, /smime_uem_events_received_total\{type="other",outcome="ignored"\} \d+/);
      assert.match(answer.text, /smime_uem_events_received_total\{type="unknown",outcome="unauthorized"\} \d+/);
      assert.match(answer.text, /smime_uem_events_received_total\{type="enrollment",outcome="unavailable"\} \d+/);
      assert.match(answer.text, /smime_api_request_duration_seconds_bucket\{.*route="\/webhooks\/uem"/);
    });

    it('serves its OpenAPI 3.1 document', async () => {
      const answer = await call('GET', '/openapi.json');
      assert.equal((answer.json as { openapi: string }).openapi, '3.1.0');
    });
  });
});

describe('OpenAPI document', () => {
  /** Served and documented routes, both ways: nothing served without its description, nothing described that is not served. */
  function assertDocumentsExactly(app: express.Express, document: Record<string, unknown>): void {
    const registered = registeredRoutes(app).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    const paths = document.paths as Record<string, Record<string, unknown>>;
    const documented = Object.entries(paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    assert.ok(registered.length >= 12, `found only ${registered.length} routes: is the router walk still right?`);
    for (const route of registered) assert.ok(documented.includes(route), `${route} is served but not in /openapi.json`);
    for (const route of documented) assert.ok(registered.includes(route), `${route} is in /openapi.json but not served`);
  }

  it('documents every route the app registers, and nothing it does not', () => {
    const { config, cleanUp } = apiConfig();
    try {
      const { client } = clientFor('127.0.0.1:1');
      const { Registry } = require('prom-client') as typeof import('prom-client');
      const app = createApp({ client, config, logger: capturingLogger().logger, registry: new Registry() });
      assertDocumentsExactly(app, openApiDocument());
    } finally {
      cleanUp();
    }
  });

  it('lists the operations of extra routers (the codec endpoints) with the API\'s own', () => {
    const { config, cleanUp } = apiConfig();
    try {
      const sessions = new SqlCodecSessionStore(() => SqliteDatabase.open({ file: join(config.dataDirAbsolute, 'escrow.db'), logger: capturingLogger().logger }));
      const codecRouter = createCodecRouter({ codec: new AesGcmPayloadCodec(new Keyring([{ kid: 'k1', key: randomBytes(32) }])), allowedOrigins: [], isOperator: () => false, sessions });
      const { Registry } = require('prom-client') as typeof import('prom-client');
      const app = createApp({
        client: clientFor('127.0.0.1:1').client,
        config,
        logger: capturingLogger().logger,
        registry: new Registry(),
        extraRouters: [codecRouter],
        extraOperations: codecOperations,
      });
      const document = openApiDocument(codecOperations);
      assert.ok((document.paths as Record<string, unknown>)['/codec/decode']);
      assertDocumentsExactly(app, document);
    } finally {
      cleanUp();
    }
  });
});

describe('rate limits per credential (429 + Retry-After)', function () {
  this.timeout(30_000);
  let api: RunningApi;
  let testConfig: TestConfig;
  let connection: Connection;
  const openapi = new OpenApiConformance(openApiDocument() as never);

  before(async () => {
    // 1 request per second with bursts of 2, so the third request at once is refused.
    testConfig = apiConfig({ webhookRateLimit: '1', apiRateLimit: '1' });
    const unreachable = clientFor(`127.0.0.1:${await freePort()}`);
    connection = unreachable.connection;
    api = await startApi({ client: unreachable.client, config: testConfig.config, temporalTimeoutMs: 3000 });
  });
  after(async () => {
    await api?.close();
    await connection?.close();
    testConfig?.cleanUp();
  });

  async function call(method: string, path: string, headers: Record<string, string>): Promise<HttpAnswer> {
    const answer = await request(`${api.url}${path}`, { method, headers });
    openapi.assertConforms(method, path, answer);
    return answer;
  }

  it('the webhook: per user, after authentication', async () => {
    for (let i = 0; i < 2; i += 1) assert.equal((await call('GET', '/webhooks/uem', { Authorization: basic() })).status, 200);
    const limited = await call('GET', '/webhooks/uem', { Authorization: basic() });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.match(limited.headers.get('content-type') ?? '', /^application\/problem\+json/);
    // Both pairs of a rotation are the same user, and so the same caller; wrong credentials are still 401.
    assert.equal((await call('GET', '/webhooks/uem', { Authorization: basic(WEBHOOK_USER_NEXT, WEBHOOK_PASSWORD_NEXT) })).status, 429);
    assert.equal((await call('GET', '/webhooks/uem', { Authorization: basic(WEBHOOK_USER, 'wrong-password-of-some-length') })).status, 401);
  });

  it('the management API: per token, whatever the route; another token has its own allowance', async () => {
    const paths = ['/v1/enrollments/not-an-id', '/v1/enrollments/also-not-an-id'];
    for (const path of paths) assert.equal((await call('GET', path, { Authorization: bearer(VIEWER_TOKEN) })).status, 404);
    const limited = await call('GET', paths[0]!, { Authorization: bearer(VIEWER_TOKEN) });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await call('GET', paths[0]!, { Authorization: bearer(OPERATOR_TOKEN) })).status, 404);
  });

  it('fills up again at the configured rate', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await call('GET', '/webhooks/uem', { Authorization: basic() })).status, 200);
  });
});
