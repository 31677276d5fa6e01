/**
 * `npm run bench`: throughput, latency, history size and memory of the provider on this machine,
 * against floors measured in the same run, and the fleet sweeps at size — see README, "Benchmarks".
 *
 *   npm run bench -- [--phase core,backfill,renewal]
 *                    [--events 1000] [--concurrency 32] [--warm-events 300] [--configs ec,rsa-warm,rsa]
 *                    [--ack-rate 100] [--ack-seconds 10] [--crypto-seconds 10] [--no-history] [--heap-snapshot]
 *                    [--devices 200[,2000,…]] [--fleet-mode deliver|sweep] [--fleet-rate 40] [--page-size 100]
 *                    [--server-arg ARG]... [--worker-env KEY=VALUE]... [--label NAME] [--out DIR] [--cpu-prof] [--keep]
 *
 * Phase `core` (the default) starts its own stack (Temporal dev server on a SQLite file, CEG and
 * UEM simulators, worker, API) on free ports in a temporary folder, then:
 *   1. the Temporal floor: a no-op workflow of the lean lifecycle's shape, started straight on
 *      Temporal, run by a floor worker with the worker's settings;
 *   2. the crypto floors: key generation + PKCS#12 per credential on both cores (RSA, EC, and
 *      PKCS#12 only for a warm key pool);
 *   3. a burst through the webhook per worker configuration (EC keys; RSA with a warm key pool;
 *      RSA with the pool off), each until every enrollment is Delivered; the worker's V8 heap per
 *      thread is sampled throughout (bench/memory-probe.ts), and with --heap-snapshot its threads'
 *      heaps are snapshotted with the whole EC burst open and again after it;
 *   4. webhook acknowledgement latency at a fixed rate: with the worker stopped (webhook and
 *      Temporal alone, counting the calls the API makes to Temporal per ack), then with the last
 *      worker busy;
 *   5. history size of a delivered workflow and of one that failed after all 75 attempts.
 * Phases `backfill` and `renewal` (bench/fleet.ts) run on a fresh stack per `--devices` size: a
 * backfill of N EC devices from the UEM simulator's inventory, and (renewal) a renewal on demand of
 * every device after it — delivered to the end (`--fleet-mode deliver`), or the sweeps alone with
 * their runs parked (`--fleet-mode sweep`, for sizes whose deliveries would take hours here).
 * Results: a table on stdout, bench/results/<stamp>.json and (core) bench/results/<stamp>.svg.
 *
 * `--target cluster [--workers 1,2] [--no-floor]` runs the core bursts on the production topology of
 * `npm run cluster` instead (bench/cluster.ts): one and two workers, the Temporal floor on the
 * cluster, CPU per enrollment for every process including PostgreSQL and Temporal's services.
 * The fleet phases, memory probes and heap snapshots need the dev stack (`--target dev`).
 */
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { projectPath } from '../src/tools/paths';
import { say } from '../src/tools/progress';
import { measureCryptoFloor, type CryptoFloorKind, type CryptoFloorResult } from './crypto-floor';
import { addSilentDevices, measureBackfill, measureRenewal, PARKED_TASK_QUEUE, seedRegister, type FleetMode, type FleetPhaseResult } from './fleet';
import { FLOOR_ACTIVITIES_PER_WORKFLOW } from './floor/activities';
import { deliveredHistory, failedAfterAllAttemptsHistory } from './history';
import { currentLoad, machineInfo } from './machine';
import { heapFigures, heapSnapshots, readRss, RssSampler } from './memory';
import { fillKeyPool, measureAck, measureBurst, measureTemporalFloor } from './phases';
import { plotSvg } from './plot';
import { formatTable, judgeTargets, ratiosFor, type BenchSummary, type BurstConfig, type BurstResult } from './report';
import { runClusterBench } from './cluster';
import { BenchStack, freePort } from './stack';
import { sleep } from './load';
import { round } from './stats';
import { requestsBetween, scrapeFrontendRequests } from './worker-metrics';

