/**
 * The UEM simulator's admin routes (/sim/... on the simulator's port): directory records, silent
 * enrollments and departures, profile installs received, rate limits — their input checks
 * (hostile input gets a 4xx problem document, never a 5xx) and that they answer loopback callers
 * only.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import { isLoopbackAddress, isLoopbackHost } from '../../../src/peers/uem-sim/admin';
import { deviceIdentity } from '../../../src/peers/uem-sim/inventory';
import { startUemSimulator, type UemSimulator } from '../../../src/peers/uem-sim/server';

const TENANT = 'sim-tenant-code';
const apiHeaders = (version: number) => ({ Authorization: `Basic ${Buffer.from('api-user:api-Password').toString('base64')}`, 'aw-tenant-code': TENANT, Accept: `application/json;version=${version}` });

describe('UEM simulator admin routes', function () {
  this.timeout(20_000);
  let sim: UemSimulator;
  before(async () => {
    sim = await startUemSimulator({ port: 0, username: 'api-user', password: 'api-Password', tenantCode: TENANT });
  });
  after(async () => sim?.close());

  const post = (path: string, body: unknown, contentType = 'application/json') =>
    fetch(`${sim.adminUrl}${path}`, { method: 'POST', headers: { 'Content-Type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const api = (path: string, version = 1) => fetch(`${sim.url}${path}`, { headers: apiHeaders(version) });
  async function problem(response: Response, status: number): Promise<{ title: string; detail: string; errors?: Array<{ path: string }> }> {
    assert.equal(response.status, status, await response.clone().text());
    assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
    return (await response.json()) as { title: string; detail: string; errors?: Array<{ path: string }> };
  }

  describe('POST /sim/users', () => {
    it('201 with the records; v2 by UUID, v1 by id and the user search answer them', async () => {
      const uuid = randomUUID();
      const response = await post('/users', [{ uuid: uuid.toUpperCase(), id: 73_001, email: 'ana.ruiz@example.test', userName: 'aruiz' }]);
      assert.equal(response.status, 201);
      assert.deepEqual(await response.json(), [{ uuid, id: '73001', email: 'ana.ruiz@example.test', userName: 'aruiz', displayName: `Sim User ${uuid.slice(0, 8)}` }]);
      const v2 = (await (await api(`/api/system/users/${uuid}`, 2)).json()) as Record<string, unknown>;
      assert.deepEqual([v2.emailAddress, v2.userName], ['ana.ruiz@example.test', 'aruiz']);
      const v1 = (await (await api('/api/system/users/73001')).json()) as Record<string, unknown>;
      assert.deepEqual([v1.Uuid, v1.Email], [uuid, 'ana.ruiz@example.test']);
      const search = (await (await api('/api/system/users/search?username=aruiz')).json()) as { Users: Array<{ Uuid: string }> };
      assert.deepEqual(search.Users.map((u) => u.Uuid), [uuid]);
    });

    it('an id another described user holds → 409, and nothing of the batch is applied', async () => {
      const holder = randomUUID();
      assert.equal((await post('/users', [{ uuid: holder, id: 73_002, email: 'holder@example.test' }])).status, 201);
      const other = randomUUID();
      const body = await problem(await post('/users', [{ uuid: other, email: 'other@example.test' }, { uuid: randomUUID(), id: 73_002, email: 'thief@example.test' }]), 409);
      assert.match(body.detail, /73002/);
      const v2 = (await (await api(`/api/system/users/${other}`, 2)).json()) as Record<string, unknown>;
      assert.notEqual(v2.emailAddress, 'other@example.test');
    });

    it('a synthetic user only borrows an id: a described user may take it', async () => {
      const uuid = randomUUID();
      const synthetic = (await (await api('/api/system/users/73003')).json()) as Record<string, unknown>;
      assert.equal(synthetic.Email, 'user-73003@uem-sim.example.com');
      assert.equal((await post('/users', [{ uuid, id: 73_003, email: 'owner@example.test' }])).status, 201);
      assert.equal(((await (await api('/api/system/users/73003')).json()) as Record<string, unknown>).Uuid, uuid);
    });

    it('hostile or malformed input → 400 naming the problem', async () => {
      const uuid = randomUUID();
      const cases: Array<[unknown, RegExp | undefined]> = [
        [{ uuid, email: 'a@example.test' }, undefined],
        [[], undefined],
        [[{ uuid: 'not-a-uuid', email: 'a@example.test' }], /uuid/],
        [[{ uuid, email: 'not an address' }], /email/],
        [[{ uuid, email: 'a@example.test', id: -4 }], /id/],
        [[{ uuid, email: 'a@example.test', id: 2 ** 31 }], /id/],
        [[{ uuid, email: 'a@example.test', admin: true }], undefined],
        [[{ uuid, email: 'a@example.test', userName: 'bad\u0000name' }], /userName/],
        [[{ uuid, email: 'a@example.test' }, { uuid, email: 'b@example.test' }], undefined],
      ];
      for (const [body, path] of cases) {
        const answer = await problem(await post('/users', body), 400);
        if (path) assert.match(JSON.stringify(answer.errors ?? answer.detail), path, JSON.stringify(body));
      }
      await problem(await post('/users', '[{"uuid": '), 400);
      await problem(await post('/users', JSON.stringify([{ uuid, email: 'a@example.test' }]), 'text/plain'), 400);
      await problem(await post('/users', `[{"uuid":"${uuid}","email":"a@example.test","__proto__":{"polluted":true}}]`), 400);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('POST, GET, DELETE /sim/devices', () => {
    it('201: the devices with UEM ids and serial numbers derived from the UUID, the same in every simulator', async () => {
      const deviceUuid = randomUUID();
      const userUuid = randomUUID();
      const response = await post('/devices', [{ deviceUuid, enrollmentUserUuid: userUuid, email: 'kai.berg@example.test', platform: 'Android', smartGroupIds: [42, 42, 7] }]);
      assert.equal(response.status, 201);
      const [device] = (await response.json()) as Array<Record<string, unknown>>;
      const identity = deviceIdentity(deviceUuid);
      assert.deepEqual(
        { ...device, enrolledAt: undefined },
        {
          deviceUuid,
          deviceId: String(identity.deviceId),
          serialNumber: identity.serialNumber,
          udid: identity.udid,
          enrollmentUserUuid: userUuid,
          enrollmentUserId: device!.enrollmentUserId,
          email: 'kai.berg@example.test',
          userName: `user-${userUuid.slice(0, 8)}`,
          platform: 'Android',
          smartGroupIds: [7, 42],
          enrollmentStatus: 'Enrolled',
          enrolledAt: undefined,
        },
      );
      const other = await startUemSimulator({ port: 0, username: 'u', password: 'p', tenantCode: 't', devices: [{ deviceUuid, enrollmentUserUuid: userUuid }] });
      try {
        const again = other.inventory.byDeviceUuid(deviceUuid)!;
        assert.deepEqual([String(again.deviceId), again.serialNumber], [device!.deviceId, device!.serialNumber]);
      } finally {
        await other.close();
      }
    });

    it("an email given with a device becomes the user's address in the directory; no event is sent anywhere", async () => {
      const userUuid = randomUUID();
      assert.equal((await post('/devices', [{ deviceUuid: randomUUID(), enrollmentUserUuid: userUuid, email: 'noa.lind@example.test' }])).status, 201);
      const v2 = (await (await api(`/api/system/users/${userUuid}`, 2)).json()) as Record<string, unknown>;
      assert.equal(v2.emailAddress, 'noa.lind@example.test');
    });

    it('GET lists the inventory; DELETE makes a device leave silently (204), then 404', async () => {
      const deviceUuid = randomUUID();
      await post('/devices', [{ deviceUuid, enrollmentUserUuid: randomUUID() }]);
      const listed = (await (await fetch(`${sim.adminUrl}/devices`)).json()) as Array<{ deviceUuid: string }>;
      assert.ok(listed.some((d) => d.deviceUuid === deviceUuid));
      assert.equal((await fetch(`${sim.adminUrl}/devices/${deviceUuid.toUpperCase()}`, { method: 'DELETE' })).status, 204);
      const after = (await (await fetch(`${sim.adminUrl}/devices`)).json()) as Array<{ deviceUuid: string }>;
      assert.ok(!after.some((d) => d.deviceUuid === deviceUuid));
      assert.equal(sim.inventory.byDeviceUuid(deviceUuid), undefined);
      await problem(await fetch(`${sim.adminUrl}/devices/${deviceUuid}`, { method: 'DELETE' }), 404);
      await problem(await fetch(`${sim.adminUrl}/devices/..%2F..%2Fetc`, { method: 'DELETE' }), 400);
    });

    it('hostile or malformed input → 400, and nothing of the batch is applied', async () => {
      const deviceUuid = randomUUID();
      const user = randomUUID();
      const size = sim.inventory.size;
      const cases: unknown[] = [
        {},
        [{ deviceUuid }],
        [{ deviceUuid, enrollmentUserUuid: 'x' }],
        [{ deviceUuid, enrollmentUserUuid: user, smartGroupIds: [-1] }],
        [{ deviceUuid, enrollmentUserUuid: user, smartGroupIds: ['42'] }],
        [{ deviceUuid, enrollmentUserUuid: user, platform: '<script>' }],
        [{ deviceUuid, enrollmentUserUuid: user, enrollmentStatus: 'Retired' }],
        [{ deviceUuid, enrollmentUserUuid: user, email: 'x@example.test', extra: 1 }],
        [{ deviceUuid, enrollmentUserUuid: user }, { deviceUuid, enrollmentUserUuid: user }],
        [{ deviceUuid, enrollmentUserUuid: user, email: 'a@example.test' }, { deviceUuid: randomUUID(), enrollmentUserUuid: user, email: 'b@example.test' }],
        [{ deviceUuid, enrollmentUserUuid: user, smartGroupIds: Array(51).fill(1) }],
      ];
      for (const body of cases) await problem(await post('/devices', body), 400);
      await problem(await post('/devices', '{'), 400);
      assert.equal(sim.inventory.size, size);
    });

    it('a body over the limit → 413', async () => {
      const big = JSON.stringify([{ deviceUuid: 'a'.repeat(17 * 1024 * 1024), enrollmentUserUuid: randomUUID() }]);
      await problem(await post('/devices', big), 413);
    });
  });

  it('GET /sim/profile-installs lists every install received (DELETE forgets them)', async () => {
    const deviceUuid = randomUUID();
    const [device] = (await (await post('/devices', [{ deviceUuid, enrollmentUserUuid: randomUUID() }])).json()) as Array<{ serialNumber: string }>;
    const install = await fetch(`${sim.url}/api/mdm/profiles/77/install`, { method: 'POST', headers: { ...apiHeaders(1), 'Content-Type': 'application/json' }, body: JSON.stringify({ SerialNumber: device!.serialNumber }) });
    assert.equal(install.status, 200);
    const installs = (await (await fetch(`${sim.adminUrl}/profile-installs`)).json()) as Array<Record<string, unknown>>;
    const last = installs.at(-1)!;
    assert.deepEqual([last.profileId, last.by, last.serialNumber, last.deviceUuid], [77, 'SerialNumber', device!.serialNumber, deviceUuid]);
    assert.ok(!Number.isNaN(Date.parse(String(last.receivedAt))));
    assert.equal((await fetch(`${sim.adminUrl}/profile-installs`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await (await fetch(`${sim.adminUrl}/profile-installs`)).json(), []);
  });

  describe('/sim/faults', () => {
    afterEach(async () => {
      await fetch(`${sim.adminUrl}/faults`, { method: 'DELETE' });
    });

    it('every /api answer carries x-ratelimit-*; a per-second limit answers 429 with Retry-After and the error document', async () => {
      const normal = await api('/api/system/users/4711');
      assert.equal(normal.status, 200);
      assert.equal(normal.headers.get('x-ratelimit-limit'), '250000');
      assert.match(normal.headers.get('x-ratelimit-reset') ?? '', /^\d{10}$/);
      assert.equal((await post('/faults', { rateLimit: { requestsPerSecond: 2 } })).status, 201);
      const answers = await Promise.all(Array.from({ length: 6 }, () => api('/api/system/users/4711')));
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(limited.length >= 3, `${limited.length} of 6 limited`);
      assert.equal(limited[0]!.headers.get('retry-after'), '1');
      assert.deepEqual(Object.keys((await limited[0]!.json()) as object).sort(), ['activityId', 'errorCode', 'message']);
      const state = (await (await fetch(`${sim.adminUrl}/faults`)).json()) as { rateLimit: { requestsPerSecond: number }; rejected: number };
      assert.equal(state.rateLimit.requestsPerSecond, 2);
      assert.ok(state.rejected >= 3);
    });

    it('a quota counts down in x-ratelimit-remaining and answers 429 until the reset once spent', async () => {
      await post('/faults', { quota: { limit: 100, remaining: 2, resetInSeconds: 90 } });
      assert.equal((await api('/api/system/users/4711')).headers.get('x-ratelimit-remaining'), '1');
      assert.equal((await api('/api/system/users/4711')).headers.get('x-ratelimit-remaining'), '0');
      const spent = await api('/api/system/users/4711');
      assert.equal(spent.status, 429);
      assert.ok(Number(spent.headers.get('retry-after')) > 80);
    });

    it('DELETE restores the defaults; bad plans → 400', async () => {
      await post('/faults', { rateLimit: { requestsPerSecond: 1 } });
      assert.equal((await fetch(`${sim.adminUrl}/faults`, { method: 'DELETE' })).status, 204);
      const answers = await Promise.all(Array.from({ length: 5 }, () => api('/api/system/users/4711')));
      assert.ok(answers.every((a) => a.status === 200));
      for (const body of [{ rateLimit: { requestsPerSecond: 0 } }, { rateLimit: { requestsPerSecond: 'fast' } }, { quota: { limit: -1 } }, { other: true }, []]) {
        await problem(await post('/faults', body), 400);
      }
    });
  });

  it('needs no UEM credentials, and an unknown admin path is a 404 problem', async () => {
    assert.equal((await fetch(`${sim.adminUrl}/devices`)).status, 200);
    await problem(await fetch(`${sim.adminUrl}/nothing-here`), 404);
  });

  it('refuses a request whose Host header is not this machine (DNS rebinding) with 403', async () => {
    const { port } = new URL(sim.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/sim/devices', headers: { Host: `attacker.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });
});

describe('UEM simulator admin routes from another machine', function () {
  this.timeout(20_000);
  const external = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

  it('answers 403 to a caller that is not on loopback, while the REST API still answers it', async function () {
    if (!external) this.skip(); // no non-loopback interface on this machine to call from
    const sim = await startUemSimulator({ port: 0, host: '0.0.0.0', username: 'api-user', password: 'api-Password', tenantCode: TENANT });
    try {
      const { port } = new URL(sim.url);
      const remote = `http://${external}:${port}`;
      const admin = await fetch(`${remote}/sim/devices`);
      assert.equal(admin.status, 403);
      assert.match(((await admin.json()) as { detail: string }).detail, /this machine only/);
      assert.equal((await fetch(`${remote}/sim/devices`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify([{ deviceUuid: randomUUID(), enrollmentUserUuid: randomUUID() }]) })).status, 403);
      assert.equal(sim.inventory.size, 0);
      assert.equal((await fetch(`${remote}/api/system/users/4711`, { headers: apiHeaders(1) })).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/sim/devices`)).status, 200);
    } finally {
      await sim.close();
    }
  });

  it('what counts as loopback', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ['192.0.2.2', '::ffff:192.0.2.2', '10.0.0.1', '::', undefined]) assert.equal(isLoopbackAddress(address), false, String(address));
    for (const host of ['localhost', 'localhost:8081', '127.0.0.1:8081', '[::1]:8081', undefined]) assert.equal(isLoopbackHost(host), true, String(host));
    for (const host of ['attacker.example', 'attacker.example:8081', '192.0.2.2:8081', 'localhost.attacker.example']) assert.equal(isLoopbackHost(host), false, host);
  });
});
