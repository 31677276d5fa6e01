/**
 * The activities of the first lifecycle shape (runs started before the lean lifecycle): one
 * activity per credential and step, sealed keys and PKCS#12 files travelling through the history.
 * Runs of that shape replay and finish with these (src/workflows/legacy/); nothing new calls them.
 */
import type { CredentialKind, EnrollmentEvent } from '../../domain/enrollment';
import type {
  CertificateInfo,
  Sealed,
  IssuanceOutcome,
  PreparedRequest,
  ResolvedUser,
  SealedCredential,
  UploadReceipt,
} from '../../domain/credentials';
import type { CleanUpInput, CleanUpReport, EscrowScope } from '../contract';
import type { FailureNotice } from '../notify/notifier';

export interface GenerateKeyPairInput {
  kind: CredentialKind;
  user: ResolvedUser;
}

export interface RequestCertificateInput {
  kind: CredentialKind;
  csrPem: string;
  user: ResolvedUser;
  /** Stable for (workflow, kind): a retried request never yields a second certificate. */
  idempotencyKey: string;
  /** The public key the certificate must carry (checked before the answer is accepted). */
  publicKeySha256: string;
}

export interface CheckIssuanceInput {
  kind: CredentialKind;
  requestId: string;
  publicKeySha256: string;
  /** The address the certificate must name (absent in polls scheduled by older workflow code). */
  email?: string;
}

export interface EncryptCredentialInput {
  kind: CredentialKind;
  sealedPrivateKey: PreparedRequest['sealedPrivateKey'];
  certificate: CertificateInfo;
  platform?: string;
  /** The friendly name shown when the PKCS#12 is imported. */
  friendlyName: string;
}

export interface UploadCredentialInput {
  kind: CredentialKind;
  event: Pick<EnrollmentEvent, 'enrollmentUserUuid' | 'deviceUuid' | 'enrollmentUserId'>;
  email: string;
  credential: SealedCredential;
  thumbprint: string;
}

/** Shared credentials (encryption: one per user) come from the escrow or are issued under a claim. */
export interface ClaimSharedCredentialInput {
  kind: CredentialKind;
  enrollmentUserUuid: string;
  deviceUuid: string;
  /** Who claims: stable for the workflow, so claiming again renews the same lease. */
  owner: string;
  scope?: EscrowScope;
}

export type SharedCredentialClaim =
  /** The user already has this credential: deliver it to this device too. Key sealed. */
  | { status: 'exists'; credentialId: string; sealedPrivateKey: Sealed; certificate: CertificateInfo; publicKeySha256: string; keyAlgorithm: string }
  /** This workflow issues it: request a certificate, then escrow it. */
  | { status: 'claimed'; claimId: string; leaseExpiresAt: string }
  /** Another device of the user is issuing it right now: ask again later. */
  | { status: 'wait'; retryAfterMs: number; heldBy: string };

export interface EscrowCredentialInput {
  kind: CredentialKind;
  enrollmentUserUuid: string;
  deviceUuid: string;
  owner: string;
  scope?: EscrowScope;
  claimId: string;
  sealedPrivateKey: Sealed;
  certificate: CertificateInfo;
}

/** What to deliver after escrowing: ours, or (when another device won a race) theirs. */
export interface EscrowOutcome {
  stored: boolean;
  credentialId: string;
  sealedPrivateKey: Sealed;
  certificate: CertificateInfo;
  publicKeySha256: string;
}

export interface LegacyProvisioningActivities {
  resolveUser(event: EnrollmentEvent): Promise<ResolvedUser>;
  generateKeyPair(input: GenerateKeyPairInput): Promise<PreparedRequest>;
  requestCertificate(input: RequestCertificateInput): Promise<IssuanceOutcome>;
  checkIssuance(input: CheckIssuanceInput): Promise<IssuanceOutcome>;
  encryptCredential(input: EncryptCredentialInput): Promise<SealedCredential>;
  uploadCredential(input: UploadCredentialInput): Promise<UploadReceipt>;
  claimSharedCredential(input: ClaimSharedCredentialInput): Promise<SharedCredentialClaim>;
  escrowCredential(input: EscrowCredentialInput): Promise<EscrowOutcome>;
  notifyFailure(notice: FailureNotice): Promise<void>;
  cleanUpEnrollment(input: CleanUpInput): Promise<CleanUpReport>;
}
