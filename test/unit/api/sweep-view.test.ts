/**
 * What the management API shows of a sweep, as pure functions of what Temporal says (state, memo):
 * counts per kind, a renewal's outcomes, a reconcile's notes, the innermost failure, and what a
 * viewer does not see.
 */
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { backfillView, reconciliationView, renewalView, sweepFailure, sweepViewerView } from '../../../src/api/management/sweep-view';
import type { SweepView } from '../../../src/temporal/fleet';
import { noCounts, type SweepProgress } from '../../../src/workflows/fleet-definitions';

const started = '2026-11-30T10:00:00.000Z';

function sweep(kind: SweepView['kind'], progress?: Partial<SweepProgress>, state: SweepView['state'] = 'Running'): SweepView {
  return {
    id: `smime-${kind === 'reconcile' ? 'reconcile' : kind}-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f`,
    kind,
    state,
    startTime: '2026-11-30T10:05:00.000Z',
    ...(progress
      ? { progress: { kind, phase: 'enroll', counts: noCounts(), startedAt: started, updatedAt: '2026-11-30T10:06:00.000Z', runs: 2, ratePerSecond: 40, ...progress } as SweepProgress }
      : {}),
  };
}

describe('what the API shows of a sweep', () => {
  it('a backfill before its first page: zero counts, the run start as its start', () => {
    assert.deepEqual(backfillView(sweep('backfill')), {
      id: 'smime-backfill-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
      state: 'Running',
      startedAt: '2026-11-30T10:05:00.000Z',
      devicesSeen: 0,
      started: 0,
      alreadyRunning: 0,
      failed: 0,
      alreadyDelivered: 0,
      skipped: 0,
    });
  });

  it("a backfill after pages: its counts, scope, rate and the first run's start (it continued as new)", () => {
    const view = backfillView(sweep('backfill', { counts: { ...noCounts(), devicesSeen: 120, started: 100, alreadyDelivered: 15, alreadyRunning: 2, skipped: 3, failed: 0 }, scope: { smartGroupId: 42 } }, 'Completed'));
    assert.equal(view.startedAt, started);
    assert.equal(view.runs, 2);
    assert.equal(view.ratePerSecond, 40);
    assert.deepEqual(view.scope, { smartGroupId: 42 });
    assert.deepEqual([view.devicesSeen, view.started, view.alreadyDelivered, view.alreadyRunning, view.skipped, view.failed], [120, 100, 15, 2, 3, 0]);
  });

  it('a reconcile: retired, renewals selected, its notes, and whether the Schedule ran it', () => {
    const note = 'retired nothing: 40 of 50 devices holding credentials are not in UEM\'s answer, more than RECONCILE_RETIRE_LIMIT (25%)';
    const view = reconciliationView(sweep('reconcile', { phase: 'renew', counts: { ...noCounts(), devicesSeen: 10, retired: 0, selected: 4, started: 4 }, notes: [note] }), true);
    assert.equal(view.scheduled, true);
    assert.equal(view.renewalsSelected, 4);
    assert.equal(view.retired, 0);
    assert.deepEqual(view.notes, [note]);
    assert.deepEqual(reconciliationView(sweep('reconcile'), false).notes, []);
  });

  it('a renewal: selected and started from the pages; completed from the runs; failed adds failed starts and failed runs', () => {
    const view = renewalView(
      sweep('renewal', {
        phase: 'settle',
        counts: { ...noCounts(), selected: 10, started: 9, failed: 1 },
        outcomes: { running: 2, completed: 5, failed: 2, cancelled: 0 },
        selector: { expiringBefore: '2027-01-01T00:00:00.000Z' },
        reason: 'CA key compromise',
      }),
    );
    assert.deepEqual(
      { selected: view.selected, started: view.started, completed: view.completed, failed: view.failed, running: view.running, cancelled: view.cancelled },
      { selected: 10, started: 9, completed: 5, failed: 3, running: 2, cancelled: 0 },
    );
    assert.deepEqual(view.selector, { expiringBefore: '2027-01-01T00:00:00.000Z' });
    assert.equal(view.reason, 'CA key compromise');
  });

  it('viewers: no reason and no failure message; everything else stays', () => {
    const view = renewalView(sweep('renewal', { reason: 'rename to example.org', counts: { ...noCounts(), selected: 1 } }, 'Failed'), { type: 'ConfigurationError', message: 'UEM said: user mira@example.test' });
    const seen = sweepViewerView(view);
    assert.equal(seen.reason, '(shown to operators only)');
    assert.deepEqual(seen.failure, { type: 'ConfigurationError', message: '(shown to operators only)' });
    assert.equal(seen.selected, 1);
    assert.equal(view.reason, 'rename to example.org', 'the operator view is not changed');
  });

  it("a failed sweep's failure is its innermost error, not the activity wrapper", () => {
    const cause = ApplicationFailure.nonRetryable("a backfill lists UEM's devices: set UEM_API_URL", 'ConfigurationError');
    const activity = new ActivityFailure('Activity task failed', 'enrollDevices', '5', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);
    const failed = new WorkflowFailedError('Workflow execution failed', activity, RetryState.NON_RETRYABLE_FAILURE);
    assert.deepEqual(sweepFailure(failed), { type: 'ConfigurationError', message: "a backfill lists UEM's devices: set UEM_API_URL" });
    assert.deepEqual(sweepFailure(new Error('boom')), { type: 'Error', message: 'boom' });
  });
});