const USAGE =
  'usage: npm run bench -- [--phase core,backfill,renewal] [--target dev|cluster] [--workers 1,2] [--no-floor] [--events N] [--concurrency C] [--warm-events N] [--configs ec,rsa-warm,rsa] [--ack-rate R] [--ack-seconds S] [--crypto-seconds S] [--no-history] [--heap-snapshot] [--devices N[,N…]] [--fleet-mode deliver|sweep] [--fleet-rate R] [--page-size N] [--server-arg ARG]... [--worker-env KEY=VALUE]... [--label NAME] [--out DIR] [--cpu-prof] [--keep]';
const FLOOR_TASK_QUEUE = 'bench-floor';
const CONFIGS: readonly BurstConfig[] = ['ec', 'rsa-warm', 'rsa'];
const CRYPTO_FLOOR_OF: Record<BurstConfig, CryptoFloorKind> = { rsa: 'rsa', 'rsa-warm': 'pooled-keys', ec: 'ec' };
const PHASES = ['core', 'backfill', 'renewal'] as const;
type Phase = (typeof PHASES)[number];
/**
 * What every bench worker runs with: no reconcile Schedule (a 6-hourly reconcile falling inside a
 * run would sweep the inventory and the register in the middle of a measurement).
 */
const BENCH_WORKER_BASE: Record<string, string> = { RECONCILE_EVERY: 'off' };

interface Options {
  phases: Phase[];
  target: 'dev' | 'cluster';
  /** --target cluster: the worker counts to burst with. */
  workers: number[];
  floor: boolean;
  events: number;
  concurrency: number;
  warmEvents: number;
  configs: BurstConfig[];
  ackRate: number;
  ackSeconds: number;
  cryptoSeconds: number;
  heapSnapshot: boolean;
  devices: number[];
  fleetMode: FleetMode;
  fleetRate: number;
  pageSize: number;
  serverArgs: string[];
  workerEnv: Record<string, string>;
  label?: string;
  out: string;
  history: boolean;
  cpuProf: boolean;
  keep: boolean;
  logLevel: string;
  phaseTimeoutMs: number;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      phase: { type: 'string', default: 'core' },
      events: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      'warm-events': { type: 'string', default: '300' },
      configs: { type: 'string', default: CONFIGS.join(',') },
      'ack-rate': { type: 'string', default: '100' },
      'ack-seconds': { type: 'string', default: '10' },
      'crypto-seconds': { type: 'string', default: '10' },
      'heap-snapshot': { type: 'boolean', default: false },
      devices: { type: 'string', default: '200' },
      'fleet-mode': { type: 'string', default: 'deliver' },
      'fleet-rate': { type: 'string', default: '40' },
      'page-size': { type: 'string', default: '100' },
      'server-arg': { type: 'string', multiple: true, default: [] },
      'worker-env': { type: 'string', multiple: true, default: [] },
      label: { type: 'string' },
      out: { type: 'string', default: projectPath('bench', 'results') },
      'no-history': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      'phase-timeout': { type: 'string', default: '1800' },
      target: { type: 'string', default: 'dev' },
      workers: { type: 'string', default: '1,2' },
      'no-floor': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const whole = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number of at least ${min}`);
    return n;
  };
  const list = (text: string) => text.split(',').map((c) => c.trim()).filter(Boolean);
  const configs = list(values.configs) as BurstConfig[];
  for (const c of configs) if (!CONFIGS.includes(c)) throw new UsageError(`--configs: "${c}" is not one of ${CONFIGS.join(', ')}`);
  const phases = list(values.phase) as Phase[];
  for (const p of phases) if (!PHASES.includes(p)) throw new UsageError(`--phase: "${p}" is not one of ${PHASES.join(', ')}`);
  if (phases.length === 0) throw new UsageError('--phase: name at least one phase');
  const fleetMode = values['fleet-mode'] as FleetMode;
  if (fleetMode !== 'deliver' && fleetMode !== 'sweep') throw new UsageError('--fleet-mode must be deliver or sweep');
  const workerEnv: Record<string, string> = {};
  for (const pair of values['worker-env']) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--worker-env wants KEY=VALUE, got "${pair}"`);
    workerEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (values.target !== 'dev' && values.target !== 'cluster') throw new UsageError(`--target must be dev or cluster, got "${values.target}"`);
  const workers = values.workers.split(',').map((w) => whole('workers', w.trim(), 1));
  if (values.target === 'cluster' && phases.some((p) => p !== 'core')) throw new UsageError('--target cluster runs phase core only (the fleet phases need the dev stack)');
  return {
    phases,
    target: values.target,
    workers,
    floor: !values['no-floor'],
    events: whole('events', values.events, 1),
    concurrency: whole('concurrency', values.concurrency, 1),
    warmEvents: whole('warm-events', values['warm-events'], 1),
    configs,
    ackRate: whole('ack-rate', values['ack-rate'], 0),
    ackSeconds: whole('ack-seconds', values['ack-seconds'], 1),
    cryptoSeconds: whole('crypto-seconds', values['crypto-seconds'], 1),
    heapSnapshot: values['heap-snapshot'],
    devices: list(values.devices).map((d) => whole('devices', d, 1)),
    fleetMode,
    fleetRate: whole('fleet-rate', values['fleet-rate'], 1),
    pageSize: whole('page-size', values['page-size'], 1),
    serverArgs: values['server-arg'],
    workerEnv,
    label: values.label,
    out: resolve(values.out),
    history: !values['no-history'],
    cpuProf: values['cpu-prof'],
    keep: values.keep,
    logLevel: values['log-level'],
    phaseTimeoutMs: whole('phase-timeout', values['phase-timeout'], 10) * 1000,
  };
}

