/**
 * The activities: every side effect of the lifecycle, built by a factory over small interfaces
 * (CA, gateway, directory, notifier, the provider's database) so tests and the dev stack can plug
 * in local twins. Secrets are born and consumed here and never leave in the clear.
 *
 * The lean lifecycle (one activity per stage, for every credential kind at once) is in
 * ./lifecycle; the first lifecycle shape's activities, for runs started before it, in ./legacy.
 */
import type { CertificateProfileName } from '../domain/certificate-profile';
import type { ProvisioningPolicy } from '../domain/policy';
import type { CertificateAuthority } from './ca/certificate-authority';
import type { IssuedCertificateCheck } from './ca/certificate-checks';
import type { CredentialGateway } from './ceg/credential-gateway';
import type { LifecycleActivities } from './contract';
import type { KeySource } from './crypto/key-pool';
import type { Sealer } from './crypto/sealing';
import type { ProviderDatabase } from './database/database';
import type { EscrowStore } from './escrow/escrow-store';
import type { FleetActivities, FleetSettings } from './fleet/contract';
import { enrollDevices, notifyReinstalls, renewDevices, retireDevices, sweepOutcomes, type ProvisioningStarter } from './fleet/sweeps';
import { createLegacyActivities } from './legacy/activities';
import type { LegacyProvisioningActivities } from './legacy/contract';
import { attempt } from './lifecycle/attempt';
import { cleanUp } from './lifecycle/clean-up';
import { deliver, type Pkcs12Policy } from './lifecycle/delivery';
import { identifyUser } from './lifecycle/identify-user';
import { finishRenewal } from './lifecycle/renewal';
import { advance } from './lifecycle/issuance';
import { awaitIssuance } from './lifecycle/waiting';
import type { Notifier } from './notify/notifier';
import type { CredentialRegister } from './register/credential-register';
import type { DeviceInventory } from './uem/device-inventory';
import type { UserDirectory } from './uem/user-directory';

export type { LifecycleActivities } from './contract';
export type { FleetActivities } from './fleet/contract';
export type { LegacyProvisioningActivities } from './legacy/contract';
export { parsePlatformProfiles, profileFor, type Pkcs12Policy } from './lifecycle/delivery';

/** Every activity the worker registers: the lean lifecycle's, the fleet sweeps' and, for older runs, the first shape's. */
export type ProviderActivities = LifecycleActivities & FleetActivities & LegacyProvisioningActivities;

export interface ActivityDeps {
  ca: CertificateAuthority;
  /** What every certificate the CA returns must pass before it is packed and uploaded. */
  certificateChecks: IssuedCertificateCheck;
  /** The CA/B Forum S/MIME profile the CA is asked for (CERT_PROFILE). */
  certificateProfile: CertificateProfileName;
  gateway: CredentialGateway;
  /** UEM's directory; absent when only the events' addresses are known (no UEM_API_URL). */
  directory?: UserDirectory;
  /** UEM's device inventory (the same UEM adapter); absent without UEM_API_URL. */
  inventory?: DeviceInventory;
  notifier: Notifier;
  sealer: Sealer;
  /** Where key pairs come from: generated on demand, or a pool filled in idle time. */
  keys: KeySource;
  validityDays: number;
  pkcs12: Pkcs12Policy;
  /** When set, each password is also encrypted to this certificate for the gateway. */
  recipientCertificatePem?: string;
  /** The user's earlier encryption keys sent along with an encryption upload, at most (ARCHIVED_ENCRYPTION_KEYS). */
  archivedEncryptionKeys: number;
  /** Revoke signing certificates at the CA when an enrollment is cancelled (unenroll, wipe). */
  revokeSigningOnCancel: boolean;
  /** After a renewal is delivered, revoke the signing certificates it superseded (REVOKE_SUPERSEDED). */
  revokeSuperseded: boolean;
  /** UEM's S/MIME profile, re-installed on a device after its renewal (UEM_SMIME_PROFILE_ID). */
  smimeProfileId?: number;
  /** The provider's database (the escrow's and the register's tables). */
  database: ProviderDatabase;
  /** Where shared credentials (encryption: one per user) are kept, encrypted. */
  escrow: EscrowStore;
  /** Every credential requested for a device, and the material waiting between steps. */
  register: CredentialRegister;
  /** How long an issuance claim holds before another device may take over. */
  claimLeaseMs: number;
  /** A shared credential expiring within this is renewed rather than handed out again. */
  renewWithinMs: number;
  /** The policy of the provisioning runs the fleet sweeps start (the API's for events is the same settings). */
  policy: ProvisioningPolicy;
  /** The fleet sweeps' settings (rate, page size, reconcile scope, RENEW_BEFORE). */
  fleet: FleetSettings;
  /** Temporal, for the fleet sweeps to start per-device runs: the worker's own connection. */
  temporal?: ProvisioningStarter;
}

export function createActivities(deps: ActivityDeps): ProviderActivities {
  const lifecycle: LifecycleActivities = {
    identifyUser: (input) => attempt(input, 'identify the user', () => identifyUser(input.event, deps.directory)),

    requestCertificates: (input) =>
      attempt(input, 'request the certificates', () =>
        Promise.all(input.credentials.map((plan) => advance(deps, { enrollment: input.enrollment, user: input.user, plan, device: input.device, reissueSharedIssuedBefore: input.reissueSharedIssuedBefore }))),
      ),

    awaitIssuance: (input) => awaitIssuance(deps, input),

    deliverCredentials: (input) =>
      attempt(input, 'deliver the credentials', async () => {
        const receipts = [];
        for (const kind of input.kinds) receipts.push(await deliver(deps, { enrollment: input.enrollment, user: input.user, platform: input.platform, kind }));
        return receipts;
      }),

    notifyFailure: (notice) => deps.notifier.notifyFailure(notice),

    cleanUpEnrollment: (input) => cleanUp(deps, input),

    finishRenewal: (input) => finishRenewal(deps, input),
  };
  const fleetDeps = { ...deps, settings: deps.fleet };
  const fleet: FleetActivities = {
    fleetSettings: async () => deps.fleet,
    enrollDevices: (input) => enrollDevices(fleetDeps, input),
    retireDevices: (input) => retireDevices(fleetDeps, input),
    renewDevices: (input) => renewDevices(fleetDeps, input),
    countUnseen: ({ sweepId }) => deps.register.unseenShare(sweepId),
    sweepOutcomes: ({ sweepId }) => sweepOutcomes(fleetDeps, sweepId),
    notifyReinstalls: (input) => notifyReinstalls(fleetDeps, input),
    finishSweep: ({ sweepId }) => deps.register.forgetScan(sweepId),
  };
  return { ...createLegacyActivities(deps), ...lifecycle, ...fleet };
}
