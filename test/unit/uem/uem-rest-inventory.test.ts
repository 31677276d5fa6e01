/**
 * The UEM REST adapter as the device inventory, against the UEM simulator on loopback (and a bare
 * HTTP server for answers the simulator does not give): paging across pages, 204 for no devices,
 * UEM's page-size cap, a smart group's ids plus the bulk read, 429 + Retry-After as a typed
 * retryable error, the budget running low, and profile installs with every failure class.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UemDirectGateway } from '../../../src/activities/ceg/uem-direct-gateway';
import type { InventoryDevice } from '../../../src/activities/uem/device-inventory';
import { UemRestClient } from '../../../src/activities/uem/uem-rest-client';
import { UemRestDirectory, type UemRestDirectoryOptions } from '../../../src/activities/uem/uem-rest-directory';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';
import type { Logger } from '../../../src/logging';
import { failsWith } from '../../helpers/failures';
import { capturingLogger } from '../../helpers/loopback';

const CREDENTIALS = { username: 'provider-api', password: 'uem-api-Password-1' };
const TENANT = 'tenant-code-0123456789';

interface Registered {
  deviceUuid: string;
  deviceId: string;
  serialNumber: string;
  enrollmentUserUuid: string;
  enrollmentUserId: string;
  email: string;
}

async function register(sim: UemSimulator, devices: object[]): Promise<Registered[]> {
  const response = await fetch(`${sim.adminUrl}/devices`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(devices) });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as Registered[];
}

const fleet = (n: number, extra: (i: number) => object = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({ deviceUuid: randomUUID(), enrollmentUserUuid: randomUUID(), platform: i % 2 ? 'Android' : 'Apple', ...extra(i) }));

/** Every page of a listing, with the cursors it went through. */
async function listAll(directory: UemRestDirectory, scope: { smartGroupId?: number }, pageSize: number) {
  const pages: InventoryDevice[][] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await directory.listDevices(scope, { cursor, pageSize });
    pages.push(page.devices);
    cursor = page.nextCursor;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  return { pages, cursors, devices: pages.flat() };
}

