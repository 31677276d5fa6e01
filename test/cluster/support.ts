/**
 * The cluster suite's shared pieces (`npm run test:cluster`): one production-topology cluster for
 * the whole run (src/tools/cluster/stack.ts, on free ports in a temporary folder, stopped by the
 * root hook in hooks.ts), bursts through its TLS proxy, and the bookkeeping each fault test
 * reports — read where a problem would show:
 *
 *   delivered   Temporal's visibility (Completed, Stage = Delivered)
 *   issued      step-ca's own log: every certificate it signed (with the certificate itself), and
 *               every revocation. step-ca cannot be asked "did you already sign this?", so the
 *               provider's step-ca adapter revokes a certificate whose answer was lost before it
 *               asks again (src/activities/ca/step-ca.ts): "issued once" is counted on certificates
 *               that are still valid, and the revoked ones are reported as superseded.
 *   held        the CEG simulator's store: one credential per (user, device, kind), the very
 *               certificate step-ca signed, never replaced by another.
 *
 * Scale: FAULTS_SCALE (test/faults/support.ts): 300 enrollments per burst, 100 with FAULTS_SCALE=ci.
 * CLUSTER_KEEP=1 keeps the cluster's folder for a post-mortem.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { simulatedEnrollment } from '../../src/cli/simulate';
import { provisioningWorkflowId, type EnrollmentEvent } from '../../src/domain/enrollment';
import type { SimUploadRecord } from '../../src/peers/ceg-sim';
import { freePorts } from '../../src/tools/cluster/layout';
import { Cluster } from '../../src/tools/cluster/stack';
import { WORKFLOW_TYPE } from '../../src/workflows/definitions';
import { closedWorkflows, postEnrollments, sleep, type Sent } from '../../bench/load';
import { FAULT_WORKER_ENV, KEY_ALGORITHM, SCALE, SIZES } from '../faults/support';

export { KEY_ALGORITHM, SCALE };
export const BURST = SIZES.clusterBurst;
export const KINDS_PER_ENROLLMENT = 2;

let shared: Promise<Cluster> | undefined;
let sharedDir: string | undefined;

/** The run's cluster: started on first use (the tools build on the very first run, with progress). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= (async () => {
    sharedDir = mkdtempSync(join(tmpdir(), 'cluster-suite-'));
    chmodSync(sharedDir, 0o755); // PostgreSQL runs as its own account (when we are root) and must get in
    const started = Date.now();
    const cluster = await Cluster.start({
      dataDir: sharedDir,
      ports: await freePorts(),
      workerEnv: FAULT_WORKER_ENV,
      ui: false, // not exercised here; one process less on two cores
      say: (line) => process.stdout.write(`      [cluster] ${line}\n`),
    });
    process.stdout.write(`      [cluster] up in ${((Date.now() - started) / 1000).toFixed(1)} s (${sharedDir})\n`);
    return cluster;
  })();
  return shared;
}

export async function stopSharedCluster(): Promise<void> {
  if (!shared) return;
  const cluster = await shared.catch(() => undefined);
  shared = undefined;
  await cluster?.stop();
  if (sharedDir && process.env.CLUSTER_KEEP !== '1') rmSync(sharedDir, { recursive: true, force: true });
}

/** Everything a fault test sends and counts, from one marker (log offsets taken when it begins). */
export class Burst {
  readonly events: EnrollmentEvent[];
  readonly workflowIds: Set<string>;
  readonly started = Date.now();
  private readonly stepCaOffset: number;
  private readonly cegOffset: number;
  sent: Sent[] = [];
  readonly resent: Sent[] = [];
  /** Requests answered so far by the running send(). */
  answered = 0;

  constructor(
    readonly cluster: Cluster,
    count: number,
  ) {
    this.events = Array.from({ length: count }, (_, i) => simulatedEnrollment(i));
    this.workflowIds = new Set(this.events.map((e) => provisioningWorkflowId(e.enrollmentUserUuid, e.deviceUuid)));
    this.stepCaOffset = fileLength(cluster.logFile('step-ca'));
    this.cegOffset = fileLength(cluster.logFile('ceg-sim'));
  }

  /** Send every event through the proxy, `concurrency` at a time (or at `rate` per second). */
  async send(options: { concurrency?: number; rate?: number } = {}): Promise<Sent[]> {
    this.sent = await postEnrollments({
      url: this.cluster.webhookUrl,
      authorization: this.cluster.webhookAuthorization,
      count: this.events.length,
      concurrency: options.concurrency ?? 16,
      rate: options.rate,
      events: this.events,
      fetch: this.cluster.fetch,
      requestTimeoutMs: 30_000,
    }, { update: () => (this.answered += 1), done: () => undefined });
    return this.sent;
  }

  /** Wait until the running send() has had `n` answers. */
  async untilAnswered(n: number): Promise<void> {
    while (this.answered < n) await sleep(50);
  }