function workerSettingsFor(config: BurstConfig, options: Options): Record<string, string> {
  const base: Record<string, string> = {
    rsa: { KEY_ALGORITHM: 'rsa', KEY_POOL_SIZE: '0' },
    'rsa-warm': { KEY_ALGORITHM: 'rsa', KEY_POOL_SIZE: String(2 * options.warmEvents) },
    ec: { KEY_ALGORITHM: 'ec', KEY_POOL_SIZE: '0' },
  }[config];
  return { ...BENCH_WORKER_BASE, ...base, ...options.workerEnv };
}

type CoreResult = Pick<BenchSummary, 'floors' | 'bursts' | 'webhookAck' | 'webhookAckUnderLoad' | 'history' | 'memory'>;

/** Phase `core`: floors, bursts, webhook ack, history sizes. */
async function runCore(options: Options, warnings: string[]): Promise<CoreResult> {
  const profileDir = options.cpuProf ? mkdtempSync(join(tmpdir(), 'bench-cpu-prof-')) : undefined;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profileDir) say('bench', `worker CPU profiles go to ${profileDir}`);

  const stack = await BenchStack.start({ label: 'bench', startWorker: false, logLevel: options.logLevel, keepDataDir: options.keep, temporalExtraArgs: options.serverArgs, memoryProbe: true });
  say('bench', `stack up in ${stack.dataDir} (logs in logs/); Temporal ${stack.temporalAddress}, API ${stack.apiUrl}`);
  let result: CoreResult;
  try {
    // 1. The Temporal floor, with its own worker process (same settings as the provider's worker).
    await stack.startProgram('floor-worker', 'bench/floor/worker.ts', { BENCH_FLOOR_TASK_QUEUE: FLOOR_TASK_QUEUE, BENCH_FLOOR_METRICS_PORT: String(await freePort()), ...options.workerEnv }, /"msg":"floor worker polling"/);
    const temporalFloor = await measureTemporalFloor(stack, { label: 'Temporal floor', events: options.events, concurrency: options.concurrency, timeoutMs: options.phaseTimeoutMs, taskQueue: FLOOR_TASK_QUEUE });
    await stack.stopProcess('floor-worker');

    // 2. The crypto floors the chosen configurations need.
    const crypto: Partial<Record<CryptoFloorKind, CryptoFloorResult>> = {};
    for (const kind of new Set(options.configs.map((c) => CRYPTO_FLOOR_OF[c]))) {
      say('crypto floor', `${kind}: ${options.cryptoSeconds} s on both cores…`);
      crypto[kind] = await measureCryptoFloor({ kind, seconds: options.cryptoSeconds });
      say('crypto floor', `${kind}: ${crypto[kind]!.enrollmentsPerSecond.toFixed(2)} enrollments/s (${crypto[kind]!.coresBusy.toFixed(2)} cores busy)`);
    }

    // 3. Bursts through the webhook, one worker configuration after another (a fresh worker each).
    const bursts: BurstResult[] = [];
    for (const config of options.configs) {
      const workerSettings = workerSettingsFor(config, options);
      say('bench', `worker: ${Object.entries(workerSettings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      const worker = await stack.startWorker(workerSettings, { nodeArgs });
      const atReady = worker.usage();
      const rssAtReadyBytes = readRss(worker.pid);
      const events = config === 'rsa-warm' ? options.warmEvents : options.events;
      const keyPoolFill = config === 'rsa-warm' ? await fillKeyPool(stack, 2 * options.warmEvents, options.phaseTimeoutMs) : undefined;
      const snapshots: NonNullable<BurstResult['heapSnapshots']> = [];
      const snapshot = async (label: string) => {
        say('heap', `${config}: heap snapshot of every worker thread (${label})…`);
        snapshots.push({ label, threads: await heapSnapshots(stack.memoryDir, worker.pid, `${config}-${label}`) });
      };
      const sampler = new RssSampler(() => ({ worker: worker.pid }));
      const measured = await measureBurst(stack, {
        label: `burst ${config}`,
        events,
        concurrency: options.concurrency,
        timeoutMs: options.phaseTimeoutMs,
        ...(options.heapSnapshot && config === 'ec' ? { afterSend: () => snapshot('all-open') } : {}),
      });
      const burstRss = sampler.stop().worker;
      if (options.heapSnapshot && config === 'ec') await snapshot('after-batch');
      const cryptoFloor = crypto[CRYPTO_FLOOR_OF[config]]!;
      bursts.push({
        ...measured,
        config,
        workerSettings,
        cryptoFloor: cryptoFloor.kind,
        workerPeakRssBytes: worker.usage()?.peakRssBytes,
        workerRss: { atReadyBytes: rssAtReadyBytes, peakAtReadyBytes: atReady?.peakRssBytes, burstPeakBytes: burstRss?.peakBytes, afterBurstBytes: burstRss?.lastBytes },
        workerHeap: heapFigures(stack.memoryDir, worker.pid),
        ...(snapshots.length > 0 ? { heapSnapshots: snapshots } : {}),
        ratios: ratiosFor(measured.enrollmentsPerSecond, temporalFloor.enrollmentsPerSecond, cryptoFloor.enrollmentsPerSecond),
        cpuRatios: ratiosFor(measured.cpuBoundRate, temporalFloor.cpuBoundRate, cryptoFloor.cpuBoundRate),
        ...(keyPoolFill ? { keyPoolFill } : {}),
      });
      say('bench', `${config}: ${measured.delivered}/${events} delivered in ${measured.seconds} s = ${measured.enrollmentsPerSecond}/s, p50 ${(measured.latencyMs.p50 / 1000).toFixed(1)} s, p99 ${(measured.latencyMs.p99 / 1000).toFixed(1)} s`);
      if (measured.delivered < events) warnings.push(`${config}: only ${measured.delivered} of ${events} events were delivered (${measured.failed} failed, ${measured.open} open, rejected ${JSON.stringify(measured.rejected)})`);
      await stack.stopProcess('worker');
    }

    // 4. Acknowledgement latency at a fixed rate: first what the webhook and Temporal alone take
    //    (the worker stopped, as on a separate host; the dev server counts the API's calls), then
    //    with the last worker busy on the same cores.
    let webhookAck: BenchSummary['webhookAck'];
    let webhookAckUnderLoad: BenchSummary['webhookAckUnderLoad'];
    if (options.ackRate > 0) {
      await sleep(3000); // the previous phase's requests reach the metrics endpoint first
      const callsBefore = await scrapeFrontendRequests(stack.temporalMetricsUrl);
      const ack = await measureAck(stack, { rate: options.ackRate, seconds: options.ackSeconds });
      await sleep(3000); // the server's metrics reach its endpoint on a reporting interval
      const calls = requestsBetween(callsBefore, await scrapeFrontendRequests(stack.temporalMetricsUrl));
      const temporalCallsPerAck = Object.fromEntries(Object.entries(calls).map(([op, n]) => [op, round(n / Math.max(1, ack.acknowledged), 2)]));
      if (Object.keys(calls).length === 0) warnings.push('the dev server reported no frontend requests during the ack phase: calls per ack not measured');
      webhookAck = { ...ack, temporalCallsPerAck };
      say('bench', `ack at ${webhookAck.rate}/s, worker stopped: p50 ${webhookAck.ackMs.p50.toFixed(1)} ms, p99 ${webhookAck.ackMs.p99.toFixed(1)} ms (${webhookAck.acknowledged}/${webhookAck.sent}); Temporal calls per ack ${JSON.stringify(temporalCallsPerAck)}`);
      const lastConfig = options.configs.at(-1);
      if (lastConfig) {
        await stack.startWorker(workerSettingsFor(lastConfig, options), { nodeArgs });
        await sleep(3000); // let it pick up the backlog the first pass left, so it is busy
        webhookAckUnderLoad = { ...(await measureAck(stack, { rate: options.ackRate, seconds: options.ackSeconds })), workerConfig: lastConfig };
        say('bench', `ack at ${webhookAckUnderLoad.rate}/s, ${lastConfig} worker busy: p50 ${webhookAckUnderLoad.ackMs.p50.toFixed(1)} ms, p99 ${webhookAckUnderLoad.ackMs.p99.toFixed(1)} ms`);
      }
    }

    // 5a. History of a delivered workflow (the last burst's sample).
    const sample = [...bursts].reverse().find((b) => b.sampleWorkflowId)?.sampleWorkflowId;
    const delivered = sample ? await deliveredHistory(await stack.client(), sample) : undefined;
    if (delivered && delivered.activitiesScheduled !== FLOOR_ACTIVITIES_PER_WORKFLOW) {
      warnings.push(`a delivered provisionSmime ran ${delivered.activitiesScheduled} activities, the Temporal floor ${FLOOR_ACTIVITIES_PER_WORKFLOW}: update bench/floor/workflows.ts to the workflow's shape`);
    }
    const usage = stack.usage();
    result = {
      floors: { temporal: { ...temporalFloor, activitiesPerWorkflow: FLOOR_ACTIVITIES_PER_WORKFLOW }, crypto },
      bursts,
      ...(webhookAck ? { webhookAck } : {}),
      ...(webhookAckUnderLoad ? { webhookAckUnderLoad } : {}),
      history: { ...(delivered ? { delivered } : {}) },
      memory: { workerPeakRssBytes: usage.worker?.peakRssBytes, apiPeakRssBytes: usage.api?.peakRssBytes, temporalPeakRssBytes: usage.temporal?.peakRssBytes },
    };
  } finally {
    say('bench', 'stopping the stack…');
    await stack.stop();
  }

  // 5b. History of a run that used all its attempts (time-skipping server, real activities).
  if (options.history) {
    say('history', 'a failed delivery under time skipping (75 attempts, 12.5 days)…');
    result.history.failedAfterAllAttempts = await failedAfterAllAttemptsHistory((message) => say('history', message));
    say('history', `failed after ${result.history.failedAfterAllAttempts.attempts ?? '?'} attempts: ${result.history.failedAfterAllAttempts.events} events, ${result.history.failedAfterAllAttempts.bytes} bytes`);
  }
  return result;
}

