/**
 * The fleet phases of the bench (issues 12 and 13): a backfill of N EC devices that UEM knows and
 * that never sent an event, and a renewal on demand of every device after it — each on its own
 * fresh stack (dev server, simulators, worker, API), so sizes can be compared.
 *
 * Two modes:
 * - `deliver`: the real worker (worker.ts) runs the sweep and every provisioning run it starts, to
 *   the end: devices delivered per second is what a fleet of that size gets on this machine;
 * - `sweep`: the sweep alone. bench/fleet-worker.ts runs the sweep with the worker's code but starts
 *   the provisioning runs on a task queue nobody polls, so the starts rate, the sweep's history and
 *   the memory of sweeping N devices are measured at sizes whose deliveries would take hours here.
 *   A renewal selects devices holding delivered credentials, which parked runs never deliver: its
 *   N devices are written into the credential register first (`seedRegister`, through the
 *   register's own methods: requested → issued → active, one row per credential kind), other
 *   devices than the backfill's.
 *
 * Measured per phase: starts per second against the configured rate (from the runs' start times
 * in Temporal's visibility; busiest second), the sweep's wall time, delivered per second (deliver
 * mode: the sweep's start to the last run closed), resident memory of worker, API and dev server
 * sampled every second (peak and at the end), V8 heap per thread of the worker (memory probe),
 * the sweep's history over all its runs (continue-as-new), and one provisioning run's history
 * (for a renewal: the run including finishRenewal).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { buildActivityDeps, closeActivityDeps } from '../src/activities/deps';
import { simulatedEnrollment, enrollSilently } from '../src/cli/simulate';
import { loadConfig, SETTINGS } from '../src/config';
import { provisioningWorkflowId, type CredentialKind } from '../src/domain/enrollment';
import { createLogger } from '../src/logging';
import { Progress } from '../src/tools/progress';
import { describeSweep, startBackfill, startRenewal } from '../src/temporal/fleet';
import type { SweepKind, SweepProgress } from '../src/workflows/fleet-definitions';
import { deliveredHistory, type HistorySize } from './history';
import { sleep } from './load';
import { currentLoad } from './machine';
import { heapFigures, RssSampler, type HeapFigures, type RssSeries } from './memory';
import type { BenchStack } from './stack';
import { round } from './stats';

export type FleetMode = 'deliver' | 'sweep';

/** The provider's task queue (the bench never changes it). */
export const PROVIDER_TASK_QUEUE = SETTINGS.taskQueue.default as string;
/** Where `sweep` mode's runs wait, untouched. */
export const PARKED_TASK_QUEUE = 'bench-parked';

export interface SweepHistory {
  /** Runs of the sweep workflow (1 + continue-as-new). */
  runs: number;
  events: number;
  bytes: number;
  /** The largest single run. */
  maxRunEvents: number;
  maxRunBytes: number;
}

export interface FleetPhaseResult {
  kind: SweepKind;
  mode: FleetMode;
  devices: number;
  /** FLEET_RATE: starts per second at most. */
  configuredRate: number;
  pageSize: number;
  sweepId: string;
  /** The sweep's final counts (or as of the end of the measurement, when it was still settling). */
  counts?: SweepProgress['counts'];
  outcomes?: SweepProgress['outcomes'];
  /** Provisioning runs the sweep started (visibility). */
  runsStarted: number;
  /** From the first start to the last: (runs − 1) ÷ that span. */
  startsPerSecond: number;
  /** Most starts within any one second. */
  busiestSecond: number;
  /** From asking for the sweep to its page phase done (every run started). */
  startsDoneSeconds: number;
  /** From asking for the sweep to the sweep workflow closed (undefined: still open when measured). */
  sweepSeconds?: number;
  /** Deliver mode: runs completed and not, and completed ÷ (sweep asked → last run closed). */
  delivered?: number;
  notDelivered?: number;
  deliverSeconds?: number;
  deliveredPerSecond?: number;
  /** CPU seconds per device, by process, over the phase. */
  cpuSecondsPerDevice: Record<string, number>;
  memory: Record<string, RssSeries>;
  workerHeap?: HeapFigures;
  sweepHistory: SweepHistory;
  /** One provisioning run the sweep started, delivered (a renewal run: finishRenewal included). */
  runHistory?: HistorySize;
  loadAverage: { start: number; end: number };
}

export interface FleetOptions {
  devices: number;
  mode: FleetMode;
  ratePerSecond: number;
  pageSize: number;
  timeoutMs: number;
  /** The worker process to watch (worker or fleet-worker). */
  workerName: string;
}

