/**
 * The one place that starts (and cancels) provisioning workflows. The webhook, the management API,
 * the fleet workflows and tests all come through here, so the idempotency rules live in one spot.
 * A start of a fresh event is ONE call to Temporal (the webhook's ack waits for it):
 *
 * - another event while a run is open joins it (conflict policy USE_EXISTING: the server decides,
 *   so two events racing each other still yield exactly one run) — `started: false`;
 * - the same event again (same user, device, EventTime) never starts a second run, even after the
 *   first has closed: the start's request id is derived from the event, and Temporal answers a
 *   request id it has seen with the run it created — still running ('started': Temporal answers a
 *   repeat exactly like the original, so both are told the run was started for their event) or
 *   closed ('duplicate');
 * - a newer EventTime after the previous run closed starts a new run (reuse policy ALLOW_DUPLICATE);
 * - an event older than a few minutes (a redelivery after an outage, events out of order) is first
 *   compared with the latest run's EventTime (one more call): one that is not newer is answered
 *   with that run ('joined' or 'duplicate') and starts nothing — Temporal only remembers the request
 *   id of the latest run, so an old event after a newer run closed needs this look.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Client, isGrpcServiceError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, type WorkflowSerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { decodeArrayFromPayloads, encodeMapToPayloads, encodeToPayloadsWithContext, encodeUnifiedSearchAttributes, encodeUserMetadata } from './sdk-internals';
import { provisioningWorkflowId, type EnrollmentEvent } from '../domain/enrollment';
import { fleetSearchAttributes } from '../workflows/fleet-definitions';
import type { retireSmime } from '../workflows';
import type { ProvisioningPolicy } from '../domain/policy';
import { DELIVERY_FAILED } from '../domain/errors';
import {
  RETIRE_WORKFLOW_TYPE,
  retireWorkflowId,
  searchAttributes,
  WORKFLOW_TYPE,
  type CredentialStatus,
  type DeliveryReport,
  type FailureReport,
  type ProvisionInput,
  type RenewalRequest,
  type RetireInput,
} from '../workflows/definitions';

export type StartOutcome = 'started' | 'joined' | 'duplicate';

export interface StartProvisioningInput {
  event: EnrollmentEvent;
  policy: ProvisioningPolicy;
  taskQueue: string;
  /** The fleet sweep (backfill, reconcile, renewal) starting the run: recorded as FleetSweep. */
  sweepId?: string;
  /** A renewal of what the device holds. */
  renewal?: RenewalRequest;
}

export interface StartProvisioningResult {
  workflowId: string;
  runId: string;
  outcome: StartOutcome;
}

/** What every provisioning run records in its memo: the event it was started for. */
export interface ProvisioningMemo {
  /** The EventTime of the event that started the run (ISO 8601): an unenrollment older than it is stale. */
  eventTime: string;
}

/** Events younger than this (by their EventTime) take the one-call start; older ones are compared first. */
export const FRESH_EVENT_MS = 5 * 60_000;

/** gRPC status NOT_FOUND (the code is fixed by the gRPC spec). */
const GRPC_NOT_FOUND = 5;

/** Temporal limits a summary's size; a summary is for people, so a short one reads better anyway. */
const MAX_SUMMARY_LENGTH = 200;

export async function startProvisioning(client: Client, input: StartProvisioningInput): Promise<StartProvisioningResult> {
  const { event, policy, taskQueue } = input;
  const workflowId = provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid);
  if (Date.now() - Date.parse(event.eventTime) > FRESH_EVENT_MS) {
    const previous = await latestRun(client, workflowId);
    if (previous && !isNewerEventTime(event.eventTime, previous.eventTime)) {
      return { workflowId, runId: previous.runId, outcome: previous.running ? 'joined' : 'duplicate' };
    }
  }
  const converter = client.options.loadedDataConverter;
  const context: WorkflowSerializationContext = { type: 'workflow', namespace: client.options.namespace, workflowId };
  const memo: ProvisioningMemo = { eventTime: event.eventTime };
  const args: [ProvisionInput] = [{ event, policy, ...(input.renewal ? { renewal: input.renewal } : {}) }];
  const answer = await client.workflowService.startWorkflowExecution({
    namespace: client.options.namespace,
    identity: client.options.identity,
    requestId: startRequestId(workflowId, event.eventTime, input.renewal ? 'renew' : 'provision'),
    workflowId,
    workflowType: { name: WORKFLOW_TYPE },
    taskQueue: { kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL, name: taskQueue },
    input: { payloads: await encodeToPayloadsWithContext(converter, context, args) },
    memo: { fields: await encodeMapToPayloads(converter, { ...memo }, context) },
    searchAttributes: {
      indexedFields: encodeUnifiedSearchAttributes(undefined, [
        { key: searchAttributes.stage, value: 'Received' },
        { key: searchAttributes.attempt, value: 0 },
        { key: searchAttributes.deviceUuid, value: event.deviceUuid },
        { key: searchAttributes.enrollmentUserUuid, value: event.enrollmentUserUuid },
        ...(input.sweepId ? [{ key: fleetSearchAttributes.sweep, value: input.sweepId }] : []),
      ]),
    },
    userMetadata: await encodeUserMetadata(converter, (input.renewal ? renewalSummary(event) : provisioningSummary(event)), provisioningDetails(event), context),
    // Open run with this ID: join it. Closed run: a newer event may start a fresh one.
    workflowIdConflictPolicy: temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
    workflowIdReusePolicy: temporal.api.enums.v1.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
    header: { fields: {} },
  });
  const running = answer.status === temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  const outcome: StartOutcome = !answer.started ? 'joined' : running ? 'started' : 'duplicate';
  return { workflowId, runId: answer.runId, outcome };
}

