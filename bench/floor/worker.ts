/**
 * The floor worker: a process like worker.ts — the same runtime (pino, Prometheus metrics), the
 * same connection, data converter (payload codec) and concurrency settings, read from the same
 * configuration — that runs the Temporal floor workflow on its own task queue.
 *
 *   BENCH_FLOOR_TASK_QUEUE=bench-floor BENCH_FLOOR_METRICS_PORT=... tsx bench/floor/worker.ts
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../src/config';
import { createLogger } from '../../src/logging';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { codecKeyring, providerDataConverter } from '../../src/temporal/data-converter';
import { installRuntime } from '../../src/temporal/runtime';
import { floorActivities } from './activities';

const FLOOR_TASK_QUEUE_DEFAULT = 'bench-floor';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'floor-worker' });
  const taskQueue = process.env.BENCH_FLOOR_TASK_QUEUE ?? FLOOR_TASK_QUEUE_DEFAULT;
  const metricsPort = process.env.BENCH_FLOOR_METRICS_PORT;
  installRuntime({ logger, metricsBindAddress: metricsPort ? `127.0.0.1:${metricsPort}` : undefined });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: floorActivities,
      dataConverter: providerDataConverter(codecKeyring(config)),
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
    });
    logger.info({ taskQueue }, 'floor worker polling');
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
  process.exit(1);
});
