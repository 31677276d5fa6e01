/**
 * Shared Temporal fixtures for the test run:
 * - the workflow bundle, built once per run (bundling takes seconds);
 * - time-skipping environments on the Maven-resolved test server;
 * - one dev server (Temporal CLI) for the whole run, started on first use, stopped by the root hook.
 * Both servers are `existing-path` executables from the tool cache: no test downloads anything.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, makeTelemetryFilterString, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { searchAttributes } from '../../src/workflows/definitions';
import { ensureTemporalCli } from '../../src/tools/temporal-cli';
import { ensureTestServer } from '../../src/tools/test-server';
import { projectPath } from '../../src/tools/paths';
import { FAILURE_CONVERTER_PATH, PAYLOAD_CONVERTER_PATH, WORKFLOW_INTERCEPTOR_MODULES } from '../../src/temporal/data-converter';

const { IndexedValueType } = temporal.api.enums.v1;

let runtimeInstalled = false;
/** Keep the SDK's own logging quiet in tests unless asked for. */
export function installTestRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.TEST_LOG_LEVEL as 'ERROR') ?? 'ERROR';
  Runtime.install({
    logger: new DefaultLogger(level),
    // Core's own warnings (e.g. the replay tests' deliberate nondeterminism) stay out of test output.
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level, other: 'ERROR' }) } },
  });
}

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();
/**
 * The workflow bundle, built once per run, with the provider's payload converter and workflow
 * interceptors (refused payloads fail the run), as the real worker's. With
 * `providerFailureConverter` it also includes the provider's failure converter (encoded failure
 * messages).
 */
export function workflowBundle(options: { providerFailureConverter?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const withConverter = options.providerFailureConverter ?? false;
  let bundle = bundles.get(withConverter);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: projectPath('src', 'workflows', 'index.ts'),
      failureConverterPath: withConverter ? FAILURE_CONVERTER_PATH : undefined,
      payloadConverterPath: PAYLOAD_CONVERTER_PATH,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('WARN'),
    });
    bundles.set(withConverter, bundle);
  }
  return bundle;
}

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  installTestRuntime();
  const path = await ensureTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  // The test server knows no custom search attributes until told (it has no CLI flag for them).
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      Object.values(searchAttributes).map((key) => [key.name, key.type === 'INT' ? IndexedValueType.INDEXED_VALUE_TYPE_INT : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return env;
}

let devServer: Promise<TestWorkflowEnvironment> | undefined;
/** The run's dev server, with the provider's search attributes registered. */
export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  devServer ??= (async () => {
    installTestRuntime();
    const path = await ensureTemporalCli();
    return TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path },
        searchAttributes: Object.values(searchAttributes),
        log: { format: 'json', level: 'error' },
      },
    });
  })();
  return devServer;
}

export async function stopDevServer(): Promise<void> {
  if (!devServer) return;
  const env = await devServer.catch(() => undefined);
  devServer = undefined;
  await env?.teardown();
}

/**
 * Activities that hold the time-skipping server's clock while they run. The test server skips
 * time whenever the client waits and no workflow task is outstanding — also while an activity is
 * busy, so on a slow machine a day could pass inside one call (and its timeout fire). Real
 * activities take no time to speak of at the scale of these tests; holding the clock says so.
 */
export function holdingTime<T extends object>(env: TestWorkflowEnvironment, activities: T): T {
  const testService = env.connection.testService;
  if (!testService) return activities;
  const held: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') continue;
    held[name] = async (...args: unknown[]) => {
      await testService.lockTimeSkipping({});
      try {
        return await (fn as (...a: unknown[]) => unknown).apply(activities, args);
      } finally {
        await testService.unlockTimeSkipping({});
      }
    };
  }
  return held as T;
}
