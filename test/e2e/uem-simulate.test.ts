/**
 * `npm run simulate` as a real process against the API, the dev server and a worker whose
 * resolveUser looks blank-email users up in the UEM simulator through UemRestDirectory: the
 * summary, the exit code, --wait through the management API or through Temporal, and devices
 * enrolled in the UEM simulator's inventory without events (--silent, --drop, --smart-group).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { nonRetryable } from '../../src/domain/errors';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { projectPath } from '../../src/tools/paths';
import { fakeActivities } from '../helpers/fake-activities';
import { devServerEnv } from '../helpers/temporal';
import { apiConfig, startApi, startWorker, VIEWER_TOKEN, WEBHOOK_PASSWORD, WEBHOOK_USER, type RunningApi, type TestConfig } from '../helpers/api-harness';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('npm run simulate against the running stack', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let testConfig: TestConfig;
  let api: RunningApi;
  let sim: UemSimulator;
  let worker: { stop(): Promise<void> };
  const lookedUp: string[] = [];
  const resolved: Array<{ enrollmentUserUuid: string; enrollmentUserId?: string; deviceUuid: string; deviceId?: string }> = [];

  before(async function () {
    this.timeout(180_000);
    env = await devServerEnv();
    testConfig = apiConfig();
    sim = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
    const directory = new UemRestDirectory({ baseUrl: sim.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 5000 });
    const activities = fakeActivities(async () => Date.now(), {
      async identifyUser({ event }) {
        resolved.push({ enrollmentUserUuid: event.enrollmentUserUuid, enrollmentUserId: event.enrollmentUserId, deviceUuid: event.deviceUuid, deviceId: event.deviceId });
        if (event.email) return { email: event.email, source: 'event' };
        const found = await directory.lookUp({ enrollmentUserUuid: event.enrollmentUserUuid, enrollmentUserId: event.enrollmentUserId });
        if (!found.email) throw nonRetryable('UserHasNoEmail', 'no email in UEM');
        lookedUp.push(found.email);
        return { email: found.email, source: 'directory' };
      },
    });
    worker = await startWorker(env, testConfig.config.taskQueue, activities);
    api = await startApi({ client: env.client, config: testConfig.config });
  });
  after(async function () {
    this.timeout(60_000);
    await api?.close();
    await worker?.stop();
    await sim?.close();
    testConfig?.cleanUp();
  });

  function simulate(args: string[], extraEnv: Record<string, string>): Promise<CliRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', projectPath('src', 'cli', 'simulate.ts'), ...args], {
        cwd: projectPath(),
        env: {
          PATH: process.env.PATH,
          DATA_DIR: testConfig.config.dataDirAbsolute,
          LOG_LEVEL: 'silent',
          UEM_WEBHOOK_USERS: `${WEBHOOK_USER}:${WEBHOOK_PASSWORD}`,
          ...extraEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += String(chunk)));
      child.stderr.on('data', (chunk) => (stderr += String(chunk)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('--devices 6 --format xml --blank-email --wait: all accepted, looked up in UEM, delivered; exit 0', async () => {
    const before = lookedUp.length;
    const run = await simulate(['--devices', '6', '--format', 'xml', '--blank-email', '--wait', '--timeout', '60s', '--url', `${api.url}/webhooks/uem`], { API_TOKENS: `${VIEWER_TOKEN}:viewer` });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^sent:\s+6$/m);
    assert.match(run.stdout, /^accepted:\s+6$/m);
    assert.match(run.stdout, /^rejected:\s+0$/m);
    assert.match(run.stdout, /^delivered:\s+6$/m);
    assert.match(run.stdout, /^failed:\s+0$/m);
    assert.match(run.stderr, /via the management API/);
    assert.equal(lookedUp.length - before, 6, 'every blank-email user was looked up in the UEM simulator');
    assert.ok(lookedUp.slice(before).every((email) => email.endsWith('@uem-sim.example.com')));
  });

  it('events for devices UEM knows: plain runs enroll them in the UEM simulator first; --events-only does not', async () => {
    const before = sim.inventory.size;
    const run = await simulate(['--devices', '3', '--uem-url', sim.url, '--url', `${api.url}/webhooks/uem`], {});
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^accepted:\s+3$/m);
    assert.equal(sim.inventory.size - before, 3, 'a reconcile finds them in UEM');
    const eventsOnly = await simulate(['--devices', '2', '--events-only', '--uem-url', sim.url, '--url', `${api.url}/webhooks/uem`], {});
    assert.equal(eventsOnly.code, 0, `${eventsOnly.stdout}\n${eventsOnly.stderr}`);
    assert.equal(sim.inventory.size - before, 3);
  });

  it('--wait without an API token follows the workflows through Temporal', async () => {
    const run = await simulate(['--devices', '3', '--rate', '20', '--wait', '--timeout', '60s', '--url', `${api.url}/webhooks/uem`], {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
      // The CLI tools need codec keys to talk to Temporal (no development fallback outside the dev stack).
      CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^delivered:\s+3$/m);
    assert.match(run.stderr, /via Temporal/);
  });

  it('wrong webhook credentials: everything rejected by status, exit 1', async () => {
    const run = await simulate(['--devices', '2', '--url', `${api.url}/webhooks/uem`], { UEM_WEBHOOK_USERS: `${WEBHOOK_USER}:not-the-password` });
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^accepted:\s+0$/m);
    assert.match(run.stdout, /^rejected:\s+2 \(401: 2\)$/m);
  });

  it('bad arguments: a usage message, exit 2', async () => {
    const run = await simulate(['--devices', '0'], {});
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--devices must be/);
    assert.match(run.stderr, /usage: npm run simulate/);
  });

  it('--silent --smart-group 42: the devices are in the UEM simulator, in the group, and no event was sent', async () => {
    const before = sim.inventory.size;
    const resolvedBefore = resolved.length;
    const run = await simulate(['--devices', '25', '--silent', '--smart-group', '42', '--wait', '--uem-url', sim.url, '--url', `${api.url}/webhooks/uem`], {});
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^in UEM:\s+25 \(smart group 42\)$/m);
    assert.match(run.stdout, /^no event:\s+25$/m);
    assert.match(run.stdout, /^sent:\s+0$/m);
    assert.match(run.stderr, /nothing to wait for/);
    assert.equal(sim.inventory.size - before, 25);
    assert.equal(sim.inventory.smartGroup(42)!.length, 25);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(resolved.length, resolvedBefore, 'no workflow ran');
  });

  it("--drop 0.4: all devices in the UEM simulator, events for 6 of 10 carrying UEM's ids, those delivered", async () => {
    const before = new Set(sim.inventory.list().map((d) => d.deviceUuid));
    const resolvedBefore = resolved.length;
    const run = await simulate(['--devices', '10', '--drop', '0.4', '--wait', '--timeout', '60s', '--uem-url', sim.url, '--url', `${api.url}/webhooks/uem`], { API_TOKENS: `${VIEWER_TOKEN}:viewer` });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^in UEM:\s+10$/m);
    assert.match(run.stdout, /^no event:\s+4$/m);
    assert.match(run.stdout, /^accepted:\s+6$/m);
    assert.match(run.stdout, /^delivered:\s+6$/m);
    const added = sim.inventory.list().filter((d) => !before.has(d.deviceUuid));
    assert.equal(added.length, 10);
    const events = resolved.slice(resolvedBefore);
    assert.equal(new Set(events.map((e) => e.deviceUuid)).size, 6);
    for (const event of events) {
      const device = added.find((d) => d.deviceUuid === event.deviceUuid);
      assert.ok(device, 'every event is for a device in the inventory');
      assert.equal(event.deviceId, String(device.deviceId));
      assert.equal(event.enrollmentUserId, sim.users.record(event.enrollmentUserUuid).id);
    }
  });

  it('--silent with no UEM simulator to reach: the reason, exit 1; --drop out of range or --smart-group alone: exit 2', async () => {
    const unreachable = await simulate(['--devices', '2', '--silent', '--uem-url', 'http://127.0.0.1:9'], {});
    assert.equal(unreachable.code, 1, unreachable.stderr);
    assert.match(unreachable.stderr, /UEM simulator at http:\/\/127\.0\.0\.1:9\/sim\/devices did not answer/);
    const drop = await simulate(['--devices', '2', '--drop', '1.5'], {});
    assert.equal(drop.code, 2);
    assert.match(drop.stderr, /--drop must be a fraction/);
    const group = await simulate(['--devices', '2', '--smart-group', '42'], {});
    assert.equal(group.code, 2);
    assert.match(group.stderr, /--smart-group applies to devices enrolled in the UEM simulator/);
  });
});
