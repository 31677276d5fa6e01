/**
 * `npm run backfill` and `npm run renew` as real processes against the dev server and a worker with
 * real activities and the UEM simulator's inventory: usage errors (exit 2, the usage, nothing
 * started), a backfill followed with --wait to its summary, one started without --wait, a renewal
 * that selects nothing, a backfill of a smart group UEM does not know (Failed: exit 1 and why), and
 * one cancelled while the CLI watches (exit 1).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { cancelSweep, describeSweep } from '../../src/temporal/fleet';
import { projectPath } from '../../src/tools/paths';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('npm run backfill / npm run renew against the dev server', function () {
  this.timeout(120_000);
  let uem: UemSimulator;
  let stack: ProviderStack;
  let dataDir: string;

  before(async function () {
    this.timeout(120_000);
    uem = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
    const directory = new UemRestDirectory({ baseUrl: uem.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 10_000 });
    stack = await startProviderStack({
      directory,
      inventory: directory,
      overrides: { keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }), recipientCertificatePem: undefined },
    });
    // An empty data folder: no dev stack settings to fall back on, everything from the environment.
    dataDir = mkdtempSync(join(tmpdir(), 'sweep-cli-'));
  });
  after(async () => {
    await stack?.stop();
    await uem?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function cli(script: 'backfill' | 'renew', args: string[], onStderr?: (text: string) => void): Promise<CliRun> {
    const { kid, key } = stack.codecKeyring.current;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', projectPath('src', 'cli', `${script}.ts`), ...args], {
        cwd: projectPath(),
        env: {
          PATH: process.env.PATH,
          DATA_DIR: dataDir,
          LOG_LEVEL: 'silent',
          TEMPORAL_ADDRESS: stack.env.address,
          TEMPORAL_NAMESPACE: 'default',
          TEMPORAL_TASK_QUEUE: stack.taskQueue,
          CODEC_KEYS: `${kid}:${key.toString('base64')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += String(chunk)));
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
        onStderr?.(stderr);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  const workflowsOnQueue = async () => (await stack.client.workflow.count(`TaskQueue = '${stack.taskQueue}'`)).count;
  function addDevices(count: number, smartGroupId: number): void {
    for (let i = 0; i < count; i += 1) uem.inventory.put({ deviceUuid: randomUUID(), enrollmentUserUuid: randomUUID(), smartGroupIds: [smartGroupId] });
  }

  it('usage errors: exit 2 with the usage and what is wrong, nothing started', async () => {
    const before = await workflowsOnQueue();
    const cases: [('backfill' | 'renew'), string[], RegExp][] = [
      ['backfill', [], /give one of --smart-group, --all/],
      ['backfill', ['--smart-group', '42', '--all'], /give only one of --smart-group, --all/],
      ['backfill', ['--smart-group', 'forty-two'], /--smart-group: must be a number/],
      ['backfill', ['--all', '--rate', '0'], /--rate: /],
      ['backfill', ['--all', '--rate', '5000'], /--rate: /],
      ['backfill', ['--all', '--frobnicate'], /Unknown option '--frobnicate'/],
      ['renew', ['--all'], /--reason: required/],
      ['renew', ['--device', 'not-a-uuid', '--reason', 'x'], /--device: must be a UUID/],
      ['renew', ['--expiring-before', '2027-03-01', '--reason', 'x'], /--expiring-before: must be an ISO 8601 time/],
      ['renew', ['--user', randomUUID(), '--all', '--reason', 'x'], /give only one of/],
      ['renew', ['--reason', 'no selector'], /give one of --device, --user, --expiring-before, --all/],
    ];
    for (const [script, args, message] of cases) {
      const run = await cli(script, args);
      assert.equal(run.code, 2, `${script} ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, new RegExp(`usage: npm run ${script} --`));
      assert.equal(run.stdout, '');
    }
    const help = await cli('renew', ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--expiring-before/);
    assert.equal(await workflowsOnQueue(), before, 'no workflow was started');
  });

  it('backfill --smart-group --rate --wait: progress lines on stderr (no TTY), the summary on stdout, exit 0', async () => {
    addDevices(3, 42);
    const run = await cli('backfill', ['--smart-group', '42', '--rate', '20', '--wait']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^state:\s+Completed$/m);
    assert.match(run.stdout, /^devices seen:\s+3$/m);
    assert.match(run.stdout, /^started:\s+3$/m);
    assert.match(run.stdout, /^failed:\s+0$/m);
    assert.match(run.stdout, /^rate:\s+20\/s$/m);
    const id = /^id:\s+(smime-backfill-\S+)$/m.exec(run.stdout)?.[1];
    assert.ok(id);
    assert.match(run.stderr, new RegExp(`backfill ${id} started \\(smart group 42 at 20/s at most\\)`));
    assert.match(run.stderr, /^\[backfill\] Completed · enroll · devices seen 3 · started 3 /m);
    assert.doesNotMatch(run.stderr, /\r|\x1b\[/, 'plain lines when stderr is not a terminal');
    assert.equal((await describeSweep(stack.client, 'backfill', id))?.state, 'Completed');
  });

  it('backfill --all without --wait: prints the id and how to follow it, exit 0', async () => {
    const run = await cli('backfill', ['--all']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^smime-backfill-[0-9a-f-]{36}$/);
    assert.match(run.stderr, new RegExp(`GET /v1/backfills/${id}`));
    assert.ok(await describeSweep(stack.client, 'backfill', id));
  });

  it('renew --user --reason --wait for a user with nothing to renew: Completed with zeros, exit 0', async () => {
    const run = await cli('renew', ['--user', randomUUID(), '--reason', 'nothing to see', '--wait']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^state:\s+Completed$/m);
    assert.match(run.stdout, /^selected:\s+0$/m);
    assert.match(run.stdout, /^completed:\s+0$/m);
  });

  it('backfill of a smart group UEM does not know: Failed, the reason in the summary, exit 1', async () => {
    const run = await cli('backfill', ['--smart-group', '987654', '--wait']);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^state:\s+Failed$/m);
    assert.match(run.stdout, /^failure:\s+ConfigurationError: UEM answered 404 /m);
  });

  it('a backfill cancelled while the CLI waits: Cancelled, exit 1', async () => {
    addDevices(20, 77);
    let cancelled: Promise<void> | undefined;
    const run = await cli('backfill', ['--smart-group', '77', '--rate', '0.5', '--wait'], (stderr) => {
      const id = /backfill (smime-backfill-\S+) started/.exec(stderr)?.[1];
      if (id && !cancelled) cancelled = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => cancelSweep(stack.client, id));
    });
    await cancelled;
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^state:\s+Cancelled$/m);
  });
});