/** Phases `backfill` and `renewal`: one fresh stack per size. */
async function runFleet(options: Options, warnings: string[]): Promise<NonNullable<BenchSummary['fleet']>> {
  const fleet: NonNullable<BenchSummary['fleet']> = { backfill: [], renewal: [] };
  const renew = options.phases.includes('renewal');
  for (const devices of options.devices) {
    say('fleet', `${devices} EC devices: ${renew ? 'backfill, then a renewal of every device' : 'backfill'} (${options.fleetMode === 'sweep' ? 'sweep only, runs parked' : 'every run delivered'}), FLEET_RATE ${options.fleetRate}`);
    const workerEnv = {
      ...BENCH_WORKER_BASE,
      KEY_ALGORITHM: 'ec',
      KEY_POOL_SIZE: '0',
      FLEET_RATE: String(options.fleetRate),
      FLEET_PAGE_SIZE: String(options.pageSize),
      // The renewal's profile re-install through UEM's REST API (the simulator records it).
      UEM_SMIME_PROFILE_ID: '7',
      ...options.workerEnv,
    };
    const stack = await BenchStack.start({ label: `bench-fleet-${devices}`, startWorker: false, logLevel: options.logLevel, keepDataDir: options.keep, temporalExtraArgs: options.serverArgs, memoryProbe: true });
    try {
      say('fleet', `stack up in ${stack.dataDir}`);
      const workerName = options.fleetMode === 'sweep' ? 'fleet-worker' : 'worker';
      // Sweep mode delivers nothing: the renewal's devices are written into the register (before a worker opens it).
      if (options.fleetMode === 'sweep' && renew) await seedRegister(stack, workerEnv, devices);
      if (options.fleetMode === 'sweep') await stack.startProgram('fleet-worker', 'bench/fleet-worker.ts', { ...workerEnv, BENCH_PARKED_TASK_QUEUE: PARKED_TASK_QUEUE }, /"msg":"fleet worker polling"/);
      else await stack.startWorker(workerEnv);
      await addSilentDevices(stack, devices);
      const common = { devices, mode: options.fleetMode, ratePerSecond: options.fleetRate, pageSize: options.pageSize, timeoutMs: options.phaseTimeoutMs, workerName };
      const backfill = await measureBackfill(stack, common);
      fleet.backfill.push(backfill);
      report(backfill, warnings);
      if (renew) {
        const renewal = await measureRenewal(stack, common);
        fleet.renewal.push(renewal);
        report(renewal, warnings);
      }
    } finally {
      say('fleet', 'stopping the stack…');
      await stack.stop();
    }
  }
  return fleet;
}

