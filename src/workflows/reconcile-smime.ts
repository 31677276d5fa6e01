/**
 * reconcileSmime: what UEM has against what the register says was delivered. Run by the reconcile
 * Schedule every RECONCILE_EVERY (and on demand); it is the safety net for events UEM never sent.
 *
 *   enroll  ─ UEM's devices (all, or RECONCILE_SMART_GROUP_ID's): start S/MIME where none is held; remember each device seen
 *   scan    ─ (scope is a smart group) all of UEM's devices: only remembered — a device outside the group has not left UEM
 *   retire  ─ devices holding credentials that UEM no longer lists: the unenroll path (gateway removal, signing revoked, escrow kept)
 *   renew   ─ devices whose credential expires within RENEW_BEFORE: a renewal run each
 *
 * A scheduled run takes no arguments: its scope and rate are the worker's settings, read when it
 * runs. Retirement stops short when UEM's answer looks wrong (see RECONCILE_RETIRE_LIMIT).
 */
import { continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { FleetActivities, FleetSettings } from '../activities/fleet/contract';
import { DAY_MS } from '../domain/schedule';
import { noCounts, type ReconcileInput, type SweepPhase, type SweepProgress, type SweepResult } from './fleet-definitions';
import { fleetSettings, pageActivity, sweep } from './fleet/sweep';

const { countUnseen, notifyReinstalls } = proxyActivities<Pick<FleetActivities, 'countUnseen' | 'notifyReinstalls'>>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '1d',
  retry: { initialInterval: '5s', maximumInterval: '5m' },
});

/** Below this many devices to retire, the share limit does not apply (a small fleet may lose a few at once). */
const RETIRE_LIMIT_FLOOR = 10;

export async function reconcileSmime(input: ReconcileInput = {}): Promise<SweepResult> {
  const settings = await fleetSettings();
  const now = new Date().toISOString();
  const scope = input.scope ?? settings.reconcileScope;
  const byGroup = scope.smartGroupId !== undefined;
  const resume = input.resume ?? {
    progress: { kind: 'reconcile' as const, phase: 'enroll' as const, counts: noCounts(), startedAt: now, updatedAt: now, runs: 1, ratePerSecond: settings.ratePerSecond, scope },
    position: { phase: 'enroll' as const },
  };
  const { progress } = resume;
  const phases: SweepPhase[] = ['enroll', ...(byGroup ? (['scan'] as const) : []), 'retire', ...(settings.renewBeforeMs > 0 ? (['renew'] as const) : [])];
  const where = byGroup ? `smart group ${scope.smartGroupId}` : 'UEM';
  const result = await sweep({
    phases,
    progress,
    position: resume.position,
    pageSize: settings.pageSize,
    beforePhase: async (phase) => (phase === 'retire' ? await retirementLooksSafe(settings, progress) : true),
    page: (position, common) => {
      switch (position.phase) {
        case 'enroll':
          return pageActivity('enrollDevices', `Start S/MIME where ${where}'s devices hold none`, common)({ ...common, scope, cursor: position.cursor, recordSeen: true, startRuns: true });
        case 'scan':
          return pageActivity('enrollDevices', 'Note which devices UEM still has', common)({ ...common, scope: {}, cursor: position.cursor, recordSeen: true, startRuns: false });
        case 'retire':
          return pageActivity('retireDevices', 'Retire credentials of devices UEM no longer has', common)({ ...common, after: position.after ?? 0 });
        case 'renew': {
          const expiringBefore = new Date(Date.parse(common.asOf) + settings.renewBeforeMs).toISOString();
          return pageActivity('renewDevices', `Renew credentials expiring before ${expiringBefore.slice(0, 10)}`, common)({
            ...common,
            after: position.after ?? 0,
            selector: { expiringBefore },
            deliveredBefore: progress.startedAt,
            reason: `expires within ${Math.round(settings.renewBeforeMs / DAY_MS)} days`,
          });
        }
        default:
          throw new Error(`a reconcile has no ${position.phase} phase`);
      }
    },
    restart: (next) => continueAsNew<typeof reconcileSmime>({ ...input, resume: next }),
  });
  // Devices renewed since the last notice (by this or an earlier reconcile) whose profile UEM did not re-install.
  if (settings.renewBeforeMs > 0) await notifyReinstalls({ reason: `renewed by the reconcile: credentials expiring within ${Math.round(settings.renewBeforeMs / DAY_MS)} days` });
  return result;
}

/**
 * An empty or truncated answer from UEM (a wrong URL or smart group, a permission change) would
 * look like the whole fleet unenrolled. Above RECONCILE_RETIRE_LIMIT percent, nothing is retired
 * and the sweep's notes and log say why; the next reconcile checks again.
 */
async function retirementLooksSafe(settings: FleetSettings, progress: SweepProgress): Promise<boolean> {
  const { holders, unseen } = await countUnseen({ sweepId: workflowInfo().workflowId });
  if (unseen <= RETIRE_LIMIT_FLOOR || unseen * 100 <= holders * settings.retireLimitPercent) return true;
  const note = `retired nothing: ${unseen} of ${holders} devices holding credentials are not in UEM's answer, more than RECONCILE_RETIRE_LIMIT (${settings.retireLimitPercent}%); check UEM_API_URL and the reconcile's scope, or raise the limit if they really left`;
  progress.notes = [...(progress.notes ?? []), note];
  log.error('reconcile: retirement refused', { unseen, holders, limitPercent: settings.retireLimitPercent });
  return false;
}
