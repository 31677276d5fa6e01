/**
 * The bench's summary: the JSON written to bench/results/<stamp>.json and the table printed at
 * the end. Ratios follow issue 6: ours ÷ each floor, and ratioToFloor = ours ÷ the lower floor.
 * Targets: issue 15's table (speed), issue 6's floor ratios, issues 12 and 13's fleet figures.
 */
import type { CryptoFloorResult } from './crypto-floor';
import type { FleetPhaseResult } from './fleet';
import type { HistorySize } from './history';
import type { MachineInfo } from './machine';
import type { HeapFigures } from './memory';
import type { HeapSummary } from './heap-summary';
import type { AckMeasurement, ThroughputMeasurement } from './phases';
import { round } from './stats';

/** A worker configuration the burst ran with. */
export type BurstConfig = 'rsa' | 'rsa-warm' | 'ec';

export interface BurstResult extends ThroughputMeasurement {
  config: BurstConfig;
  /** What the worker ran with (settings on top of the defaults). */
  workerSettings: Record<string, string>;
  /** The crypto floor that applies: RSA key generation, EC, or (warm pool) PKCS#12 only. */
  cryptoFloor: CryptoFloorResult['kind'];
  /** VmHWM of the worker at the end of the burst: its peak since it started (start-up included). */
  workerPeakRssBytes?: number;
  /**
   * The worker's resident memory around the burst: when it began polling (and its peak until then:
   * start-up, which bundles the workflow code), the peak sampled every second while the burst ran,
   * and after it.
   */
  workerRss?: { atReadyBytes?: number; peakAtReadyBytes?: number; burstPeakBytes?: number; afterBurstBytes?: number };
  ratios: {
    toTemporalFloor: number;
    toCryptoFloor: number;
    /** ours ÷ min(Temporal floor, crypto floor). */
    ratioToFloor: number;
    lowerFloor: 'temporal' | 'crypto';
  };
  /**
   * The same ratios from CPU cost instead of wall-clock rates (cores ÷ CPU seconds per enrollment,
   * for ours and for each floor): what the ratios would be with the machine to ourselves.
   */
  cpuRatios: BurstResult['ratios'];
  keyPoolFill?: { keys: number; seconds: number };
  /** V8 heap of the worker's threads over the burst (memory probe): peaks, and what is left once all closed. */
  workerHeap?: HeapFigures;
  /** With --heap-snapshot: where the worker's heap is, with every workflow open and after the batch. */
  heapSnapshots?: { label: string; threads: (HeapSummary & { threadId: number })[] }[];
}

export interface Target {
  /** Where the target comes from (issue number). */
  issue: number;
  name: string;
  goal: string;
  value: number;
  met: boolean;
  /** False when this run cannot judge it (e.g. fewer than 1,000 open workflows): then `met` is false and means nothing. */
  judged?: boolean;
}

export interface BenchSummary {
  benchmark: 'smime-escrow-provider';
  version: 1;
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  settings: {
    events: number;
    warmEvents: number;
    concurrency: number;
    ackRate: number;
    ackSeconds: number;
    temporalExtraArgs: string[];
    workerEnv: Record<string, string>;
    logLevel: string;
    fleet?: { devices: number[]; mode: string; ratePerSecond: number; pageSize: number };
  };
  /** Which phases ran: core (floors, bursts, ack, history) and/or the fleet phases. */
  phases: string[];
  floors?: {
    temporal: ThroughputMeasurement & { activitiesPerWorkflow: number };
    crypto: Partial<Record<CryptoFloorResult['kind'], CryptoFloorResult>>;
  };
  bursts: BurstResult[];
  /** Acknowledgement latency with the worker stopped: the webhook and Temporal alone (and the frontend calls they made). */
  webhookAck?: AckMeasurement & { temporalCallsPerAck?: Record<string, number> };
  /** The same with a worker busy on the same cores (a 2-core box running everything). */
  webhookAckUnderLoad?: AckMeasurement & { workerConfig: BurstConfig };
  history: {
    delivered?: HistorySize;
    failedAfterAllAttempts?: HistorySize;
  };
  memory: { workerPeakRssBytes?: number; apiPeakRssBytes?: number; temporalPeakRssBytes?: number };
  /** The fleet phases, one entry per size (each on a fresh stack). */
  fleet?: { backfill: FleetPhaseResult[]; renewal: FleetPhaseResult[] };
  /** Notes the run itself raised (e.g. the floor's shape differs from the workflow's). */
  warnings: string[];
  targets: Target[];
}

