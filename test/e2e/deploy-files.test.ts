/**
 * deploy/: what can be checked without a Docker engine or a Kubernetes cluster (neither exists
 * here). The Dockerfile is read and checked; its install and start commands run against the
 * cluster in test/cluster/deploy.test.ts. The Helm chart passes `helm lint --strict` and renders,
 * with assertions on what it renders. The systemd units pass `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { SETTINGS } from '../../src/config';
import { ENTRY_POINTS } from '../../src/tools/build';
import { findOnPath } from '../../src/tools/go-tool';
import { ensureHelm } from '../../src/tools/helm';
import { projectPath } from '../../src/tools/paths';
import { execForm, readDockerfile } from '../helpers/dockerfile';

const run = promisify(execFile);
const CHART = projectPath('deploy', 'helm', 'smime-escrow-provider');
const SECRET_SETTINGS = (Object.values(SETTINGS) as { env: string; secret?: boolean }[]).filter((s) => s.secret).map((s) => s.env).sort();

type K8s = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

describe('deploy/: Dockerfile, Helm chart, systemd units', function () {
  this.timeout(600_000);

  describe('Dockerfile', () => {
    const { stages } = readDockerfile(projectPath('deploy', 'Dockerfile'));
    const stage = (name: string) => {
      const found = stages.find((s) => s.name === name);
      assert.ok(found, `stage ${name}`);
      return found;
    };

    it('is multi-stage: runtime dependencies, build, runtime — the runtime has no dev dependency, no compiler, no tsx', () => {
      assert.deepEqual(stages.map((s) => s.name), ['deps', 'build', 'runtime']);
      const installs = stage('deps').instructions.filter((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      assert.equal(installs.length, 1);
      assert.match(installs[0]!.args, /npm ci --omit=dev/);
      assert.ok(stage('build').instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)));
      const runtime = stage('runtime');
      assert.ok(!runtime.instructions.some((i) => i.op === 'RUN' && /npm (ci|install)|apt-get install/.test(i.args)), 'nothing is installed in the runtime stage');
      const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
      assert.ok(copies.includes('--from=deps /app/node_modules ./node_modules'));
      assert.ok(copies.includes('--from=build /app/dist ./dist'));
    });

    it('runs as a numeric non-root user and starts the compiled worker', () => {
      const runtime = stage('runtime');
      const user = runtime.instructions.filter((i) => i.op === 'USER').pop();
      assert.match(user?.args ?? '', /^[1-9]\d*(:[1-9]\d*)?$/, 'USER is numeric and not root');
      assert.deepEqual(execForm(runtime.instructions.filter((i) => i.op === 'CMD').pop()), ['node', 'dist/worker.js']);
      for (const entry of ['worker.js', 'src/api/main.js', 'src/cli/setup-namespace.js']) assert.ok(ENTRY_POINTS.includes(entry), `${entry} is built`);
    });

    it('bakes in no secret: no secret setting in ENV or ARG, nothing copied from local state', () => {
      for (const s of stages) {
        for (const i of s.instructions.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
          for (const name of SECRET_SETTINGS) assert.ok(!new RegExp(`\\b${name}\\b`).test(i.args), `${s.name}: ${i.op} sets ${name}`);
        }
        for (const i of s.instructions.filter((x) => x.op === 'COPY')) assert.doesNotMatch(i.args, /\.data|\.tools|secrets|\.env\b|\bpki\b/);
      }
      const ignored = readFileSync(projectPath('.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
      for (const path of ['node_modules', 'dist', '.data', '.tools', '.git']) assert.ok(ignored.includes(path), `.dockerignore lists ${path}`);
    });
  });

  describe('Helm chart', () => {
    let helm: string;
    before(async () => {
      helm = await ensureHelm();
    });

    const render = async (...sets: string[]): Promise<K8s[]> => {
      const { stdout } = await run(helm, ['template', 'rel', CHART, '--kube-version', '1.30.0', ...sets.flatMap((s) => ['--set', s])], { maxBuffer: 8 * 1024 * 1024 });
      return parseAllDocuments(stdout).map((d) => d.toJSON() as K8s).filter(Boolean);
    };
    const renderFails = async (...sets: string[]): Promise<string> => {
      try {
        await render(...sets);
      } catch (err) {
        return (err as { stderr?: string }).stderr ?? String(err);
      }
      assert.fail(`helm template accepted ${sets.join(' ')}`);
    };
    const deployment = (docs: K8s[], component: string) => {
      const found = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith(`-${component}`));
      assert.ok(found, `${component} Deployment`);
      return found;
    };

    it('passes helm lint --strict', async () => {
      const { stdout } = await run(helm, ['lint', '--strict', CHART]);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    it('renders worker and API Deployments, their PodDisruptionBudgets, the API Service, an Ingress, the ConfigMap and the setup Job', async () => {
      const docs = await render();
      const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
      assert.deepEqual(kinds, [
        'ConfigMap/rel-smime-escrow-provider',
        'Deployment/rel-smime-escrow-provider-api',
        'Deployment/rel-smime-escrow-provider-worker',
        'Ingress/rel-smime-escrow-provider',
        'Job/rel-smime-escrow-provider-setup',
        'PodDisruptionBudget/rel-smime-escrow-provider-api',
        'PodDisruptionBudget/rel-smime-escrow-provider-worker',
        'Service/rel-smime-escrow-provider-api',
        'ServiceAccount/rel-smime-escrow-provider',
      ]);
      const ingress = docs.find((d) => d.kind === 'Ingress')!;
      const paths = ingress.spec.rules[0].http.paths.map((p: { path: string }) => p.path);
      assert.ok(paths.includes('/webhooks/uem') && paths.includes('/v1') && !paths.includes('/metrics'));
      for (const pdb of docs.filter((d) => d.kind === 'PodDisruptionBudget')) assert.equal(pdb.spec.minAvailable, 1);
      assert.match(docs.find((d) => d.kind === 'Job')!.metadata.annotations!['helm.sh/hook']!, /post-install/);
    });

    it('runs every pod as non-root with a read-only root, no privilege escalation and no capabilities', async () => {
      const docs = await render();
      for (const doc of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job')) {
        const pod = doc.spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true, doc.metadata.name);
        assert.ok(pod.securityContext.runAsUser > 0, doc.metadata.name);
        assert.equal(pod.automountServiceAccountToken, false);
        for (const c of pod.containers) {
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${doc.metadata.name}/${c.name}`);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
          assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${c.name} has resources`);
        }
      }
    });

    it('probes: the worker on its health port (/healthz live, /readyz ready), the API on /healthz and /readyz; commands are the compiled entry points', async () => {
      const docs = await render();
      const worker = deployment(docs, 'worker').spec.template.spec;
      const api = deployment(docs, 'api').spec.template.spec;
      for (const [pod, port] of [[worker, 'health'], [api, 'http']] as const) {
        const c = pod.containers[0];
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.startupProbe.httpGet.path, '/healthz');
        assert.equal(c.livenessProbe.httpGet.port, port);
      }
      assert.deepEqual(worker.containers[0].command, ['node', 'dist/worker.js']);
      assert.deepEqual(api.containers[0].command, ['node', 'dist/src/api/main.js']);
      const env = Object.fromEntries(worker.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
      assert.equal(env.WORKER_HEALTH_PORT, '9465');
      assert.ok(worker.terminationGracePeriodSeconds > 30 + 10, 'the pod outlives the drain');
      const withTls = await render('secrets.apiTls=api-tls');
      assert.equal(deployment(withTls, 'api').spec.template.spec.containers[0].readinessProbe.httpGet.scheme, 'HTTPS');
    });

    it('puts no secret in the ConfigMap: secret settings only from Secrets (environment and mounted files)', async () => {
      const docs = await render();
      const configMap = docs.find((d) => d.kind === 'ConfigMap')!;
      for (const key of Object.keys(configMap.data ?? {})) assert.ok(!SECRET_SETTINGS.includes(key), `ConfigMap holds ${key}`);
      for (const value of Object.values(configMap.data ?? {})) assert.doesNotMatch(value, /[A-Za-z0-9+/]{40,}={0,2}|BEGIN [A-Z ]*PRIVATE KEY|:\/\/[^/@\s]+:[^/@\s]+@/, 'a ConfigMap value looks like a key or a URL with a password');
      const worker = deployment(docs, 'worker').spec.template.spec;
      assert.deepEqual(worker.containers[0].envFrom.map((e: Record<string, { name: string }>) => Object.keys(e)[0]).sort(), ['configMapRef', 'secretRef']);
      const plainEnv = worker.containers[0].env.map((e: { name: string; value?: string }) => e);
      for (const e of plainEnv) {
        if (SECRET_SETTINGS.includes(e.name)) assert.match(e.value ?? '', /^\/etc\/smime-escrow-provider\//, `${e.name} is only a path to a mounted Secret`);
      }
      const volumes = worker.volumes.filter((v: { secret?: unknown }) => v.secret).map((v: { secret: { secretName: string } }) => v.secret.secretName).sort();
      assert.deepEqual(volumes, ['smime-escrow-provider-ca', 'smime-escrow-provider-ceg-client', 'smime-escrow-provider-temporal-tls']);
      // The chart refuses a secret setting in plain values…
      for (const name of ['SEALING_KEYS', 'CODEC_KEYS', 'ESCROW_DATABASE_URL', 'CEG_CLIENT_KEY']) {
        assert.match(await renderFails(`config.${name}=x`), new RegExp(`invalid propertyName '${name}'`));
      }
      assert.match(await renderFails('worker.env.API_TOKENS=x'), /invalid propertyName 'API_TOKENS'/);
      // …and its list of secret settings is the code's.
      const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as { definitions: { secretSettings: { enum: string[] } } };
      assert.deepEqual([...schema.definitions.secretSettings.enum].sort(), SECRET_SETTINGS);
    });

    it('refuses a pod termination grace shorter than the worker drain', async () => {
      assert.match(await renderFails('worker.shutdownGrace=55s'), /must exceed worker.shutdownGrace/);
      await render('worker.shutdownGrace=45s', 'worker.terminationGracePeriodSeconds=60');
    });

    it('the setup Job registers the search attributes, and the namespace when asked', async () => {
      const job = (await render('setup.createNamespace=true', 'setup.retention=7d')).find((d) => d.kind === 'Job')!;
      assert.deepEqual(job.spec.template.spec.containers[0].command, ['node', 'dist/src/cli/setup-namespace.js', '--wait', '120s', '--create-namespace', '--retention', '7d']);
      assert.equal((await render('setup.enabled=false')).filter((d) => d.kind === 'Job').length, 0);
    });
  });

  describe('systemd units', () => {
    const unitsDir = projectPath('deploy', 'systemd');
    const units = readdirSync(unitsDir).filter((f) => f.endsWith('.service'));

    it('pass systemd-analyze verify without a diagnostic', async function () {
      const analyze = findOnPath('systemd-analyze');
      if (!analyze) this.skip();
      const dir = mkdtempSync(join(tmpdir(), 'units-'));
      try {
        for (const unit of units) {
          // Templates are verified as an instance, the way they run.
          const name = unit.includes('@.') ? unit.replace('@.', '@1.') : unit;
          copyFileSync(join(unitsDir, unit), join(dir, name));
          const result: { stdout: string; stderr: string } = await run(analyze!, ['verify', '--man=no', join(dir, name)]);
          const said = `${result.stdout}${result.stderr}`.trim();
          assert.equal(said, '', `${unit}: ${said}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('start the compiled entry points and hand key files over as credentials, never inline', () => {
      const starts = new Map<string, string>();
      for (const unit of units) {
        const text = readFileSync(join(unitsDir, unit), 'utf8');
        const exec = /^ExecStart=\/usr\/bin\/node (\S+)/m.exec(text)?.[1];
        assert.ok(exec && ENTRY_POINTS.includes(exec.replace(/^dist\//, '')), `${unit} starts a built entry point`);
        starts.set(unit, exec);
        for (const name of SECRET_SETTINGS) {
          const line = new RegExp(`^Environment=${name}=(.*)$`, 'm').exec(text)?.[1];
          if (line !== undefined) assert.match(line, /^%d\//, `${unit}: ${name} is a credential path`);
        }
        assert.match(text, /^NoNewPrivileges=yes$/m);
        assert.match(text, /^User=smime-provider$/m);
      }
      assert.equal(starts.get('smime-escrow-provider-worker@.service'), 'dist/worker.js');
      assert.equal(starts.get('smime-escrow-provider-api@.service'), 'dist/src/api/main.js');
      assert.ok(existsSync(join(unitsDir, 'provider.env.example')));
      const example = readFileSync(join(unitsDir, 'provider.env.example'), 'utf8');
      assert.match(example, /^SEALING_KEYS=$/m, 'the example carries no key');
    });
  });
});
