/**
 * `npm run bench -- --target cluster`: the bench's bursts on the production topology of
 * `npm run cluster` (PostgreSQL, Temporal's four services with mTLS, step-ca, HAProxy in front of
 * two API replicas) instead of the dev server, with one and then two provider workers, and the
 * Temporal floor on the same cluster. CPU per enrollment is reported per process, PostgreSQL
 * (with its backends) and each Temporal service included, so the cost of the production topology
 * against the dev server is known. Results: bench/results/<stamp>-cluster.json and a table.
 *
 *   npm run bench -- --target cluster [--events 300] [--configs ec] [--workers 1,2] [--concurrency 32]
 */
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePorts } from '../src/tools/cluster/layout';
import { Cluster } from '../src/tools/cluster/stack';
import { projectPath } from '../src/tools/paths';
import { say } from '../src/tools/progress';
import { FLOOR_ACTIVITIES_PER_WORKFLOW } from './floor/activities';
import { currentLoad, machineInfo, type MachineInfo } from './machine';
import { fillKeyPool, measureBurst, measureTemporalFloor, type LoadTarget, type ThroughputMeasurement } from './phases';
import type { BurstConfig } from './report';
import { freePort } from './stack';
import { round } from './stats';

export interface ClusterBenchOptions {
  events: number;
  warmEvents: number;
  concurrency: number;
  configs: BurstConfig[];
  workers: number[];
  workerEnv: Record<string, string>;
  logLevel: string;
  phaseTimeoutMs: number;
  label?: string;
  out: string;
  keep: boolean;
  floor: boolean;
}

export interface ClusterBurst extends ThroughputMeasurement {
  config: BurstConfig;
  workers: number;
  workerSettings: Record<string, string>;
  /** ours ÷ the Temporal floor measured on the same cluster. */
  toTemporalFloor?: number;
  keyPoolFill?: { keys: number; seconds: number }[];
}

export interface ClusterBenchSummary {
  benchmark: 'smime-escrow-provider';
  target: 'cluster';
  version: 1;
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  topology: string;
  clusterStartSeconds: number;
  settings: Omit<ClusterBenchOptions, 'out' | 'keep' | 'label'>;
  floors: { temporal?: ThroughputMeasurement & { activitiesPerWorkflow: number } };
  bursts: ClusterBurst[];
  memory: Record<string, number>;
  warnings: string[];
}

const FLOOR_TASK_QUEUE = 'bench-floor';

function settingsFor(config: BurstConfig, options: ClusterBenchOptions): Record<string, string> {
  const base: Record<string, string> = {
    rsa: { KEY_ALGORITHM: 'rsa', KEY_POOL_SIZE: '0' },
    'rsa-warm': { KEY_ALGORITHM: 'rsa', KEY_POOL_SIZE: String(2 * options.warmEvents) },
    ec: { KEY_ALGORITHM: 'ec', KEY_POOL_SIZE: '0' },
  }[config];
  return { ...base, ...options.workerEnv };
}

