/**
 * renewSmime: a renewal on demand — CA key compromise, a profile change, a domain rename. Selects
 * the devices holding active credentials (one device, one user's, those expiring before an
 * instant, or all), starts a renewal run for each at no more than the rate, then stays open until
 * those runs have ended, counting how they ended, and sends the administrators one notice for the
 * devices whose profile must be re-pushed by hand.
 *
 *   renew  ─ pages of selected devices: a renewal run each (an open run of a device is joined)
 *   settle ─ until every run it started has ended: completed / failed, looked up every 5 s … 1 h
 *   notice ─ one profile re-install notice for the batch (none when UEM re-installed them all)
 *
 * Selecting a whole user (or everyone) also re-issues the user's shared encryption credential: all
 * of the user's devices are renewed together, so none is left with a key the others no longer use.
 */
import { continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { FleetActivities } from '../activities/fleet/contract';
import { noCounts, type RenewInput, type SweepResult } from './fleet-definitions';
import { fleetSettings, pageActivity, publish, sweep } from './fleet/sweep';

const { sweepOutcomes, notifyReinstalls } = proxyActivities<Pick<FleetActivities, 'sweepOutcomes' | 'notifyReinstalls'>>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '1d',
  retry: { initialInterval: '5s', maximumInterval: '5m' },
});

const FIRST_LOOK_MS = 5_000;
const LONGEST_LOOK_MS = 60 * 60_000;

export async function renewSmime(input: RenewInput): Promise<SweepResult> {
  const settings = await fleetSettings();
  const now = new Date().toISOString();
  const ratePerSecond = Math.min(input.ratePerSecond ?? settings.ratePerSecond, settings.ratePerSecond);
  const resume = input.resume ?? {
    progress: { kind: 'renewal' as const, phase: 'renew' as const, counts: noCounts(), startedAt: now, updatedAt: now, runs: 1, ratePerSecond, selector: input.selector, reason: input.reason },
    position: { phase: 'renew' as const },
  };
  const { progress } = resume;
  const wholeUsers = 'all' in input.selector || 'userUuid' in input.selector;
  await sweep({
    phases: ['renew'],
    progress,
    position: resume.position,
    pageSize: settings.pageSize,
    page: (position, common) =>
      pageActivity('renewDevices', `Start renewals: ${input.reason}`, common)({
        ...common,
        after: position.after ?? 0,
        selector: input.selector,
        deliveredBefore: progress.startedAt,
        reason: input.reason,
        ...(wholeUsers ? { reissueSharedIssuedBefore: progress.startedAt } : {}),
      }),
    restart: (next) => continueAsNew<typeof renewSmime>({ ...input, resume: next }),
  });

  progress.phase = 'settle';
  for (let lookAfter = FIRST_LOOK_MS; ; lookAfter = Math.min(lookAfter * 2, LONGEST_LOOK_MS)) {
    const outcomes = await sweepOutcomes({ sweepId: progress.sweepId ?? '' });
    progress.outcomes = outcomes;
    publish(progress);
    const ended = outcomes.completed + outcomes.failed + outcomes.cancelled;
    if (outcomes.running === 0 && ended >= progress.counts.started) break;
    await sleep(lookAfter);
  }
  await notifyReinstalls({ sweepId: progress.sweepId, reason: `renewal on demand: ${input.reason}` });
  progress.updatedAt = new Date().toISOString();
  publish(progress);
  return progress;
}
