/**
 * Renewal as the workflows run it, with real durations on the time-skipping server: a credential
 * delivered with a year's validity is renewed by the reconcile at day 335 (RENEW_BEFORE 30 days),
 * not at day 334; the renewal run re-delivers and then finishes the renewal once; a gateway down
 * for ten days around the renewal date delays it, still well before the old certificate expires.
 *
 * Activities are replaced at the activity boundary by a small "world": what each device holds and
 * until when, by the server's clock. The renewal runs themselves are started the way production
 * starts them (src/temporal/start.ts), through the test server's client.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FleetActivities, RenewPageInput } from '../../src/activities/fleet/contract';
import { retryable } from '../../src/domain/errors';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { defaultPolicy } from '../../src/domain/policy';
import { DAY_MS, HOUR_MS } from '../../src/domain/schedule';
import { startProvisioning } from '../../src/temporal/start';
import type { DeliveryReport, ProvisionInput } from '../../src/workflows/definitions';
import { SWEEP_ID_PREFIX, type SweepProgress } from '../../src/workflows/fleet-definitions';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities, fakeSummary, type FakeActivities } from '../helpers/fake-activities';
import { createTimeSkippingEnv, holdingTime, workflowBundle } from '../helpers/temporal';

const VALIDITY_MS = 365 * DAY_MS;
const RENEW_BEFORE_MS = 30 * DAY_MS;

describe('renewal (time-skipping, real durations, activities faked)', function () {
  this.timeout(240_000);
  let env: TestWorkflowEnvironment;
  const clock = () => env.currentTimeMs();
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => env?.teardown());

  /** What each device holds, until when (server time), and what the renewal runs did. */
  interface World {
    notAfter: Map<string, number>;
    lifecycle: FakeActivities;
    fleet: FleetActivities;
    renewalsStarted: string[];
  }

  function world(taskQueue: string, options: { gatewayDown?: (now: number) => boolean } = {}): World {
    const notAfter = new Map<string, number>();
    const renewalsStarted: string[] = [];
    let issued = 0;
    const lifecycle = fakeActivities(clock, {
      async request(kind) {
        issued += 1;
        return { kind, state: 'issued', certificate: { ...fakeSummary(kind, issued), notAfter: new Date((await clock()) + VALIDITY_MS).toISOString() } };
      },
      async deliver(kind, input) {
        const now = await clock();
        if (options.gatewayDown?.(now)) throw retryable('GatewayUnavailable', 'HTTP 503 from gateway');
        if (kind === 'signing') notAfter.set(input.enrollment.deviceUuid, now + VALIDITY_MS);
        return {};
      },
    });
    const none = { counts: {} };
    const fleet: FleetActivities = {
      fleetSettings: async () => ({ reconcileScope: {}, ratePerSecond: 40, pageSize: 100, renewBeforeMs: RENEW_BEFORE_MS, retireLimitPercent: 25 }),
      enrollDevices: async () => none,
      retireDevices: async () => none,
      countUnseen: async () => ({ holders: notAfter.size, unseen: 0 }),
      async renewDevices(input: RenewPageInput) {
        const before = Date.parse((input.selector as { expiringBefore: string }).expiringBefore);
        let started = 0;
        for (const [deviceUuid, until] of notAfter) {
          if (until >= before) continue;
          const [enrollmentUserUuid] = deviceUuid.split('/');
          const event = enrollmentEvent({ enrollmentUserUuid: enrollmentUserUuid!, deviceUuid: deviceUuid.split('/')[1]!, eventTime: input.asOf });
          await startProvisioning(env.client, { event, policy: defaultPolicy(), taskQueue, sweepId: input.sweepId, renewal: { reason: input.reason, sweepId: input.sweepId } });
          renewalsStarted.push(deviceUuid);
          started += 1;
        }
        return { counts: { devicesSeen: started, selected: started, started } };
      },
      sweepOutcomes: async () => ({ running: 0, completed: 0, failed: 0, cancelled: 0 }),
      notifyReinstalls: async () => ({ devices: 0 }),
      finishSweep: async () => undefined,
    };
    return { notAfter, lifecycle, fleet, renewalsStarted };
  }

  /** Devices are keyed "<user>/<device>" in the world, so a renewal can rebuild its event. */
  function deviceKey(event: { enrollmentUserUuid: string; deviceUuid: string }): string {
    return `${event.enrollmentUserUuid}/${event.deviceUuid}`;
  }

  async function withWorld<T>(options: Parameters<typeof world>[1], body: (w: World, taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `renewal-${randomUUID()}`;
    const w = world(taskQueue, options);
    // The world keys devices by user and device; the fake delivery records by device UUID.
    const deliver = w.lifecycle.deliverCredentials;
    w.lifecycle.deliverCredentials = async (input) => {
      const receipts = await deliver(input);
      const until = w.notAfter.get(input.enrollment.deviceUuid);
      if (until !== undefined) {
        w.notAfter.delete(input.enrollment.deviceUuid);
        w.notAfter.set(deviceKey(input.enrollment), until);
      }
      return receipts;
    };
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, workflowBundle: await workflowBundle(), activities: holdingTime(env, { ...w.lifecycle, ...w.fleet }) });
    return worker.runUntil(body(w, taskQueue));
  }

  /**
   * Runs a reconcile at the instant the clock shows: with the world's activities faked it needs no
   * timer, so it is followed with describe() while the client holds the clock, not through a
   * result (which frees the clock, and the test server may skip days ahead to stale timeouts).
   */
  async function reconcileNow(taskQueue: string): Promise<SweepProgress> {
    const handle = await env.client.workflow.start('reconcileSmime', { taskQueue, workflowId: `${SWEEP_ID_PREFIX.reconcile}${randomUUID()}`, args: [] });
    return (await settledWithClockHeld(handle.workflowId)) as SweepProgress;
  }

  /** The result of a run that needs no timer (nothing fails), reached without freeing the clock. */
  async function settledWithClockHeld(workflowId: string): Promise<unknown> {
    const handle = env.client.workflow.getHandle(workflowId);
    for (const until = Date.now() + 60_000; (await handle.describe()).status.name === 'RUNNING'; ) {
      assert.ok(Date.now() < until, `${workflowId} finished without the clock running`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return handle.result();
  }

  async function deliverFirst(w: World, taskQueue: string): Promise<{ key: string; workflowId: string; runId: string; deliveredAt: number }> {
    const event = enrollmentEvent({ eventTime: new Date(await clock()).toISOString() });
    const { workflowId, runId } = await startProvisioning(env.client, { event, policy: defaultPolicy(), taskQueue });
    await env.client.workflow.getHandle(workflowId, runId).result();
    // Between a result and the client's hold on the clock again, the test server may skip ahead to
    // the timeouts it keeps for finished activities and runs (days, or years). The device's year
    // is therefore counted from the clock as it now stands, and every step after this sleeps a
    // set distance from it with the clock held (a sleep is exact; reconcileNow keeps the hold).
    const deliveredAt = await clock();
    w.notAfter.set(deviceKey(event), deliveredAt + VALIDITY_MS);
    return { key: deviceKey(event), workflowId, runId, deliveredAt };
  }

  it('a year\'s credential is renewed by the reconcile at day 335 (not at day 334): re-delivered, then the renewal finished once', async () => {
    await withWorld({}, async (w, taskQueue) => {
      const first = await deliverFirst(w, taskQueue);
      const oldNotAfter = w.notAfter.get(first.key)!;

      await env.sleep(334 * DAY_MS - HOUR_MS);
      assert.equal((await reconcileNow(taskQueue)).counts.started, 0, 'day 334: 31 days left, nothing to renew');

      await env.sleep(DAY_MS + 2 * HOUR_MS);
      const reconcile = await reconcileNow(taskQueue);
      assert.equal(reconcile.counts.started, 1, 'day 335: within RENEW_BEFORE');
      const latest = await env.client.workflow.getHandle(first.workflowId).describe();
      assert.notEqual(latest.runId, first.runId, 'the renewal is a new run of the device\'s own workflow id');
      const renewal = (await settledWithClockHeld(first.workflowId)) as DeliveryReport;
      assert.equal(renewal.renewal?.sweepId, reconcile.sweepId);
      assert.equal(renewal.renewal?.profile, 'reinstalled');

      const renewedAt = Date.parse(renewal.deliveredAt);
      assert.ok(renewedAt >= first.deliveredAt + 335 * DAY_MS && renewedAt < oldNotAfter, 'renewed at day 335, before the old certificate expires');
      assert.ok(Math.abs(w.notAfter.get(first.key)! - (renewedAt + VALIDITY_MS)) < 60_000, 'the device now holds a year from the renewal');

      assert.equal(w.lifecycle.callsOf('finishRenewal').length, 1, 'the profile re-install and revocation are asked for once');
      const lastDelivery = w.lifecycle.calls.map((c) => c.name).lastIndexOf('deliverCredentials');
      const finish = w.lifecycle.calls.map((c) => c.name).indexOf('finishRenewal');
      assert.ok(finish > lastDelivery, 'finishing the renewal comes after the delivery');
    });
  });

  it('a gateway down for ten days around the renewal date delays the renewal, which still lands 20 days before the old certificate expires', async () => {
    let outage: [number, number] = [0, 0];
    await withWorld({ gatewayDown: (now) => now >= outage[0] && now < outage[1] }, async (w, taskQueue) => {
      const first = await deliverFirst(w, taskQueue);
      const oldNotAfter = w.notAfter.get(first.key)!;
      outage = [first.deliveredAt + 330 * DAY_MS, first.deliveredAt + 340 * DAY_MS];

      await env.sleep(335 * DAY_MS + HOUR_MS);
      const reconcile = await reconcileNow(taskQueue);
      assert.equal(reconcile.counts.started, 1);
      const renewal = (await env.client.workflow.getHandle(first.workflowId).result()) as DeliveryReport;
      const renewedAt = Date.parse(renewal.deliveredAt);
      assert.ok(renewedAt >= outage[1] && renewedAt < outage[1] + 4 * HOUR_MS + 10 * 60_000, `delivered at the first 4-hour slot after the gateway is back (${((renewedAt - first.deliveredAt) / DAY_MS).toFixed(2)} days)`);
      assert.ok(renewal.attempts > 25, `tried every 4 hours meanwhile (${renewal.attempts} attempts)`);
      assert.ok(oldNotAfter - renewedAt > 20 * DAY_MS, 'no gap: the old certificate had 20 days left');
      assert.equal(w.lifecycle.notices.length, 0, 'no failure notice');
    });
  });

  it('a renewal run carries its sweep and reason in its input, and FleetSweep names it', async () => {
    await withWorld({}, async (w, taskQueue) => {
      const first = await deliverFirst(w, taskQueue);
      await env.sleep(340 * DAY_MS);
      const reconcile = await reconcileNow(taskQueue);
      await env.client.workflow.getHandle(first.workflowId).result();
      const history = await env.client.workflow.getHandle(first.workflowId).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const sweep = started?.searchAttributes?.indexedFields?.FleetSweep;
      assert.equal(JSON.parse(Buffer.from(sweep!.data!).toString('utf8')), reconcile.sweepId, 'FleetSweep names the reconcile');
      const input = started?.input?.payloads?.[0];
      const decoded = JSON.parse(Buffer.from(input!.data!).toString('utf8')) as ProvisionInput;
      assert.equal(decoded.renewal?.sweepId, reconcile.sweepId);
      assert.match(decoded.renewal?.reason ?? '', /expires within 30 days/);
      assert.equal(w.renewalsStarted.length, 1);
      assert.equal(provisioningWorkflowId(decoded.event.enrollmentUserUuid, decoded.event.deviceUuid), first.workflowId);
    });
  });
});