export function ratiosFor(ours: number, temporalFloor: number, cryptoFloor: number): BurstResult['ratios'] {
  const lower = Math.min(temporalFloor, cryptoFloor);
  return {
    toTemporalFloor: round(ours / temporalFloor, 3),
    toCryptoFloor: round(ours / cryptoFloor, 3),
    ratioToFloor: round(ours / lower, 3),
    lowerFloor: temporalFloor <= cryptoFloor ? 'temporal' : 'crypto',
  };
}

const KB = 1000;

/** Issue 15's targets (speed), issue 6's floor ratios and the fleet's, judged on this run's figures. */
export function judgeTargets(summary: Pick<BenchSummary, 'bursts' | 'webhookAck' | 'webhookAckUnderLoad' | 'history' | 'fleet'>): Target[] {
  const targets: Target[] = [];
  const { delivered, failedAfterAllAttempts: failed } = summary.history;
  if (delivered) {
    targets.push({ issue: 15, name: 'delivered-history-events', goal: 'delivered history ≤ 30 events', value: delivered.events, met: delivered.events <= 30 });
    targets.push({ issue: 15, name: 'delivered-history-bytes', goal: 'delivered history ≤ 24 KB', value: round(delivered.bytes / KB, 1), met: delivered.bytes <= 24 * KB });
  }
  if (failed) {
    targets.push({ issue: 15, name: 'failed-history-events', goal: `${failed.attempts ?? '?'}-attempt failure history ≤ 800 events`, value: failed.events, met: failed.events <= 800 });
    targets.push({ issue: 15, name: 'failed-history-bytes', goal: `${failed.attempts ?? '?'}-attempt failure history ≤ 500 KB`, value: round(failed.bytes / KB, 1), met: failed.bytes <= 500 * KB });
  }
  const ec = summary.bursts.find((b) => b.config === 'ec');
  if (ec) {
    const temporalMs = round((ec.cpuSecondsPerEnrollment.temporal ?? 0) * 1000, 1);
    targets.push({ issue: 15, name: 'temporal-cpu-per-ec-enrollment', goal: 'Temporal server CPU per delivered EC enrollment ≤ 50 ms', value: temporalMs, met: temporalMs <= 50 });
    const totalMs = round(stackCpuSeconds(ec) * 1000, 1);
    targets.push({ issue: 15, name: 'total-cpu-per-ec-enrollment', goal: 'CPU per EC enrollment, all processes of the stack (not the load generator) ≤ 150 ms', value: totalMs, met: totalMs <= 150 });
    // The peak sampled while the burst's workflows were open; VmHWM also counts start-up (the workflow bundle is built then).
    const rss = ec.workerRss?.burstPeakBytes ?? ec.workerPeakRssBytes ?? 0;
    const judged = ec.events >= 1000;
    const startup = ec.workerRss?.peakAtReadyBytes;
    targets.push({
      issue: 15,
      name: 'worker-peak-rss-1000-open',
      goal: `worker peak RSS with 1,000 open workflows ≤ 400 MiB (sampled during the burst; this run: ${ec.events} sent at once${judged ? '' : ', too few to judge'}; VmHWM ${mb(ec.workerPeakRssBytes)}, of which start-up ${mb(startup)})`,
      value: Math.round(rss / 1_048_576),
      met: judged && rss <= 400 * 1_048_576,
      judged,
    });
  }
  const rsa = summary.bursts.find((b) => b.config === 'rsa');
  if (rsa) targets.push({ issue: 15, name: 'rsa-vs-crypto-floor', goal: `RSA keys, no pool: throughput ≥ 0.7 × RSA crypto floor, same run (from CPU cost: ${rsa.cpuRatios.toCryptoFloor})`, value: rsa.ratios.toCryptoFloor, met: rsa.ratios.toCryptoFloor >= 0.7 });
  if (summary.webhookAck) {
    const a = summary.webhookAck;
    if (a.temporalCallsPerAck) {
      const calls = round(Object.values(a.temporalCallsPerAck).reduce((x, y) => x + y, 0), 2);
      targets.push({ issue: 15, name: 'temporal-calls-per-ack', goal: `Temporal calls per webhook ack = 1 (${Object.entries(a.temporalCallsPerAck).map(([op, n]) => `${op} ${n}`).join(', ') || 'none seen'})`, value: calls, met: calls <= 1.0 });
    }
    const apiMs = a.cpuMsPerEvent.api;
    if (apiMs !== undefined) targets.push({ issue: 15, name: 'api-cpu-per-ack', goal: 'API CPU per ack ≤ 2 ms', value: apiMs, met: apiMs <= 2 });
    targets.push({ issue: 15, name: 'webhook-ack-p99', goal: `webhook ack p99 ≤ 50 ms at ${a.rate} events/s, worker stopped`, value: round(a.ackMs.p99, 1), met: a.ackMs.p99 <= 50 && a.acknowledged === a.sent });
  }
  if (summary.webhookAckUnderLoad) {
    const a = summary.webhookAckUnderLoad;
    targets.push({ issue: 15, name: 'webhook-ack-p99-worker-busy', goal: `webhook ack p99 ≤ 250 ms at ${a.rate} events/s with the ${a.workerConfig} worker busy on the same cores`, value: round(a.ackMs.p99, 1), met: a.ackMs.p99 <= 250 && a.acknowledged === a.sent });
  }
  const fast = summary.bursts.filter((b) => b.config === 'ec' || b.config === 'rsa-warm');
  if (fast.length > 0) {
    const best = Math.max(...fast.map((b) => b.ratios.toTemporalFloor));
    const bestCpu = Math.max(...fast.map((b) => b.cpuRatios.toTemporalFloor));
    targets.push({ issue: 6, name: 'warm-or-ec-vs-temporal-floor', goal: `warm key pool or EC keys: throughput ≥ 0.7 × Temporal floor (from CPU cost: ${bestCpu})`, value: best, met: best >= 0.7 });
  }
  for (const [issue, phases] of [
    [12, summary.fleet?.backfill ?? []],
    [13, summary.fleet?.renewal ?? []],
  ] as const) {
    for (const f of phases) {
      // One start every 1/rate seconds; the server stamps start times with its own jitter (±2, as the fleet e2e test allows).
      targets.push({ issue, name: `${f.kind}-${f.devices}-rate`, goal: `${f.kind} of ${f.devices}: never more than FLEET_RATE ${f.configuredRate} starts in a second (+2 for the server clock)`, value: f.busiestSecond, met: f.busiestSecond <= f.configuredRate + 2 });
    }
    if (phases.length >= 2) {
      const sorted = [...phases].sort((a, b) => a.devices - b.devices);
      const small = sorted[0]!;
      const large = sorted.at(-1)!;
      for (const process of ['worker', 'api'] as const) {
        const a = small.memory[process]?.peakBytes;
        const b = large.memory[process]?.peakBytes;
        if (!a || !b) continue;
        const growth = round(b / a, 2);
        targets.push({ issue, name: `${large.kind}-${process}-memory-flat`, goal: `${large.kind}: ${process} peak RSS does not grow with the devices (${large.devices} ÷ ${small.devices} devices ≤ 1.2; ${Math.round(b / 1_048_576)} vs ${Math.round(a / 1_048_576)} MiB)`, value: growth, met: growth <= 1.2 });
      }
    }
  }
  return targets;
}

