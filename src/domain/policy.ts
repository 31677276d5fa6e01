import type { CredentialKind } from './enrollment';
import { defaultSchedule, type DeliverySchedule } from './schedule';

/**
 * What a provisioning workflow needs to know from configuration. Workflows cannot read config
 * (no I/O), so the starter passes it in; it is then fixed for the run and visible in history,
 * which is what a replay or an operator needs. It holds no secret.
 */
export interface ProvisioningPolicy {
  schedule: DeliverySchedule;
  /** Which credentials to deliver, in order. */
  credentialKinds: CredentialKind[];
  /** How often a pending CA request is polled. */
  issuancePollIntervalMs: number;
  /**
   * Kinds shared by all devices of a user, through the escrow: encryption always (mail encrypted
   * to the user must open everywhere); signing too when SIGNING_CREDENTIAL_SCOPE=user.
   * Absent in runs started before escrow existed: treated as none.
   */
  sharedKinds?: CredentialKind[];
}

export const DEFAULT_ISSUANCE_POLL_INTERVAL_MS = 15 * 60_000;

export function defaultPolicy(): ProvisioningPolicy {
  return {
    schedule: defaultSchedule('legacy-4h'),
    credentialKinds: ['signing', 'encryption'],
    issuancePollIntervalMs: DEFAULT_ISSUANCE_POLL_INTERVAL_MS,
    sharedKinds: ['encryption'],
  };
}
