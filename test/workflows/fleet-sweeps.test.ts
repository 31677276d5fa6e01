/**
 * The fleet sweeps as workflows (time-skipping server, fleet activities replaced at the activity
 * boundary): continue-as-new at scale with nothing lost or repeated, the rate's hand-over between
 * pages, the reconcile's phases and its retirement safety limit, the renewal's wait for the runs it
 * started, and cancellation.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { EnrollPageInput, FleetActivities, FleetSettings, PageResult, RenewPageInput, RetirePageInput, RunOutcomes } from '../../src/activities/fleet/contract';
import { DAY_MS, HOUR_MS } from '../../src/domain/schedule';
import { SWEEP_ID_PREFIX, type SweepProgress } from '../../src/workflows/fleet-definitions';
import { createTimeSkippingEnv, workflowBundle } from '../helpers/temporal';

interface FleetCall {
  name: keyof FleetActivities;
  at: number;
  input: unknown;
}

const SETTINGS: FleetSettings = { reconcileScope: {}, ratePerSecond: 40, pageSize: 100, renewBeforeMs: 30 * DAY_MS, retireLimitPercent: 25 };

describe('fleet sweeps (time-skipping, fleet activities faked)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  const clock = () => env.currentTimeMs();
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => env?.teardown());

  /** Fleet activities recording every call; each page behaves as `pages` says. */
  function fakeFleet(options: {
    settings?: Partial<FleetSettings>;
    enroll?: (input: EnrollPageInput) => PageResult | Promise<PageResult>;
    retire?: (input: RetirePageInput) => PageResult | Promise<PageResult>;
    renew?: (input: RenewPageInput) => PageResult | Promise<PageResult>;
    unseen?: { holders: number; unseen: number };
    outcomes?: () => RunOutcomes | Promise<RunOutcomes>;
  }): FleetActivities & { calls: FleetCall[]; callsOf(name: keyof FleetActivities): FleetCall[] } {
    const calls: FleetCall[] = [];
    const record = async (name: keyof FleetActivities, input: unknown) => void calls.push({ name, at: await clock(), input });
    const done: PageResult = { counts: {} };
    const activities: FleetActivities = {
      fleetSettings: async () => ({ ...SETTINGS, ...options.settings }),
      enrollDevices: async (input) => (await record('enrollDevices', input), options.enroll ? options.enroll(input) : done),
      retireDevices: async (input) => (await record('retireDevices', input), options.retire ? options.retire(input) : done),
      renewDevices: async (input) => (await record('renewDevices', input), options.renew ? options.renew(input) : done),
      countUnseen: async (input) => (await record('countUnseen', input), options.unseen ?? { holders: 0, unseen: 0 }),
      sweepOutcomes: async (input) => (await record('sweepOutcomes', input), options.outcomes ? options.outcomes() : { running: 0, completed: 0, failed: 0, cancelled: 0 }),
      notifyReinstalls: async (input) => (await record('notifyReinstalls', input), { devices: 0 }),
      finishSweep: async (input) => void (await record('finishSweep', input)),
    };
    return Object.assign(activities, { calls, callsOf: (name: keyof FleetActivities) => calls.filter((c) => c.name === name) });
  }

  async function withSweep<T>(activities: FleetActivities, type: string, kind: keyof typeof SWEEP_ID_PREFIX, args: unknown[], body: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    const taskQueue = `fleet-${randomUUID()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, workflowBundle: await workflowBundle(), activities });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start(type, { taskQueue, workflowId: `${SWEEP_ID_PREFIX[kind]}${randomUUID()}`, args });
      try {
        return await body(handle);
      } finally {
        await handle.terminate('test finished').catch(() => undefined);
      }
    });
  }

  it('a backfill of 450 pages continues as new, visits every page once in order, and adds up every count', async () => {
    const PAGES = 450;
    const fleet = fakeFleet({
      enroll: (input) => {
        const page = input.cursor === undefined ? 1 : Number(input.cursor);
        return { counts: { devicesSeen: 100, started: 97, alreadyDelivered: 2, failed: 1 }, nextCursor: page < PAGES ? String(page + 1) : undefined, nextStartAtMs: 1_000 * page };
      },
    });
    const result = await withSweep(fleet, 'backfillSmime', 'backfill', [{ scope: { smartGroupId: 42 } }], async (handle) => {
      const progress = (await handle.result()) as SweepProgress;
      const { historyLength } = await handle.describe();
      assert.ok(historyLength < 4096, `the last run's history stays small (${historyLength} events)`);
      return progress;
    });
    const pages = fleet.callsOf('enrollDevices').map((c) => c.input as EnrollPageInput);
    assert.deepEqual(pages.map((p) => p.cursor ?? '1'), Array.from({ length: PAGES }, (_, i) => String(i + 1)), 'each page once, in order, across runs');
    assert.ok(pages.every((p) => p.scope.smartGroupId === 42 && p.startRuns && !p.recordSeen));
    assert.ok(pages.slice(1).every((p, i) => p.notBeforeMs === 1_000 * (i + 1)), 'each page starts no sooner than the previous one allows (the rate across pages)');
    assert.ok(result.runs >= 2, `continued as new (${result.runs} runs)`);
    assert.deepEqual(
      { devicesSeen: result.counts.devicesSeen, started: result.counts.started, alreadyDelivered: result.counts.alreadyDelivered, failed: result.counts.failed },
      { devicesSeen: 45_000, started: 43_650, alreadyDelivered: 900, failed: 450 },
    );
    assert.equal(fleet.callsOf('finishSweep').length, 1);
  });

  it('a backfill never goes faster than the configured rate, whatever it is asked for', async () => {
    const fleet = fakeFleet({});
    await withSweep(fleet, 'backfillSmime', 'backfill', [{ scope: {}, ratePerSecond: 500 }], (handle) => handle.result());
    assert.equal((fleet.callsOf('enrollDevices')[0]!.input as EnrollPageInput).ratePerSecond, 40);
    const slower = fakeFleet({});
    await withSweep(slower, 'backfillSmime', 'backfill', [{ scope: {}, ratePerSecond: 5 }], (handle) => handle.result());
    assert.equal((slower.callsOf('enrollDevices')[0]!.input as EnrollPageInput).ratePerSecond, 5);
  });

  it('a reconcile of one smart group lists the group, scans all of UEM, retires, then renews what expires within RENEW_BEFORE', async () => {
    const startedAt = await clock();
    const fleet = fakeFleet({ settings: { reconcileScope: { smartGroupId: 9 } }, unseen: { holders: 1000, unseen: 12 }, retire: () => ({ counts: { retired: 12 } }) });
    const result = await withSweep(fleet, 'reconcileSmime', 'reconcile', [], (handle) => handle.result() as Promise<SweepProgress>);
    assert.deepEqual(
      fleet.calls.map((c) => c.name).filter((n) => n !== 'countUnseen' && n !== 'fleetSettings'),
      ['enrollDevices', 'enrollDevices', 'retireDevices', 'renewDevices', 'finishSweep', 'notifyReinstalls'],
    );
    const [group, scan] = fleet.callsOf('enrollDevices').map((c) => c.input as EnrollPageInput);
    assert.deepEqual([group!.scope, group!.startRuns, group!.recordSeen], [{ smartGroupId: 9 }, true, true]);
    assert.deepEqual([scan!.scope, scan!.startRuns, scan!.recordSeen], [{}, false, true], 'a device outside the group has not left UEM');
    const renew = fleet.callsOf('renewDevices')[0]!.input as RenewPageInput;
    assert.ok('expiringBefore' in renew.selector);
    const expiringBefore = Date.parse((renew.selector as { expiringBefore: string }).expiringBefore);
    assert.ok(Math.abs(expiringBefore - (startedAt + 30 * DAY_MS)) < HOUR_MS, 'expiring within 30 days of the workflow\'s time');
    assert.equal(renew.deliveredBefore, result.startedAt, 'what the sweep renews itself is never picked again');
    assert.equal(result.counts.retired, 12);
  });

  it('a reconcile retires nothing when more than RECONCILE_RETIRE_LIMIT of the holders are missing from UEM, and says so', async () => {
    const fleet = fakeFleet({ unseen: { holders: 1000, unseen: 260 } });
    const result = await withSweep(fleet, 'reconcileSmime', 'reconcile', [], (handle) => handle.result() as Promise<SweepProgress>);
    assert.equal(fleet.callsOf('retireDevices').length, 0);
    assert.equal(fleet.callsOf('renewDevices').length, 1, 'renewal still runs');
    assert.match(result.notes?.[0] ?? '', /retired nothing: 260 of 1000 devices/);
  });

  it('a reconcile with RENEW_BEFORE off renews nothing and sends no re-install notice', async () => {
    const fleet = fakeFleet({ settings: { renewBeforeMs: 0 } });
    await withSweep(fleet, 'reconcileSmime', 'reconcile', [], (handle) => handle.result());
    assert.equal(fleet.callsOf('renewDevices').length, 0);
    assert.equal(fleet.callsOf('notifyReinstalls').length, 0);
  });

  it('a renewal on demand waits for the runs it started — looking less often as time goes on — then sends one re-install notice', async () => {
    const startedAt = await clock();
    const fleet = fakeFleet({
      renew: () => ({ counts: { devicesSeen: 3, selected: 3, started: 3 } }),
      outcomes: async () => {
        const hours = ((await clock()) - startedAt) / HOUR_MS;
        return hours < 5 ? { running: 3, completed: 0, failed: 0, cancelled: 0 } : hours < 30 ? { running: 1, completed: 2, failed: 0, cancelled: 0 } : { running: 0, completed: 2, failed: 1, cancelled: 0 };
      },
    });
    const result = await withSweep(fleet, 'renewSmime', 'renewal', [{ selector: { userUuid: randomUUID() }, reason: 'profile change' }], (handle) => handle.result() as Promise<SweepProgress>);
    assert.deepEqual(result.outcomes, { running: 0, completed: 2, failed: 1, cancelled: 0 });
    const looks = fleet.callsOf('sweepOutcomes');
    assert.ok(looks.length < 45, `looked ${looks.length} times in 30 hours (5 s doubling to hourly)`);
    const notices = fleet.callsOf('notifyReinstalls');
    assert.equal(notices.length, 1);
    assert.ok(notices[0]!.at >= looks[looks.length - 1]!.at, 'the notice comes once the runs have ended');
    const renew = fleet.callsOf('renewDevices')[0]!.input as RenewPageInput;
    assert.equal(renew.reissueSharedIssuedBefore, result.startedAt, 'a whole user: the shared encryption credential is issued anew too');
  });

  it('a renewal of one device keeps the user\'s shared credential unless it expires', async () => {
    const fleet = fakeFleet({});
    await withSweep(fleet, 'renewSmime', 'renewal', [{ selector: { deviceUuid: randomUUID() }, reason: 'lost phone' }], (handle) => handle.result());
    assert.equal((fleet.callsOf('renewDevices')[0]!.input as RenewPageInput).reissueSharedIssuedBefore, undefined);
  });

  it('a cancelled backfill stops after its page, ends Cancelled, and forgets what it kept', async () => {
    let pagesDone = 0;
    // Pages that take a moment, as real ones do (a cancel is for the running page, not a continue-as-new in between).
    const fleet = fakeFleet({ enroll: async () => (await new Promise((resolve) => setTimeout(resolve, 100)), { counts: { started: 1 }, nextCursor: String(++pagesDone) }) });
    await withSweep(fleet, 'backfillSmime', 'backfill', [{ scope: {} }], async (handle) => {
      while (fleet.callsOf('enrollDevices').length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
      await handle.cancel();
      const error = await handle.result().then(() => assert.fail('expected cancellation'), (e: unknown) => e);
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
    });
    assert.equal(fleet.callsOf('finishSweep').length, 1);
  });
});
