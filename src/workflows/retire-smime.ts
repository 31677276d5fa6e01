/**
 * retireSmime: the clean-up for an enrollment whose provisioning run has already closed, started
 * by an unenroll, enterprise wipe, device wipe or delete event. (An open run is cancelled instead
 * and cleans up itself.) Removes the device's credentials from the gateway where it can, and —
 * by policy — revokes the device's signing certificate. Escrowed encryption keys are never
 * destroyed: mail encrypted to them must stay readable.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { CleanUpReport, LifecycleActivities } from '../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import type { RetireInput } from './definitions';

const { cleanUpEnrollment } = proxyActivities<Pick<LifecycleActivities, 'cleanUpEnrollment'>>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '7d',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1h', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function retireSmime(input: RetireInput): Promise<CleanUpReport> {
  const report = await cleanUpEnrollment.executeWithOptions({ summary: `Retire credentials of run ${input.provisioningRunId}: ${input.reason}` }, [
    { event: input.event, credentials: input.credentials, reason: 'unenrolled' },
  ]);
  log.info('credentials retired', { removedFromGateway: report.removedFromGateway, revokedSerials: report.revokedSerials });
  return report;
}
