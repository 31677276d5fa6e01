/**
 * The bench's summary: the JSON written to bench/results/<stamp>.json and the table printed at
 * the end. Ratios follow issue 6: ours ÷ each floor, and ratioToFloor = ours ÷ the lower floor.
 */
import type { CryptoFloorResult } from './crypto-floor';
import type { HistorySize } from './history';
import type { MachineInfo } from './machine';
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
  workerPeakRssBytes?: number;
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
}

export interface Target {
  name: string;
  goal: string;
  value: number;
  met: boolean;
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
  };
  floors: {
    temporal: ThroughputMeasurement & { activitiesPerWorkflow: number };
    temporalWithStageUpserts?: ThroughputMeasurement;
    crypto: Partial<Record<CryptoFloorResult['kind'], CryptoFloorResult>>;
  };
  bursts: BurstResult[];
  /** Acknowledgement latency with the worker stopped: the webhook and Temporal alone. */
  webhookAck?: AckMeasurement;
  /** The same with a worker busy on the same cores (a 2-core box running everything). */
  webhookAckUnderLoad?: AckMeasurement & { workerConfig: BurstConfig };
  history: {
    delivered?: HistorySize;
    failedAfterAllAttempts?: HistorySize;
  };
  memory: { workerPeakRssBytes?: number; apiPeakRssBytes?: number; temporalPeakRssBytes?: number };
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

/** Issue 6's targets, judged on this run's figures. */
export function judgeTargets(summary: Pick<BenchSummary, 'bursts' | 'webhookAck' | 'webhookAckUnderLoad'>): Target[] {
  const targets: Target[] = [];
  const rsa = summary.bursts.find((b) => b.config === 'rsa');
  if (rsa) targets.push({ name: 'rsa-vs-crypto-floor', goal: `RSA keys, no pool: throughput ≥ 0.8 × crypto floor (from CPU cost: ${rsa.cpuRatios.toCryptoFloor})`, value: rsa.ratios.toCryptoFloor, met: rsa.ratios.toCryptoFloor >= 0.8 });
  const fast = summary.bursts.filter((b) => b.config === 'ec' || b.config === 'rsa-warm');
  if (fast.length > 0) {
    const best = Math.max(...fast.map((b) => b.ratios.toTemporalFloor));
    const bestCpu = Math.max(...fast.map((b) => b.cpuRatios.toTemporalFloor));
    targets.push({ name: 'warm-or-ec-vs-temporal-floor', goal: `warm key pool or EC keys: throughput ≥ 0.7 × Temporal floor (from CPU cost: ${bestCpu})`, value: best, met: best >= 0.7 });
  }
  if (summary.webhookAck) {
    const p99 = summary.webhookAck.ackMs.p99;
    targets.push({ name: 'webhook-ack-p99', goal: `webhook ack p99 ≤ 50 ms at ${summary.webhookAck.rate} events/s (webhook and Temporal; worker on other cores)`, value: round(p99, 1), met: p99 <= 50 && summary.webhookAck.acknowledged === summary.webhookAck.sent });
  }
  if (summary.webhookAckUnderLoad) {
    const a = summary.webhookAckUnderLoad;
    targets.push({ name: 'webhook-ack-p99-worker-busy', goal: `webhook ack p99 ≤ 50 ms at ${a.rate} events/s with the ${a.workerConfig} worker busy on the same cores`, value: round(a.ackMs.p99, 1), met: a.ackMs.p99 <= 50 && a.acknowledged === a.sent });
  }
  return targets;
}

const mb = (bytes?: number) => (bytes === undefined ? '-' : `${Math.round(bytes / 1_048_576)} MiB`);
const ms = (value: number) => `${value >= 100 ? Math.round(value) : value.toFixed(1)}`;

