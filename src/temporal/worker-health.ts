/**
 * The worker's health endpoint (WORKER_HEALTH_PORT), for an orchestrator's probes. The SDK's
 * Prometheus exporter runs inside the Rust core and serves /metrics only, so this is a small
 * server of its own:
 *
 *   GET /healthz  live: the worker runs (or drains after SIGTERM) and no poller has failed.
 *                 A liveness probe must not kill a worker that is draining on purpose.
 *   GET /readyz   ready: the worker is RUNNING with both pollers polling, and Temporal answers
 *                 for the namespace within 3 s. 503 while draining, so no new work is routed here
 *                 by anything that reads readiness.
 *
 * Both answer JSON and reveal nothing but states; unauthenticated, like the API's.
 */
import { createServer, type Server } from 'node:http';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from '../logging';

const READINESS_TIMEOUT_MS = 3000;
/** Run states in which the process is doing what it should: working, or draining after a signal. */
const LIVE_STATES = new Set(['RUNNING', 'STOPPING', 'DRAINING', 'DRAINED']);

export interface WorkerHealthOptions {
  host: string;
  port: number;
  namespace: string;
  worker: Pick<Worker, 'getStatus'>;
  connection: Pick<NativeConnection, 'withDeadline' | 'workflowService'>;
  logger: Logger;
}

export interface WorkerHealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startWorkerHealthServer(options: WorkerHealthOptions): Promise<WorkerHealthServer> {
  const { worker, connection, namespace, logger } = options;
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { status: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    const status = worker.getStatus();
    const pollers = { workflow: status.workflowPollerState, activity: status.activityPollerState };
    if (path === '/healthz') {
      const live = LIVE_STATES.has(status.runState) && pollers.workflow !== 'FAILED' && pollers.activity !== 'FAILED';
      return answer(live ? 200 : 503, { status: live ? 'ok' : 'failed', state: status.runState, pollers });
    }
    if (path === '/readyz') {
      if (status.runState !== 'RUNNING' || pollers.workflow !== 'POLLING' || pollers.activity !== 'POLLING') {
        return answer(503, { status: 'not ready', state: status.runState, pollers });
      }
      connection
        .withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => connection.workflowService.describeNamespace({ namespace }))
        .then(
          () => answer(200, { status: 'ready', state: status.runState, namespace, inFlight: { activities: status.numInFlightActivities, workflowActivations: status.numInFlightWorkflowActivations } }),
          (err: unknown) => {
            logger.warn({ error: (err as Error).message }, 'not ready: Temporal does not answer');
            answer(503, { status: 'not ready', state: status.runState, reason: `Temporal (namespace ${namespace}) does not answer` });
          },
        );
      return;
    }
    answer(404, { status: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref(); // never what keeps the process alive
  const url = `http://${options.host}:${options.port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
