/**
 * `npm run build`: the production build in `dist/`.
 *
 *   1. tsc -p tsconfig.build.json: the worker, the API and the operator CLIs as CommonJS;
 *   2. the workflow bundle, prebuilt from the compiled workflows into dist/workflow-bundle.js (what
 *      `node dist/worker.js` loads instead of running webpack at every start);
 *   3. a check of what the entry points reach: no module of src/tools or src/peers (dev only) and
 *      no package outside package.json's `dependencies`, so `npm ci --omit=dev` is enough to run it.
 *
 * Needs the dev dependencies (TypeScript); what it produces does not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE } from '../temporal/workflow-code';
import { projectPath } from './paths';
import { say } from './progress';

export const DIST = projectPath('dist');

/** What `node dist/...` starts, and what the worker loads by path. */
export const ENTRY_POINTS = ['worker.js', 'src/api/main.js', 'src/cli/replay.js', 'src/cli/escrow-rewrap.js', 'src/cli/setup-namespace.js', 'src/temporal/failure-converter.js'];

/**
 * Development-only modules production code still imports, each with the reason. The build warns
 * about these and fails on any other. (The CEG adapter falls back to the dev PKI when no client
 * certificate is configured; the activities' refactor removes that fallback, and this entry.)
 */
const KNOWN_DEV_IMPORTS: Record<string, string> = {
  'src/peers/dev-pki.js': 'src/activities/ceg/ceg-gateway.ts falls back to the dev PKI when CEG_CLIENT_CERT is unset',
};

export interface ReachReport {
  files: string[];
  packages: string[];
  devModules: string[];
  undeclaredPackages: string[];
}

export async function build(): Promise<ReachReport> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });
  say('build', 'tsc -p tsconfig.build.json → dist/');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', projectPath('tsconfig.build.json')], { cwd: projectPath(), stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status})`);
  const compiled = Date.now();

  say('build', `bundling the workflows → dist/${WORKFLOW_BUNDLE_FILE}`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(DIST, 'src/workflows/index.js'),
    // The same failure converter the worker's data converter names (FAILURE_CONVERTER_PATH).
    failureConverterPath: join(DIST, 'src/temporal/failure-converter.js'),
    logger: quietBundlerLogger(),
  });
  writeFileSync(join(DIST, WORKFLOW_BUNDLE_FILE), code);

  const report = reachableFrom(DIST, ENTRY_POINTS);
  for (const file of report.devModules) {
    const reason = KNOWN_DEV_IMPORTS[file];
    if (reason) say('build', `warning: production code reaches ${file} (${reason})`);
  }
  const unexpected = report.devModules.filter((file) => !KNOWN_DEV_IMPORTS[file]);
  if (unexpected.length > 0) throw new Error(`production entry points reach development-only modules: ${unexpected.join(', ')}`);
  if (report.undeclaredPackages.length > 0) {
    throw new Error(`production entry points need packages that are not in package.json "dependencies" (npm ci --omit=dev would leave them out): ${report.undeclaredPackages.join(', ')}`);
  }
  const bundleKb = Math.round(statSync(join(DIST, WORKFLOW_BUNDLE_FILE)).size / 1024);
  say('build', `done in ${((Date.now() - started) / 1000).toFixed(1)} s (tsc ${((compiled - started) / 1000).toFixed(1)} s): ${report.files.length} modules, ${report.packages.length} packages, workflow bundle ${bundleKb} KiB`);
  return report;
}

/**
 * Follow `require("…")` from the compiled entry points: every module of ours they load and every
 * package they name. Relative requires are resolved as Node does for CommonJS files.
 */
export function reachableFrom(dist: string, entries: string[]): ReachReport {
  const declared = new Set(Object.keys((JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}));
  const builtins = new Set(builtinModules);
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => join(dist, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`entry point or module missing from the build: ${relative(dist, file)}`);
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\brequire\((["'])([^"']+)\1\)|\bimport\((["'])([^"']+)\3\)/g)) {
      const specifier = match[2] ?? match[4]!;
      if (specifier.startsWith('.')) {
        queue.push(resolveRelative(dirname(file), specifier));
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
      }
    }
  }
  const files = [...seen].map((f) => relative(dist, f)).sort();
  return {
    files,
    packages: [...packages].sort(),
    devModules: files.filter((f) => f.startsWith('src/tools/') || f.startsWith('src/peers/')),
    undeclaredPackages: [...packages].filter((p) => !declared.has(p)).sort(),
  };
}

function resolveRelative(fromDir: string, specifier: string): string {
  const base = resolve(fromDir, specifier);
  for (const candidate of [base, `${base}.js`, `${base}.json`, join(base, 'index.js')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return `${base}.js`; // reported as missing by the caller
}

/** webpack's chatter at info level is noise in a build log; warnings and errors still show. */
function quietBundlerLogger() {
  const write = (level: string) => (message: string) => process.stderr.write(`[build] ${level}: ${message}\n`);
  const ignore = () => undefined;
  return { trace: ignore, debug: ignore, info: ignore, warn: write('warning'), error: write('error'), log: ignore };
}

if (require.main === module) {
  build().catch((err) => {
    process.stderr.write(`\n[build] failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
