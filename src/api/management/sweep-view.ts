/**
 * What the management API shows of a fleet sweep: its state from Temporal and its progress from
 * the memo it writes after every page (../../temporal/fleet.ts reads both), in the shapes of
 * ../schemas/fleet.ts. Pure functions: the router fetches, these shape.
 *
 * The counts are the sweep's own (fleet-definitions.ts says what each means). A renewal's
 * `completed` and `running` come from the settle phase, which counts the runs it started by their
 * outcome in Temporal's visibility; `failed` adds the renewal runs that failed to the devices whose
 * start failed.
 */
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { SweepView } from '../../temporal/fleet';
import { noCounts, type RenewalSelector, type SweepCounts } from '../../workflows/fleet-definitions';
import type { BackfillView, ReconciliationView, RenewalView } from '../schemas/fleet';
import { HIDDEN_FOR_VIEWERS } from './enrollment-view';

type Common = Pick<BackfillView, 'id' | 'state' | 'phase' | 'startedAt' | 'updatedAt' | 'closedAt' | 'ratePerSecond' | 'runs' | 'failure' | 'devicesSeen' | 'started' | 'alreadyRunning' | 'failed'>;

/** How a closed sweep failed, when it did: its innermost error's type and message. */
export interface SweepFailureInfo {
  type: string;
  message: string;
}

function common(view: SweepView, counts: SweepCounts, failure?: SweepFailureInfo): Common {
  const { progress } = view;
  return {
    id: view.id,
    state: view.state,
    ...(progress ? { phase: progress.phase } : {}),
    // The first run's start: a sweep that continued as new is still the same sweep.
    startedAt: progress?.startedAt ?? view.startTime,
    ...(progress?.updatedAt ? { updatedAt: progress.updatedAt } : {}),
    ...(view.closeTime ? { closedAt: view.closeTime } : {}),
    ...(progress?.ratePerSecond ? { ratePerSecond: progress.ratePerSecond } : {}),
    ...(progress?.runs ? { runs: progress.runs } : {}),
    ...(failure ? { failure } : {}),
    devicesSeen: counts.devicesSeen,
    started: counts.started,
    alreadyRunning: counts.alreadyRunning,
    failed: counts.failed,
  };
}

const countsOf = (view: SweepView): SweepCounts => ({ ...noCounts(), ...view.progress?.counts });

export function backfillView(view: SweepView, failure?: SweepFailureInfo): BackfillView {
  const counts = countsOf(view);
  return {
    ...common(view, counts, failure),
    ...(view.progress?.scope ? { scope: { ...view.progress.scope } } : {}),
    alreadyDelivered: counts.alreadyDelivered,
    skipped: counts.skipped,
  };
}

/**
 * A reconcile's counts add up its phases: devicesSeen and started include the renew phase's
 * devices and runs (renewalsSelected says how many of those there were), and the retire phase's
 * devices count in devicesSeen too.
 */
export function reconciliationView(view: SweepView, scheduled: boolean, failure?: SweepFailureInfo): ReconciliationView {
  const counts = countsOf(view);
  return {
    ...common(view, counts, failure),
    ...(view.progress?.scope ? { scope: { ...view.progress.scope } } : {}),
    scheduled,
    alreadyDelivered: counts.alreadyDelivered,
    skipped: counts.skipped,
    retired: counts.retired,
    renewalsSelected: counts.selected,
    notes: [...(view.progress?.notes ?? [])],
  };
}

export function renewalView(view: SweepView, failure?: SweepFailureInfo): RenewalView {
  const counts = countsOf(view);
  const outcomes = view.progress?.outcomes;
  const base = common(view, counts, failure);
  return {
    ...base,
    failed: counts.failed + (outcomes?.failed ?? 0),
    ...(view.progress?.selector ? { selector: selectorView(view.progress.selector) } : {}),
    ...(view.progress?.reason !== undefined ? { reason: view.progress.reason } : {}),
    selected: counts.selected,
    completed: outcomes?.completed ?? 0,
    running: outcomes?.running ?? 0,
    cancelled: outcomes?.cancelled ?? 0,
  };
}

function selectorView(selector: RenewalSelector): NonNullable<RenewalView['selector']> {
  if ('deviceUuid' in selector) return { deviceUuid: selector.deviceUuid };
  if ('userUuid' in selector) return { userUuid: selector.userUuid };
  if ('expiringBefore' in selector) return { expiringBefore: selector.expiringBefore };
  return { all: true };
}

/**
 * What a viewer sees: everything but free text that a person or an outside system wrote — the
 * renewal's reason (an operator's words) and a failure's message (which may carry what UEM or the
 * CA answered). Counts, ids, states, phases and the sweep's own notes (numbers and setting names)
 * stay.
 */
export function sweepViewerView<V extends { failure?: SweepFailureInfo; reason?: string }>(view: V): V {
  return {
    ...view,
    ...(view.failure ? { failure: { ...view.failure, message: HIDDEN_FOR_VIEWERS } } : {}),
    ...(view.reason !== undefined ? { reason: HIDDEN_FOR_VIEWERS } : {}),
  };
}

/**
 * The innermost failure of a failed sweep: a page's activity failing with ConfigurationError
 * ("a backfill lists UEM's devices: set UEM_API_URL …") says more than "Activity task failed".
 */
export function sweepFailure(err: unknown): SweepFailureInfo {
  let innermost: unknown = err;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = (e as Error).cause, depth += 1) {
    if (e instanceof TemporalFailure) innermost = e;
  }
  if (innermost instanceof ApplicationFailure) return { type: innermost.type ?? 'Error', message: innermost.message };
  const error = innermost as Error;
  return { type: error?.name ?? 'Error', message: error?.message ?? String(innermost) };
}
