/**
 * The fleet routes with Temporal unreachable: malformed ids are 404 and invalid bodies 422 without
 * asking it, anything that needs it is 503 + Retry-After (nothing started), and every answer
 * matches /openapi.json.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Connection } from '@temporalio/client';
import { openApiDocument } from '../../../src/api/openapi';
import { apiConfig, bearer, clientFor, freePort, OPERATOR_TOKEN, request, startApi, VIEWER_TOKEN, type HttpAnswer, type RunningApi, type TestConfig } from '../../helpers/api-harness';
import { OpenApiConformance } from './openapi-conformance';

describe('fleet routes without Temporal (closed port)', function () {
  this.timeout(30_000);
  const openapi = new OpenApiConformance(openApiDocument() as never);
  let api: RunningApi;
  let testConfig: TestConfig;
  let connection: Connection;

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

  async function call(method: string, path: string, token: string, json?: unknown): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Authorization: bearer(token) };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const answer = await request(`${api.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    openapi.assertConforms(method, path, answer);
    return answer;
  }

  it('503 with Retry-After for starts, looks, lists and cancels', async () => {
    const answers = [
      await call('POST', '/v1/backfills', OPERATOR_TOKEN, { all: true }),
      await call('POST', '/v1/reconciliations', OPERATOR_TOKEN),
      await call('POST', '/v1/renewals', OPERATOR_TOKEN, { all: true, reason: 'test' }),
      await call('GET', `/v1/backfills/smime-backfill-${randomUUID()}`, VIEWER_TOKEN),
      await call('GET', '/v1/reconciliations/smime-reconcile-smime-provisioning-2026-11-30T12:00:00Z', VIEWER_TOKEN),
      await call('GET', '/v1/renewals', VIEWER_TOKEN),
      await call('POST', `/v1/renewals/smime-renewal-${randomUUID()}/cancel`, OPERATOR_TOKEN),
    ];
    for (const answer of answers) {
      assert.equal(answer.status, 503, answer.text);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
    }
  });

  it('answers 401, 403, 404 and 422 without asking Temporal', async () => {
    const started = Date.now();
    assert.equal((await request(`${api.url}/v1/backfills`)).status, 401);
    assert.equal((await call('POST', '/v1/backfills', VIEWER_TOKEN, { all: true })).status, 403);
    assert.equal((await call('GET', '/v1/backfills/smime-renewal-1', VIEWER_TOKEN)).status, 404);
    assert.equal((await call('POST', '/v1/reconciliations/not-one/cancel', OPERATOR_TOKEN)).status, 404);
    assert.equal((await call('POST', '/v1/backfills', OPERATOR_TOKEN, { smartGroupId: 1, all: true })).status, 422);
    assert.equal((await call('GET', '/v1/backfills?pageSize=0', VIEWER_TOKEN)).status, 422);
    assert.equal((await call('GET', '/v1/credentials', VIEWER_TOKEN)).status, 503, 'no register in this API');
    assert.ok(Date.now() - started < 2000, 'no Temporal deadline was waited out');
  });
});