/** CPU seconds per enrollment of the stack's processes (everything but the bench's own load generator). */
export function stackCpuSeconds(b: Pick<ThroughputMeasurement, 'cpuSecondsPerEnrollment'>): number {
  return Object.entries(b.cpuSecondsPerEnrollment).filter(([name]) => name !== 'bench').reduce((sum, [, s]) => sum + s, 0);
}

const mb = (bytes?: number) => (bytes === undefined ? '-' : `${Math.round(bytes / 1_048_576)} MiB`);
const ms = (value: number) => `${value >= 100 ? Math.round(value) : value.toFixed(1)}`;

const kib = (bytes: number) => `${round(bytes / 1000, 1)} KB`;
const msOf = (seconds: number) => Math.round(seconds * 1000);

/** The human table printed at the end of a run. */
export function formatTable(s: BenchSummary): string {
  const lines: string[] = [];
  const m = s.machine;
  lines.push(`smime-escrow-provider bench — ${s.startedAt} (${Math.round(s.durationSeconds)} s; phases ${s.phases.join(', ')})`);
  lines.push(`machine: ${m.cores} cores ${m.cpuModel}, ${mb(m.memoryBytes)}, ${m.os}, node ${m.node}; load average ${m.loadAverage.start.toFixed(2)} → ${m.loadAverage.end?.toFixed(2) ?? '?'}; commit ${m.gitCommit ?? '?'}${m.gitDirty ? ' (dirty)' : ''}`);
  lines.push('');
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const t = s.floors?.temporal;
  if (t) {
    lines.push(row(['run', 'events', 'delivered', 'seconds', 'enrollments/s', 'p50 ms', 'p95 ms', 'p99 ms', 'ack p99 ms', '÷ Temporal floor', '÷ crypto floor', 'ratioToFloor']));
    lines.push(row(Array(12).fill('---')));
    lines.push(row([`Temporal floor (no-op, same shape: ${t.activitiesPerWorkflow} activities)`, `${t.events}`, `${t.delivered}`, `${t.seconds}`, `${t.enrollmentsPerSecond}`, ms(t.latencyMs.p50), ms(t.latencyMs.p95), ms(t.latencyMs.p99), ms(t.ackMs.p99), '1', '', '']));
    for (const c of Object.values(s.floors!.crypto)) {
      if (!c) continue;
      lines.push(row([`crypto floor: ${c.kind} (${c.threads} threads)`, `${c.enrollments}`, '', `${round(c.seconds, 1)}`, `${round(c.enrollmentsPerSecond, 2)}`, '', '', '', '', '', '1', '']));
    }
    for (const b of s.bursts) {
      lines.push(
        row([
          `ours: ${describeConfig(b)}`,
          `${b.events}`,
          `${b.delivered}${b.failed || b.open ? ` (${b.failed} failed, ${b.open} open)` : ''}`,
          `${b.seconds}`,
          `${b.enrollmentsPerSecond}`,
          ms(b.latencyMs.p50),
          ms(b.latencyMs.p95),
          ms(b.latencyMs.p99),
          ms(b.ackMs.p99),
          `${b.ratios.toTemporalFloor}`,
          `${b.ratios.toCryptoFloor} (${b.cryptoFloor})`,
          `${b.ratios.ratioToFloor} (${b.ratios.lowerFloor})`,
        ]),
      );
    }
    lines.push('');
  }
  for (const [label, a] of [
    ['worker stopped', s.webhookAck],
    [`${s.webhookAckUnderLoad?.workerConfig ?? ''} worker busy`, s.webhookAckUnderLoad],
  ] as const) {
    if (!a) continue;
    const cpu = Object.entries(a.cpuMsPerEvent ?? {}).map(([name, value]) => `${name} ${value}`).join(', ');
    lines.push(`webhook ack at ${a.rate} events/s for ${a.seconds} s, ${label}: ${a.acknowledged}/${a.sent} acknowledged, p50 ${ms(a.ackMs.p50)} ms, p95 ${ms(a.ackMs.p95)} ms, p99 ${ms(a.ackMs.p99)} ms, max ${ms(a.ackMs.max)} ms; CPU ms per event: ${cpu}`);
  }
  const calls = s.webhookAck?.temporalCallsPerAck;
  if (calls) lines.push(`Temporal frontend calls per ack (worker stopped): ${Object.entries(calls).map(([op, n]) => `${op} ${n}`).join(', ') || 'none counted'}`);
  const h = s.history;
  if (h.delivered) lines.push(`history, delivered: ${h.delivered.events} events, ${kib(h.delivered.bytes)} (activities: ${describeActivities(h.delivered)}; ${h.delivered.searchAttributeUpserts} search-attribute upserts)`);
  if (h.failedAfterAllAttempts) {
    const f = h.failedAfterAllAttempts;
    lines.push(`history, failed after ${f.attempts ?? '?'} attempts: ${f.events} events, ${kib(f.bytes)} (activities: ${describeActivities(f)}; ${f.timersStarted} timers, ${f.searchAttributeUpserts} upserts)`);
  }
  if (s.bursts.length > 0) lines.push(`peak memory (VmHWM): worker ${mb(s.memory.workerPeakRssBytes)}, API ${mb(s.memory.apiPeakRssBytes)}, Temporal dev server ${mb(s.memory.temporalPeakRssBytes)}`);
  for (const b of s.bursts) {
    const cpu = Object.entries(b.cpuSecondsPerEnrollment).map(([name, sec]) => `${name} ${msOf(sec)}`).join(', ');
    lines.push(`CPU ms per enrollment, ${describeConfig(b)}: ${cpu} (stack ${msOf(stackCpuSeconds(b))}); ${b.coresBusy} cores busy`);
    if (b.time) {
      const steps = Object.entries(b.time.activityExecutionMs).map(([name, a]) => `${name} ${Math.round(a.mean)} (×${a.count})`).join(', ');
      lines.push(`  stage times, mean ms per execution: ${steps}; activity schedule-to-start ${Math.round(b.time.activityScheduleToStartMs)}, workflow task schedule-to-start ${Math.round(b.time.workflowTaskScheduleToStartMs)}, execution ${Math.round(b.time.workflowTaskExecutionMs)}`);
    }
    if (b.workerRss) lines.push(`  worker RSS: ${mb(b.workerRss.atReadyBytes)} when polling (peak until then ${mb(b.workerRss.peakAtReadyBytes)}: start-up), ${mb(b.workerRss.burstPeakBytes)} peak during the burst (${b.events} workflows sent at once), ${mb(b.workerRss.afterBurstBytes)} after; VmHWM ${mb(b.workerPeakRssBytes)}`);
    if (b.workerHeap) lines.push(`  worker heap: ${describeHeap(b.workerHeap)}`);
    for (const snap of b.heapSnapshots ?? []) {
      for (const thread of snap.threads) {
        lines.push(`  heap snapshot "${snap.label}", thread ${thread.threadId}: ${mb(thread.totalSelfBytes)} in ${thread.nodes} objects; largest: ${thread.top.slice(0, 6).map((g) => `${g.what} ${mb(g.selfBytes)}`).join(', ')}`);
      }
    }
  }
  if (t) lines.push(`CPU ms per workflow, Temporal floor: ${Object.entries(t.cpuSecondsPerEnrollment).map(([name, sec]) => `${name} ${msOf(sec)}`).join(', ')}; ${t.coresBusy} cores busy`);
  for (const f of [...(s.fleet?.backfill ?? []), ...(s.fleet?.renewal ?? [])]) {
    lines.push('');
    lines.push(...describeFleet(f));
  }
  lines.push('');
  for (const target of s.targets) lines.push(`${target.judged === false ? 'n/a    ' : target.met ? 'MET    ' : 'NOT MET'}  #${target.issue} ${target.goal}: ${target.value}`);
  for (const warning of s.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function describeActivities(h: HistorySize): string {
  return Object.entries(h.activityTypes ?? {}).map(([name, n]) => `${name} ${n}`).join(', ') || `${h.activitiesScheduled}`;
}

function describeHeap(heap: HeapFigures): string {
  const parts: string[] = [];
  if (heap.main) parts.push(`main thread ${mb(heap.main.heapUsedPeakBytes)} peak / ${mb(heap.main.heapUsedBytes)} now, external ${mb(heap.main.externalPeakBytes)} peak, ArrayBuffers ${mb(heap.main.arrayBuffersPeakBytes)} peak`);
  for (const t of heap.threads) parts.push(`thread ${t.threadId} (workflows) ${mb(t.heapUsedPeakBytes)} peak / ${mb(t.heapUsedBytes)} now`);
  return parts.join('; ') || 'no probe figures';
}

function describeFleet(f: FleetPhaseResult): string[] {
  const lines: string[] = [];
  const mode = f.mode === 'deliver' ? 'every run delivered' : `sweep only: runs started on a task queue nobody polls${f.kind === 'renewal' ? '; the devices written into the register first' : ''}`;
  lines.push(`${f.kind} of ${f.devices} EC devices (${mode}), FLEET_RATE ${f.configuredRate}, page size ${f.pageSize}; load average ${f.loadAverage.start.toFixed(2)} → ${f.loadAverage.end.toFixed(2)}`);
  const c = f.counts;
  if (c) lines.push(`  counts: seen ${c.devicesSeen}, selected ${c.selected}, started ${c.started}, already delivered ${c.alreadyDelivered}, already running ${c.alreadyRunning}, skipped ${c.skipped}, failed ${c.failed}${f.outcomes ? `; outcomes ${JSON.stringify(f.outcomes)}` : ''}`);
  lines.push(`  starts: ${f.runsStarted} runs at ${f.startsPerSecond}/s (busiest second ${f.busiestSecond}), all started ${f.startsDoneSeconds} s after the ask; ${f.sweepSeconds !== undefined ? `sweep closed after ${f.sweepSeconds} s` : 'sweep still open when measured'}`);
  if (f.deliveredPerSecond !== undefined) lines.push(`  delivered: ${f.delivered}/${f.runsStarted} (${f.notDelivered} not) in ${f.deliverSeconds} s = ${f.deliveredPerSecond} devices/s`);
  const mem = Object.entries(f.memory).map(([name, r]) => `${name} ${mb(r.peakBytes)} peak / ${mb(r.lastBytes)} at the end`).join(', ');
  lines.push(`  RSS (sampled every second): ${mem}`);
  if (f.workerHeap) lines.push(`  worker heap: ${describeHeap(f.workerHeap)}`);
  lines.push(`  CPU ms per device: ${Object.entries(f.cpuSecondsPerDevice).map(([name, sec]) => `${name} ${round(sec * 1000, 1)}`).join(', ')}`);
  const sh = f.sweepHistory;
  lines.push(`  sweep history: ${sh.runs} run${sh.runs === 1 ? '' : 's'} (continue-as-new ${sh.runs - 1}), ${sh.events} events, ${kib(sh.bytes)} in all; largest run ${sh.maxRunEvents} events, ${kib(sh.maxRunBytes)}`);
  if (f.runHistory) lines.push(`  one ${f.kind === 'renewal' ? 'renewal' : 'provisioning'} run: ${f.runHistory.events} events, ${kib(f.runHistory.bytes)} (activities: ${describeActivities(f.runHistory)}; ${f.runHistory.searchAttributeUpserts} upserts)`);
  return lines;
}

export function describeConfig(b: Pick<BurstResult, 'config'>): string {
  return { rsa: 'RSA-2048, key pool off', 'rsa-warm': 'RSA-2048, warm key pool', ec: 'EC P-256' }[b.config];
}