describe('UemRestDirectory as the device inventory (UEM simulator)', function () {
  this.timeout(60_000);
  let sim: UemSimulator;
  before(async () => {
    sim = await startUemSimulator({ port: 0, ...CREDENTIALS, tenantCode: TENANT });
  });
  after(async () => sim?.close());
  afterEach(async () => {
    await fetch(`${sim.adminUrl}/faults`, { method: 'DELETE' });
  });

  const directory = (overrides: Partial<UemRestDirectoryOptions> = {}) =>
    new UemRestDirectory({ baseUrl: sim.url, apiVersion: 'v2', tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 5000, ...overrides } as UemRestDirectoryOptions);
  const since = (n: number) => sim.requests().slice(n);

  it('an inventory with no devices: device search answers 204, read as an empty last page', async () => {
    const before = sim.requests().length;
    const page = await directory().listDevices({}, { pageSize: 100 });
    assert.deepEqual(page, { devices: [] });
    assert.equal(since(before)[0]!.status, 204);
  });

  it('pages through device search until the total is reached: every device once, with UEM ids and the user link', async () => {
    const registered = await register(sim, fleet(1234, (i) => (i === 0 ? { email: 'first.user@example.test' } : {})));
    const before = sim.requests().length;
    const { pages, cursors, devices } = await listAll(directory(), {}, 500);
    assert.deepEqual(pages.map((p) => p.length), [500, 500, 234]);
    assert.equal(cursors.length, 2);
    assert.equal(new Set(devices.map((d) => d.deviceUuid)).size, 1234);
    const requests = since(before);
    assert.deepEqual(requests.map((r) => [r.path, r.accept]), Array(3).fill(['/api/mdm/devices/search', 'application/json;version=2']));
    assert.deepEqual(requests.map((r) => Object.fromEntries(new URLSearchParams(r.query))), [0, 1, 2].map((page) => ({ page: String(page), pagesize: '500', orderby: 'deviceid', sortorder: 'ASC' })));
    const first = devices.find((d) => d.deviceUuid === registered[0]!.deviceUuid)!;
    assert.deepEqual(first, {
      deviceUuid: registered[0]!.deviceUuid,
      enrollmentUserUuid: registered[0]!.enrollmentUserUuid,
      deviceId: registered[0]!.deviceId,
      serialNumber: registered[0]!.serialNumber,
      email: 'first.user@example.test',
      platform: 'Apple',
      enrolled: true,
    });
  });

  it("asks for at most UEM's 500 a page, and the cursor carries on from what UEM served", async () => {
    assert.ok(sim.inventory.size >= 1000, 'the fleet registered above');
    const before = sim.requests().length;
    const first = await directory().listDevices({}, { pageSize: 2000 });
    assert.equal(first.devices.length, 500);
    assert.equal(new URLSearchParams(since(before)[0]!.query).get('pagesize'), '500');
    const second = await directory().listDevices({}, { cursor: first.nextCursor, pageSize: 2000 });
    assert.equal(second.devices.length, 500);
    assert.equal(new Set([...first.devices, ...second.devices].map((d) => d.deviceUuid)).size, 1000);
  });

  it('a device UEM keeps as unenrolled is listed with enrolled: false', async () => {
    const [device] = await register(sim, fleet(1, () => ({ enrollmentStatus: 'Unenrolled' })));
    const { devices } = await listAll(directory(), {}, 500);
    assert.equal(devices.find((d) => d.deviceUuid === device!.deviceUuid)!.enrolled, false);
  });

  it("a smart group: its ids once per pass, then the details of each page's ids in one bulk read", async () => {
    const inGroup = await register(sim, fleet(30, () => ({ smartGroupIds: [42, 7] })));
    await register(sim, fleet(10, () => ({ smartGroupIds: [7] })));
    const before = sim.requests().length;
    const { pages, cursors, devices } = await listAll(directory(), { smartGroupId: 42 }, 12);
    assert.deepEqual(pages.map((p) => p.length), [12, 12, 6]);
    assert.ok(cursors.every((c) => /^g42\./.test(c)));
    assert.deepEqual(new Set(devices.map((d) => d.deviceUuid)), new Set(inGroup.map((d) => d.deviceUuid)));
    assert.deepEqual(devices.map((d) => Number(d.deviceId)), [...devices.map((d) => Number(d.deviceId))].sort((a, b) => a - b), 'in device id order');
    for (const device of devices) assert.equal(device.enrollmentUserUuid, inGroup.find((d) => d.deviceUuid === device.deviceUuid)!.enrollmentUserUuid);
    assert.deepEqual(
      since(before).map((r) => [r.method, r.path, r.accept]),
      [
        ['GET', '/api/mdm/smartgroups/42/devices', 'application/json;version=1'],
        ['POST', '/api/mdm/devices/id', 'application/json;version=1'],
        ['POST', '/api/mdm/devices/id', 'application/json;version=1'],
        ['POST', '/api/mdm/devices/id', 'application/json;version=1'],
      ],
    );
  });

  it('a smart group pass is not thrown by a device leaving between pages; the next pass sees a device that joined', async () => {
    const members = await register(sim, fleet(6, () => ({ smartGroupIds: [55] })));
    const sorted = [...members].sort((a, b) => Number(a.deviceId) - Number(b.deviceId));
    const inventory = directory();
    const first = await inventory.listDevices({ smartGroupId: 55 }, { pageSize: 3 });
    assert.equal(first.devices.length, 3);
    assert.equal((await fetch(`${sim.adminUrl}/devices/${sorted[4]!.deviceUuid}`, { method: 'DELETE' })).status, 204);
    const [joined] = await register(sim, fleet(1, () => ({ smartGroupIds: [55] })));
    const second = await inventory.listDevices({ smartGroupId: 55 }, { cursor: first.nextCursor, pageSize: 3 });
    assert.deepEqual(second.devices.map((d) => d.deviceUuid), [sorted[3]!, sorted[5]!].map((d) => d.deviceUuid));
    assert.equal(second.nextCursor, undefined);
    const again = await listAll(inventory, { smartGroupId: 55 }, 3);
    assert.ok(again.devices.some((d) => d.deviceUuid === joined!.deviceUuid));
    assert.equal(again.devices.length, 6);
  });

  it('a smart group UEM does not have → non-retryable ConfigurationError; a cursor from another listing is refused', async () => {
    await failsWith(directory().listDevices({ smartGroupId: 999_999 }, { pageSize: 10 }), 'ConfigurationError', true);
    await failsWith(directory().listDevices({ smartGroupId: 42 }, { cursor: 'p1.500', pageSize: 10 }), 'ConfigurationError', true);
    await failsWith(directory().listDevices({}, { cursor: 'g42.100', pageSize: 10 }), 'ConfigurationError', true);
    await failsWith(directory().listDevices({}, { pageSize: 0 }), 'ConfigurationError', true);
  });

  it('429 + Retry-After → retryable DirectoryUnavailable with that delay; the client holds its calls back meanwhile', async () => {
    await fetch(`${sim.adminUrl}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rateLimit: { requestsPerSecond: 1, retryAfterSeconds: 3 } }) });
    const inventory = directory();
    await inventory.listDevices({}, { pageSize: 10 });
    const err = await failsWith(inventory.listDevices({}, { pageSize: 10 }), 'DirectoryUnavailable', false);
    assert.equal(err.nextRetryDelay, 3000);
    assert.match(err.message, /429/);
    const before = sim.requests().length;
    const held = await failsWith(inventory.listDevices({}, { pageSize: 10 }), 'DirectoryUnavailable', false);
    assert.ok(Number(held.nextRetryDelay) > 0 && Number(held.nextRetryDelay) <= 3000);
    assert.equal(sim.requests().length, before, 'nothing sent while UEM asked for a pause');
  });

  it('a 429 seen by the directory holds back the direct-upload gateway on the same client, as its own GatewayUnavailable', async () => {
    await fetch(`${sim.adminUrl}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rateLimit: { requestsPerSecond: 1, retryAfterSeconds: 5 } }) });
    const client = new UemRestClient({ baseUrl: sim.url, tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 5000, unavailableType: 'DirectoryUnavailable' });
    const inventory = new UemRestDirectory({ apiVersion: 'v2', client });
    const gateway = new UemDirectGateway({ timeoutMs: 5000, client });
    await inventory.listDevices({}, { pageSize: 1 });
    await failsWith(inventory.listDevices({}, { pageSize: 1 }), 'DirectoryUnavailable', false);
    const before = sim.requests().length;
    const err = await failsWith(
      gateway.upload({ kind: 'signing', enrollmentUserUuid: randomUUID(), enrollmentUserId: '61', deviceUuid: randomUUID(), pkcs12: Buffer.from('x'), password: 'p', thumbprint: 'ab' } as never),
      'GatewayUnavailable',
      false,
    );
    assert.ok(Number(err.nextRetryDelay) > 0);
    assert.equal(sim.requests().length, before);
  });

  it('when x-ratelimit-remaining runs low, calls are spaced so the budget lasts until the reset, and it is logged', async () => {
    // 150 calls left of 10,000 for 30 s: below 2 % of the limit, so one call every 30 s / 150 = 200 ms.
    await fetch(`${sim.adminUrl}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ quota: { limit: 10_000, remaining: 150, resetInSeconds: 30 } }) });
    const { logger, lines } = capturingLogger();
    const inventory = directory({ logger });
    await inventory.listDevices({}, { pageSize: 1 }); // learns the budget
    const started = Date.now();
    for (let i = 0; i < 3; i += 1) await inventory.listDevices({}, { pageSize: 1 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 300, `three paced calls took ${elapsed} ms`);
    const warning = lines().find((l) => /budget is low/.test(String(l.msg)));
    assert.ok(warning, 'the slow-down is logged');
    assert.equal(warning!.limit, 10_000);
    assert.ok(Number(warning!.remaining) < 150);
  });

  it('a spent budget: UEM answers 429 until the reset, a typed retryable error waiting for it', async () => {
    await fetch(`${sim.adminUrl}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ quota: { limit: 10_000, remaining: 0, resetInSeconds: 120 } }) });
    const err = await failsWith(directory().listDevices({}, { pageSize: 10 }), 'DirectoryUnavailable', false);
    assert.ok(Number(err.nextRetryDelay) > 100_000 && Number(err.nextRetryDelay) <= 120_000, String(err.nextRetryDelay));
  });

  describe('profile install', () => {
    let device: Registered;
    before(async () => {
      device = (await register(sim, fleet(1)))[0]!;
    });
    const installs = () => sim.profileInstalls();

    it('by the numeric device id: POST /api/mdm/profiles/{id}/install {DeviceId}, version=1', async () => {
      const before = sim.requests().length;
      await directory().installProfile(8150, { deviceUuid: device.deviceUuid, deviceId: device.deviceId, serialNumber: device.serialNumber });
      const request = since(before)[0]!;
      assert.deepEqual([request.method, request.path, request.accept, request.status], ['POST', '/api/mdm/profiles/8150/install', 'application/json;version=1', 200]);
      const install = installs().at(-1)!;
      assert.deepEqual([install.profileId, install.by, install.deviceId, install.deviceUuid], [8150, 'DeviceId', Number(device.deviceId), device.deviceUuid]);
    });

    it('by serial number when the id is not known', async () => {
      await directory().installProfile(8150, { deviceUuid: device.deviceUuid, serialNumber: device.serialNumber });
      assert.equal(installs().at(-1)!.by, 'SerialNumber');
      assert.equal(installs().at(-1)!.deviceUuid, device.deviceUuid);
    });

    it('by UUID alone: the id is read first (GET /api/mdm/devices/{uuid}, version=2)', async () => {
      const before = sim.requests().length;
      await directory().installProfile(8150, { deviceUuid: device.deviceUuid });
      assert.deepEqual(since(before).map((r) => [r.method, r.path, r.accept]), [
        ['GET', `/api/mdm/devices/${device.deviceUuid}`, 'application/json;version=2'],
        ['POST', '/api/mdm/profiles/8150/install', 'application/json;version=1'],
      ]);
      assert.equal(installs().at(-1)!.by, 'DeviceId');
    });

    it('a device UEM does not have → non-retryable ProfileInstallRejected, nothing installed', async () => {
      const count = installs().length;
      await failsWith(directory().installProfile(8150, { deviceUuid: randomUUID() }), 'ProfileInstallRejected', true);
      await failsWith(directory().installProfile(8150, { deviceUuid: randomUUID(), deviceId: '1' }), 'ProfileInstallRejected', true);
      assert.equal(installs().length, count);
    });

    it('a profile id that is not a positive whole number → ConfigurationError before any call', async () => {
      const before = sim.requests().length;
      await failsWith(directory().installProfile(0, { deviceUuid: device.deviceUuid, deviceId: device.deviceId }), 'ConfigurationError', true);
      await failsWith(directory().installProfile(1.5, { deviceUuid: device.deviceUuid, deviceId: device.deviceId }), 'ConfigurationError', true);
      assert.equal(sim.requests().length, before);
    });
  });
});

