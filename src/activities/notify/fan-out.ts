import { ApplicationFailure } from '@temporalio/common';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { noticeKey } from './notice-key';
import type { FailureNotice, Notifier } from './notifier';

export interface FanOutOptions {
  logger?: Logger;
  /**
   * How many notices' delivery records to keep (oldest forgotten first). Failures are rare, and a
   * forgotten record only costs a repeated message if that notice's activity is retried later.
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

/**
 * Sends one notice through several notifiers at once, inside one activity that Temporal retries
 * as a whole. So that a retry does not spam the channels that already worked, each success is
 * remembered (in this process's memory) per notice key `<workflowId>/<runId>` and skipped on the
 * next attempt; a send still in flight is joined rather than started twice.
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
  /** notice key → notifier index → its send: fulfilled (delivered) or still running. Failed sends are dropped. */
  private readonly sends = new Map<string, Map<number, Promise<void>>>();

  constructor(notifiers: readonly Notifier[], options: FanOutOptions = {}) {
    if (notifiers.length === 0) throw nonRetryable('ConfigurationError', 'at least one failure notifier is needed (NOTIFIERS)');
    this.notifiers = [...notifiers];
    this.logger = options.logger;
    this.rememberNotices = Math.max(1, options.rememberNotices ?? DEFAULT_REMEMBERED_NOTICES);
  }

  async notifyFailure(notice: FailureNotice): Promise<void> {
    const key = noticeKey(notice);
    const sends = this.sendsFor(key);
    const outcomes = await Promise.allSettled(
      this.notifiers.map((notifier, index) => {
        let send = sends.get(index);
        if (!send) {
          // async wrapper: a notifier that throws synchronously still yields a rejected send.
          send = (async () => notifier.notifyFailure(notice))();
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
    this.logger?.warn({ workflowId: notice.workflowId, runId: notice.runId, delivered, failures }, 'failure notice not delivered by every notifier');
    const summary = failures.map((f) => `${f.notifier}: ${f.type ? `${f.type}: ` : ''}${f.message}`).join('; ');
    const deliveredNote = delivered.length > 0 ? ` (delivered by ${delivered.join(', ')})` : '';
    const details = { delivered, failures };
    if (failures.some((f) => f.retryable)) {
      throw retryable('NotifierUnavailable', `failure notice not delivered${deliveredNote}: ${summary}`, details);
    }
    throw nonRetryable('ConfigurationError', `failure notice refused for good${deliveredNote}: ${summary}`, details);
  }

  private sendsFor(key: string): Map<number, Promise<void>> {
    let sends = this.sends.get(key);
    if (sends) {
      // Re-insert so the most recently used notices are the last to be forgotten.
      this.sends.delete(key);
    } else {
      sends = new Map();
    }
    this.sends.set(key, sends);
    while (this.sends.size > this.rememberNotices) {
      const oldest = this.sends.keys().next().value as string;
      this.sends.delete(oldest);
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
