/**
 * The sweep-only worker of the fleet bench (`--fleet-mode sweep`): worker.ts's workflows,
 * activities, connection, data converter, interceptors and concurrency settings on the provider's
 * task queue — with one difference: the provisioning runs a sweep starts go to another task queue
 * (BENCH_PARKED_TASK_QUEUE) that no worker polls. They stay open, untouched, so what is measured
 * is the sweep alone — pages, decisions, starts at the rate, continue-as-new, memory — at a size
 * whose deliveries would take this machine hours.
 *
 *   BENCH_PARKED_TASK_QUEUE=bench-parked tsx bench/fleet-worker.ts
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { buildActivityDeps, closeActivityDeps } from '../src/activities/deps';
import { loadConfigOrExit } from '../src/config';
import { createLogger } from '../src/logging';
import { refuseUnencryptedActivities } from '../src/temporal/activity-interceptors';
import { temporalConnectionOptions } from '../src/temporal/connection';
import { codecKeyring, codecPolicy, providerDataConverter, WORKFLOW_INTERCEPTOR_MODULES } from '../src/temporal/data-converter';
import { installRuntime } from '../src/temporal/runtime';

async function main(): Promise<void> {
  const parked = process.env.BENCH_PARKED_TASK_QUEUE;
  if (!parked) throw new Error('BENCH_PARKED_TASK_QUEUE: required (the task queue the sweep starts its runs on)');
  const config = loadConfigOrExit('worker');
  const logger = createLogger({ level: config.logLevel, name: 'fleet-worker' });
  installRuntime({ logger, metricsBindAddress: `${config.workerMetricsHost}:${config.workerMetricsPort}` });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const dataConverter = providerDataConverter(codecKeyring(config), codecPolicy(config));
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter });
  const deps = await buildActivityDeps(config, logger, { client, taskQueue: parked });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      workflowsPath: require.resolve('../src/workflows'),
      activities: createActivities(deps),
      dataConverter,
      interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES, activity: [refuseUnencryptedActivities] },
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
    });
    logger.info({ taskQueue: config.taskQueue, parked }, 'fleet worker polling');
    await worker.run();
  } finally {
    await connection.close();
    await closeActivityDeps(deps);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet worker failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
