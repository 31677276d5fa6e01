/**
 * The provisioning workflow's public surface: its input, signals, query, search attributes and
 * result. Clients (API, CLI, tests) import this file; it has no workflow-only imports.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CredentialKind, EnrollmentEvent } from '../domain/enrollment';
import type { Pkcs12Profile } from '../domain/credentials';
import type { ProvisioningPolicy } from '../domain/policy';
import type { Stage } from '../domain/stages';
import type { FailureReason } from '../activities/notify/notifier';

export const WORKFLOW_TYPE = 'provisionSmime';
export const RETIRE_WORKFLOW_TYPE = 'retireSmime';

/** Clean-up after an unenroll for a provisioning run that already closed. */
export interface RetireInput {
  /** The enrollment as the provisioning run knew it. */
  event: EnrollmentEvent;
  provisioningRunId: string;
  /** What that run had issued and delivered (public facts only). */
  credentials: { kind: CredentialKind; serial?: string; delivered: boolean }[];
  /** The UEM event that asked for it, in words. */
  reason: string;
}

/** Retire workflow ID: one per closed provisioning run, so a repeated unenroll event joins it. */
export function retireWorkflowId(provisioningWorkflowId: string, provisioningRunId: string): string {
  return `${provisioningWorkflowId.replace(/^smime-/, 'smime-retire-')}-${provisioningRunId}`;
}

export interface ProvisionInput {
  event: EnrollmentEvent;
  /** Fixed for the run; defaults apply when absent. */
  policy?: ProvisioningPolicy;
  /** Present when the run renews what the device holds (started by a reconcile or a renewal on demand). */
  renewal?: RenewalRequest;
}

/**
 * A renewal run: the device already holds credentials and this run replaces them — new signing key
 * and certificate, the user's encryption credential by the escrow's rule, the profile re-installed
 * so the phone fetches them, and the superseded signing certificate revoked once the new one is
 * at the gateway.
 */
export interface RenewalRequest {
  /** Why, in words: "expires 2027-11-30T…" or the operator's reason. */
  reason: string;
  /** The sweep (reconcile or renewal) that started the run: its workflow id. */
  sweepId: string;
  /** Renewal on demand: the user's shared (escrowed) credentials issued before this instant are re-issued too. */
  reissueSharedIssuedBefore?: string;
}

/** Skip the wait for the next attempt (or the next issuance poll) and try now. */
export const retryNowSignal = defineSignal('retryNow');

/** The CA says a pending request is ready: poll it now instead of at the next interval. */
export interface CertificateIssuedNotice {
  kind?: CredentialKind;
  requestId?: string;
}
export const certificateIssuedSignal = defineSignal<[CertificateIssuedNotice?]>('certificateIssued');

export const statusQuery = defineQuery<ProvisioningStatus>('status');

export const searchAttributes = {
  stage: defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD),
  attempt: defineSearchAttributeKey('Attempt', SearchAttributeType.INT),
  deviceUuid: defineSearchAttributeKey('DeviceUUID', SearchAttributeType.KEYWORD),
  enrollmentUserUuid: defineSearchAttributeKey('EnrollmentUserUUID', SearchAttributeType.KEYWORD),
  /** Runs a fleet sweep (backfill, reconcile, renewal) started carry the sweep's workflow id. */
  fleetSweep: defineSearchAttributeKey('FleetSweep', SearchAttributeType.KEYWORD),
} as const;

/** Search attributes the dev server and tests register: name → type, as the CLI spells it. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Int'> = {
  Stage: 'Keyword',
  Attempt: 'Int',
  DeviceUUID: 'Keyword',
  EnrollmentUserUUID: 'Keyword',
  FleetSweep: 'Keyword',
};

/** Public progress of one credential: nothing secret, ever. */
export interface CredentialStatus {
  kind: CredentialKind;
  state: 'not-started' | 'requested' | 'pending' | 'issued' | 'encrypted' | 'delivered';
  requestId?: string;
  serial?: string;
  thumbprint?: string;
  notAfter?: string;
  profile?: Pkcs12Profile;
  deliveredAt?: string;
  /** Shared credentials (encryption): the user's escrowed credential this device received. */
  escrowId?: string;
}

export interface ErrorSummary {
  type?: string;
  message: string;
  at: string;
  attempt: number;
}

/** The answer to the `status` query. */
export interface ProvisioningStatus {
  stage: Stage;
  attempt: number;
  maxAttempts: number;
  nextAttemptAt?: string;
  deadline: string;
  lastError?: ErrorSummary;
  email?: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  credentials: CredentialStatus[];
}

/** The workflow's result when delivered. */
export interface DeliveryReport {
  stage: 'Delivered';
  enrollmentUserUuid: string;
  deviceUuid: string;
  email: string;
  attempts: number;
  deliveredAt: string;
  credentials: CredentialStatus[];
  /** A renewal run: what happened after delivery (unfinished: the re-install or revocation gave up; see the history). */
  renewal?: RenewalOutcome;
}

export interface RenewalOutcome {
  reason: string;
  sweepId: string;
  profile?: 'reinstalled' | 'queued';
  revokedSerials?: string[];
  notes?: string[];
  unfinished?: boolean;
}

/** Carried as the details of the `DeliveryFailed` failure. */
export interface FailureReport {
  stage: 'Failed';
  reason: FailureReason;
  attempts: number;
  lastError?: ErrorSummary;
  enrollmentUserUuid: string;
  deviceUuid: string;
  credentials: CredentialStatus[];
}
