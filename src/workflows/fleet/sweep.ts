/**
 * The engine of every fleet sweep: phases of pages, one activity per page, progress kept in the
 * memo (readable without a worker) and answered by the `sweepProgress` query, continue-as-new
 * before the history grows large. A page is the unit of retry: its activity is idempotent, and the
 * position of the next page is only taken once the page is done.
 *
 *   for each phase:  page ─▶ page ─▶ … (each: list devices, decide, start at the rate)
 *                    └─ every PAGES_PER_RUN pages, or when Temporal suggests it: continue-as-new
 */
import { CancellationScope, isCancellation, proxyActivities, setHandler, upsertMemo, workflowInfo, log } from '@temporalio/workflow';
import type { FleetActivities, PageResult, SweepPage } from '../../activities/fleet/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../../domain/errors';
import { addCounts, SWEEP_MEMO_KEY, sweepProgressQuery, type SweepPhase, type SweepPosition, type SweepProgress, type SweepResume } from '../fleet-definitions';

/** About 7 history events a page: a run of 400 pages stays under the server's 4,096-event suggestion. */
const PAGES_PER_RUN = 400;

/** Pages wait out outages of UEM, the database or Temporal for up to a day; the next sweep picks up after that. */
const fleet = proxyActivities<FleetActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  scheduleToCloseTimeout: '1d',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export const { fleetSettings } = proxyActivities<Pick<FleetActivities, 'fleetSettings'>>({ startToCloseTimeout: '30s', retry: { maximumInterval: '1m' } });

export interface SweepPlan {
  phases: SweepPhase[];
  progress: SweepProgress;
  position: SweepPosition;
  pageSize: number;
  /** Runs one page of a phase. */
  page(position: SweepPosition, common: SweepPage): Promise<PageResult>;
  /** Continue-as-new with this resume point. */
  restart(resume: SweepResume): Promise<never>;
  /** Before a phase begins: false skips it (with the reason logged by the plan). */
  beforePhase?(phase: SweepPhase): Promise<boolean>;
}

export async function sweep(plan: SweepPlan): Promise<SweepProgress> {
  const { progress, phases } = plan;
  const sweepId = workflowInfo().workflowId;
  progress.sweepId = sweepId;
  setHandler(sweepProgressQuery, () => progress);
  let position = plan.position;
  let pagesThisRun = 0;
  const due = () => pagesThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested;
  try {
    for (let index = Math.max(0, phases.indexOf(position.phase)); index < phases.length; index += 1) {
      const phase = phases[index]!;
      progress.phase = phase;
      const resuming = position.phase === phase && (position.cursor !== undefined || (position.after ?? 0) > 0);
      if (!resuming) {
        position = { phase, after: 0, nextStartAtMs: position.nextStartAtMs };
        if (plan.beforePhase && !(await plan.beforePhase(phase))) continue;
      }
      for (;;) {
        const common: SweepPage = { sweepId, kind: progress.kind, pageSize: plan.pageSize, ratePerSecond: progress.ratePerSecond, notBeforeMs: position.nextStartAtMs, asOf: new Date().toISOString() };
        const result = await plan.page(position, common);
        progress.counts = addCounts(progress.counts, result.counts);
        progress.updatedAt = new Date().toISOString();
        pagesThisRun += 1;
        const more = result.nextCursor !== undefined || result.nextAfter !== undefined;
        const next = phases[index + 1];
        position = more ? { phase, cursor: result.nextCursor, after: result.nextAfter, nextStartAtMs: result.nextStartAtMs } : { phase: next ?? phase, after: 0, nextStartAtMs: result.nextStartAtMs };
        publish(progress);
        if (!more && !next) break;
        if (due()) {
          log.info('sweep continues as new', { pages: pagesThisRun, historyLength: workflowInfo().historyLength });
          return await plan.restart({ progress: { ...progress, runs: progress.runs + 1 }, position });
        }
        if (!more) break;
      }
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => finish(sweepId));
    throw err;
  }
  await finish(sweepId);
  log.info('sweep done', { kind: progress.kind, ...progress.counts });
  return progress;
}

/** The memo shows where the sweep is to anyone who describes it (the API), even with no worker running. */
export function publish(progress: SweepProgress): void {
  upsertMemo({ [SWEEP_MEMO_KEY]: progress });
}

async function finish(sweepId: string): Promise<void> {
  await fleet.finishSweep.executeWithOptions({ summary: 'Forget what this sweep kept' }, [{ sweepId }]);
}

/** The fleet activities with a per-page summary and a timeout that fits the page at its rate. */
export function pageActivity<K extends 'enrollDevices' | 'retireDevices' | 'renewDevices'>(name: K, summary: string, common: SweepPage): FleetActivities[K] {
  // A page of N devices at R per second takes N/R seconds of pacing, plus its calls.
  const pacingMs = Math.ceil((common.pageSize / common.ratePerSecond) * 1000);
  const options = { summary, startToCloseTimeout: pacingMs + 10 * 60_000 };
  return ((input: Parameters<FleetActivities[K]>[0]) => (fleet[name] as { executeWithOptions(o: object, a: unknown[]): Promise<PageResult> }).executeWithOptions(options, [input])) as FleetActivities[K];
}
