/**
 * The management API's shapes under /v1/enrollments: requests the router validates, and the
 * views it answers with. The workflow's own status and result types live in
 * `workflows/definitions.ts` (its bundle cannot carry zod); the schemas here mirror them and the
 * compiler proves each pair identical.
 */
import { z } from 'zod';
import type { FailureReason } from '../../activities/notify/notifier';
import type { Pkcs12Profile } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';
import { STAGES } from '../../domain/stages';
import type * as Workflow from '../../workflows/definitions';
import { DateTime, RunId, sameShape, Uuid, UuidInput, WorkflowId } from './common';
import { START_OUTCOMES } from './webhook';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
/** What `encodePageToken` writes: Temporal's token and a check value, both base64url. */
export const PAGE_TOKEN_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const EXECUTION_STATUSES = ['RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW', 'UNKNOWN'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

const CREDENTIAL_KINDS = ['signing', 'encryption'] as const;
const PKCS12_PROFILES = ['legacy', 'modern'] as const;
const FAILURE_REASONS = ['AttemptsExhausted', 'WindowClosed', 'NonRetryableError'] as const;
sameShape<(typeof CREDENTIAL_KINDS)[number], CredentialKind>(true);
sameShape<(typeof PKCS12_PROFILES)[number], Pkcs12Profile>(true);
sameShape<(typeof FAILURE_REASONS)[number], FailureReason>(true);

// --- requests ----------------------------------------------------------------------------------

export const WorkflowIdParams = z.strictObject({ workflowId: WorkflowId });

export const ListEnrollmentsQuery = z.strictObject({
  stage: z.enum(STAGES).optional(),
  deviceUuid: UuidInput.optional(),
  userUuid: UuidInput.optional().meta({ description: 'EnrollmentUserUUID' }),
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  pageToken: z.string().regex(PAGE_TOKEN_PATTERN, 'not a page token').max(8192).optional().meta({ description: 'nextPageToken of the previous page' }),
});

export const StartEnrollmentRequest = z
  .strictObject({
    enrollmentUserUuid: UuidInput,
    deviceUuid: UuidInput,
    email: z.email().max(320).optional().meta({ description: 'Only without a UEM directory (UEM_API_URL unset); with one, the address always comes from UEM and this field is refused (422).' }),
    platform: z.string().trim().min(1).max(64).optional().meta({ examples: ['Apple', 'Android', 'WinRT'] }),
    userName: z.string().trim().min(1).max(256).optional(),
    deviceName: z.string().trim().min(1).max(256).optional(),
  })
  .meta({ id: 'StartEnrollmentRequest' });

const Reason = z.string().trim().min(1, 'a reason is required').max(500);
export const CancelRequest = z.strictObject({ reason: Reason.optional() }).meta({ id: 'CancelRequest' });
export const TerminateRequest = z.strictObject({ reason: Reason }).meta({ id: 'TerminateRequest' });
/** retryNow takes no arguments; a JSON body, if sent, is ignored. */
export const RetryRequest = z.object({});

// --- answers -----------------------------------------------------------------------------------

export const StartResult = z.strictObject({ workflowId: WorkflowId, runId: RunId, outcome: z.enum(START_OUTCOMES) }).meta({ id: 'StartResult' });

export const ActionAccepted = z
  .strictObject({ workflowId: WorkflowId, runId: RunId, action: z.enum(['cancel', 'retry', 'terminate']) })
  .meta({ id: 'ActionAccepted' });
export type ActionAccepted = z.output<typeof ActionAccepted>;

const ErrorSummary = z
  .strictObject({ type: z.string().optional(), message: z.string(), at: DateTime, attempt: z.number().int() })
  .meta({ id: 'ErrorSummary' });
sameShape<z.output<typeof ErrorSummary>, Workflow.ErrorSummary>(true);

const CredentialStatus = z
  .strictObject({
    kind: z.enum(CREDENTIAL_KINDS),
    state: z.enum(['not-started', 'requested', 'pending', 'issued', 'encrypted', 'delivered']),
    requestId: z.string().optional(),
    serial: z.string().optional(),
    thumbprint: z.string().optional(),
    notAfter: z.string().optional(),
    profile: z.enum(PKCS12_PROFILES).optional(),
    deliveredAt: DateTime.optional(),
    escrowId: z.string().optional().meta({ description: "Shared (encryption) credentials: the user's escrowed credential this device received" }),
  })
  .meta({ id: 'CredentialStatus', description: 'Public progress of one credential: nothing secret' });
sameShape<z.output<typeof CredentialStatus>, Workflow.CredentialStatus>(true);

const ProvisioningStatus = z
  .strictObject({
    stage: z.enum(STAGES),
    attempt: z.number().int().min(0),
    maxAttempts: z.number().int().min(0),
    nextAttemptAt: DateTime.optional(),
    deadline: DateTime,
    lastError: ErrorSummary.optional(),
    email: z.string().optional(),
    enrollmentUserUuid: Uuid,
    deviceUuid: Uuid,
    credentials: z.array(CredentialStatus),
  })
  .meta({ id: 'ProvisioningStatus', description: "The workflow's `status` query" });
sameShape<z.output<typeof ProvisioningStatus>, Workflow.ProvisioningStatus>(true);

const DeliveryReport = z
  .strictObject({
    stage: z.literal('Delivered'),
    enrollmentUserUuid: Uuid,
    deviceUuid: Uuid,
    email: z.string(),
    attempts: z.number().int().min(1),
    deliveredAt: DateTime,
    credentials: z.array(CredentialStatus),
  })
  .meta({ id: 'DeliveryReport', description: "The workflow's result" });
sameShape<z.output<typeof DeliveryReport>, Workflow.DeliveryReport>(true);

export const FailureView = z
  .strictObject({
    type: z.string().meta({ description: 'DeliveryFailed, Cancelled, Terminated, TimedOut, or another failure type', examples: ['DeliveryFailed', 'Cancelled', 'Terminated', 'TimedOut'] }),
    message: z.string(),
    reason: z.enum(FAILURE_REASONS).optional(),
    attempts: z.number().int().optional(),
    lastError: ErrorSummary.optional(),
  })
  .meta({ id: 'FailureView' });
export type FailureView = z.output<typeof FailureView>;

/** What visibility and the memo say about a run, without asking the workflow. */
const summaryShape = {
  workflowId: WorkflowId,
  runId: RunId,
  executionStatus: z.enum(EXECUTION_STATUSES).meta({ description: "Temporal's view: is the run open, and how did it end" }),
  stage: z.enum(STAGES).meta({ description: 'The lifecycle stage (search attribute Stage, or the status query while running)' }),
  attempt: z.number().int().min(0),
  enrollmentUserUuid: Uuid.optional(),
  deviceUuid: Uuid.optional(),
  eventTime: DateTime.optional(),
  startTime: DateTime,
  closeTime: DateTime.optional(),
};

export const EnrollmentSummary = z.strictObject(summaryShape).meta({ id: 'EnrollmentSummary' });
export type EnrollmentSummary = z.output<typeof EnrollmentSummary>;

export const EnrollmentView = z
  .strictObject({
    ...summaryShape,
    summary: z.string().optional().meta({ description: 'Who and which device, by name' }),
    status: ProvisioningStatus.optional().meta({ description: 'While the run is open and a worker answers in time' }),
    result: DeliveryReport.optional(),
    failure: FailureView.optional(),
  })
  .meta({ id: 'EnrollmentView' });
export type EnrollmentView = z.output<typeof EnrollmentView>;

export const EnrollmentList = z
  .strictObject({
    items: z.array(EnrollmentSummary),
    nextPageToken: z.string().nullable().meta({ description: 'Pass as pageToken for the next page; null on the last page' }),
  })
  .meta({ id: 'EnrollmentList' });
export type EnrollmentList = z.output<typeof EnrollmentList>;