  /** Re-send what was not acknowledged, as UEM does, until every event has a 2xx. */
  async resendRefused(rounds = 30): Promise<{ refused: number; resent: number; statuses: Record<string, number> }> {
    const statuses: Record<string, number> = {};
    let pending = this.sent.filter((s) => !s.workflowId);
    for (const s of pending) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
    const refused = pending.length;
    let resent = 0;
    for (let round = 0; round < rounds && pending.length > 0; round++) {
      const again = await postEnrollments({ url: this.cluster.webhookUrl, authorization: this.cluster.webhookAuthorization, count: pending.length, concurrency: 4, events: pending.map((p) => p.event!), fetch: this.cluster.fetch, requestTimeoutMs: 30_000 });
      resent += again.length;
      this.resent.push(...again);
      pending = again.filter((s) => !s.workflowId);
      if (pending.length > 0) await sleep(2000);
    }
    assert.equal(pending.length, 0, `${pending.length} events were still refused after ${rounds} rounds of re-sending`);
    return { refused, resent, statuses };
  }

  /** Workflows of this burst still running now (visibility; undefined while Temporal does not answer). */
  async running(): Promise<number | undefined> {
    try {
      const client = await this.cluster.client();
      return (await client.workflow.count(`WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`)).count;
    } catch {
      return undefined;
    }
  }

  /** How many of this burst's workflows have closed (undefined while Temporal does not answer). */
  async closedCount(): Promise<number | undefined> {
    try {
      const client = await this.cluster.client();
      return (await client.workflow.count(`WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus != 'Running' AND StartTime >= '${new Date(this.started - 1000).toISOString()}'`)).count;
    } catch {
      return undefined;
    }
  }

  /** Wait until `n` of this burst's workflows have closed. */
  async untilClosed(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (((await this.closedCount()) ?? 0) >= n) return;
      await sleep(500);
    }
    throw new Error(`fewer than ${n} workflows closed within ${timeoutMs / 1000} s`);
  }

  /**
   * The end-to-end checks: every event of the burst Delivered; every credential signed by step-ca,
   * uploaded once, and the only valid certificate for its slot. Returns the figures.
   */
  async check(timeoutMs: number): Promise<BurstFigures> {
    const client = await this.cluster.client();
    const deadline = Date.now() + timeoutMs;
    let closed = new Map<string, { status: string; stage?: string; closeTime: number }>();
    let lastPrint = 0;
    for (;;) {
      try {
        closed = await closedWorkflows(client, `WorkflowType = '${WORKFLOW_TYPE}' AND StartTime >= '${new Date(this.started - 1000).toISOString()}'`);
      } catch {
        // Temporal restarting: try again
      }
      const done = [...this.workflowIds].filter((id) => closed.has(id)).length;
      if (done === this.workflowIds.size || Date.now() > deadline) break;
      if (Date.now() - lastPrint > 15_000) {
        process.stdout.write(`      delivery: ${done}/${this.workflowIds.size} closed\n`);
        lastPrint = Date.now();
      }
      await sleep(2000);
    }
    const delivered = [...this.workflowIds].filter((id) => closed.get(id)?.status === 'COMPLETED' && closed.get(id)?.stage === 'Delivered').length;
    const lastClose = Math.max(...[...this.workflowIds].map((id) => closed.get(id)?.closeTime ?? 0));

    const users = new Set(this.events.map((e) => e.enrollmentUserUuid));
    const uploads = (await cegUploads(this.cluster)).filter((u) => users.has(u.enrollmentUserUuid));
    const ca = stepCaActivity(this.cluster, this.stepCaOffset);
    const ceg = cegOutcomes(this.cluster, this.cegOffset);
    const revoked = new Set(ca.revokedSerials);
    const valid = ca.signed.filter((s) => !revoked.has(s.serial));
    const validThumbprints = new Set(valid.map((s) => s.thumbprint));
    const uploadedThumbprints = new Set(uploads.map((u) => u.thumbprint));
    const expected = this.workflowIds.size * KINDS_PER_ENROLLMENT;

    const lost = this.workflowIds.size - delivered;
    assert.equal(lost, 0, `${lost} enrollments were not delivered (of ${this.workflowIds.size})`);
    assert.equal(uploads.length, expected, 'the gateway holds every credential of every enrollment once');
    assert.equal(uploadedThumbprints.size, uploads.length, 'no certificate was uploaded to two slots');
    for (const u of uploads) assert.ok(validThumbprints.has(u.thumbprint), `the certificate uploaded for ${u.email}/${u.kind} was signed by step-ca and is not revoked`);
    assert.equal(valid.length, expected, `step-ca holds ${valid.length} valid certificates for ${expected} credentials: ${valid.length - expected} issued twice`);
    assert.equal(ceg.replaced, 0, `the gateway had ${ceg.replaced} credentials replaced by a different certificate`);
    return {
      delivered,
      lost,
      duplicates: valid.length - expected + ceg.replaced,
      signed: ca.signed.length,
      supersededRevoked: ca.signed.length - valid.length,
      harmlessRepeats: ceg.alreadyPresent,
      seconds: Math.round((lastClose - this.started) / 100) / 10,
    };
  }

  /** Histories of this burst's workflows (fetched `concurrency` at a time). */
  async histories(concurrency = 8): Promise<Map<string, temporal.api.history.v1.IHistory>> {
    const client = await this.cluster.client();
    const ids = [...this.workflowIds];
    const out = new Map<string, temporal.api.history.v1.IHistory>();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          out.set(id, await client.workflow.getHandle(id).fetchHistory());
        }
      }),
    );
    return out;
  }
}

