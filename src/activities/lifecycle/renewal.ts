/**
 * What a renewal does after its new credentials are at the gateway, in this order:
 *
 * 1. The phone is told to fetch them: UEM re-installs the S/MIME profile on the device
 *    (UEM_SMIME_PROFILE_ID). Without a profile id, or when UEM refuses the install, the device is
 *    queued for the administrators' re-install notice (one per renewal batch, not per device).
 * 2. The signing certificates the renewal superseded are revoked (REVOKE_SUPERSEDED, reason
 *    superseded) — only now, never before the replacement is at the gateway, so the device is never
 *    left without a valid signing certificate. Shared (escrowed) credentials are the user's: their
 *    old keys stay escrowed and unrevoked, so older mail stays readable.
 *
 * Idempotent: a repeat re-asks UEM (harmless), finds nothing left to revoke, and queues once.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import type { CertificateAuthority } from '../ca/certificate-authority';
import type { FinishRenewalInput, FinishRenewalReport } from '../contract';
import type { CredentialRegister } from '../register/credential-register';
import type { DeviceInventory } from '../uem/device-inventory';

export interface RenewalDeps {
  ca: CertificateAuthority;
  register: CredentialRegister;
  inventory?: DeviceInventory;
  /** UEM_SMIME_PROFILE_ID */
  smimeProfileId?: number;
  /** REVOKE_SUPERSEDED */
  revokeSuperseded: boolean;
}

export async function finishRenewal(deps: RenewalDeps, input: FinishRenewalInput): Promise<FinishRenewalReport> {
  const { enrollment, device } = input;
  const notes: string[] = [];
  const profile = await reinstallProfile(deps, input, notes);

  const revokedSerials: string[] = [];
  if (deps.revokeSuperseded) {
    for (const row of await deps.register.supersededSigning(enrollment.enrollmentUserUuid, enrollment.deviceUuid)) {
      if (!deps.ca.revoke) {
        notes.push(`CA ${deps.ca.type} cannot revoke; superseded signing certificate ${row.serialNumber} stays valid until it expires`);
        break;
      }
      await deps.ca.revoke(row.serialNumber!, 'superseded');
      await deps.register.retire(row.id, 'revoked', `superseded by the renewal of run ${enrollment.workflowId}/${enrollment.runId}`);
      revokedSerials.push(row.serialNumber!);
    }
  }
  log.info('renewal finished', { profile, revokedSerials, notes, deviceId: device.deviceId });
  return { profile, revokedSerials, notes };
}

async function reinstallProfile(deps: RenewalDeps, input: FinishRenewalInput, notes: string[]): Promise<FinishRenewalReport['profile']> {
  const { enrollment, device } = input;
  if (deps.smimeProfileId !== undefined && deps.inventory) {
    try {
      await deps.inventory.installProfile(deps.smimeProfileId, { deviceUuid: enrollment.deviceUuid, deviceId: device.deviceId });
      return 'reinstalled';
    } catch (err) {
      // An outage is retried by Temporal; a refusal (no such device or profile) is for a person.
      if (!(err instanceof ApplicationFailure && err.type === 'ProfileInstallRejected')) throw err;
      notes.push(`UEM refused to re-install profile ${deps.smimeProfileId}: ${err.message}; queued for the administrators' notice`);
    }
  } else {
    notes.push(deps.smimeProfileId === undefined ? 'UEM_SMIME_PROFILE_ID is not set: queued for the administrators\' re-install notice' : 'no UEM API configured: queued for the administrators\' re-install notice');
  }
  const signing = (await deps.register.ofDevice(enrollment.enrollmentUserUuid, enrollment.deviceUuid, ['active'])).find((r) => r.kind === 'signing');
  await deps.register.queueReinstall({
    workflowId: enrollment.workflowId,
    runId: enrollment.runId,
    sweepId: input.sweepId,
    reason: input.reason,
    enrollmentUserUuid: enrollment.enrollmentUserUuid,
    deviceUuid: enrollment.deviceUuid,
    deviceId: device.deviceId,
    serialNumber: signing?.serialNumber,
    email: input.user.email,
  });
  return 'queued';
}
