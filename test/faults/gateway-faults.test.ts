/**
 * Fault: the gateway misbehaves during a burst — bursts of 503, 500 and 429 (with Retry-After),
 * dropped connections, and latency spikes longer than the provider's gateway timeout (the
 * simulator then still stores the upload the provider gave up on, so the retry finds it there).
 * The CEG simulator's fault injection (`POST /sim/faults`) switches between these every couple of
 * seconds while the burst runs.
 *
 * Every enrollment must be delivered with no duplicate upload beyond harmless repeats: the
 * simulator answers a second upload of the same certificate `already-present`; a different
 * certificate for a slot that had one (`replaced`) would be a real duplicate.
 *
 * Enrollments use the event-driven schedule (UEM 2010+), so one that used up its quick retries
 * inside an attempt is tried again a minute later instead of four hours later.
 */
import assert from 'node:assert/strict';
import { postEnrollments, sleep } from '../../bench/load';
import type { BenchStack } from '../../bench/stack';
import { FAULT_WORKER_ENV, checkDelivered, cegOutcomes, KEY_ALGORITHM, outcomeCounts, report, SIZES, startFaultStack } from './support';

const GATEWAY_TIMEOUT_MS = 3000;

const PLANS = [
  { count: 25, status: 503 },
  { count: 10, delayMs: GATEWAY_TIMEOUT_MS + 1500 }, // longer than the provider waits: it gives up, the simulator stores anyway
  { count: 15, status: 500 },
  { count: 10, status: 429, retryAfterSeconds: 1 },
  { count: 8, dropConnection: true },
  { count: 10, delayMs: 800 }, // a spike the provider waits out
  { count: 20, status: 502 },
] as const;

describe('fault: gateway 5xx bursts and latency spikes', function () {
  let stack: BenchStack;

  before(async () => {
    stack = await startFaultStack('gateway', {
      workerEnv: { ...FAULT_WORKER_ENV, GATEWAY_TIMEOUT: `${GATEWAY_TIMEOUT_MS / 1000}s` },
      apiEnv: { PROVISION_SCHEDULE: 'event-driven' },
    });
  });

  after(async () => {
    await stack?.stop();
  });

  it(`delivers ${SIZES.gatewayBurst} enrollments with no duplicate upload beyond harmless repeats`, async () => {
    const client = await stack.client();
    const sending = postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: SIZES.gatewayBurst, concurrency: 16 });
    let plansSet = 0;
    // Keep faults coming while uploads are happening: a new plan every 2 s for as long as work is open.
    const chaos = (async () => {
      for (let round = 0; round < 60; round++) {
        const plan = PLANS[round % PLANS.length]!;
        const response = await fetch(`${stack.cegAdminUrl}/sim/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(plan) });
        assert.equal(response.status, 201, 'the simulator took the fault plan');
        plansSet += 1;
        await sleep(2000);
        if (round >= PLANS.length && (await outcomeCounts(client)).running === 0) break;
        if (round >= 2 * PLANS.length) break; // two full cycles of every fault
      }
      await fetch(`${stack.cegAdminUrl}/sim/faults`, { method: 'DELETE' });
    })();
    const sent = await sending;
    await chaos;
    const acknowledged = new Set(sent.filter((s) => s.workflowId).map((s) => s.workflowId!));
    assert.equal(acknowledged.size, SIZES.gatewayBurst, 'the webhook acknowledged every event');

    const result = await checkDelivered(stack, acknowledged, 15 * 60_000);
    const outcomes = cegOutcomes(stack);
    report({
      test: 'gateway faults',
      loadHeld: acknowledged.size,
      faultsSurvived: `${outcomes.faultsInjected} uploads faulted (${plansSet} plans: 5xx, 429, drops, spikes beyond the ${GATEWAY_TIMEOUT_MS / 1000} s timeout)`,
      lost: result.lost,
      duplicates: result.duplicates,
      harmlessRepeats: outcomes.alreadyPresent,
      created: outcomes.created,
      delivered: result.delivered,
      keys: KEY_ALGORITHM,
    });
    const uploads = 2 * SIZES.gatewayBurst;
    assert.ok(outcomes.faultsInjected >= Math.ceil(uploads / 4), `faults hit at least a quarter of the ${uploads} first uploads (${outcomes.faultsInjected})`);
  });
});
