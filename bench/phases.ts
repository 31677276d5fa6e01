/**
 * The bench's measurements, one function per phase, each against a running LoadTarget (BenchStack or the cluster):
 * a burst through the webhook, the Temporal floor, filling the key pool, and the webhook's
 * acknowledgement latency at a fixed rate. Each returns plain figures for the report.
 */
import { availableParallelism } from 'node:os';
import type { Client } from '@temporalio/client';
import { join } from 'node:path';
import { KeyPool } from '../src/activities/crypto/key-pool';
import { Keyring, parseKeyringSpec, Sealer } from '../src/activities/crypto/sealing';
import { Progress } from '../src/tools/progress';
import { WORKFLOW_TYPE } from '../src/workflows/definitions';
import { closedWorkflows, postEnrollments, startFloorWorkflows, waitForClosed, type Sent } from './load';
import type { ProcessUsage } from './processes';
import { percentiles, round, type Percentiles } from './stats';
import { breakdown, scrape, type TimeBreakdown } from './worker-metrics';
import { currentLoad } from './machine';

export interface ThroughputMeasurement {
  events: number;
  concurrency: number;
  accepted: number;
  /** Non-2xx answers by status ('network': no answer). */
  rejected: Record<string, number>;
  delivered: number;
  failed: number;
  /** Still running when the bench stopped waiting. */
  open: number;
  /** From the first request to the last workflow closed. */
  seconds: number;
  enrollmentsPerSecond: number;
  /** From the request to the workflow closed (Delivered), in ms. */
  latencyMs: Percentiles;
  /** Request to 2xx answer (Temporal accepted the start), in ms. */
  ackMs: Percentiles;
  /** CPU seconds per enrollment, by process (bench: the load generator itself). */
  cpuSecondsPerEnrollment: Record<string, number>;
  /** Mean cores busy over the phase, all processes of the stack and the bench together. */
  coresBusy: number;
  /** CPU seconds per enrollment, all processes together. */
  cpuSecondsPerEnrollmentTotal: number;
  /** cores ÷ total CPU seconds per enrollment: the rate with every core to ourselves (robust to a shared machine). */
  cpuBoundRate: number;
  loadAverage: { start: number; end: number };
  time?: TimeBreakdown;
  /** One delivered workflow, for the history figures. */
  sampleWorkflowId?: string;
}

/**
 * What a measurement needs from the system under test: the dev-server stack (bench/stack.ts) or the
 * production-topology cluster (src/tools/cluster, through bench/cluster.ts).
 */
export interface LoadTarget {
  client(): Promise<Client>;
  /** CPU seconds and peak memory so far, by process name. */
  usage(): Record<string, ProcessUsage & { restarts: number }>;
  /** One worker's Prometheus endpoint, for the time breakdown. */
  workerMetricsUrl: string;
  webhookUrl: string;
  webhookAuthorization: string;
  /** A fetch that trusts the target's TLS certificate (the cluster's proxy); default the global one. */
  webhookFetch?: typeof fetch;
}

export interface BurstOptions {
  label: string;
  events: number;
  concurrency: number;
  timeoutMs: number;
  /** Runs once every event has been sent, before waiting for the workflows to close (e.g. a heap snapshot with all of them open). */
  afterSend?: () => Promise<void>;
}

const statusKey = (status: Sent['status']) => String(status);

async function measure(
  stack: LoadTarget,
  options: BurstOptions & { workflowType: string; send: (progress: Progress) => Promise<Sent[]> },
): Promise<ThroughputMeasurement> {
  const client = await stack.client();
  const loadStart = currentLoad();
  const usageBefore = stack.usage();
  const benchCpuBefore = process.cpuUsage();
  const metricsBefore = await scrape(stack.workerMetricsUrl);
  const started = Date.now();
  // StartTime filter: this phase's workflows only (earlier phases' have all closed by now).
  const query = `WorkflowType = '${options.workflowType}' AND StartTime >= '${new Date(started - 1000).toISOString()}'`;

  const sent = await options.send(new Progress(`${options.label} send`));
  const acknowledged = sent.filter((s) => s.workflowId);
  await options.afterSend?.();
  await waitForClosed(client, query, acknowledged.length, { timeoutMs: options.timeoutMs, label: 'closed' }, new Progress(`${options.label} wait`));
  const closed = await closedWorkflows(client, query);
  const ended = Date.now();

  const latencies: number[] = [];
  let delivered = 0;
  let failed = 0;
  let lastClose = started;
  let sampleWorkflowId: string | undefined;
  for (const s of acknowledged) {
    const c = closed.get(s.workflowId!);
    if (!c) continue;
    lastClose = Math.max(lastClose, c.closeTime);
    if (c.status === 'COMPLETED' && (c.stage === undefined || c.stage === 'Delivered')) {
      delivered += 1;
      latencies.push(c.closeTime - s.sentAt);
      sampleWorkflowId ??= s.workflowId;
    } else failed += 1;
  }
  const rejected: Record<string, number> = {};
  for (const s of sent) if (!s.workflowId) rejected[statusKey(s.status)] = (rejected[statusKey(s.status)] ?? 0) + 1;

  const usageAfter = stack.usage();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const cpuSecondsPerEnrollment: Record<string, number> = {};
  let cpuTotal = (benchCpu.user + benchCpu.system) / 1e6;
  for (const [name, after] of Object.entries(usageAfter)) {
    const used = after.cpuSeconds - (usageBefore[name]?.cpuSeconds ?? 0);
    cpuTotal += used;
    if (used > 0) cpuSecondsPerEnrollment[name] = round(used / Math.max(1, acknowledged.length), 4);
  }
  cpuSecondsPerEnrollment.bench = round((benchCpu.user + benchCpu.system) / 1e6 / Math.max(1, acknowledged.length), 4);
  const seconds = (lastClose - started) / 1000;
  return {
    events: options.events,
    concurrency: options.concurrency,
    accepted: acknowledged.length,
    rejected,
    delivered,
    failed,
    open: acknowledged.length - delivered - failed,
    seconds: round(seconds, 1),
    enrollmentsPerSecond: round(delivered / seconds, 2),
    latencyMs: percentiles(latencies),
    ackMs: percentiles(acknowledged.map((s) => s.ackMs)),
    cpuSecondsPerEnrollment,
    coresBusy: round(cpuTotal / ((ended - started) / 1000), 2),
    cpuSecondsPerEnrollmentTotal: round(cpuTotal / Math.max(1, acknowledged.length), 4),
    cpuBoundRate: round(availableParallelism() / (cpuTotal / Math.max(1, acknowledged.length)), 2),
    loadAverage: { start: loadStart, end: currentLoad() },
    time: breakdown(metricsBefore, await scrape(stack.workerMetricsUrl)),
    sampleWorkflowId,
  };
}

