/**
 * The activities the provisioning workflow calls: names, inputs and outputs. The workflow imports
 * this file for types only; `createActivities` implements it. Names follow the lifecycle stages so
 * an event history reads like the lifecycle.
 */
import type { CredentialKind, EnrollmentEvent } from '../domain/enrollment';
import type {
  CertificateInfo,
  IssuanceOutcome,
  PreparedRequest,
  ResolvedUser,
  SealedCredential,
  UploadReceipt,
} from '../domain/credentials';
import type { FailureNotice } from './notify/notifier';

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

export interface CleanUpInput {
  event: EnrollmentEvent;
  /** Credentials that reached the gateway or the CA in this run (public facts only). */
  credentials: { kind: CredentialKind; serial?: string; delivered: boolean }[];
  reason: 'cancelled' | 'unenrolled';
}

export interface CleanUpReport {
  removedFromGateway: boolean;
  revokedSerials: string[];
  notes: string[];
}

export interface ProvisioningActivities {
  resolveUser(event: EnrollmentEvent): Promise<ResolvedUser>;
  generateKeyPair(input: GenerateKeyPairInput): Promise<PreparedRequest>;
  requestCertificate(input: RequestCertificateInput): Promise<IssuanceOutcome>;
  checkIssuance(input: CheckIssuanceInput): Promise<IssuanceOutcome>;
  encryptCredential(input: EncryptCredentialInput): Promise<SealedCredential>;
  uploadCredential(input: UploadCredentialInput): Promise<UploadReceipt>;
  notifyFailure(notice: FailureNotice): Promise<void>;
  cleanUpEnrollment(input: CleanUpInput): Promise<CleanUpReport>;
}
