/**
 * Shared pieces of the fault suite (`npm run test:faults`): the size of each test (FAULTS_SCALE),
 * a stack of real processes per test (bench/stack.ts), and the bookkeeping every test reports —
 * load held, faults survived, lost, duplicates — read from the places that would show a problem:
 * Temporal's visibility, the embedded CA's issuance records and the CEG simulator's uploads.
 *
 *   FAULTS_SCALE=full (default)  the sizes issue 6 names (300-enrollment bursts, 5 worker kills);
 *                                the cluster suite (test/cluster) bursts 300 per fault, as issue 14 names
 *   FAULTS_SCALE=ci              smaller bursts for CI; same faults, same assertions
 *   FAULTS_KEY_ALGORITHM=rsa     run the bursts with RSA keys (default ec: the faults do not
 *                                depend on the key type, and EC keeps the suite minutes long)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { IssuedCertificateRecord } from '../../src/activities/ca/embedded-ca';
import { readAllJson } from '../../src/activities/ca/embedded/files';
import type { SimUploadRecord } from '../../src/peers/ceg-sim';
import { WORKFLOW_TYPE } from '../../src/workflows/definitions';
import { closedWorkflows, postEnrollments, sleep, type Sent } from '../../bench/load';
import { BenchStack, type StackOptions } from '../../bench/stack';

export type FaultScale = 'full' | 'ci';

export const SCALE: FaultScale = process.env.FAULTS_SCALE === 'ci' ? 'ci' : 'full';

/** Sizes per scale. */
export const SIZES = {
  full: { burst: 300, workerKills: 5, apiKills: 3, hostileBodies: 1200, schemathesisExamples: 100, gatewayBurst: 150, clusterBurst: 300 },
  ci: { burst: 60, workerKills: 2, apiKills: 2, hostileBodies: 1000, schemathesisExamples: 25, gatewayBurst: 40, clusterBurst: 100 },
}[SCALE];

export const KEY_ALGORITHM = process.env.FAULTS_KEY_ALGORITHM === 'rsa' ? 'rsa' : 'ec';

/** The worker's settings in the fault stacks: no key pool, so every delivery makes its keys. */
export const FAULT_WORKER_ENV = { KEY_ALGORITHM, KEY_POOL_SIZE: '0' };

export async function startFaultStack(label: string, options: Omit<StackOptions, 'label'> = {}): Promise<BenchStack> {
  return BenchStack.start({ label: `faults-${label}`, workerEnv: FAULT_WORKER_ENV, ...options });
}

/** Every test prints one line of figures, so a run's log reads as the evidence. */
export interface FaultFigures {
  test: string;
  /** Enrollments (or requests) the test put through while the faults happened. */
  loadHeld: number;
  /** What was done to the system, e.g. "5 × SIGKILL worker". */
  faultsSurvived: string;
  lost: number;
  duplicates: number;
  [more: string]: string | number;
}

