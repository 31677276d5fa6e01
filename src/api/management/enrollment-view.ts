/**
 * What the management API shows of a provisioning workflow: stage and attempt at the top, the
 * `status` query's content while it runs, its result or failure once closed. Everything here comes
 * from public workflow state (stages, serials, thumbprints, error summaries): never a secret.
 * The shapes are the schemas in ../schemas/enrollments.ts.
 */
import {
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  WorkflowFailedError,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { isStage, type Stage } from '../../domain/stages';
import type { ProvisioningMemo } from '../../temporal/start';
import { EXECUTION_STATUSES, type EnrollmentSummary, type EnrollmentView, type ExecutionStatus, type FailureView } from '../schemas/enrollments';
import {
  searchAttributes,
  statusQuery,
  type DeliveryReport,
  type FailureReport,
  type ProvisioningStatus,
} from '../../workflows/definitions';

export function executionStatusName(info: Pick<WorkflowExecutionInfo, 'status'>): ExecutionStatus {
  const name = info.status.name;
  return (EXECUTION_STATUSES as readonly string[]).includes(name) ? (name as ExecutionStatus) : 'UNKNOWN';
}

/** The list-level facts: visibility and memo only, no call to the workflow. */
export function summarise(info: Omit<WorkflowExecutionInfo, 'raw'>): EnrollmentSummary {
  const executionStatus = executionStatusName(info);
  const attributes = info.typedSearchAttributes;
  const stageAttribute = attributes.get(searchAttributes.stage);
  const memo = info.memo as Partial<ProvisioningMemo> | undefined;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    executionStatus,
    stage: stageFor(executionStatus, stageAttribute),
    attempt: attributes.get(searchAttributes.attempt) ?? 0,
    enrollmentUserUuid: attributes.get(searchAttributes.enrollmentUserUuid),
    deviceUuid: attributes.get(searchAttributes.deviceUuid),
    eventTime: typeof memo?.eventTime === 'string' ? memo.eventTime : undefined,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
  };
}

/**
 * A closed run's stage follows from how it ended; the search attribute can lag by one upsert (or
 * not be written at all if the run was terminated early). Terminated and timed-out runs keep the
 * stage they were in.
 */
function stageFor(status: ExecutionStatus, attribute: string | undefined): Stage {
  if (status === 'COMPLETED') return 'Delivered';
  if (status === 'FAILED') return 'Failed';
  if (status === 'CANCELLED') return 'Cancelled';
  return attribute && isStage(attribute) ? attribute : 'Received';
}

/** The whole view of one run: describe, then the status query (open) or the outcome (closed). */
export async function enrollmentView(
  client: Client,
  description: WorkflowExecutionDescription,
  options: { queryTimeoutMs: number },
): Promise<EnrollmentView> {
  const view: EnrollmentView = { ...summarise(description), summary: await description.staticSummary() };
  const handle = client.workflow.getHandle(description.workflowId, description.runId, { followRuns: false });
  if (isOpen(view.executionStatus)) {
    const status = await queryStatus(client, () => handle.query(statusQuery), options.queryTimeoutMs);
    if (status) {
      view.status = status;
      view.stage = status.stage;
      view.attempt = status.attempt;
    }
    return view;
  }
  try {
    view.result = (await handle.result()) as DeliveryReport;
  } catch (err) {
    view.failure = failureView(err);
  }
  return view;
}

/** The status query needs a worker; without one it would wait. The view then shows visibility only. */
async function queryStatus(client: Client, query: () => Promise<ProvisioningStatus>, timeoutMs: number): Promise<ProvisioningStatus | undefined> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, query);
  } catch {
    return undefined;
  }
}

export function failureView(err: unknown): FailureView {
  const cause = err instanceof WorkflowFailedError ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const report = cause.details?.[0] as Partial<FailureReport> | undefined;
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      ...(report?.stage === 'Failed' ? { reason: report.reason, attempts: report.attempts, lastError: report.lastError } : {}),
    };
  }
  if (cause instanceof CancelledFailure) return { type: 'Cancelled', message: cause.message || 'cancelled' };
  if (cause instanceof TerminatedFailure) return { type: 'Terminated', message: cause.message || 'terminated' };
  if (cause instanceof TimeoutFailure) return { type: 'TimedOut', message: cause.message || 'timed out' };
  return { type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause) };
}

/** What replaces a free-text message for a viewer. */
export const HIDDEN_FOR_VIEWERS = '(shown to operators only)';

/**
 * What a viewer sees of a run: identifiers (UUIDs, workflow and run IDs), stage, attempts, times,
 * serials, thumbprints and failure *types* — enough to watch the fleet and triage — but no personal
 * data in the clear: addresses are masked (m***@example.test), the summary (user and device names)
 * is left out, and free-text messages (which name users, addresses, and carry whatever an outside
 * system answered) are replaced. Operators see everything.
 */
export function viewerView(view: EnrollmentView): EnrollmentView {
  const { summary: _summary, ...rest } = view;
  const masked: EnrollmentView = { ...rest };
  if (view.status) {
    masked.status = {
      ...view.status,
      ...(view.status.email !== undefined ? { email: maskEmail(view.status.email) } : {}),
      ...(view.status.lastError ? { lastError: { ...view.status.lastError, message: HIDDEN_FOR_VIEWERS } } : {}),
    };
  }
  if (view.result) masked.result = { ...view.result, email: maskEmail(view.result.email) };
  if (view.failure) {
    masked.failure = {
      ...view.failure,
      message: HIDDEN_FOR_VIEWERS,
      ...(view.failure.lastError ? { lastError: { ...view.failure.lastError, message: HIDDEN_FOR_VIEWERS } } : {}),
    };
  }
  return masked;
}

/** mira.kovac@example.test → m***@example.test: who it is stays with operators, the domain says which tenant. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

export function isOpen(status: ExecutionStatus): boolean {
  return status === 'RUNNING' || status === 'PAUSED';
}
