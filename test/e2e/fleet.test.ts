/**
 * The fleet on the dev server with real activities, the UEM simulator's inventory (through the
 * real UEM REST adapter), the CEG simulator and the embedded CA: a backfill of a smart group, a
 * second one that starts nothing, an enrollment event racing a backfill, a reconcile that delivers
 * silently added devices and retires silently deleted ones, its refusal to retire a fleet UEM
 * suddenly does not list, and register rows that outlive Temporal's retention.
 *
 * The tests build on each other (one fleet, as a deployment's first weeks would), in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { describeSweep, startBackfill, startReconciliation } from '../../src/temporal/fleet';
import type { SweepProgress } from '../../src/workflows/fleet-definitions';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const RATE = 100;
/** The 1,000 in the group and 200 outside; FLEET_TEST_DEVICES scales both down for a quick local run. */
const IN_GROUP = Number(process.env.FLEET_TEST_DEVICES ?? 1000);
const OUTSIDE = Math.round(IN_GROUP / 5);
const GROUP = 42;
const OTHER_GROUP = 7;

describe('the fleet: backfill and reconcile (dev server, UEM and CEG simulators, real activities)', function () {
  this.timeout(1_200_000);
  let uem: UemSimulator;
  let stack: ProviderStack;
  const inGroup: { deviceUuid: string; enrollmentUserUuid: string }[] = [];

  before(async function () {
    this.timeout(120_000);
    uem = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
    const directory = new UemRestDirectory({ baseUrl: uem.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 10_000 });
    stack = await startProviderStack({
      directory,
      inventory: directory,
      overrides: {
        // EC keys and passwords in the clear inside mTLS: what costs CPU per device is not what this test is about.
        keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }),
        recipientCertificatePem: undefined,
        fleet: { reconcileScope: {}, ratePerSecond: RATE, pageSize: 100, renewBeforeMs: 30 * 86_400_000, retireLimitPercent: 25 },
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await uem?.close();
  });

  function addDevices(count: number, smartGroupId: number): { deviceUuid: string; enrollmentUserUuid: string }[] {
    const devices = Array.from({ length: count }, () => ({ deviceUuid: randomUUID(), enrollmentUserUuid: randomUUID() }));
    for (const d of devices) uem.inventory.put({ ...d, smartGroupIds: [smartGroupId] });
    return devices;
  }

  async function sweepResult(id: string): Promise<SweepProgress> {
    return (await stack.client.workflow.getHandle(id).result()) as SweepProgress;
  }

  /** Waits until every provisioning run the sweep started has closed; answers how many completed. */
  async function runsSettled(sweepId: string): Promise<{ completed: number; other: number }> {
    const count = async (query: string) => (await stack.client.workflow.count(`FleetSweep = '${sweepId}' AND ${query}`)).count;
    // A thousand real deliveries (keys, CSRs, CA, PKCS#12, gateway) take a few minutes on two cores.
    for (const deadline = Date.now() + 900_000; Date.now() < deadline; ) {
      if ((await count("ExecutionStatus = 'Running'")) === 0) {
        return { completed: await count("ExecutionStatus = 'Completed'"), other: await count("ExecutionStatus != 'Completed'") };
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`runs of ${sweepId} still running after 15 minutes`);
  }

  async function startTimesOf(sweepId: string): Promise<number[]> {
    const times: number[] = [];
    for await (const run of stack.client.workflow.list({ query: `FleetSweep = '${sweepId}'` })) times.push(run.startTime.getTime());
    return times.sort((a, b) => a - b);
  }

  it(`a backfill of a smart group delivers exactly its ${IN_GROUP} devices, the ${OUTSIDE} outside it get nothing, and it never starts faster than the rate`, async () => {
    inGroup.push(...addDevices(IN_GROUP, GROUP));
    const outside = addDevices(OUTSIDE, OTHER_GROUP);
    const id = await startBackfill(stack.client, stack.taskQueue, { scope: { smartGroupId: GROUP } });
    const result = await sweepResult(id);
    assert.deepEqual(
      { devicesSeen: result.counts.devicesSeen, started: result.counts.started, alreadyDelivered: result.counts.alreadyDelivered, failed: result.counts.failed, skipped: result.counts.skipped },
      { devicesSeen: IN_GROUP, started: IN_GROUP, alreadyDelivered: 0, failed: 0, skipped: 0 },
    );
    assert.deepEqual(await runsSettled(id), { completed: IN_GROUP, other: 0 }, `failures: ${JSON.stringify(stack.notices.map((n) => n.lastError))}`);

    const holding = await stack.register.devicesHoldingActive([...inGroup, ...outside].map((d) => d.deviceUuid));
    assert.equal(holding.size, IN_GROUP);
    assert.ok(inGroup.every((d) => holding.has(d.deviceUuid)), 'every device of the group holds credentials');
    assert.ok(outside.every((d) => !holding.has(d.deviceUuid)), 'no device outside the group does');

    // The rate is kept between starts (the server's start times carry its own small jitter).
    const times = await startTimesOf(id);
    assert.equal(times.length, IN_GROUP);
    let busiest = 0;
    for (let i = 0, j = 0; j < times.length; j += 1) {
      while (times[j]! - times[i]! >= 1000) i += 1;
      busiest = Math.max(busiest, j - i + 1);
    }
    assert.ok(busiest <= RATE + 2, `at most ${RATE} starts in any second (±2 for the server's clock), saw ${busiest}`);
    const spanSeconds = (times[times.length - 1]! - times[0]!) / 1000;
    assert.ok(spanSeconds >= (IN_GROUP - 1) / RATE - 0.5, `${IN_GROUP} starts at ${RATE}/s take at least ${((IN_GROUP - 1) / RATE).toFixed(1)} s, took ${spanSeconds.toFixed(1)} s`);
  });

  it('a second backfill of the same group starts nothing', async () => {
    const id = await startBackfill(stack.client, stack.taskQueue, { scope: { smartGroupId: GROUP } });
    const result = await sweepResult(id);
    assert.equal(result.counts.devicesSeen, IN_GROUP);
    assert.equal(result.counts.started, 0);
    assert.equal(result.counts.alreadyDelivered, IN_GROUP);
    const view = await describeSweep(stack.client, 'backfill', id);
    assert.equal(view?.state, 'Completed');
    assert.equal(view?.progress?.counts.alreadyDelivered, IN_GROUP, 'the memo shows the final counts without a worker');
  });

  it('an enrollment event arriving during a backfill of the same device gives one run', async () => {
    const [device] = addDevices(1, 43);
    const event = enrollmentEvent({ ...device!, email: undefined });
    const [handle, backfillId] = await Promise.all([stack.start(event), startBackfill(stack.client, stack.taskQueue, { scope: { smartGroupId: 43 } })]);
    const result = await sweepResult(backfillId);
    await handle.result();
    assert.equal(result.counts.devicesSeen, 1);
    assert.equal(result.counts.started + result.counts.alreadyRunning + result.counts.alreadyDelivered, 1);
    const runs = await stack.client.workflow.count(`WorkflowId = '${handle.workflowId}'`);
    assert.equal(runs.count, 1, 'one provisioning run for the device');
  });

  it('a reconcile delivers 50 devices added without an event and retires 10 deleted without one', async () => {
    const added = addDevices(50, GROUP);
    const deleted = inGroup.splice(0, 10);
    for (const d of deleted) assert.ok(uem.inventory.remove(d.deviceUuid));
    const signingSerials = new Map<string, string>();
    for (const d of deleted) {
      const [signing] = (await stack.register.ofDevice(d.enrollmentUserUuid, d.deviceUuid, ['active'])).filter((r) => r.kind === 'signing');
      signingSerials.set(d.deviceUuid, signing!.serialNumber!);
    }

    const id = await startReconciliation(stack.client, stack.taskQueue, { scope: { smartGroupId: GROUP } });
    const result = await sweepResult(id);
    assert.equal(result.counts.started, 50);
    assert.equal(result.counts.retired, 10);
    assert.equal(result.counts.failed, 0);
    assert.equal(result.notes, undefined);
    assert.deepEqual(await runsSettled(id), { completed: 50, other: 0 });

    const holding = await stack.register.devicesHoldingActive([...added, ...deleted].map((d) => d.deviceUuid));
    assert.ok(added.every((d) => holding.has(d.deviceUuid)), 'the silently added devices hold credentials');
    assert.ok(deleted.every((d) => !holding.has(d.deviceUuid)), 'the silently deleted devices hold none');
    const revoked = new Set(stack.ca.revocations().map((r) => r.serial));
    for (const d of deleted) {
      const rows = await stack.register.ofDevice(d.enrollmentUserUuid, d.deviceUuid, ['revoked', 'removed']);
      assert.deepEqual(rows.map((r) => `${r.kind}:${r.state}`).sort(), ['encryption:removed', 'signing:revoked']);
      assert.ok(revoked.has(signingSerials.get(d.deviceUuid)!.toLowerCase()) || revoked.has(signingSerials.get(d.deviceUuid)!), 'the signing certificate is on the CRL');
    }
    const uploads = (await (await fetch(`${stack.sim.adminUrl}/sim/uploads`)).json()) as { deviceUuid: string }[];
    assert.ok(deleted.every((d) => !uploads.some((u) => u.deviceUuid === d.deviceUuid)), 'the gateway no longer holds their credentials');
  });

  it('a reconcile retires nothing when UEM suddenly lists far fewer devices than hold credentials, and says why', async () => {
    const removed = uem.inventory.list().filter((d) => d.smartGroupIds.includes(GROUP)).slice(0, IN_GROUP / 2);
    for (const d of removed) uem.inventory.remove(d.deviceUuid);
    try {
      const id = await startReconciliation(stack.client, stack.taskQueue);
      const result = await sweepResult(id);
      assert.equal(result.counts.retired, 0);
      assert.match(result.notes?.join('\n') ?? '', new RegExp(`retired nothing: ${IN_GROUP / 2} of \\d+ devices .* RECONCILE_RETIRE_LIMIT \\(25%\\)`));
      const holding = await stack.register.devicesHoldingActive(removed.map((d) => d.deviceUuid));
      assert.equal(holding.size, IN_GROUP / 2, 'their credentials stay');
    } finally {
      for (const d of removed) uem.inventory.put(d);
    }
  });

  it('register rows outlive the workflow: a closed run deleted from Temporal (retention) still has its credentials listed', async () => {
    const device = inGroup[0]!;
    const [row] = await stack.register.ofDevice(device.enrollmentUserUuid, device.deviceUuid, ['active']);
    await stack.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: row!.workflowId } });
    for (const deadline = Date.now() + 30_000; ; ) {
      const left = await stack.client.workflow.count(`WorkflowId = '${row!.workflowId}'`);
      if (left.count === 0) break;
      assert.ok(Date.now() < deadline, 'the run is gone from Temporal');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const rows = await stack.register.list({ deviceUuid: device.deviceUuid }, { size: 10 });
    assert.deepEqual(rows.items.map((r) => r.state).sort(), ['active', 'active']);
    assert.ok(rows.items.every((r) => r.workflowId === row!.workflowId && r.serialNumber && r.thumbprintSha256 && r.notAfter && r.deliveredAt));
  });
});
