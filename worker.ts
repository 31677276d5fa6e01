/**
 * The worker: runs provisionSmime workflows and their activities.
 *
 *   npm run worker          (the dev stack starts it for you: npm run dev)
 *
 * Installs the SDK runtime (pino logs, Prometheus metrics), connects to Temporal as configured
 * (dev server, self-hosted with TLS/mTLS, or Temporal Cloud with mTLS or an API key), registers
 * the workflows and activities, and drains gracefully on SIGINT/SIGTERM.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './src/activities';
import { buildActivityDeps, closeActivityDeps } from './src/activities/deps';
import { loadConfigOrExit, type Config } from './src/config';
import { createLogger, type Logger } from './src/logging';
import { temporalConnectionOptions } from './src/temporal/connection';
import { refuseUnencryptedActivities } from './src/temporal/activity-interceptors';
import { codecKeyring, codecPolicy, providerDataConverter, WORKFLOW_INTERCEPTOR_MODULES } from './src/temporal/data-converter';
import { installRuntime } from './src/temporal/runtime';

export async function runWorker(config: Config, logger: Logger): Promise<void> {
  installRuntime({ logger, metricsBindAddress: `${config.workerMetricsHost}:${config.workerMetricsPort}` });
  const deps = await buildActivityDeps(config, logger);
  const activities = createActivities(deps);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      workflowsPath: require.resolve('./src/workflows'),
      activities,
      dataConverter: providerDataConverter(codecKeyring(config), codecPolicy(config)),
      // The worker trusts only what it encrypted: refused payloads fail the run (src/temporal/refused-payload.ts).
      interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES, activity: [refuseUnencryptedActivities] },
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
    });
    logger.info(
      { address: config.temporalAddress, namespace: config.temporalNamespace, taskQueue: config.taskQueue, metrics: `http://${config.workerMetricsHost}:${config.workerMetricsPort}/metrics` },
      'worker polling',
    );
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks have drained
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await closeActivityDeps(deps);
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
