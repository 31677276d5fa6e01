/**
 * backfillSmime: S/MIME for devices enrolled before the provider was on — they never send an
 * enrollment event. Pages through UEM's inventory (all devices, or one smart group's) and starts
 * provisionSmime for each enrolled device that holds no active credential in the register and has
 * no open run, at no more than the rate. Running it twice starts nothing the second time; an
 * enrollment event for a device it is starting joins the same run (same workflow id).
 */
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import { noCounts, type BackfillInput, type SweepResult } from './fleet-definitions';
import { fleetSettings, pageActivity, sweep } from './fleet/sweep';

export async function backfillSmime(input: BackfillInput): Promise<SweepResult> {
  const settings = await fleetSettings();
  const now = new Date().toISOString();
  const ratePerSecond = Math.min(input.ratePerSecond ?? settings.ratePerSecond, settings.ratePerSecond);
  const resume = input.resume ?? {
    progress: { kind: 'backfill' as const, phase: 'enroll' as const, counts: noCounts(), startedAt: now, updatedAt: now, runs: 1, ratePerSecond, scope: input.scope },
    position: { phase: 'enroll' as const },
  };
  const where = input.scope.smartGroupId !== undefined ? `smart group ${input.scope.smartGroupId}` : 'UEM';
  return sweep({
    phases: ['enroll'],
    progress: resume.progress,
    position: resume.position,
    pageSize: settings.pageSize,
    page: (position, common) =>
      pageActivity('enrollDevices', `Start S/MIME for a page of ${where}'s devices (${workflowInfo().workflowId})`, common)({ ...common, scope: input.scope, cursor: position.cursor, recordSeen: false, startRuns: true }),
    restart: (next) => continueAsNew<typeof backfillSmime>({ ...input, resume: next }),
  });
}