/** Enroll N simulated EC devices in the UEM simulator's inventory, sending no event. */
export async function addSilentDevices(stack: BenchStack, devices: number): Promise<void> {
  const events = Array.from({ length: devices }, (_, i) => simulatedEnrollment(i));
  await enrollSilently(events, { uemUrl: stack.uemSimUrl, batchSize: 5000 }, new Progress('UEM inventory'));
}

/**
 * Write N devices into the credential register as holding delivered, active credentials (the
 * configured kinds), as a backfill's runs would have left them: `sweep` mode's renewal selects
 * them. The certificates are placeholders (serial, thumbprint, a year's validity): the parked
 * renewal runs never read them. Run it before a worker opens the database.
 */
export async function seedRegister(stack: BenchStack, env: Record<string, string>, devices: number): Promise<void> {
  const config = loadConfig({ env: { ...stack.env, ...env } });
  const deps = await buildActivityDeps(config, createLogger({ level: 'silent' }));
  const progress = new Progress('register');
  try {
    const now = Date.now();
    for (let i = 0; i < devices; i += 1) {
      const event = simulatedEnrollment(i);
      const workflowId = provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid);
      const runId = randomUUID();
      for (const kind of config.credentialKinds as CredentialKind[]) {
        const requestKey = `bench-seed:${workflowId}:${kind}`;
        await deps.register.begin({ requestKey, workflowId, runId, enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, deviceId: event.deviceId, platform: event.platform, kind, email: event.email! });
        const serial = randomBytes(16).toString('hex');
        await deps.register.markIssued(requestKey, {
          certificate: {
            certificatePem: '-----BEGIN CERTIFICATE-----\n(bench placeholder)\n-----END CERTIFICATE-----\n',
            chainPem: [],
            serial,
            thumbprint: randomBytes(32).toString('hex'),
            notBefore: new Date(now).toISOString(),
            notAfter: new Date(now + 365 * 86_400_000).toISOString(),
            subject: `E=${event.email}`,
            issuer: 'CN=bench placeholder',
          },
        });
        await deps.register.markDelivered(requestKey, { gateway: 'ceg', deliveredAt: new Date(now).toISOString(), pkcs12Profile: 'legacy' });
      }
      if (i % 100 === 99) progress.update(`${i + 1}/${devices} devices`);
    }
    progress.done(`${devices} devices hold active ${config.credentialKinds.join(' and ')} credentials in the register`);
  } finally {
    await closeActivityDeps(deps);
  }
}

export async function measureBackfill(stack: BenchStack, options: FleetOptions): Promise<FleetPhaseResult> {
  const client = await stack.client();
  return measureSweep(stack, client, 'backfill', options, () => startBackfill(client, PROVIDER_TASK_QUEUE, { scope: {} }));
}

export async function measureRenewal(stack: BenchStack, options: FleetOptions): Promise<FleetPhaseResult> {
  const client = await stack.client();
  return measureSweep(stack, client, 'renewal', options, () => startRenewal(client, PROVIDER_TASK_QUEUE, { selector: { all: true }, reason: 'bench: renew every device' }));
}

