import { ApplicationFailure } from '@temporalio/common';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { noticeKey, reinstallNoticeKey } from './notice-key';
import type { FailureNotice, Notifier, ProfileReinstallNotice } from './notifier';

export interface FanOutOptions {
  logger?: Logger;
  /**
   * How many notices' delivery records to keep, per kind of notice (oldest forgotten first).
   * Notices are rare, and a forgotten record only costs a repeated message if that notice's
   * activity is retried later.
   */
  rememberNotices?: number;
}

/** One notifier's failure, as it goes into the combined error's details (no secret: messages only). */
export interface NotifierFailure {
  notifier: string;
  type?: string;
  message: string;
  retryable: boolean;
}

const DEFAULT_REMEMBERED_NOTICES = 1000;

/** The kinds of notice, each remembered on its own: a failure and a reinstall notice of one run never share a record. */
type NoticeKind = 'failure' | 'profile-reinstall';

/** How a kind of notice is named in the combined error and the warning. */
const NOTICE_NAMES: Record<NoticeKind, string> = { failure: 'failure notice', 'profile-reinstall': 'profile re-install notice' };

/**
 * Sends one notice through several notifiers at once, inside one activity that Temporal retries
 * as a whole. So that a retry does not spam the channels that already worked, each success is
 * remembered (in this process's memory) per kind of notice and notice key `<workflowId>/<runId>`
 * and skipped on the next attempt; a send still in flight is joined rather than started twice.
 * Failures and profile re-install requests are remembered apart, so one never counts as the
 * other's delivery even when both come from the same workflow run.
 *
 * Delivery is at-least-once, not exactly-once: a worker that crashes (or a retry that lands on
 * another worker) after a notifier succeeded but before the activity completed sends that
 * message again. Receivers can dedupe on the key (the webhook's Idempotency-Key, the email's
 * Message-ID).
 *
 * Outcome: all delivered → done. Any failure that may pass on a retry → `NotifierUnavailable`
 * (retryable) naming every failure. Only failures that retrying cannot fix → `ConfigurationError`
 * (non-retryable), even if other notifiers got through: a broken channel needs an administrator.
 */
export class FanOutNotifier implements Notifier {
  readonly type = 'fan-out';
  private readonly notifiers: readonly Notifier[];
  private readonly logger?: Logger;
  private readonly rememberNotices: number;
  /** Per kind: notice key → notifier index → its send: fulfilled (delivered) or still running. Failed sends are dropped. */
  private readonly sends: Record<NoticeKind, Map<string, Map<number, Promise<void>>>> = { failure: new Map(), 'profile-reinstall': new Map() };

  constructor(notifiers: readonly Notifier[], options: FanOutOptions = {}) {
    if (notifiers.length === 0) throw nonRetryable('ConfigurationError', 'at least one failure notifier is needed (NOTIFIERS)');
    this.notifiers = [...notifiers];
    this.logger = options.logger;
    this.rememberNotices = Math.max(1, options.rememberNotices ?? DEFAULT_REMEMBERED_NOTICES);
  }

  async notifyFailure(notice: FailureNotice): Promise<void> {
    await this.fanOut('failure', noticeKey(notice), notice, (notifier) => notifier.notifyFailure(notice));
  }

  async notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void> {
    await this.fanOut('profile-reinstall', reinstallNoticeKey(notice), notice, (notifier) => notifier.notifyProfileReinstall(notice));
  }

  private async fanOut(
    kind: NoticeKind,
    key: string,
    notice: { workflowId: string; runId: string },
    sendThrough: (notifier: Notifier) => Promise<void>,
  ): Promise<void> {
    const sends = this.sendsFor(kind, key);
    const outcomes = await Promise.allSettled(
      this.notifiers.map((notifier, index) => {
        let send = sends.get(index);
        if (!send) {
          // async wrapper: a notifier that throws synchronously still yields a rejected send.
          send = (async () => sendThrough(notifier))();
          sends.set(index, send);
          // Forget a failed send so the next attempt tries again; keep a delivered one.
          send.catch(() => {
            if (sends.get(index) === send) sends.delete(index);
          });
        }
        return send;
      }),
    );

    const failures: NotifierFailure[] = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') return;
      failures.push(describeFailure(this.notifiers[index]!.type, outcome.reason));
    });
    if (failures.length === 0) return;

    const delivered = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [this.notifiers[i]!.type] : []));
    const name = NOTICE_NAMES[kind];
    this.logger?.warn({ workflowId: notice.workflowId, runId: notice.runId, delivered, failures }, `${name} not delivered by every notifier`);
    const summary = failures.map((f) => `${f.notifier}: ${f.type ? `${f.type}: ` : ''}${f.message}`).join('; ');
    const deliveredNote = delivered.length > 0 ? ` (delivered by ${delivered.join(', ')})` : '';
    const details = { delivered, failures };
    if (failures.some((f) => f.retryable)) {
      throw retryable('NotifierUnavailable', `${name} not delivered${deliveredNote}: ${summary}`, details);
    }
    throw nonRetryable('ConfigurationError', `${name} refused for good${deliveredNote}: ${summary}`, details);
  }

  private sendsFor(kind: NoticeKind, key: string): Map<number, Promise<void>> {
    const remembered = this.sends[kind];
    let sends = remembered.get(key);
    if (sends) {
      // Re-insert so the most recently used notices are the last to be forgotten.
      remembered.delete(key);
    } else {
      sends = new Map();
    }
    remembered.set(key, sends);
    while (remembered.size > this.rememberNotices) {
      const oldest = remembered.keys().next().value as string;
      remembered.delete(oldest);
    }
    return sends;
  }
}

/**
 * A typed failure keeps its own verdict. Anything else (a bug, an unexpected library error) is
 * treated as retryable, which is what Temporal would do with an untyped error.
 */
function describeFailure(notifier: string, reason: unknown): NotifierFailure {
  if (reason instanceof ApplicationFailure) {
    return { notifier, type: reason.type ?? undefined, message: reason.message, retryable: !reason.nonRetryable };
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return { notifier, type: reason instanceof Error ? reason.name : undefined, message, retryable: true };
}