export async function runClusterBench(options: ClusterBenchOptions): Promise<void> {
  const started = new Date();
  const machine = machineInfo();
  const warnings: string[] = [];
  const maxWorkers = Math.max(...options.workers);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  chmodSync(dataDir, 0o755); // PostgreSQL runs as its own account when we are root
  say('bench', `cluster target: ${machine.cores} cores, load average ${machine.loadAverage.start.toFixed(2)}; plan: Temporal floor (${options.events}), bursts ${options.configs.join(', ')} × ${options.workers.join(', ')} worker(s) (${options.events} events)`);
  const clusterStarted = Date.now();
  const cluster = await Cluster.start({ dataDir, ports: await freePorts(maxWorkers, 2), workers: maxWorkers, apis: 2, ui: false, logLevel: options.logLevel, say: (line) => say('cluster', line) });
  const clusterStartSeconds = round((Date.now() - clusterStarted) / 1000, 1);
  say('bench', `cluster up in ${clusterStartSeconds} s (${dataDir})`);
  // Workers start per phase, with the phase's settings.
  await Promise.all(cluster.workerNames.map((name) => cluster.stopProcess(name)));

  const target: LoadTarget = {
    client: () => cluster.client(),
    usage: () => cluster.usage(),
    workerMetricsUrl: cluster.workerMetricsUrl(1),
    webhookUrl: cluster.webhookUrl,
    webhookAuthorization: cluster.webhookAuthorization,
    webhookFetch: cluster.fetch,
  };
  const run = { events: options.events, concurrency: options.concurrency, timeoutMs: options.phaseTimeoutMs };
  let summary: ClusterBenchSummary;
  try {
    let temporalFloor: ClusterBenchSummary['floors']['temporal'];
    if (options.floor) {
      const floorWorker = cluster.launchProcess('floor-worker', {
        command: process.execPath,
        args: ['--require', 'tsx/cjs', projectPath('bench/floor/worker.ts')],
        env: cluster.workerSettings(1, { BENCH_FLOOR_TASK_QUEUE: FLOOR_TASK_QUEUE, BENCH_FLOOR_METRICS_PORT: String(await freePort()), ...options.workerEnv }),
        cwd: projectPath(),
      });
      await floorWorker.waitForLine(/"msg":"floor worker polling"/, 120_000);
      const floor = await measureTemporalFloor(target, { ...run, label: 'Temporal floor (cluster)', taskQueue: FLOOR_TASK_QUEUE });
      temporalFloor = { ...floor, activitiesPerWorkflow: FLOOR_ACTIVITIES_PER_WORKFLOW };
      say('bench', `Temporal floor on the cluster: ${floor.enrollmentsPerSecond}/s`);
      await cluster.stopProcess('floor-worker');
    }

    const bursts: ClusterBurst[] = [];
    for (const config of options.configs) {
      for (const workers of options.workers) {
        const settings = settingsFor(config, options);
        const events = config === 'rsa-warm' ? options.warmEvents : options.events;
        const keyPoolFill =
          config === 'rsa-warm'
            ? await Promise.all(Array.from({ length: workers }, (_, i) => fillKeyPool({ env: { SEALING_KEYS: cluster.secrets.sealingKeys }, dataDir: cluster.layout.worker(i + 1) }, Math.ceil((2 * events) / workers), options.phaseTimeoutMs)))
            : undefined;
        for (let n = 1; n <= workers; n++) await cluster.startWorker(n, settings);
        say('bench', `${config}, ${workers} worker(s): ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
        const measured = await measureBurst(target, { ...run, events, label: `${config} ×${workers}` });
        bursts.push({
          ...measured,
          config,
          workers,
          workerSettings: settings,
          ...(temporalFloor ? { toTemporalFloor: round(measured.enrollmentsPerSecond / temporalFloor.enrollmentsPerSecond, 3) } : {}),
          ...(keyPoolFill ? { keyPoolFill } : {}),
        });
        say('bench', `${config} ×${workers}: ${measured.delivered}/${events} delivered in ${measured.seconds} s = ${measured.enrollmentsPerSecond}/s, p50 ${(measured.latencyMs.p50 / 1000).toFixed(1)} s, p99 ${(measured.latencyMs.p99 / 1000).toFixed(1)} s`);
        if (measured.delivered < events) warnings.push(`${config} ×${workers}: only ${measured.delivered} of ${events} delivered (${measured.failed} failed, ${measured.open} open, rejected ${JSON.stringify(measured.rejected)})`);
        await Promise.all(Array.from({ length: workers }, (_, i) => cluster.stopProcess(`worker-${i + 1}`)));
      }
    }

    summary = {
      benchmark: 'smime-escrow-provider',
      target: 'cluster',
      version: 1,
      startedAt: started.toISOString(),
      durationSeconds: 0,
      machine,
      topology: `PostgreSQL (TLS), Temporal v1.29.1 frontend/history/matching/worker as 4 processes (mTLS), step-ca, HAProxy (TLS) → 2 API replicas, 1–${maxWorkers} worker(s), CEG and UEM simulators`,
      clusterStartSeconds,
      settings: { events: options.events, warmEvents: options.warmEvents, concurrency: options.concurrency, configs: options.configs, workers: options.workers, workerEnv: options.workerEnv, logLevel: options.logLevel, phaseTimeoutMs: options.phaseTimeoutMs, floor: options.floor },
      floors: { ...(temporalFloor ? { temporal: temporalFloor } : {}) },
      bursts,
      memory: Object.fromEntries(Object.entries(cluster.usage()).map(([name, u]) => [name, u.peakRssBytes])),
      warnings,
    };
  } finally {
    say('bench', 'stopping the cluster…');
    await cluster.stop();
    if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
  }
  summary.machine.loadAverage.end = currentLoad();
  summary.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);

  mkdirSync(options.out, { recursive: true });
  const stamp = `${started.toISOString().slice(0, 16).replace(/[:T]/g, '-')}-cluster${options.label ? `-${options.label.replace(/[^\w.-]+/g, '_')}` : ''}`;
  const jsonFile = join(options.out, `${stamp}.json`);
  writeFileSync(`${jsonFile}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
  renameSync(`${jsonFile}.tmp`, jsonFile);
  process.stdout.write(`\n${formatClusterTable(summary)}\n`);
  process.stdout.write(`results: ${relative(process.cwd(), jsonFile)}\n`);
}

/** Throughput per run, then CPU ms per enrollment by process (the cluster's cost, process by process). */
export function formatClusterTable(summary: ClusterBenchSummary): string {
  const rows: ThroughputMeasurement[] = [...(summary.floors.temporal ? [summary.floors.temporal] : []), ...summary.bursts];
  const name = (r: ThroughputMeasurement) => ('config' in r ? `ours: ${(r as ClusterBurst).config}, ${(r as ClusterBurst).workers} worker(s)` : 'Temporal floor (no-op, same shape)');
  const lines = [
    '| run | events | delivered | seconds | enrollments/s | p50 ms | p99 ms | ack p99 ms | ÷ Temporal floor | CPU ms/enrollment (all) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${name(r)} | ${r.events} | ${r.delivered} | ${r.seconds} | ${r.enrollmentsPerSecond} | ${Math.round(r.latencyMs.p50)} | ${Math.round(r.latencyMs.p99)} | ${Math.round(r.ackMs.p99)} | ${'toTemporalFloor' in r ? (r as ClusterBurst).toTemporalFloor ?? '' : 1} | ${Math.round(r.cpuSecondsPerEnrollmentTotal * 1000)} |`),
  ];
  const processes = [...new Set(rows.flatMap((r) => Object.keys(r.cpuSecondsPerEnrollment)))].sort();
  lines.push('', `| CPU ms per enrollment | ${rows.map(name).join(' | ')} |`, `| --- | ${rows.map(() => '---').join(' | ')} |`);
  for (const p of processes) lines.push(`| ${p} | ${rows.map((r) => (r.cpuSecondsPerEnrollment[p] !== undefined ? Math.round(r.cpuSecondsPerEnrollment[p]! * 1000) : '')).join(' | ')} |`);
  return lines.join('\n');
}
