/**
 * The reconcile Schedule as workers keep it (dev server): created once, left alone when the
 * settings agree, updated when RECONCILE_EVERY changes, paused when it is off and resumed when it
 * is back; a triggered run is a reconcileSmime with no arguments that reads the worker's settings,
 * its id accepted by the API's sweep-id check.
 */
import assert from 'node:assert/strict';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { UemRestDirectory } from '../../src/activities/uem/uem-rest-directory';
import { startUemSimulator, type UemSimulator } from '../../src/peers/uem-sim/server';
import { describeSweep, ensureReconcileSchedule, isSweepId } from '../../src/temporal/fleet';
import { reconcileScheduleId, RECONCILE_WORKFLOW_TYPE } from '../../src/workflows/fleet-definitions';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const HOUR_MS = 60 * 60_000;

describe('the reconcile Schedule (dev server)', function () {
  this.timeout(120_000);
  let uem: UemSimulator;
  let stack: ProviderStack;

  before(async () => {
    uem = await startUemSimulator({ port: 0, username: 'uem-api', password: 'uem-api-Password', tenantCode: 'sim-tenant' });
    const directory = new UemRestDirectory({ baseUrl: uem.url, apiVersion: 'v2', tenantCode: 'sim-tenant', basic: { username: 'uem-api', password: 'uem-api-Password' }, timeoutMs: 10_000 });
    stack = await startProviderStack({ directory, inventory: directory, overrides: { keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }) } });
  });
  after(async () => {
    await stack?.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue)).delete().catch(() => undefined);
    await stack?.stop();
    await uem?.close();
  });

  const ensure = (everyMs: number) => ensureReconcileSchedule(stack.client, { taskQueue: stack.taskQueue, everyMs });
  const schedule = () => stack.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue)).describe();

  it('is created once, then left alone by every worker that starts with the same settings', async () => {
    assert.equal(await ensure(6 * HOUR_MS), 'created');
    assert.equal(await ensure(6 * HOUR_MS), 'unchanged');
    const described = await schedule();
    assert.equal(Number(described.spec.intervals?.[0]?.every), 6 * HOUR_MS);
    assert.equal(described.action.type, 'startWorkflow');
    assert.equal(described.action.type === 'startWorkflow' && described.action.workflowType, RECONCILE_WORKFLOW_TYPE);
    assert.deepEqual(described.action.type === 'startWorkflow' && described.action.args, [], 'a scheduled run takes no arguments');
    assert.equal(described.policies.overlap, 'SKIP');
  });

  it('follows RECONCILE_EVERY: updated when it changes, paused when off, resumed when back', async () => {
    assert.equal(await ensure(2 * HOUR_MS), 'updated');
    assert.equal(Number((await schedule()).spec.intervals?.[0]?.every), 2 * HOUR_MS);
    assert.equal(await ensure(0), 'paused');
    assert.equal((await schedule()).state.paused, true);
    assert.equal((await schedule()).state.note, 'RECONCILE_EVERY=off');
    assert.equal(Number((await schedule()).spec.intervals?.[0]?.every), 2 * HOUR_MS, 'off leaves the interval alone');
    assert.equal(await ensure(2 * HOUR_MS), 'resumed');
    assert.equal((await schedule()).state.paused, false, 'back on: resumed');
    assert.equal(await ensure(2 * HOUR_MS), 'unchanged');
  });

  it('an operator\'s pause (another note) is not undone by a worker start', async () => {
    const handle = stack.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue));
    await handle.pause('maintenance window');
    assert.equal(await ensure(2 * HOUR_MS), 'unchanged');
    assert.equal((await schedule()).state.paused, true);
    await handle.unpause('maintenance over');
  });

  it('a triggered run reconciles with the worker\'s settings and is readable as a sweep', async () => {
    const handle = stack.client.schedule.getHandle(reconcileScheduleId(stack.taskQueue));
    await handle.trigger();
    let runId: string | undefined;
    for (const deadline = Date.now() + 30_000; !runId; ) {
      const recent = (await handle.describe()).info.recentActions;
      runId = recent[0]?.action.workflow.workflowId;
      if (!runId) {
        assert.ok(Date.now() < deadline, 'the schedule started a run');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.ok(isSweepId('reconcile', runId), `the API accepts the scheduled run's id ${runId}`);
    await stack.client.workflow.getHandle(runId).result();
    const view = await describeSweep(stack.client, 'reconcile', runId);
    assert.equal(view?.state, 'Completed');
    assert.equal(view?.progress?.kind, 'reconcile');
  });
});