export function report(figures: FaultFigures): void {
  const { test, ...rest } = figures;
  const text = Object.entries(rest)
    .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}: ${value}`)
    .join(', ');
  process.stdout.write(`      [faults:${SCALE}] ${test} — ${text}\n`);
}

/** Workflows of this stack by final state (all provisioning workflows here are the test's). */
export async function outcomeCounts(client: Client): Promise<{ closed: number; delivered: number; running: number }> {
  const base = `WorkflowType = '${WORKFLOW_TYPE}'`;
  const [closed, delivered, running] = await Promise.all([
    client.workflow.count(`${base} AND ExecutionStatus != 'Running'`),
    client.workflow.count(`${base} AND ExecutionStatus = 'Completed' AND Stage = 'Delivered'`),
    client.workflow.count(`${base} AND ExecutionStatus = 'Running'`),
  ]);
  return { closed: closed.count, delivered: delivered.count, running: running.count };
}

/**
 * Wait until every workflow in `workflowIds` has closed (or the time is up), reporting progress.
 * Tolerates a Temporal server that is restarting.
 */
export async function waitUntilClosed(stack: BenchStack, workflowIds: ReadonlySet<string>, timeoutMs: number, label: string): Promise<Map<string, { status: string; stage?: string }>> {
  const deadline = Date.now() + timeoutMs;
  let lastPrint = 0;
  for (;;) {
    let closed = new Map<string, { status: string; stage?: string }>();
    try {
      const client = await stack.client();
      closed = await closedWorkflows(client, `WorkflowType = '${WORKFLOW_TYPE}'`);
    } catch {
      // server restarting: try again
    }
    const done = [...workflowIds].filter((id) => closed.has(id)).length;
    if (done === workflowIds.size || Date.now() > deadline) return closed;
    if (Date.now() - lastPrint > 15_000) {
      process.stdout.write(`      ${label}: ${done}/${workflowIds.size} closed\n`);
      lastPrint = Date.now();
    }
    await sleep(2000);
  }
}

/** The embedded CA's issuance records (one file per certificate it ever signed). */
export function caIssued(stack: BenchStack): IssuedCertificateRecord[] {
  return readAllJson<IssuedCertificateRecord>(join(stack.embeddedCaDir, 'issued'));
}

/** Certificates issued beyond one per (user, kind): each simulated enrollment has its own user. */
export function duplicateIssuance(issued: IssuedCertificateRecord[]): { slots: number; duplicates: number } {
  const perSlot = new Map<string, number>();
  for (const record of issued) {
    const key = `${record.email.toLowerCase()}/${record.kind}`;
    perSlot.set(key, (perSlot.get(key) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const count of perSlot.values()) duplicates += count - 1;
  return { slots: perSlot.size, duplicates };
}

export async function cegUploads(stack: BenchStack): Promise<SimUploadRecord[]> {
  const response = await fetch(`${stack.cegAdminUrl}/sim/uploads`);
  return (await response.json()) as SimUploadRecord[];
}

/**
 * What the CEG simulator answered, from its log: created (first upload to a slot), already-present
 * (the same certificate again — a harmless repeat) and replaced (a different certificate for a slot
 * that had one — a real duplicate).
 */
export function cegOutcomes(stack: BenchStack): { created: number; alreadyPresent: number; replaced: number; faultsInjected: number } {
  let text = '';
  try {
    text = readFileSync(join(stack.dataDir, 'logs', 'ceg-sim.log'), 'utf8');
  } catch {
    // no uploads yet
  }
  const count = (pattern: RegExp) => (text.match(pattern) ?? []).length;
  return {
    created: count(/"outcome":"created"/g),
    alreadyPresent: count(/"outcome":"already-present"/g),
    replaced: count(/"outcome":"replaced"/g),
    faultsInjected: count(/ceg-sim: injecting a fault/g),
  };
}

/**
 * The end-to-end checks every burst test makes: each acknowledged enrollment Delivered, each of its
 * credentials issued exactly once at the CA and held by the gateway once. Returns the figures.
 */
export async function checkDelivered(stack: BenchStack, acknowledged: ReadonlySet<string>, timeoutMs: number, kindsPerEnrollment = 2): Promise<{ delivered: number; lost: number; duplicates: number; harmlessRepeats: number }> {
  const closed = await waitUntilClosed(stack, acknowledged, timeoutMs, 'delivery');
  const delivered = [...acknowledged].filter((id) => {
    const c = closed.get(id);
    return c?.status === 'COMPLETED' && c.stage === 'Delivered';
  }).length;
  const issued = caIssued(stack);
  const { slots, duplicates } = duplicateIssuance(issued);
  const uploads = await cegUploads(stack);
  const outcomes = cegOutcomes(stack);
  const lost = acknowledged.size - delivered;
  assert.equal(lost, 0, `${lost} acknowledged enrollments were not delivered (of ${acknowledged.size})`);
  assert.equal(duplicates, 0, `${duplicates} certificates were issued beyond one per (user, kind)`);
  assert.equal(slots, acknowledged.size * kindsPerEnrollment, 'every credential of every enrollment was issued');
  assert.equal(outcomes.replaced, 0, `the gateway had ${outcomes.replaced} credentials replaced by a different certificate`);
  assert.equal(uploads.length, acknowledged.size * kindsPerEnrollment, 'the gateway holds every credential once');
  const issuedThumbprints = new Set(uploads.map((u) => u.thumbprint));
  assert.equal(issuedThumbprints.size, uploads.length, 'no certificate was uploaded to two slots');
  return { delivered, lost, duplicates: duplicates + outcomes.replaced, harmlessRepeats: outcomes.alreadyPresent };
}

/** Re-send what was not acknowledged, as UEM does, until every event has a 2xx (or attempts run out). */
export async function resendUntilAcknowledged(stack: BenchStack, unacknowledged: Sent[], attempts = 10): Promise<{ resent: number; acknowledged: Sent[] }> {
  const acknowledged: Sent[] = [];
  let pending = unacknowledged;
  let resent = 0;
  for (let attempt = 0; attempt < attempts && pending.length > 0; attempt++) {
    const next: Sent[] = [];
    for (const original of pending) {
      resent += 1;
      const [again] = await postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: 1, concurrency: 1, events: [original.event!] });
      if (again?.workflowId) acknowledged.push(again);
      else next.push(original);
    }
    pending = next;
    if (pending.length > 0) await sleep(1000);
  }
  assert.equal(pending.length, 0, `${pending.length} events were still refused after ${attempts} rounds of re-sending`);
  return { resent, acknowledged };
}
