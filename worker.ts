/**
 * The worker: runs the provisioning, retire and fleet workflows and their activities, and keeps
 * the reconcile Schedule as RECONCILE_EVERY says.
 *
 *   npm run worker          (the dev stack starts it for you: npm run dev)
 *
 * Installs the SDK runtime (pino logs, Prometheus metrics), connects to Temporal as configured
 * (dev server, self-hosted with TLS/mTLS, or Temporal Cloud with mTLS or an API key), registers
 * the workflows and activities, and drains gracefully on SIGINT/SIGTERM: polling stops at once,
 * in-flight activities get WORKER_SHUTDOWN_GRACE to finish (then they are cancelled and their
 * attempt fails, to be retried elsewhere), and the process exits at the latest 10 s after that.
 *
 * Compiled (`npm run build`, then `node dist/worker.js`) it runs the prebuilt workflow bundle;
 * from source (`npm run worker`) it bundles the workflows as it starts.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './src/activities';
import { buildActivityDeps, closeActivityDeps } from './src/activities/deps';
import { loadConfigOrExit, type Config } from './src/config';
import { createLogger, type Logger } from './src/logging';
import { temporalConnectionOptions } from './src/temporal/connection';
import { refuseUnencryptedActivities } from './src/temporal/activity-interceptors';
import { codecKeyring, codecPolicy, providerDataConverter, WORKFLOW_INTERCEPTOR_MODULES } from './src/temporal/data-converter';
import { ensureReconcileSchedule } from './src/temporal/fleet';
import { installRuntime } from './src/temporal/runtime';
import { startWorkerHealthServer, type WorkerHealthServer } from './src/temporal/worker-health';
import { workflowCode } from './src/temporal/workflow-code';
import { reconcileScheduleId } from './src/workflows/fleet-definitions';

/** After the grace time, how long cancelled activities get before the worker gives up on them. */
const SHUTDOWN_FORCE_AFTER_GRACE_MS = 10_000;

export async function runWorker(config: Config, logger: Logger): Promise<void> {
  installRuntime({ logger, metricsBindAddress: `${config.workerMetricsHost}:${config.workerMetricsPort}` });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const dataConverter = providerDataConverter(codecKeyring(config), codecPolicy(config));
  // The fleet sweeps start per-device runs through the worker's own connection.
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter });
  let deps;
  try {
    deps = await buildActivityDeps(config, logger, { client, taskQueue: config.taskQueue });
  } catch (err) {
    await connection.close();
    throw err;
  }
  const activities = createActivities(deps);
  let health: WorkerHealthServer | undefined;
  try {
    await keepReconcileSchedule(client, config, logger);
    const { source, ...code } = workflowCode();
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      ...code,
      activities,
      dataConverter,
      // The worker trusts only what it encrypted: refused payloads fail the run (src/temporal/refused-payload.ts).
      // A prebuilt bundle carries the workflow interceptors already (src/tools/build.ts).
      interceptors: { ...('workflowBundle' in code ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }), activity: [refuseUnencryptedActivities] },
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
      shutdownGraceTime: config.shutdownGrace,
      shutdownForceTime: config.shutdownGrace + SHUTDOWN_FORCE_AFTER_GRACE_MS,
    });
    if (config.healthPort !== undefined) {
      health = await startWorkerHealthServer({ host: config.healthHost, port: config.healthPort, namespace: config.temporalNamespace, worker, connection, logger });
    }
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // The SDK's runtime does the shutting down; this only says so, with what is still in flight.
      process.once(signal, () => {
        const status = worker.getStatus();
        logger.info({ signal, activities: status.numInFlightActivities, workflowActivations: status.numInFlightWorkflowActivations, graceMs: config.shutdownGrace }, 'worker draining');
      });
    }
    logger.info(
      {
        address: config.temporalAddress,
        namespace: config.temporalNamespace,
        taskQueue: config.taskQueue,
        workflowCode: source,
        metrics: `http://${config.workerMetricsHost}:${config.workerMetricsPort}/metrics`,
        ...(health ? { health: health.url } : {}),
      },
      'worker polling',
    );
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks have drained
    logger.info('worker stopped');
  } finally {
    await health?.close();
    await connection.close();
    await closeActivityDeps(deps);
  }
}

/**
 * A worker that cannot write the Schedule (a namespace role without schedule rights) still
 * delivers enrollments: the error names what is missing, and reconciliation can be run by hand.
 */
async function keepReconcileSchedule(client: Client, config: Config, logger: Logger): Promise<void> {
  const scheduleId = reconcileScheduleId(config.taskQueue);
  try {
    const outcome = await ensureReconcileSchedule(client, { taskQueue: config.taskQueue, everyMs: config.reconcileEvery });
    logger.info({ scheduleId, everyMs: config.reconcileEvery, outcome }, 'reconcile schedule');
  } catch (err) {
    logger.error({ err, scheduleId }, 'could not create or update the reconcile schedule: fleet reconciliation will not run on its own (POST /v1/reconciliations runs one)');
  }
}

if (require.main === module) {
  const config = loadConfigOrExit('worker');
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  runWorker(config, logger).catch((err) => {
    logger.fatal({ err }, 'worker failed');
    process.exit(1);
  });
}
