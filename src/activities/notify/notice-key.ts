import type { FailureNotice, ProfileReinstallNotice } from './notifier';

/**
 * One key per failed run: `<workflowId>/<runId>`. The notification activity may run more than
 * once for the same failure (Temporal retries it), so notifiers use this key to avoid resending
 * and receivers use it (the webhook's Idempotency-Key) to drop repeats.
 */
export function noticeKey(notice: Pick<FailureNotice, 'workflowId' | 'runId'>): string {
  return `${notice.workflowId}/${notice.runId}`;
}

/**
 * One key per renewal batch's reinstall notice: `<workflowId>/<runId>/profile-reinstall`. The
 * suffix keeps it apart from a failure notice of the same run, so a receiver deduplicating on the
 * key never drops one kind as a repeat of the other.
 */
export function reinstallNoticeKey(notice: Pick<ProfileReinstallNotice, 'workflowId' | 'runId'>): string {
  return `${noticeKey(notice)}/profile-reinstall`;
}
