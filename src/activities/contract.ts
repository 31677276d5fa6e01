/**
 * The activities of the lifecycle: one per stage, each for every credential kind at once. The
 * workflow imports this file for types only; `createActivities` implements it.
 *
 * What crosses the workflow is public: identifiers, the mailbox, certificate summaries. Private
 * keys, PKCS#12 files and passwords never do — they wait between steps in the credential register
 * (encrypted) and the escrow, found again by the request key of (workflow, first run, kind).
 *
 * Waiting is Temporal's: a step told `notBefore` (the next of UEM's attempt slots) fails with
 * `NotYetDue` until then and Temporal retries it at that time; `awaitIssuance` fails with
 * `StillPending` until the CA has issued. Neither costs a history event per wait.
 */
import type { CredentialKind, EnrollmentEvent } from '../domain/enrollment';
import type { FailureNotice } from './notify/notifier';

/**
 * Who shares a credential: every device of the user (escrowed, the encryption credential always)
 * or this device alone. The workflow decides it from its policy, so a worker with other settings
 * cannot disagree. Absent in inputs recorded before it was sent: those were shared by the user.
 */
export type EscrowScope = 'user' | 'device';

/** The run a step works for: register rows and CA idempotency keys derive from it. */
export interface EnrollmentRef {
  workflowId: string;
  /** The first run's id: stable across resets, so a retried step finds its own rows. */
  runId: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
}

export interface CredentialPlan {
  kind: CredentialKind;
  sharedBy: EscrowScope;
}

export interface StepTiming {
  /** Not before this instant (ISO 8601): the attempt slot this step opens. Absent: now. */
  notBefore?: string;
}

/** The mailbox a certificate is for, as UEM's directory (or, without one, the event) says. */
export interface IdentifiedUser {
  email: string;
  /** UEM's numeric user id for this EnrollmentUserUUID (the directory's answer, never the event's). */
  enrollmentUserId?: string;
  displayName?: string;
  userName?: string;
  /** Where the address came from: UEM's directory (authoritative) or the event (no directory configured). */
  source: 'directory' | 'event';
  /** The event carried another address than the directory's: recorded, never used. */
  eventAddressIgnored?: boolean;
}

export interface IdentifyUserInput extends StepTiming {
  event: EnrollmentEvent;
}

/** Public facts about an issued certificate (no PEM: the register keeps the certificate). */
export interface CertificateSummary {
  serial: string;
  thumbprint: string;
  notBefore: string;
  notAfter: string;
}

export type CredentialProgress =
  | { kind: CredentialKind; state: 'issued'; certificate: CertificateSummary; escrowId?: string }
  /** The CA took the request and will answer later. */
  | { kind: CredentialKind; state: 'pending'; requestId: string }
  /** Another device of the user is issuing the shared credential right now. */
  | { kind: CredentialKind; state: 'waiting'; heldBy: string };

/** What the register keeps of the device, for renewals and profile re-installs later. */
export interface DeviceFacts {
  deviceId?: string;
  platform?: string;
}

export interface RequestCertificatesInput extends StepTiming {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  credentials: CredentialPlan[];
  device?: DeviceFacts;
  /** Renewal on demand: the user's shared credentials issued before this instant are issued anew. */
  reissueSharedIssuedBefore?: string;
}

export interface AwaitIssuanceInput extends StepTiming {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  /** The credentials not issued yet. */
  credentials: CredentialPlan[];
  /** How often the CA is asked during the first day of a wait (then at least hourly). */
  pollIntervalMs: number;
  device?: DeviceFacts;
  reissueSharedIssuedBefore?: string;
}

export interface DeliverCredentialsInput extends StepTiming {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  /** Platform as UEM names it: picks the PKCS#12 profile. */
  platform?: string;
  kinds: CredentialKind[];
}

export interface DeliveryReceipt {
  kind: CredentialKind;
  deliveredAt: string;
  /** The gateway already held this exact credential (a harmless repeat). */
  alreadyPresent: boolean;
  pkcs12Profile: string;
  receiptId?: string;
}

export interface CleanUpInput {
  event: EnrollmentEvent;
  /** Credentials a run of the first lifecycle shape issued (the register knows the rest). */
  credentials: { kind: CredentialKind; serial?: string; delivered: boolean }[];
  /**
   * unenrolled: the device left (everything it holds is retired); cancelled: this run was stopped
   * (only what this run requested — the `enrollment` — is retired; what the device held before stays).
   */
  reason: 'cancelled' | 'unenrolled';
  enrollment?: EnrollmentRef;
}

export interface CleanUpReport {
  removedFromGateway: boolean;
  revokedSerials: string[];
  notes: string[];
}

/** After a renewal's delivery: the phone is told to fetch it, and what it replaced is revoked. */
export interface FinishRenewalInput {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  device: DeviceFacts;
  /** Why the renewal ran and which sweep started it. */
  reason: string;
  sweepId: string;
}

export interface FinishRenewalReport {
  /** reinstalled: UEM was asked to re-install the S/MIME profile; queued: administrators will be told to re-push it. */
  profile: 'reinstalled' | 'queued';
  /** Superseded signing certificates revoked (reason superseded). */
  revokedSerials: string[];
  notes: string[];
}

export interface LifecycleActivities {
  identifyUser(input: IdentifyUserInput): Promise<IdentifiedUser>;
  requestCertificates(input: RequestCertificatesInput): Promise<CredentialProgress[]>;
  awaitIssuance(input: AwaitIssuanceInput): Promise<CredentialProgress[]>;
  deliverCredentials(input: DeliverCredentialsInput): Promise<DeliveryReceipt[]>;
  notifyFailure(notice: FailureNotice): Promise<void>;
  cleanUpEnrollment(input: CleanUpInput): Promise<CleanUpReport>;
  finishRenewal(input: FinishRenewalInput): Promise<FinishRenewalReport>;
}