/**
 * The start's request id: the same for the same event (user, device, EventTime), so Temporal
 * recognises a repeated event by it and answers with the run it already created.
 */
export function startRequestId(workflowId: string, eventTime: string, purpose: 'provision' | 'renew' = 'provision'): string {
  const hex = createHash('sha256').update(`${purpose}/${workflowId}/${eventTime}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * cancel-requested: the open run was asked to cancel (it cleans up itself);
 * retire-started / already-retired: the run had closed, so a retireSmime workflow cleans up what it delivered;
 * not-running: closed with nothing to clean up (cancelled before, or nothing issued);
 * not-found: no run for that user and device; stale: the open run belongs to a later enrollment.
 */
export type CancelOutcome = 'cancel-requested' | 'retire-started' | 'already-retired' | 'not-running' | 'not-found' | 'stale';

export interface CancelProvisioningResult {
  workflowId: string;
  runId?: string;
  outcome: CancelOutcome;
}

export interface CancelProvisioningOptions {
  /**
   * The time of the event that asks for cancellation (an unenrollment). An open run started by a
   * *later* enrollment is left alone: that unenrollment was about an earlier enrollment, delivered late.
   */
  eventTime?: string;
  /**
   * When the latest run has already closed, retire what it delivered (gateway clean-up, signing
   * revocation by policy) with a retireSmime workflow on this task queue. Unset: just report it.
   */
  retireOnQueue?: string;
}

/**
 * Ask the open run of a provisioning workflow to cancel: the workflow runs its clean-up and ends
 * Cancelled. Answers 'not-running' when the latest run has closed, 'not-found' when there is none.
 */
export async function cancelProvisioning(
  client: Client,
  workflowId: string,
  reason: string,
  options: CancelProvisioningOptions = {},
): Promise<CancelProvisioningResult> {
  const latest = await latestRun(client, workflowId);
  if (!latest) return { workflowId, outcome: 'not-found' };
  if (!latest.running) {
    if (options.retireOnQueue && !(options.eventTime && latest.eventTime && isNewerEventTime(latest.eventTime, options.eventTime))) {
      return retireClosedRun(client, workflowId, latest.runId, reason, options.retireOnQueue);
    }
    return { workflowId, runId: latest.runId, outcome: 'not-running' };
  }
  if (options.eventTime && latest.eventTime && isNewerEventTime(latest.eventTime, options.eventTime)) {
    return { workflowId, runId: latest.runId, outcome: 'stale' };
  }
  try {
    // The raw call, because the handle's cancel() cannot record a reason in the history.
    await client.workflowService.requestCancelWorkflowExecution({
      namespace: client.options.namespace,
      identity: client.options.identity,
      requestId: randomUUID(),
      workflowExecution: { workflowId, runId: latest.runId },
      reason,
    });
  } catch (err) {
    // Closed between the describe and the request: nothing left to cancel.
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) return { workflowId, runId: latest.runId, outcome: 'not-running' };
    throw err;
  }
  return { workflowId, runId: latest.runId, outcome: 'cancel-requested' };
}

export interface LatestRun {
  runId: string;
  running: boolean;
  /** The EventTime the run was started for, when known. */
  eventTime?: string;
}

/** The latest run of a workflow ID, or undefined if the ID was never used (or has been deleted). */
export async function latestRun(client: Client, workflowId: string): Promise<LatestRun | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const memo = description.memo as Partial<ProvisioningMemo> | undefined;
  const eventTime = typeof memo?.eventTime === 'string' ? memo.eventTime : await eventTimeFromInput(client, workflowId, description.runId);
  return { runId: description.runId, running: description.status.name === 'RUNNING' || description.status.name === 'PAUSED', eventTime };
}

/**
 * A run started elsewhere (by hand, by an older version) has no memo: read the EventTime from the
 * workflow input in its first history event instead.
 */
async function eventTimeFromInput(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  const eventTime = (await provisioningInput(client, workflowId, runId))?.event?.eventTime;
  return typeof eventTime === 'string' ? eventTime : undefined;
}

/** A run's input, from the first event of its history. */
async function provisioningInput(client: Client, workflowId: string, runId: string): Promise<Partial<ProvisionInput> | undefined> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const payloads = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  if (!payloads?.length) return undefined;
  // The workflow's own context: the codec checks the payloads were bound to this workflow.
  const [first] = await decodeArrayFromPayloads(client.workflow.options.loadedDataConverter, payloads, {
    type: 'workflow',
    namespace: client.options.namespace,
    workflowId,
  });
  return first as Partial<ProvisionInput> | undefined;
}

/**
 * Clean up after a closed run: what it issued and delivered comes from its result (Delivered) or
 * its failure report (Failed). A cancelled run cleaned up itself; a terminated one left no report.
 * One retireSmime per closed run: a repeated unenroll event finds it and changes nothing.
 */
async function retireClosedRun(client: Client, workflowId: string, runId: string, reason: string, taskQueue: string): Promise<CancelProvisioningResult> {
  const handle = client.workflow.getHandle(workflowId, runId);
  let credentials: CredentialStatus[] | undefined;
  try {
    credentials = ((await handle.result()) as DeliveryReport).credentials;
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === DELIVERY_FAILED) {
      credentials = (err.cause.details?.[0] as FailureReport | undefined)?.credentials;
    }
  }
  const input = await provisioningInput(client, workflowId, runId);
  const issued = (credentials ?? []).filter((c) => c.serial || c.state === 'delivered');
  if (!input?.event || issued.length === 0) return { workflowId, runId, outcome: 'not-running' };
  const retireInput: RetireInput = {
    event: input.event,
    provisioningRunId: runId,
    credentials: issued.map((c) => ({ kind: c.kind, serial: c.serial, delivered: c.state === 'delivered' })),
    reason,
  };
  try {
    await client.workflow.start<typeof retireSmime>(RETIRE_WORKFLOW_TYPE, {
      workflowId: retireWorkflowId(workflowId, runId),
      taskQueue,
      args: [retireInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Retire S/MIME credentials: ${provisioningSummary(input.event)}`.slice(0, MAX_SUMMARY_LENGTH),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId, outcome: 'already-retired' };
    throw err;
  }
  return { workflowId, runId, outcome: 'retire-started' };
}