export interface BurstFigures {
  delivered: number;
  lost: number;
  duplicates: number;
  /** Certificates step-ca signed for this burst (valid + revoked). */
  signed: number;
  /** Signed, answer lost, revoked by the adapter before it asked again; never delivered. */
  supersededRevoked: number;
  /** CEG answered already-present: the same certificate again (an upload whose answer was lost). */
  harmlessRepeats: number;
  /** From the first event to the last workflow closed. */
  seconds: number;
}

/** Activity attempts, from histories: who ran them, which attempt, when it started. */
export interface ActivityAttempt {
  workflowId: string;
  activityType: string;
  attempt: number;
  identity: string;
  startedAt: number;
  scheduledAt: number;
  /** Why the previous attempt failed (for attempt > 1), e.g. "activity StartToClose timeout". */
  lastFailure?: string;
}

export function activityAttempts(histories: Map<string, temporal.api.history.v1.IHistory>): ActivityAttempt[] {
  const out: ActivityAttempt[] = [];
  for (const [workflowId, history] of histories) {
    const scheduled = new Map<string, { type: string; at: number }>();
    for (const event of history.events ?? []) {
      const at = timestampMs(event.eventTime);
      if (event.activityTaskScheduledEventAttributes) {
        scheduled.set(String(event.eventId), { type: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
      }
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const s = scheduled.get(String(started.scheduledEventId));
        out.push({ workflowId, activityType: s?.type ?? '?', attempt: started.attempt ?? 1, identity: started.identity ?? '', startedAt: at, scheduledAt: s?.at ?? at, lastFailure: started.lastFailure?.message ?? undefined });
      }
    }
  }
  return out;
}

/** Retried activity attempts by the previous attempt's failure, e.g. {"activity StartToClose timeout": 3}. */
export function retriesByCause(attempts: ActivityAttempt[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of attempts) if (a.attempt > 1) out[a.lastFailure ?? 'unknown'] = (out[a.lastFailure ?? 'unknown'] ?? 0) + 1;
  return out;
}

/** Workflow tasks that timed out (a worker died holding them, or its sticky queue went unanswered). */
export function workflowTaskTimeouts(histories: Map<string, temporal.api.history.v1.IHistory>): number {
  let n = 0;
  for (const history of histories.values()) for (const e of history.events ?? []) if (e.workflowTaskTimedOutEventAttributes) n += 1;
  return n;
}

export function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** The SDK's default worker identity: `<pid>@<hostname>`. */
export function identityOf(pid: number): RegExp {
  return new RegExp(`^${pid}@`);
}

export async function cegUploads(cluster: Cluster): Promise<SimUploadRecord[]> {
  const response = await fetch(`${cluster.cegAdminUrl}/sim/uploads`);
  return (await response.json()) as SimUploadRecord[];
}

/** What step-ca signed and revoked since `offset` of its log, from its own JSON log lines. */
export function stepCaActivity(cluster: Cluster, offset = 0): { signed: { serial: string; thumbprint: string }[]; revokedSerials: string[]; signRequests: number } {
  const text = readFrom(cluster.logFile('step-ca'), offset);
  const signed: { serial: string; thumbprint: string }[] = [];
  const revokedSerials: string[] = [];
  let signRequests = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (entry.path === '/1.0/sign') {
      signRequests += 1;
      if (entry.status === 201 && typeof entry.certificate === 'string') {
        const der = Buffer.from(entry.certificate, 'base64');
        signed.push({ serial: BigInt(String(entry.serial)).toString(16), thumbprint: createHash('sha256').update(der).digest('hex') });
      }
    }
    if (entry.path === '/1.0/revoke' && entry.status === 200 && entry.serial !== undefined) revokedSerials.push(BigInt(String(entry.serial)).toString(16));
  }
  return { signed, revokedSerials, signRequests };
}

export function cegOutcomes(cluster: Cluster, offset = 0): { created: number; alreadyPresent: number; replaced: number } {
  const text = readFrom(cluster.logFile('ceg-sim'), offset);
  const count = (pattern: RegExp) => (text.match(pattern) ?? []).length;
  return { created: count(/"outcome":"created"/g), alreadyPresent: count(/"outcome":"already-present"/g), replaced: count(/"outcome":"replaced"/g) };
}

export function report(figures: { test: string; loadHeld: number; faultsSurvived: string; lost: number; duplicates: number; [more: string]: string | number }): void {
  const { test, ...rest } = figures;
  const text = Object.entries(rest)
    .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}: ${value}`)
    .join(', ');
  process.stdout.write(`      [cluster:${SCALE}] ${test} — ${text}\n`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function clientOf(cluster: Cluster): Promise<Client> {
  return cluster.client();
}

function fileLength(path: string): number {
  try {
    return readFileSync(path).length;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
