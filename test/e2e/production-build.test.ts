/**
 * The production build: `npm run build` compiles to dist/ and prebuilds the workflow bundle; the
 * worker and the API then run as plain `node dist/...` (no tsx), against the run's dev server.
 * That `npm ci --omit=dev` is enough is checked against the cluster (test/cluster/deploy.test.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { build, DIST, type ReachReport } from '../../src/tools/build';
import { developmentSettings } from '../../src/tools/dev-settings';
import { projectPath } from '../../src/tools/paths';
import { devServerEnv } from '../helpers/temporal';

describe('production build: node dist/…', function () {
  this.timeout(180_000);
  let report: ReachReport;
  let dir: string;
  let temporalAddress: string;
  const children: ChildProcess[] = [];

  before(async () => {
    report = await build();
    temporalAddress = (await devServerEnv()).address;
    dir = mkdtempSync(join(tmpdir(), 'prod-build-'));
  });

  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the worker and the API reach no development module; nothing reaches a package outside "dependencies"', () => {
    assert.deepEqual(report.undeclaredPackages, []);
    assert.deepEqual(report.devModules, []);
    assert.ok(report.files.includes('worker.js') && report.files.includes('src/api/main.js'));
    for (const devOnly of ['tsx', 'typescript', 'mocha', '@temporalio/testing']) assert.ok(!report.packages.includes(devOnly), `${devOnly} is reached`);
  });

  it('worker: runs the prebuilt bundle, answers /healthz and /readyz, drains on SIGTERM and exits 0', async () => {
    const healthPort = await freePort();
    // A test harness: development keys, PKI and DEV_MODE (the embedded CA), as src/tools/dev-settings gives them.
    const worker = startNode('dist/worker.js', {
      ...(await developmentSettings(join(dir, 'worker'))),
      DATA_DIR: join(dir, 'worker'),
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `build-test-${randomUUID()}`,
      WORKER_METRICS_PORT: String(await freePort()),
      WORKER_HEALTH_PORT: String(healthPort),
      WORKER_SHUTDOWN_GRACE: '5s',
      KEY_POOL_SIZE: '0',
      // Nothing is delivered in this test: the gateway is only configured, never called.
      CEG_URL: 'https://localhost:1',
    });
    const polling = await worker.waitFor(/"msg":"worker polling"/);
    assert.match(polling, new RegExp(`"workflowCode":"${join(DIST, 'workflow-bundle.js').replace(/[/.]/g, '\\$&')}"`));
    const live = await getJson(`http://127.0.0.1:${healthPort}/healthz`);
    assert.equal(live.status, 200);
    assert.equal(live.body.state, 'RUNNING');
    const ready = await getJson(`http://127.0.0.1:${healthPort}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(ready.body.status, 'ready');
    assert.equal((await getJson(`http://127.0.0.1:${healthPort}/nothing`)).status, 404);

    worker.child.kill('SIGTERM');
    await worker.waitFor(/"msg":"worker draining"/);
    await worker.waitFor(/"msg":"worker stopped"/);
    assert.equal(await worker.exitCode, 0, worker.output());
  });

  it('API: native HTTPS with API_TLS_CERT/API_TLS_KEY, then a graceful stop on SIGTERM', async () => {
    const certFile = join(dir, 'api.crt');
    const keyFile = join(dir, 'api.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const api = startNode('dist/src/api/main.js', {
      ...(await developmentSettings(join(dir, 'api'))),
      DATA_DIR: join(dir, 'api'),
      TEMPORAL_ADDRESS: temporalAddress,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      API_TLS_CERT: certFile,
      API_TLS_KEY: keyFile,
    });
    const listening = await api.waitFor(/"msg":"API listening"/);
    assert.match(listening, new RegExp(`"url":"https://127.0.0.1:${port}"`));
    const dispatcher = new Agent({ connect: { ca: readFileSync(certFile) } });
    try {
      const answer = await request(`https://127.0.0.1:${port}/readyz`, { dispatcher });
      assert.equal(answer.statusCode, 200, await answer.body.text());
      await answer.body.dump();
      const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      assert.equal(plain, 'refused', 'plain HTTP is not served when TLS is configured');
    } finally {
      await dispatcher.close();
    }
    api.child.kill('SIGTERM');
    await api.waitFor(/"msg":"API stopped"/);
    assert.equal(await api.exitCode, 0, api.output());
  });

  it('API: a certificate without its key stops the process at start, naming API_TLS_KEY', async () => {
    const api = startNode('dist/src/api/main.js', { ...(await developmentSettings(join(dir, 'api-bad'))), DATA_DIR: join(dir, 'api-bad'), TEMPORAL_ADDRESS: temporalAddress, API_PORT: String(await freePort()), API_TLS_CERT: join(dir, 'api.crt') });
    assert.equal(await api.exitCode, 2);
    assert.match(api.output(), /API_TLS_KEY/);
  });

  function startNode(file: string, env: Record<string, string>) {
    const child = spawn(process.execPath, [projectPath(file)], {
      cwd: projectPath(),
      // No tsx: NODE_OPTIONS from mocha's own process must not carry a loader into the child.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let text = '';
    const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      for (const waiter of [...waiters]) {
        const line = text.split('\n').find((l) => waiter.pattern.test(l));
        if (line) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return {
      child,
      exitCode,
      output: () => text,
      waitFor: (pattern: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line) return resolve(line);
          waiters.push({ pattern, resolve });
          void exitCode.then((code) => reject(new Error(`${file} exited (${code}) before ${pattern}:\n${text.slice(-3000)}`)));
        }),
    };
  }
});

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