async function measureSweep(stack: BenchStack, client: Client, kind: SweepKind, options: FleetOptions, start: () => Promise<string>): Promise<FleetPhaseResult> {
  const loadStart = currentLoad();
  const pids = () => ({ worker: stack.process(options.workerName)?.pid, api: stack.process('api')?.pid, temporal: stack.process('temporal')?.pid });
  const sampler = new RssSampler(pids);
  const usageBefore = stack.usage();
  const progress = new Progress(`${kind} ${options.devices}`);
  const asked = Date.now();
  const sweepId = await start();
  const ofSweep = `FleetSweep = '${sweepId}'`;
  const count = async (query: string) => (await client.workflow.count(query)).count;

  let view = await describeSweep(client, kind, sweepId);
  let startsDoneAt: number | undefined;
  let lastCloseSeen = asked;
  let closedRuns = 0;
  const deadline = asked + options.timeoutMs;
  for (;;) {
    view = await describeSweep(client, kind, sweepId);
    const p = view?.progress;
    const started = p ? p.counts.started + p.counts.alreadyRunning : 0;
    const pagesDone = view !== undefined && (view.state !== 'Running' || (p !== undefined && p.phase !== 'enroll' && p.phase !== 'renew'));
    if (pagesDone && startsDoneAt === undefined) startsDoneAt = Date.now();
    if (options.mode === 'deliver') {
      const closedNow = await count(`${ofSweep} AND ExecutionStatus != 'Running'`);
      if (closedNow > closedRuns) lastCloseSeen = Date.now();
      closedRuns = closedNow;
    }
    const rss = sampler.peak('worker');
    progress.update(
      `${p?.phase ?? 'starting'}: seen ${p?.counts.devicesSeen ?? 0}, started ${started}${options.mode === 'deliver' ? `, closed ${closedRuns}` : ''}; worker RSS peak ${rss ? Math.round(rss / 1_048_576) : '?'} MiB`,
    );
    const sweepOver = view !== undefined && view.state !== 'Running';
    // Deliver mode ends when every run has closed — for a renewal that is before its sweep notices
    // (it looks every 30 s … 1 h); sweep mode when every run has been started.
    const done = options.mode === 'deliver' ? pagesDone && closedRuns >= started : pagesDone;
    if ((done && (sweepOver || kind === 'renewal')) || Date.now() > deadline) break;
    await sleep(2000);
  }
  const ended = Date.now();
  const memory = sampler.stop();
  const usageAfter = stack.usage();
  const workerPid = stack.process(options.workerName)?.pid;
  progress.done(`${kind} of ${options.devices} devices: ${view?.state ?? '?'} after ${round((ended - asked) / 1000, 1)} s`);

  // The runs it started, from visibility: start times (the rate), close times and outcomes.
  const starts: number[] = [];
  let completed = 0;
  let notCompleted = 0;
  let lastClose = 0;
  let sampleRun: { workflowId: string; runId: string } | undefined;
  for await (const run of client.workflow.list({ query: ofSweep, pageSize: 1000 })) {
    starts.push(run.startTime.getTime());
    if (run.status.name === 'COMPLETED') {
      completed += 1;
      sampleRun ??= { workflowId: run.workflowId, runId: run.runId };
    } else if (run.status.name !== 'RUNNING') notCompleted += 1;
    if (run.closeTime) lastClose = Math.max(lastClose, run.closeTime.getTime());
  }
  starts.sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; j < starts.length; j += 1) {
    while (starts[j]! - starts[i]! >= 1000) i += 1;
    busiest = Math.max(busiest, j - i + 1);
  }
  const span = starts.length > 1 ? (starts.at(-1)! - starts[0]!) / 1000 : 0;

  const cpuSecondsPerDevice: Record<string, number> = {};
  for (const [name, after] of Object.entries(usageAfter)) {
    const used = after.cpuSeconds - (usageBefore[name]?.cpuSeconds ?? 0);
    if (used > 0) cpuSecondsPerDevice[name] = round(used / Math.max(1, options.devices), 4);
  }

  const deliverSeconds = (Math.max(lastClose, lastCloseSeen) - asked) / 1000;
  const description = await client.workflow.getHandle(sweepId).describe();
  return {
    kind,
    mode: options.mode,
    devices: options.devices,
    configuredRate: options.ratePerSecond,
    pageSize: options.pageSize,
    sweepId,
    counts: view?.progress?.counts,
    outcomes: view?.progress?.outcomes,
    runsStarted: starts.length,
    startsPerSecond: span > 0 ? round((starts.length - 1) / span, 2) : 0,
    busiestSecond: busiest,
    startsDoneSeconds: round(((startsDoneAt ?? ended) - asked) / 1000, 1),
    sweepSeconds: description.closeTime ? round((description.closeTime.getTime() - asked) / 1000, 1) : undefined,
    ...(options.mode === 'deliver'
      ? { delivered: completed, notDelivered: notCompleted, deliverSeconds: round(deliverSeconds, 1), deliveredPerSecond: round(completed / deliverSeconds, 2) }
      : {}),
    cpuSecondsPerDevice,
    memory,
    ...(workerPid ? { workerHeap: heapFigures(stack.memoryDir, workerPid) } : {}),
    sweepHistory: await sweepHistory(client, sweepId),
    ...(sampleRun ? { runHistory: await deliveredHistory(client, sampleRun.workflowId, sampleRun.runId) } : {}),
    loadAverage: { start: loadStart, end: currentLoad() },
  };
}

/** Every run of the sweep (its continue-as-new chain), read back whole. */
export async function sweepHistory(client: Client, sweepId: string): Promise<SweepHistory> {
  const result: SweepHistory = { runs: 0, events: 0, bytes: 0, maxRunEvents: 0, maxRunBytes: 0 };
  for await (const run of client.workflow.list({ query: `WorkflowId = '${sweepId}'` })) {
    const size = await deliveredHistory(client, sweepId, run.runId);
    result.runs += 1;
    result.events += size.events;
    result.bytes += size.bytes;
    result.maxRunEvents = Math.max(result.maxRunEvents, size.events);
    result.maxRunBytes = Math.max(result.maxRunBytes, size.bytes);
  }
  return result;
}