/** True when `candidate` is strictly later than `reference`; an unknown reference counts as older. */
export function isNewerEventTime(candidate: string, reference: string | undefined): boolean {
  if (reference === undefined) return true;
  const a = Date.parse(candidate);
  const b = Date.parse(reference);
  if (Number.isNaN(b)) return true;
  if (Number.isNaN(a)) return false;
  return a > b;
}

/** "S/MIME for mkovac (mira.kovac@example.test) on Mira iPhone": names, never a secret. */
export function provisioningSummary(event: EnrollmentEvent): string {
  const who = event.userName
    ? event.email
      ? `${event.userName} (${event.email})`
      : event.userName
    : (event.email ?? `user ${event.enrollmentUserUuid}`);
  const device = event.deviceName ?? (event.platform ? `${event.platform} device ${event.deviceUuid}` : `device ${event.deviceUuid}`);
  const summary = `S/MIME for ${who} on ${device}`;
  return summary.length <= MAX_SUMMARY_LENGTH ? summary : `${summary.slice(0, MAX_SUMMARY_LENGTH - 1)}…`;
}

/** "Renew S/MIME for …": a renewal run reads as one in the UI's list. */
export function renewalSummary(event: EnrollmentEvent): string {
  const summary = provisioningSummary(event).replace(/^S\/MIME for /, 'Renew S/MIME for ');
  return summary.length <= MAX_SUMMARY_LENGTH ? summary : `${summary.slice(0, MAX_SUMMARY_LENGTH - 1)}…`;
}

/** The identifiers an operator searches by, as Markdown for the Temporal UI. */
export function provisioningDetails(event: EnrollmentEvent): string {
  const rows: [string, string | undefined][] = [
    ['EnrollmentUserUUID', event.enrollmentUserUuid],
    ['DeviceUUID', event.deviceUuid],
    ['EnrollmentUserId', event.enrollmentUserId],
    ['DeviceId', event.deviceId],
    ['Platform', event.platform],
    ['OperatingSystem', event.os],
    ['OrganizationGroup', event.organizationGroup],
    ['EventTime', event.eventTime],
    ['EventId', event.eventId],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '')
    .map(([name, value]) => `**${name}:** ${value}`)
    .join('\n');
}