/** N enrollment events through the webhook, `concurrency` at a time; until every accepted one has closed. */
export function measureBurst(stack: LoadTarget, options: BurstOptions): Promise<ThroughputMeasurement> {
  return measure(stack, {
    ...options,
    workflowType: WORKFLOW_TYPE,
    send: (progress) => postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: options.events, concurrency: options.concurrency, fetch: stack.webhookFetch }, progress),
  });
}

/** The same number of floor workflows started straight on Temporal (the floor worker must be running). */
export function measureTemporalFloor(stack: LoadTarget, options: BurstOptions & { taskQueue: string }): Promise<ThroughputMeasurement> {
  return measure(stack, {
    ...options,
    workflowType: 'floorWorkflow',
    send: async (progress) => startFloorWorkflows(await stack.client(), { count: options.events, concurrency: options.concurrency, taskQueue: options.taskQueue }, progress),
  });
}

export interface AckMeasurement {
  rate: number;
  seconds: number;
  sent: number;
  acknowledged: number;
  rejected: Record<string, number>;
  ackMs: Percentiles;
  loadAverage: { start: number; end: number };
  /** CPU milliseconds per event, by process, over the phase. */
  cpuMsPerEvent: Record<string, number>;
}

/**
 * Enrollment events at a fixed rate (open loop: each leaves on time whatever the earlier ones do),
 * timing each answer. The worker keeps running, so the API and Temporal answer while the worker works.
 */
export async function measureAck(stack: LoadTarget, options: { rate: number; seconds: number }): Promise<AckMeasurement> {
  const loadStart = currentLoad();
  const usageBefore = stack.usage();
  const count = Math.round(options.rate * options.seconds);
  const sent = await postEnrollments(
    { url: stack.webhookUrl, authorization: stack.webhookAuthorization, count, concurrency: count, rate: options.rate, firstIndex: 1_000_000, fetch: stack.webhookFetch },
    new Progress(`ack ${options.rate}/s`),
  );
  const rejected: Record<string, number> = {};
  for (const s of sent) if (!s.workflowId) rejected[statusKey(s.status)] = (rejected[statusKey(s.status)] ?? 0) + 1;
  const acknowledged = sent.filter((s) => s.workflowId);
  return {
    rate: options.rate,
    seconds: options.seconds,
    sent: sent.length,
    acknowledged: acknowledged.length,
    rejected,
    ackMs: percentiles(acknowledged.map((s) => s.ackMs)),
    loadAverage: { start: loadStart, end: currentLoad() },
    cpuMsPerEvent: Object.fromEntries(
      Object.entries(stack.usage())
        .map(([name, after]) => [name, round(((after.cpuSeconds - (usageBefore[name]?.cpuSeconds ?? 0)) * 1000) / Math.max(1, sent.length), 1)] as const)
        .filter(([, ms]) => ms > 0),
    ),
  };
}

/**
 * Fill the worker's key pool (DATA_DIR/key-pool) to `size` keys before a warm-pool burst: the
 * worker fills it one key at a time in idle time; the bench adds two generators of its own (both
 * cores) so the wait is short. The keys are sealed with the stack's sealing key, like the worker's.
 */
export async function fillKeyPool(stack: { env: NodeJS.ProcessEnv; dataDir: string }, size: number, timeoutMs: number): Promise<{ keys: number; seconds: number }> {
  const started = Date.now();
  const sealer = new Sealer(new Keyring(parseKeyringSpec([String(stack.env.SEALING_KEYS)], 'SEALING_KEYS')));
  const pools = [0, 1].map(() => new KeyPool({ keyOptions: { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' }, size, dir: join(stack.dataDir, 'key-pool'), sealer }));
  const progress = new Progress('key pool');
  const ticker = setInterval(() => progress.update(`${pools[0]!.available}/${size} keys`), 1000);
  try {
    for (const pool of pools) pool.refill();
    await pools[0]!.untilFull(timeoutMs);
  } finally {
    clearInterval(ticker);
    for (const pool of pools) pool.stop();
  }
  const keys = pools[0]!.available;
  progress.done(`${keys} keys ready`);
  return { keys, seconds: round((Date.now() - started) / 1000, 1) };
}