function report(f: FleetPhaseResult, warnings: string[]): void {
  say('fleet', `${f.kind} of ${f.devices}: ${f.runsStarted} runs started at ${f.startsPerSecond}/s${f.deliveredPerSecond !== undefined ? `, ${f.delivered} delivered at ${f.deliveredPerSecond}/s` : ''}; worker RSS peak ${Math.round((f.memory.worker?.peakBytes ?? 0) / 1_048_576)} MiB; sweep history ${f.sweepHistory.events} events in ${f.sweepHistory.runs} run(s)`);
  const expected = f.kind === 'renewal' ? f.counts?.selected : f.devices;
  if (f.runsStarted < (expected ?? 0)) warnings.push(`${f.kind} of ${f.devices}: only ${f.runsStarted} runs started (timeout, or starts failed: ${JSON.stringify(f.counts)})`);
  if (f.mode === 'deliver' && (f.notDelivered ?? 0) + (f.runsStarted - (f.delivered ?? 0)) > 0) warnings.push(`${f.kind} of ${f.devices}: ${f.runsStarted - (f.delivered ?? 0)} of ${f.runsStarted} runs not delivered`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.target === 'cluster') {
    await runClusterBench({ ...options, configs: options.configs, workerEnv: { ...BENCH_WORKER_BASE, ...options.workerEnv } });
    return;
  }
  const started = new Date();
  const machine = machineInfo();
  const warnings: string[] = [];
  say('bench', `${machine.cores} cores (${machine.cpuModel}), ${Math.round(machine.memoryBytes / 1_073_741_824)} GiB, load average ${machine.loadAverage.start.toFixed(2)}`);
  if (machine.loadAverage.start > 0.5 * machine.cores) {
    const note = `the machine was already busy when the run started (load average ${machine.loadAverage.start.toFixed(2)} on ${machine.cores} cores): absolute figures are low, ratios measured close together are the fairer comparison`;
    warnings.push(note);
    say('bench', `note: ${note}`);
  }
  const core = options.phases.includes('core');
  const fleetPhases = options.phases.filter((p) => p !== 'core');
  if (core) say('bench', `plan: Temporal floor (${options.events}), crypto floors (${options.cryptoSeconds} s each), bursts ${options.configs.join(', ')} (${options.events} events; warm pool ${options.warmEvents}), ack at ${options.ackRate}/s for ${options.ackSeconds} s${options.history ? ', history sizes' : ''}`);
  if (fleetPhases.length > 0) say('bench', `plan: ${fleetPhases.join(' + ')} of ${options.devices.join(', ')} devices (${options.fleetMode})`);

  const summary: BenchSummary = {
    benchmark: 'smime-escrow-provider',
    version: 1,
    startedAt: started.toISOString(),
    durationSeconds: 0,
    machine,
    phases: options.phases,
    settings: {
      events: options.events,
      warmEvents: options.warmEvents,
      concurrency: options.concurrency,
      ackRate: options.ackRate,
      ackSeconds: options.ackSeconds,
      temporalExtraArgs: options.serverArgs,
      workerEnv: options.workerEnv,
      logLevel: options.logLevel,
      ...(fleetPhases.length > 0 ? { fleet: { devices: options.devices, mode: options.fleetMode, ratePerSecond: options.fleetRate, pageSize: options.pageSize } } : {}),
    },
    bursts: [],
    history: {},
    memory: {},
    warnings,
    targets: [],
  };
  if (core) Object.assign(summary, await runCore(options, warnings));
  if (fleetPhases.length > 0) summary.fleet = await runFleet(options, warnings);

  summary.machine.loadAverage.end = currentLoad();
  summary.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);
  summary.targets = judgeTargets(summary);

  mkdirSync(options.out, { recursive: true });
  const stamp = `${started.toISOString().slice(0, 16).replace(/[:T]/g, '-')}${options.label ? `-${options.label.replace(/[^\w.-]+/g, '_')}` : ''}`;
  const jsonFile = join(options.out, `${stamp}.json`);
  writeAtomically(jsonFile, `${JSON.stringify(summary, null, 2)}\n`);
  const svg = plotSvg(summary);
  const svgFile = join(options.out, `${stamp}.svg`);
  if (svg) writeAtomically(svgFile, svg);
  process.stdout.write(`\n${formatTable(summary)}\n`);
  process.stdout.write(`results: ${relative(process.cwd(), jsonFile)}${svg ? `, plot: ${relative(process.cwd(), svgFile)}` : ''}\n`);
}

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n${USAGE}\n`);
    else process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
