/**
 * Retiring a device's credentials: after an unenroll, wipe or delete event, a cancelled run, or a
 * reconciliation that finds the device gone from UEM. The device's credentials are removed from
 * the gateway where it can, its signing certificates revoked by policy, and the register says so.
 * Escrowed encryption keys are never destroyed (mail already encrypted to them must stay readable)
 * and encryption certificates are not revoked: the user's other devices hold the same one.
 *
 * What to retire comes from the register, plus — for runs of the first lifecycle shape, which
 * predate it — the serials the run itself reports.
 */
import { log } from '@temporalio/activity';
import type { CertificateAuthority } from '../ca/certificate-authority';
import type { CredentialGateway } from '../ceg/credential-gateway';
import type { CleanUpInput, CleanUpReport } from '../contract';
import type { CredentialRegister } from '../register/credential-register';

export interface CleanUpDeps {
  ca: CertificateAuthority;
  gateway: CredentialGateway;
  register: CredentialRegister;
  /** Revoke signing certificates at the CA when an enrollment ends (unenroll, wipe, cancellation). */
  revokeSigningOnCancel: boolean;
}

export async function cleanUp(deps: CleanUpDeps, input: CleanUpInput): Promise<CleanUpReport> {
  const { event, reason } = input;
  const notes: string[] = [];
  const ofDevice = await deps.register.ofDevice(event.enrollmentUserUuid, event.deviceUuid, ['requested', 'pending', 'issued', 'active']);
  const run = reason === 'cancelled' && input.enrollment ? `${input.enrollment.workflowId}/${input.enrollment.runId}/` : undefined;
  const rows = run ? ofDevice.filter((r) => r.requestKey.startsWith(run)) : ofDevice;
  const delivered = rows.some((r) => r.state === 'active') || input.credentials.some((c) => c.delivered);

  let removedFromGateway = false;
  if (delivered) {
    if (deps.gateway.delete) {
      await deps.gateway.delete({ enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, enrollmentUserId: event.enrollmentUserId });
      removedFromGateway = true;
    } else {
      notes.push(`gateway ${deps.gateway.type} cannot delete; delivered credentials stay until UEM removes the profile`);
    }
  }

  // Signing certificates this device held or was about to receive; encryption is the user's.
  const signing = new Set<string>();
  for (const row of rows) if (row.kind === 'signing' && row.serialNumber && !row.escrowId) signing.add(row.serialNumber);
  for (const c of input.credentials) if (c.kind === 'signing' && c.serial) signing.add(c.serial);
  const revokedSerials: string[] = [];
  if (deps.revokeSigningOnCancel) {
    for (const serial of signing) {
      if (!deps.ca.revoke) {
        notes.push(`CA ${deps.ca.type} cannot revoke; signing certificate ${serial} stays valid until it expires`);
        continue;
      }
      await deps.ca.revoke(serial, 'cessationOfOperation');
      revokedSerials.push(serial);
    }
  }

  const why = reason === 'unenrolled' ? 'device unenrolled, wiped or deleted' : 'enrollment cancelled';
  for (const row of rows) {
    if (row.state === 'active') await deps.register.retire(row.id, row.serialNumber && revokedSerials.includes(row.serialNumber) ? 'revoked' : 'removed', why);
    else await deps.register.retire(row.id, row.serialNumber && revokedSerials.includes(row.serialNumber) ? 'revoked' : 'abandoned', why);
  }
  log.info('enrollment cleaned up', { removedFromGateway, revokedSerials, notes, registerRows: rows.length });
  return { removedFromGateway, revokedSerials, notes };
}
