/**
 * deploy/Dockerfile without Docker (there is no engine here): its install and start commands, read
 * from the file, run against the cluster. A folder stands in for the image: what the `deps` stage
 * copies, then that stage's `npm ci` exactly as written; dist/ from the build (the `build` stage's
 * `npm run build`, which the cluster ran); the runtime stage's ENV and CMD. The cluster's workers
 * and one API replica make way, and the image's worker and API serve a burst through the proxy.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST } from '../../src/tools/build';
import { projectPath } from '../../src/tools/paths';
import type { Cluster } from '../../src/tools/cluster/stack';
import { execForm, readDockerfile } from '../helpers/dockerfile';
import { activityAttempts, Burst, identityOf, report, sharedCluster } from './support';

const run = promisify(execFile);
const EVENTS = 20;

describe('deploy/Dockerfile: its install and start commands, against the cluster', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let image: string;

  before(async () => {
    cluster = await sharedCluster();
    image = mkdtempSync(join(tmpdir(), 'image-'));
  });

  after(async () => {
    for (const name of ['image-worker', 'image-api']) await cluster?.stopProcess(name).catch(() => undefined);
    for (const name of ['api-1', 'worker-1', 'worker-2']) if (cluster && !cluster.process(name)?.running) await cluster.restart(name);
    if (image) rmSync(image, { recursive: true, force: true });
  });

  it('npm ci --omit=dev as the deps stage runs it, then the CMD (worker) and the API command deliver enrollments', async () => {
    const { stages } = readDockerfile(projectPath('deploy', 'Dockerfile'));
    const deps = stages.find((s) => s.name === 'deps')!;
    const runtime = stages.find((s) => s.name === 'runtime')!;

    // deps: COPY from the build context, then the npm RUN exactly as written (the apt-get line
    // installs compilers into the image's OS, which this machine already has).
    for (const copy of deps.instructions.filter((i) => i.op === 'COPY')) {
      const parts = copy.args.split(' ');
      for (const file of parts.slice(0, -1)) copyFileSync(projectPath(file), join(image, file));
    }
    const install = deps.instructions.find((i) => i.op === 'RUN' && /npm ci/.test(i.args))!.args;
    const started = Date.now();
    await run('sh', ['-c', install], { cwd: image, env: { ...process.env, npm_config_prefer_offline: 'true' }, maxBuffer: 16 * 1024 * 1024 });
    const installSeconds = (Date.now() - started) / 1000;
    for (const devOnly of ['tsx', 'typescript', 'mocha', '@temporalio/testing', 'playwright-core', 'smtp-server', 'node-forge']) assert.ok(!existsSync(join(image, 'node_modules', devOnly)), `${devOnly} is not installed`);

    // runtime: node_modules (above), dist/ from the build, package.json; its ENV; its CMD.
    cpSync(DIST, join(image, 'dist'), { recursive: true });
    copyFileSync(projectPath('package.json'), join(image, 'package.json'));
    const imageEnv: Record<string, string> = {};
    for (const env of runtime.instructions.filter((i) => i.op === 'ENV')) {
      for (const [, key, value] of env.args.matchAll(/(\w+)=(\S+)/g)) imageEnv[key!] = value!;
    }
    assert.equal(imageEnv.NODE_ENV, 'production');
    const workerCommand = execForm(runtime.instructions.find((i) => i.op === 'CMD'));
    const apiCommand = ['node', 'dist/src/api/main.js']; // the Helm chart's and systemd unit's command for the API

    // The image's processes take the place of the cluster's workers and of api-1.
    await Promise.all(['worker-1', 'worker-2', 'api-1'].map((name) => cluster.stopProcess(name)));
    const volume = (name: string) => join(image, 'volumes', name); // DATA_DIR is a volume in the image
    const worker = cluster.launchProcess('image-worker', {
      command: process.execPath,
      args: workerCommand.slice(1),
      cwd: image,
      // The image's ENV, then the deployment's settings (a container's ports are its own; here they must not collide).
      env: { ...imageEnv, ...cluster.workerSettings(1), DATA_DIR: volume('worker') },
    });
    const api = cluster.launchProcess('image-api', { command: process.execPath, args: apiCommand.slice(1), cwd: image, env: { ...imageEnv, ...cluster.apiSettings(1), DATA_DIR: volume('api') } });
    const polling = await worker.waitForLine(/"msg":"worker polling"/, 120_000);
    assert.match(polling, new RegExp(`"workflowCode":"${join(image, 'dist', 'workflow-bundle.js').replace(/[/.]/g, '\\$&')}"`));
    await api.waitForLine(/"msg":"API listening"/, 120_000);

    const burst = new Burst(cluster, EVENTS);
    await burst.send({ concurrency: 4 });
    await burst.resendRefused();
    const figures = await burst.check(300_000);
    const attempts = activityAttempts(await burst.histories());
    assert.ok(attempts.length > 0 && attempts.every((a) => identityOf(worker.pid).test(a.identity)), 'the image worker ran every activity');
    const health = await fetch(`${cluster.workerHealthUrl(1)}/readyz`);
    assert.equal(health.status, 200);

    await cluster.stopProcess('image-worker');
    assert.equal(await worker.exited, 'code 0');
    report({
      test: 'Dockerfile commands',
      loadHeld: EVENTS,
      faultsSurvived: `npm ci --omit=dev in ${installSeconds.toFixed(0)} s, node ${workerCommand.slice(1).join(' ')} and node ${apiCommand.slice(1).join(' ')} from the copy`,
      lost: figures.lost,
      duplicates: figures.duplicates,
      delivered: figures.delivered,
    });
  });
});