/** The human table printed at the end of a run. */
export function formatTable(s: BenchSummary): string {
  const lines: string[] = [];
  const m = s.machine;
  lines.push(`smime-escrow-provider bench — ${s.startedAt} (${Math.round(s.durationSeconds)} s)`);
  lines.push(`machine: ${m.cores} cores ${m.cpuModel}, ${mb(m.memoryBytes)}, ${m.os}, node ${m.node}; load average ${m.loadAverage.start.toFixed(2)} → ${m.loadAverage.end?.toFixed(2) ?? '?'}; commit ${m.gitCommit ?? '?'}${m.gitDirty ? ' (dirty)' : ''}`);
  lines.push('');
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  lines.push(row(['run', 'events', 'delivered', 'seconds', 'enrollments/s', 'p50 ms', 'p95 ms', 'p99 ms', 'ack p99 ms', '÷ Temporal floor', '÷ crypto floor', 'ratioToFloor']));
  lines.push(row(Array(12).fill('---')));
  const t = s.floors.temporal;
  lines.push(row(['Temporal floor (no-op, same shape)', `${t.events}`, `${t.delivered}`, `${t.seconds}`, `${t.enrollmentsPerSecond}`, ms(t.latencyMs.p50), ms(t.latencyMs.p95), ms(t.latencyMs.p99), ms(t.ackMs.p99), '1', '', '']));
  const tu = s.floors.temporalWithStageUpserts;
  if (tu) lines.push(row(['Temporal floor + stage upserts', `${tu.events}`, `${tu.delivered}`, `${tu.seconds}`, `${tu.enrollmentsPerSecond}`, ms(tu.latencyMs.p50), ms(tu.latencyMs.p95), ms(tu.latencyMs.p99), ms(tu.ackMs.p99), `${round(tu.enrollmentsPerSecond / t.enrollmentsPerSecond, 3)}`, '', '']));
  for (const c of Object.values(s.floors.crypto)) {
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
  for (const [label, a] of [
    ['worker stopped', s.webhookAck],
    [`${s.webhookAckUnderLoad?.workerConfig ?? ''} worker busy`, s.webhookAckUnderLoad],
  ] as const) {
    if (!a) continue;
    const cpu = Object.entries(a.cpuMsPerEvent ?? {}).map(([name, value]) => `${name} ${value}`).join(', ');
    lines.push(`webhook ack at ${a.rate} events/s for ${a.seconds} s, ${label}: ${a.acknowledged}/${a.sent} acknowledged, p50 ${ms(a.ackMs.p50)} ms, p95 ${ms(a.ackMs.p95)} ms, p99 ${ms(a.ackMs.p99)} ms, max ${ms(a.ackMs.max)} ms; CPU ms per event: ${cpu}`);
  }
  const h = s.history;
  if (h.delivered) lines.push(`history, delivered: ${h.delivered.events} events, ${h.delivered.bytes} bytes (${h.delivered.activitiesScheduled} activities, ${h.delivered.searchAttributeUpserts} search-attribute upserts)`);
  if (h.failedAfterAllAttempts) {
    const f = h.failedAfterAllAttempts;
    lines.push(`history, failed after ${f.attempts ?? '?'} attempts: ${f.events} events, ${f.bytes} bytes (${f.activitiesScheduled} activities, ${f.timersStarted} timers, ${f.searchAttributeUpserts} upserts)`);
  }
  lines.push(`peak memory (VmHWM): worker ${mb(s.memory.workerPeakRssBytes)}, API ${mb(s.memory.apiPeakRssBytes)}, Temporal dev server ${mb(s.memory.temporalPeakRssBytes)}`);
  for (const b of s.bursts) {
    const cpu = Object.entries(b.cpuSecondsPerEnrollment).map(([name, sec]) => `${name} ${Math.round(sec * 1000)}`).join(', ');
    lines.push(`CPU ms per enrollment, ${describeConfig(b)}: ${cpu}; ${b.coresBusy} cores busy`);
  }
  lines.push(`CPU ms per workflow, Temporal floor: ${Object.entries(t.cpuSecondsPerEnrollment).map(([name, sec]) => `${name} ${Math.round(sec * 1000)}`).join(', ')}; ${t.coresBusy} cores busy`);
  lines.push('');
  for (const target of s.targets) lines.push(`${target.met ? 'MET    ' : 'NOT MET'}  ${target.goal}: ${target.value}`);
  for (const warning of s.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

export function describeConfig(b: Pick<BurstResult, 'config'>): string {
  return { rsa: 'RSA-2048, key pool off', 'rsa-warm': 'RSA-2048, warm key pool', ec: 'EC P-256' }[b.config];
}
