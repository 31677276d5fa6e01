import type { FailureNotice } from './notifier';

/**
 * One key per failed run: `<workflowId>/<runId>`. The notification activity may run more than
 * once for the same failure (Temporal retries it), so notifiers use this key to avoid resending
 * and receivers use it (the webhook's Idempotency-Key) to drop repeats.
 */
export function noticeKey(notice: Pick<FailureNotice, 'workflowId' | 'runId'>): string {
  return `${notice.workflowId}/${notice.runId}`;
}
