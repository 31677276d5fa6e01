/**
 * The fleet sweeps through the management API, on the dev server with real activities (embedded
 * CA, CEG simulator, the register), the UEM simulator's inventory behind the real UEM REST adapter,
 * and the API reading the worker's register file: roles, validation (nothing started by a refused
 * request), unknown ids, a backfill of a smart group from 202 to Completed with its counts, a
 * second one that starts nothing, the credentials it delivered, a reconciliation on demand and one
 * run by the reconcile Schedule, a slow backfill cancelled, renewals on demand. Every answer is
 * checked against /openapi.json. The tests build on each other, in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { LazyCredentialRegister } from '../../src/api/credential-reader';
import { openApiDocument } from '../../src/api/openapi';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { ensureReconcileSchedule } from '../../src/temporal/fleet';
import { reconcileScheduleId } from '../../src/workflows/fleet-definitions';
import { apiConfig, bearer, OPERATOR_TOKEN, request, startApi, VIEWER_TOKEN, type HttpAnswer, type RunningApi, type TestConfig } from '../helpers/api-harness';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';
import { OpenApiConformance } from '../unit/api/openapi-conformance';

const GROUP = 42;
const OTHER_GROUP = 7;
const SLOW_GROUP = 99;
const DAY = 86_400_000;

interface Device {
  deviceUuid: string;
  enrollmentUserUuid: string;
}
interface SweepAnswer {
  id: string;
  state: string;
  phase?: string;
  startedAt: string;
  updatedAt?: string;
  closedAt?: string;
  ratePerSecond?: number;
  devicesSeen: number;
  started: number;
  alreadyDelivered?: number;
  alreadyRunning: number;
  skipped?: number;
  failed: number;
  retired?: number;
  renewalsSelected?: number;
  notes?: string[];
  scheduled?: boolean;
  scope?: { smartGroupId?: number };
  selector?: Record<string, unknown>;
  reason?: string;
  selected?: number;
  completed?: number;
  running?: number;
  cancelled?: number;
}
interface CredentialAnswer {
  kind: string;
  state: string;
  serialNumber?: string;
  deviceUuid: string;
  workflowId: string;
  gateway?: string;
  deliveredAt?: string;
}

describe('fleet sweeps through the management API (dev server, UEM and CEG simulators, real activities)', function () {
  this.timeout(120_000);
  const openapi = new OpenApiConformance(openApiDocument() as never);
  let uem: UemSimulator;
  let stack: ProviderStack;
  let reader: LazyCredentialRegister;
  let testConfig: TestConfig;
  let api: RunningApi;
  const group: Device[] = [];
  let firstBackfill = '';

  before(async function () {
    this.timeout(120_000);
    uem = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
    const directory = new UemRestDirectory({ baseUrl: uem.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 10_000 });
    stack = await startProviderStack({
      directory,
      inventory: directory,
      overrides: {
        // EC keys: what costs CPU per device is not what these tests are about.
        keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }),
        recipientCertificatePem: undefined,
        fleet: { reconcileScope: {}, ratePerSecond: 50, pageSize: 100, renewBeforeMs: 30 * DAY, retireLimitPercent: 25 },
      },
    });
    // The API as deployed next to the worker: same task queue, same DATA_DIR/escrow.db, its own connection to it.
    testConfig = apiConfig({ dataDir: stack.dataDir, taskQueue: stack.taskQueue });
    reader = new LazyCredentialRegister(() => SqliteDatabase.open({ file: join(stack.dataDir, 'escrow.db'), logger: createLogger({ level: 'silent' }) }));
    api = await startApi({ client: stack.client, config: testConfig.config, credentials: reader });
  });
  after(async function () {
    this.timeout(60_000);
    await stack?.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue)).delete().catch(() => undefined);
    await api?.close();
    await reader?.close();
    await stack?.stop();
    await uem?.close();
    testConfig?.cleanUp();
  });

  async function call(method: string, path: string, token: string | undefined, json?: unknown, contentType = 'application/json'): Promise<HttpAnswer> {
    const headers: Record<string, string> = token ? { Authorization: bearer(token) } : {};
    if (json !== undefined) headers['Content-Type'] = contentType;
    const answer = await request(`${api.url}${path}`, { method, headers, body: json === undefined ? undefined : typeof json === 'string' ? json : JSON.stringify(json) });
    openapi.assertConforms(method, path, answer);
    return answer;
  }
  function assertProblem(answer: HttpAnswer, status: number, field?: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    if (field !== undefined) assert.equal((answer.json as { field?: string }).field, field, answer.text);
  }
  const get = async (path: string, token = OPERATOR_TOKEN) => {
    const answer = await call('GET', path, token);
    assert.equal(answer.status, 200, answer.text);
    return answer.json as SweepAnswer;
  };
  async function start(path: string, body: unknown): Promise<string> {
    const answer = await call('POST', path, OPERATOR_TOKEN, body);
    assert.equal(answer.status, 202, answer.text);
    const { id } = answer.json as { id: string };
    assert.equal(answer.headers.get('location'), `${path}/${id}`);
    return id;
  }
  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  const ended = (path: string, timeoutMs?: number) => until(`${path} to end`, async () => {
    const view = await get(path);
    return view.state === 'Running' ? undefined : view;
  }, timeoutMs);
  const runsOf = async (sweepId: string, status?: string) =>
    (await stack.client.workflow.count(`FleetSweep = '${sweepId}'${status ? ` AND ExecutionStatus = '${status}'` : ''}`)).count;
  async function addDevices(count: number, smartGroupId: number, extra: Record<string, unknown> = {}): Promise<Device[]> {
    const devices = Array.from({ length: count }, () => ({ deviceUuid: randomUUID(), enrollmentUserUuid: randomUUID() }));
    const answer = await request(`${uem.adminUrl}/devices`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(devices.map((d) => ({ ...d, smartGroupIds: [smartGroupId], ...extra }))),
    });
    assert.equal(answer.status, 201, answer.text);
    return devices;
  }
  const workflowsOnQueue = async () => (await stack.client.workflow.count(`TaskQueue = '${stack.taskQueue}'`)).count;

  it('refuses viewers, invalid bodies and unknown fields with 4xx problems — and starts nothing', async () => {
    const before = await workflowsOnQueue();
    const anyId = `smime-backfill-${randomUUID()}`;
    assertProblem(await call('POST', '/v1/backfills', undefined, { all: true }), 401);
    assertProblem(await call('POST', '/v1/backfills', VIEWER_TOKEN, { all: true }), 403);
    assertProblem(await call('POST', '/v1/reconciliations', VIEWER_TOKEN), 403);
    assertProblem(await call('POST', '/v1/renewals', VIEWER_TOKEN, { all: true, reason: 'test' }), 403);
    assertProblem(await call('POST', `/v1/backfills/${anyId}/cancel`, VIEWER_TOKEN), 403);
    assertProblem(await call('POST', `/v1/renewals/smime-renewal-${randomUUID()}/cancel`, VIEWER_TOKEN), 403);

    const both = await call('POST', '/v1/backfills', OPERATOR_TOKEN, { smartGroupId: GROUP, all: true });
    assertProblem(both, 422);
    assert.match((both.json as { detail: string }).detail, /only one of smartGroupId, all/);
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, {}), 422);
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { all: false }), 422, 'all');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { smartGroupId: 0 }), 422, 'smartGroupId');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { smartGroupId: 4.5 }), 422, 'smartGroupId');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { smartGroupId: '42' }), 422, 'smartGroupId');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { all: true, ratePerSecond: 0 }), 422, 'ratePerSecond');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { all: true, ratePerSecond: 1001 }), 422, 'ratePerSecond');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, { all: true, dryRun: true }), 422, 'dryRun');
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, '{"all": tru'), 400);
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN, 'all=true', 'application/x-www-form-urlencoded'), 415);
    assertProblem(await call('POST', '/v1/backfills', OPERATOR_TOKEN), 415);

    assertProblem(await call('POST', '/v1/reconciliations', OPERATOR_TOKEN, { smartGroupId: -1 }), 422, 'smartGroupId');
    assertProblem(await call('POST', '/v1/reconciliations', OPERATOR_TOKEN, { all: true }), 422, 'all');

    const device = randomUUID();
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { all: true }), 422, 'reason');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { all: true, reason: '   ' }), 422, 'reason');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { all: true, reason: 'x'.repeat(201) }), 422, 'reason');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { all: true, reason: 'first line\nsecond line' }), 422, 'reason');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { reason: 'no selector' }), 422);
    const two = await call('POST', '/v1/renewals', OPERATOR_TOKEN, { deviceUuid: device, userUuid: randomUUID(), reason: 'two selectors' });
    assertProblem(two, 422, 'userUuid');
    assert.match((two.json as { detail: string }).detail, /only one of deviceUuid, userUuid, expiringBefore, all/);
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { expiringBefore: 'next week', reason: 'bad time' }), 422, 'expiringBefore');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { expiringBefore: '2027-01-01', reason: 'a date is not an instant' }), 422, 'expiringBefore');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { deviceUuid: `${device}' OR 1=1`, reason: 'injection' }), 422, 'deviceUuid');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, { deviceUuid: device, reason: 'extra', force: true }), 422, 'force');
    assertProblem(await call('POST', '/v1/renewals', OPERATOR_TOKEN, [{ deviceUuid: device, reason: 'an array' }]), 422);

    const put = await request(`${api.url}/v1/backfills`, { method: 'PUT', headers: { Authorization: bearer(OPERATOR_TOKEN) } });
    assertProblem(put, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST');
    assert.equal(await workflowsOnQueue(), before, 'no workflow was started');
  });

  it('404 for ids that name no sweep of that kind (malformed ones without asking Temporal)', async () => {
    const paths = [
      '/v1/backfills/nope',
      `/v1/backfills/smime-backfill-${randomUUID()}`,
      `/v1/backfills/smime-renewal-${randomUUID()}`,
      `/v1/backfills/${provisioningWorkflowId(randomUUID(), randomUUID())}`,
      `/v1/backfills/smime-backfill-${randomUUID()}-and-more`,
      `/v1/reconciliations/smime-reconcile-${stack.taskQueue}-2026-01-01T00:00:00Z`,
      `/v1/reconciliations/smime-reconcile-${randomUUID()}`,
      `/v1/renewals/smime-renewal-${'x'.repeat(400)}`,
    ];
    for (const path of paths) assertProblem(await call('GET', path, VIEWER_TOKEN), 404);
    assertProblem(await call('POST', `/v1/backfills/smime-backfill-${randomUUID()}/cancel`, OPERATOR_TOKEN), 404);
    assertProblem(await call('POST', '/v1/renewals/smime-renewal-1/cancel', OPERATOR_TOKEN), 404);
  });

  it('a backfill of a smart group: 202 + Location, then Completed with its counts; every device of the group gets credentials, none outside it', async () => {
    group.push(...(await addDevices(5, GROUP)));
    const outside = await addDevices(2, OTHER_GROUP);
    await addDevices(1, GROUP, { enrollmentStatus: 'EnterpriseWipePending' });
    firstBackfill = await start('/v1/backfills', { smartGroupId: GROUP, ratePerSecond: 20 });
    assert.match(firstBackfill, /^smime-backfill-[0-9a-f-]{36}$/);
    const view = await ended(`/v1/backfills/${firstBackfill}`);
    assert.deepEqual(
      { state: view.state, devicesSeen: view.devicesSeen, started: view.started, skipped: view.skipped, alreadyDelivered: view.alreadyDelivered, alreadyRunning: view.alreadyRunning, failed: view.failed },
      { state: 'Completed', devicesSeen: 6, started: 5, skipped: 1, alreadyDelivered: 0, alreadyRunning: 0, failed: 0 },
    );
    assert.deepEqual(view.scope, { smartGroupId: GROUP });
    assert.equal(view.ratePerSecond, 20);
    assert.equal(view.phase, 'enroll');
    assert.ok(view.closedAt && view.updatedAt && Date.parse(view.startedAt) <= Date.parse(view.closedAt));
    // The viewer reads the same counts.
    assert.equal((await get(`/v1/backfills/${firstBackfill}`, VIEWER_TOKEN)).started, 5);

    await until('the runs to deliver', async () => ((await runsOf(firstBackfill, 'Running')) === 0 ? true : undefined));
    assert.equal(await runsOf(firstBackfill, 'Completed'), 5);
    for (const device of outside) {
      const held = (await call('GET', `/v1/credentials?deviceUuid=${device.deviceUuid}`, VIEWER_TOKEN)).json as { items: unknown[] };
      assert.deepEqual(held.items, [], 'nothing for a device outside the group');
    }
  });

  it('a second backfill of the group starts nothing; both are listed, newest first, paged', async () => {
    const id = await start('/v1/backfills', { smartGroupId: GROUP });
    const view = await ended(`/v1/backfills/${id}`);
    assert.equal(view.state, 'Completed');
    assert.equal(view.started, 0);
    assert.equal(view.alreadyDelivered, 5);
    assert.equal(view.ratePerSecond, 50, 'without ratePerSecond: FLEET_RATE');

    const first = (await call('GET', '/v1/backfills?pageSize=1', VIEWER_TOKEN)).json as { items: SweepAnswer[]; nextPageToken: string | null };
    assert.equal(first.items.length, 1);
    assert.equal(first.items[0]!.id, id, 'newest first');
    assert.equal(first.items[0]!.alreadyDelivered, 5, 'the list shows the counts from the memo');
    assert.ok(first.nextPageToken);
    const second = (await call('GET', `/v1/backfills?pageSize=1&pageToken=${encodeURIComponent(first.nextPageToken)}`, VIEWER_TOKEN)).json as { items: SweepAnswer[] };
    assert.ok(second.items.length === 1 && second.items[0]!.id !== id);
    const all = (await call('GET', '/v1/backfills?pageSize=200', VIEWER_TOKEN)).json as { items: SweepAnswer[] };
    assert.ok(all.items.some((item) => item.id === firstBackfill));
    const [token, check] = first.nextPageToken.split('.');
    const mangled = `${token!.startsWith('A') ? 'B' : 'A'}${token!.slice(1)}`;
    assertProblem(await call('GET', `/v1/backfills?pageToken=${mangled}.${check}`, VIEWER_TOKEN), 400);
    assertProblem(await call('GET', `/v1/renewals?pageToken=${encodeURIComponent(first.nextPageToken)}`, VIEWER_TOKEN), 400);
  });

  it('the credentials it delivered are in GET /v1/credentials, and counted by the gauges', async () => {
    for (const device of group) {
      const { items } = (await call('GET', `/v1/credentials?deviceUuid=${device.deviceUuid}&state=active`, VIEWER_TOKEN)).json as { items: CredentialAnswer[] };
      assert.deepEqual(items.map((i) => i.kind).sort(), ['encryption', 'signing']);
      for (const item of items) {
        assert.equal(item.workflowId, provisioningWorkflowId(device.enrollmentUserUuid, device.deviceUuid));
        assert.equal(item.gateway, 'ceg');
        assert.ok(item.serialNumber && item.deliveredAt);
      }
    }
    const soon = new Date(Date.now() + 30 * DAY).toISOString();
    assert.deepEqual(((await call('GET', `/v1/credentials?state=active&expiringBefore=${soon}`, VIEWER_TOKEN)).json as { items: unknown[] }).items, []);
    const metrics = await request(`${api.url}/metrics`);
    assert.match(metrics.text, /^smime_credentials_active 10$/m);
    assert.match(metrics.text, /^smime_credentials_expiring_within_30d 0$/m);
  });

  it('a reconciliation of the group asked for through the API: nothing to start, nothing to retire', async () => {
    const id = await start('/v1/reconciliations', { smartGroupId: GROUP });
    const view = await ended(`/v1/reconciliations/${id}`);
    assert.equal(view.state, 'Completed');
    assert.equal(view.scheduled, false);
    assert.deepEqual(view.scope, { smartGroupId: GROUP });
    assert.equal(view.alreadyDelivered, 5);
    assert.equal(view.started, 0);
    assert.equal(view.retired, 0);
    assert.equal(view.failed, 0);
    assert.deepEqual(view.notes, []);
  });

  it('a run of the reconcile Schedule is listed and read by its id (all devices: the two outside the group are delivered)', async () => {
    await ensureReconcileSchedule(stack.client, { taskQueue: stack.taskQueue, everyMs: 6 * 60 * 60_000 });
    await stack.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue)).trigger();
    const scheduled = await until('the scheduled run in the list', async () => {
      const { items } = (await call('GET', '/v1/reconciliations?pageSize=200', VIEWER_TOKEN)).json as { items: SweepAnswer[] };
      return items.find((item) => item.scheduled && item.id.startsWith(`${reconcileScheduleId(stack.taskQueue)}-`));
    });
    assert.match(scheduled.id, /-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const view = await ended(`/v1/reconciliations/${scheduled.id}`);
    assert.equal(view.state, 'Completed');
    assert.equal(view.scheduled, true);
    assert.equal(view.started, 2, 'the two enrolled devices outside the group');
    assert.equal(view.alreadyDelivered, 5);
    assert.equal(view.retired, 0);
  });

  it('a backfill of a smart group UEM does not know ends Failed and says why (the message for operators only)', async () => {
    const id = await start('/v1/backfills', { smartGroupId: 987_654 });
    const view = (await ended(`/v1/backfills/${id}`)) as SweepAnswer & { failure?: { type: string; message: string } };
    assert.equal(view.state, 'Failed');
    assert.equal(view.failure?.type, 'ConfigurationError');
    assert.match(view.failure?.message ?? '', /UEM answered 404 .*smartgroups\/987654/);
    const seen = (await get(`/v1/backfills/${id}`, VIEWER_TOKEN)) as SweepAnswer & { failure?: { type: string; message: string } };
    assert.deepEqual(seen.failure, { type: 'ConfigurationError', message: '(shown to operators only)' });
  });

  it('a slow backfill cancelled through the API ends Cancelled and soon starts nothing more; a second cancel is 409', async () => {
    await addDevices(30, SLOW_GROUP);
    const id = await start('/v1/backfills', { smartGroupId: SLOW_GROUP, ratePerSecond: 0.5 });
    assert.equal((await get(`/v1/backfills/${id}`, VIEWER_TOKEN)).state, 'Running');
    await until('the first start', async () => ((await runsOf(id)) > 0 ? true : undefined), 30_000);
    const cancel = await call('POST', `/v1/backfills/${id}/cancel`, OPERATOR_TOKEN);
    assert.equal(cancel.status, 202, cancel.text);
    assert.deepEqual(cancel.json, { id, action: 'cancel' });
    const view = await ended(`/v1/backfills/${id}`, 30_000);
    assert.equal(view.state, 'Cancelled');
    assert.ok(view.closedAt);
    // The page in progress learns of the cancellation at its next heartbeat: a start already due may still happen, then none.
    const startedAtCancel = await runsOf(id);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const settled = await runsOf(id);
    assert.ok(settled <= startedAtCancel + 1, `${settled} runs 4 s after the cancellation, ${startedAtCancel} at it`);
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    assert.equal(await runsOf(id), settled, 'no start after that (one every 2 s at this rate)');
    assert.ok(view.started <= settled, 'the view counts what its finished pages started');
    assertProblem(await call('POST', `/v1/backfills/${id}/cancel`, OPERATOR_TOKEN), 409);
  });

  it('renewals on demand: one device gets a new signing certificate and the old one is revoked; the counts come from the runs', async () => {
    const device = group[0]!;
    const signing = async (state: string) =>
      ((await call('GET', `/v1/credentials?deviceUuid=${device.deviceUuid}&state=${state}`, VIEWER_TOKEN)).json as { items: CredentialAnswer[] }).items.filter((i) => i.kind === 'signing');
    const [old] = await signing('active');
    assert.ok(old?.serialNumber);

    const id = await start('/v1/renewals', { deviceUuid: device.deviceUuid.toUpperCase(), reason: 'CA key compromise drill', ratePerSecond: 5 });
    assert.match(id, /^smime-renewal-/);
    const view = await ended(`/v1/renewals/${id}`, 100_000);
    assert.deepEqual(
      { state: view.state, selected: view.selected, started: view.started, completed: view.completed, failed: view.failed, running: view.running },
      { state: 'Completed', selected: 1, started: 1, completed: 1, failed: 0, running: 0 },
    );
    assert.deepEqual(view.selector, { deviceUuid: device.deviceUuid });
    assert.equal(view.reason, 'CA key compromise drill');
    assert.equal((await get(`/v1/renewals/${id}`, VIEWER_TOKEN)).reason, '(shown to operators only)');

    const [current] = await signing('active');
    assert.ok(current?.serialNumber && current.serialNumber !== old.serialNumber, 'a new signing certificate is active');
    const revoked = await signing('revoked');
    assert.deepEqual(revoked.map((r) => r.serialNumber), [old.serialNumber], 'the superseded one is revoked');
    // The user's encryption credential was not expiring: the same escrowed one again, the old row superseded.
    const encryption = ((await call('GET', `/v1/credentials?deviceUuid=${device.deviceUuid}`, VIEWER_TOKEN)).json as { items: CredentialAnswer[] }).items.filter((i) => i.kind === 'encryption');
    assert.deepEqual(encryption.map((i) => i.state).sort(), ['active', 'superseded']);
    assert.equal(new Set(encryption.map((i) => i.serialNumber)).size, 1, 'the same certificate, delivered again');
  });

  it('a renewal that selects nothing completes with zeros; a finished one cannot be cancelled', async () => {
    const id = await start('/v1/renewals', { userUuid: randomUUID(), reason: 'nobody' });
    const view = await ended(`/v1/renewals/${id}`);
    assert.deepEqual(
      { state: view.state, selected: view.selected, started: view.started, completed: view.completed, failed: view.failed },
      { state: 'Completed', selected: 0, started: 0, completed: 0, failed: 0 },
    );
    assertProblem(await call('POST', `/v1/renewals/${id}/cancel`, OPERATOR_TOKEN), 409);
    const { items } = (await call('GET', '/v1/renewals', VIEWER_TOKEN)).json as { items: SweepAnswer[] };
    const listed = items.find((item) => item.id === id);
    assert.equal(listed?.reason, '(shown to operators only)', 'viewers never see the reason, in the list either');
  });
});