describe('UemRestDirectory as the device inventory (answers the simulator does not give)', function () {
  this.timeout(20_000);
  let server: Server | undefined;
  let received: Array<{ method: string; path: string; body: string }> = [];
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    received = [];
  });

  async function uem(answer: (req: IncomingMessage) => { status: number; body?: unknown; headers?: Record<string, string> }, logger?: Logger): Promise<UemRestDirectory> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += String(chunk)));
      req.on('end', () => {
        received.push({ method: req.method ?? '', path: req.url ?? '', body });
        const { status, body: out, headers } = answer(req);
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(out === undefined ? '' : typeof out === 'string' ? out : JSON.stringify(out));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new UemRestDirectory({ baseUrl: url, apiVersion: 'v2', tenantCode: TENANT, basic: CREDENTIALS, timeoutMs: 3000, logger });
  }
  const target = { deviceUuid: '4338a0a4-38e8-409d-9f72-fd3d5502f3c3', deviceId: '66523' };

  it('profile install sends exactly {"DeviceId": n} and takes any 2xx', async () => {
    const directory = await uem(() => ({ status: 202 }));
    await directory.installProfile(31, target);
    assert.deepEqual(received.map((r) => [r.method, r.path, JSON.parse(r.body)]), [['POST', '/api/mdm/profiles/31/install', { DeviceId: 66523 }]]);
  });

  it('profile install failure classes: 400/404/409 → ProfileInstallRejected; 401/403 → ConfigurationError; 5xx/429 → DirectoryUnavailable with Retry-After', async () => {
    let status = 400;
    let headers: Record<string, string> = {};
    const directory = await uem(() => ({ status, headers, body: { errorCode: 9001, message: 'The profile is not assigned to this device.' } }));
    for (status of [400, 404, 409, 422]) {
      const err = await failsWith(directory.installProfile(31, target), 'ProfileInstallRejected', true);
      assert.match(err.message, /not assigned/);
    }
    for (status of [401, 403]) await failsWith(directory.installProfile(31, target), 'ConfigurationError', true);
    headers = { 'Retry-After': '20' };
    // 429 last: after it the client holds its calls back for the Retry-After.
    for (status of [500, 503, 429]) {
      const err = await failsWith(directory.installProfile(31, target), 'DirectoryUnavailable', false);
      assert.equal(err.nextRetryDelay, 20_000);
    }
  });

  it('device records without a device UUID or a user link are left out and logged, not passed on', async () => {
    const { logger, lines } = capturingLogger();
    const directory = await uem(() => ({
      status: 200,
      body: {
        Devices: [
          { Id: { Value: 1 }, Uuid: randomUUID(), UserId: { Id: { Value: 5 }, Uuid: randomUUID() }, EnrollmentStatus: 'Enrolled' },
          { Id: { Value: 2 }, Uuid: '', UserId: { Id: { Value: 5 }, Uuid: randomUUID() } },
          { Id: { Value: 3 }, Uuid: randomUUID(), EnrollmentUserUuid: '00000000-0000-0000-0000-000000000000' },
        ],
        Page: 0,
        PageSize: 500,
        Total: 3,
      },
    }), logger);
    const page = await directory.listDevices({}, { pageSize: 500 });
    assert.equal(page.devices.length, 1);
    assert.equal(page.nextCursor, undefined);
    const warning = lines().find((l) => /left out/.test(String(l.msg)));
    assert.deepEqual(warning?.deviceIds, ['2', '3']);
  });

  it('without a Total, a full page means there may be more; a short page is the last', async () => {
    const devices = (n: number) => Array.from({ length: n }, (_, i) => ({ Id: { Value: i + 1 }, Uuid: randomUUID(), UserId: { Uuid: randomUUID() } }));
    let n = 2;
    const directory = await uem(() => ({ status: 200, body: { Devices: devices(n), Page: 0, PageSize: 2 } }));
    assert.equal((await directory.listDevices({}, { pageSize: 2 })).nextCursor, 'p1.2');
    n = 1;
    assert.equal((await directory.listDevices({}, { cursor: 'p1.2', pageSize: 2 })).nextCursor, undefined);
  });

  it('a 200 that is not JSON (a login page) → ConfigurationError', async () => {
    const directory = await uem(() => ({ status: 200, body: '<!DOCTYPE html><html>Sign in</html>' }));
    await failsWith(directory.listDevices({}, { pageSize: 10 }), 'ConfigurationError', true);
  });
});
