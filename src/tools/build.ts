/**
 * `npm run build`: the production build in `dist/`.
 *
 *   1. tsc -p tsconfig.build.json: the worker, the API and the operator CLIs as CommonJS;
 *   2. the workflow bundle, prebuilt from the compiled workflows into dist/workflow-bundle.js (what
 *      `node dist/worker.js` loads instead of running webpack at every start);
 *   3. a check of what the entry points reach: from the worker and the API (and what they load by
 *      path) no module of src/tools or src/peers (dev only); from every entry point no package
 *      outside package.json's `dependencies`, so `npm ci --omit=dev` is enough to run them.
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

/** The processes `node dist/...` runs, and what they load by path: none may reach development code. */
export const PROCESS_ENTRY_POINTS = [
  'worker.js',
  'src/api/main.js',
  'src/temporal/failure-converter.js',
  'src/temporal/payload-converter.js',
  'src/workflows/refuse-unencrypted.js',
];

/**
 * The operator CLIs in dist/. They may reach src/tools/dev-settings (a CLI next to a dev stack
 * reads that stack's development settings, only when the data folder holds them), but no package
 * outside `dependencies`.
 */
export const CLI_ENTRY_POINTS = ['src/cli/replay.js', 'src/cli/escrow-rewrap.js', 'src/cli/setup-namespace.js'];

export const ENTRY_POINTS = [...PROCESS_ENTRY_POINTS, ...CLI_ENTRY_POINTS];

export interface ReachReport {
  files: string[];
  packages: string[];
  devModules: string[];
  undeclaredPackages: string[];
  /** Development modules only the CLIs reach (allowed, see CLI_ENTRY_POINTS). */
  cliDevModules?: string[];
}

export async function build(): Promise<ReachReport> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });
  say('build', 'tsc -p tsconfig.build.json → dist/');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', projectPath('tsconfig.build.json')], { cwd: projectPath(), stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status})`);
  const compiledAt = Date.now();

  say('build', `bundling the workflows → dist/${WORKFLOW_BUNDLE_FILE}`);
  // Exactly the converters and interceptors the compiled worker names (a prebuilt bundle must carry
  // them: the worker ignores its own workflow interceptor list when given a bundle).
  const compiled = require(join(DIST, 'src/temporal/data-converter.js')) as { FAILURE_CONVERTER_PATH: string; PAYLOAD_CONVERTER_PATH: string; WORKFLOW_INTERCEPTOR_MODULES: string[] };
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(DIST, 'src/workflows/index.js'),
    payloadConverterPath: compiled.PAYLOAD_CONVERTER_PATH,
    failureConverterPath: compiled.FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: compiled.WORKFLOW_INTERCEPTOR_MODULES,
    logger: quietBundlerLogger(),
  });
  writeFileSync(join(DIST, WORKFLOW_BUNDLE_FILE), code);

  const processes = reachableFrom(DIST, PROCESS_ENTRY_POINTS);
  if (processes.devModules.length > 0) throw new Error(`the worker or the API reaches development-only modules: ${processes.devModules.join(', ')}`);
  const report = reachableFrom(DIST, ENTRY_POINTS);
  if (report.undeclaredPackages.length > 0) {
    throw new Error(`production entry points need packages that are not in package.json "dependencies" (npm ci --omit=dev would leave them out): ${report.undeclaredPackages.join(', ')}`);
  }
  report.cliDevModules = report.devModules;
  report.devModules = processes.devModules;
  const bundleKb = Math.round(statSync(join(DIST, WORKFLOW_BUNDLE_FILE)).size / 1024);
  say('build', `done in ${((Date.now() - started) / 1000).toFixed(1)} s (tsc ${((compiledAt - started) / 1000).toFixed(1)} s): ${report.files.length} modules, ${report.packages.length} packages, workflow bundle ${bundleKb} KiB`);
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
