/**
 * Starting, reading and cancelling the fleet sweeps (backfill, reconcile, renewal) from a client —
 * the API, the CLIs, tests — and keeping the reconcile Schedule in step with the worker's settings.
 * A sweep's progress is read from its memo (written after every page), so no worker is needed to
 * answer; the run's status says whether it is still going.
 */
import { randomUUID } from 'node:crypto';
import { type Client, ScheduleAlreadyRunning, WorkflowNotFoundError } from '@temporalio/client';
import {
  BACKFILL_WORKFLOW_TYPE,
  RECONCILE_WORKFLOW_TYPE,
  reconcileScheduleId,
  RENEW_WORKFLOW_TYPE,
  SWEEP_ID_PREFIX,
  SWEEP_MEMO_KEY,
  type BackfillInput,
  type ReconcileInput,
  type RenewInput,
  type SweepKind,
  type SweepProgress,
} from '../workflows/fleet-definitions';

export type SweepState = 'Running' | 'Completed' | 'Failed' | 'Cancelled';

export interface SweepView {
  id: string;
  kind: SweepKind;
  state: SweepState;
  /** The sweep's progress as of its last page (absent until the first page is done). */
  progress?: SweepProgress;
  startTime: string;
  closeTime?: string;
}

const WORKFLOW_TYPE_OF: Record<SweepKind, string> = { backfill: BACKFILL_WORKFLOW_TYPE, reconcile: RECONCILE_WORKFLOW_TYPE, renewal: RENEW_WORKFLOW_TYPE };

/** Sweep ids: the kind's prefix and a UUID — the API accepts nothing else, so it cannot reach other workflows. */
export function isSweepId(kind: SweepKind, id: string): boolean {
  const prefix = SWEEP_ID_PREFIX[kind];
  if (!id.startsWith(prefix)) return false;
  const rest = id.slice(prefix.length);
  // A scheduled reconcile is "<schedule id>-<RFC 3339 time>"; one asked for is "<prefix><uuid>".
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(rest) || (kind === 'reconcile' && /^[a-z0-9._-]+-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/i.test(rest));
}

export async function startBackfill(client: Client, taskQueue: string, input: BackfillInput): Promise<string> {
  return startSweep(client, taskQueue, 'backfill', [input], describeScope(input.scope, 'Backfill S/MIME'));
}

export async function startReconciliation(client: Client, taskQueue: string, input: ReconcileInput = {}): Promise<string> {
  return startSweep(client, taskQueue, 'reconcile', [input], describeScope(input.scope ?? {}, 'Reconcile S/MIME'));
}

export async function startRenewal(client: Client, taskQueue: string, input: RenewInput): Promise<string> {
  const what = 'all' in input.selector ? 'every device' : 'deviceUuid' in input.selector ? `device ${input.selector.deviceUuid}` : 'userUuid' in input.selector ? `user ${input.selector.userUuid}` : `credentials expiring before ${input.selector.expiringBefore}`;
  return startSweep(client, taskQueue, 'renewal', [input], `Renew S/MIME for ${what}: ${input.reason}`.slice(0, 200));
}

async function startSweep(client: Client, taskQueue: string, kind: SweepKind, args: unknown[], summary: string): Promise<string> {
  const id = `${SWEEP_ID_PREFIX[kind]}${randomUUID()}`;
  await client.workflow.start(WORKFLOW_TYPE_OF[kind], { workflowId: id, taskQueue, args, staticSummary: summary, workflowIdReusePolicy: 'REJECT_DUPLICATE' });
  return id;
}

function describeScope(scope: { smartGroupId?: number }, what: string): string {
  return scope.smartGroupId !== undefined ? `${what}: smart group ${scope.smartGroupId}` : `${what}: all devices`;
}

/** The sweep as it stands, or undefined when Temporal knows no such workflow (or it is another kind). */
export async function describeSweep(client: Client, kind: SweepKind, id: string): Promise<SweepView | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(id).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  if (description.type !== WORKFLOW_TYPE_OF[kind]) return undefined;
  const memo = (description.memo ?? {}) as Record<string, unknown>;
  const progress = memo[SWEEP_MEMO_KEY] as SweepProgress | undefined;
  return {
    id,
    kind,
    state: stateOf(description.status.name),
    ...(progress ? { progress } : {}),
    startTime: description.startTime.toISOString(),
    ...(description.closeTime ? { closeTime: description.closeTime.toISOString() } : {}),
  };
}

/** Temporal's execution status as a sweep's state (a run that continued as new is the same sweep, still going). */
export function stateOf(status: string): SweepState {
  switch (status) {
    case 'RUNNING':
    case 'PAUSED':
    case 'CONTINUED_AS_NEW':
      return 'Running';
    case 'COMPLETED':
      return 'Completed';
    case 'CANCELLED':
      return 'Cancelled';
    default:
      return 'Failed';
  }
}

/** Ask a running sweep to stop after its current page; runs it already started go on. */
export async function cancelSweep(client: Client, id: string): Promise<void> {
  await client.workflow.getHandle(id).cancel();
}

export type ScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'paused' | 'resumed';

/**
 * The reconcile Schedule, as the settings say: created if missing, its interval updated if it
 * changed, paused when RECONCILE_EVERY is off (and un-paused when it is back on). Every worker
 * calls this at start; concurrent workers write the same spec, so the last write is harmless.
 * The action has no arguments: a scheduled run reads its scope and rate from the worker then.
 */
export async function ensureReconcileSchedule(client: Client, options: { taskQueue: string; everyMs: number }): Promise<ScheduleOutcome> {
  const scheduleId = reconcileScheduleId(options.taskQueue);
  const off = options.everyMs === 0;
  const everyMs = off ? 6 * 60 * 60_000 : options.everyMs;
  const action = { type: 'startWorkflow' as const, workflowType: RECONCILE_WORKFLOW_TYPE, workflowId: scheduleId, taskQueue: options.taskQueue, args: [] as [] };
  const note = off ? 'RECONCILE_EVERY=off' : 'RECONCILE_EVERY';
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: everyMs }] },
      action,
      // A reconcile still running when the next is due: skip that one. Missed while the cluster was down: run once.
      policies: { overlap: 'SKIP', catchupWindow: '1h' },
      state: { paused: off, note },
    });
    return off ? 'paused' : 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const current = await handle.describe();
  const interval = current.spec.intervals?.[0];
  // Turned off, the interval is left as it was: only the pause says it is off.
  const sameInterval = off || (current.spec.intervals?.length === 1 && Number(interval?.every) === everyMs);
  const sameAction = current.action.type === 'startWorkflow' && current.action.workflowType === RECONCILE_WORKFLOW_TYPE && current.action.taskQueue === options.taskQueue;
  if (!sameInterval || !sameAction) {
    await handle.update((previous) => ({ ...previous, spec: sameInterval ? previous.spec : { intervals: [{ every: everyMs }] }, action }));
  }
  if (off) {
    if (!current.state.paused) await handle.pause(note);
    return 'paused';
  }
  // Only our own pause is undone; an operator's pause (any other note) stays.
  const resume = current.state.paused && current.state.note === 'RECONCILE_EVERY=off';
  if (resume) await handle.unpause(note);
  if (!sameInterval || !sameAction) return 'updated';
  return resume ? 'resumed' : 'unchanged';
}
