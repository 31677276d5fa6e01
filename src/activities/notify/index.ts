/**
 * Failure notification: the notifiers chosen by NOTIFIERS, sent through together. The workflow
 * builds the notice without the Temporal UI link (it does not know the UI's address); the
 * notifier made here fills it in.
 */
import { ConfigError, SETTINGS, type Config, type SettingName } from '../../config';
import type { Logger } from '../../logging';
import { EmailNotifier } from './email-notifier';
import { FanOutNotifier } from './fan-out';
import { LogNotifier } from './log-notifier';
import type { FailureNotice, Notifier } from './notifier';
import { WebhookNotifier } from './webhook-notifier';

export type { FailureNotice, FailureReason, Notifier } from './notifier';
export { EmailNotifier, composeFailureEmail, type EmailNotifierOptions } from './email-notifier';
export { FanOutNotifier, type FanOutOptions, type NotifierFailure } from './fan-out';
export { LogNotifier } from './log-notifier';
export { noticeKey } from './notice-key';
export { WebhookNotifier, webhookSignature, type FailureWebhookPayload, type WebhookNotifierOptions } from './webhook-notifier';

/**
 * How long one webhook delivery may take. Well inside the notification activity's 1-minute
 * start-to-close timeout, so a hung receiver becomes a typed, retried failure, not a timeout.
 */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The Temporal UI page of one workflow run's history; '' when no UI address is configured. */
export function workflowUrl(uiUrl: string | undefined, namespace: string, workflowId: string, runId: string): string {
  const base = (uiUrl ?? '').trim().replace(/\/+$/, '');
  if (!base) return '';
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/**
 * The notifier the activities use, from NOTIFIERS and the NOTIFY_* settings. A missing or bad
 * setting throws a ConfigError naming it, at worker start.
 */
export function createNotifier(config: Config, logger: Logger): Notifier {
  const notifiers = [...new Set(config.notifiers)].map((type): Notifier => {
    switch (type) {
      case 'log':
        return new LogNotifier(logger);
      case 'webhook':
        return blamingSetting('notifyWebhookUrl', () => new WebhookNotifier({
          url: required(config.notifyWebhookUrl, 'notifyWebhookUrl', 'webhook'),
          hmacSecret: config.notifyWebhookSecret || undefined,
          timeoutMs: WEBHOOK_TIMEOUT_MS,
          logger,
        }));
      case 'email':
        // Sender and recipients are checked first, so what the constructor can still refuse is the URL.
        return blamingSetting('smtpUrl', () => new EmailNotifier({
          smtpUrl: required(config.smtpUrl, 'smtpUrl', 'email'),
          user: config.smtpUser || undefined,
          password: config.smtpPassword || undefined,
          from: required(config.emailFrom, 'emailFrom', 'email'),
          to: config.emailTo.length > 0 ? [...config.emailTo] : [required(undefined, 'emailTo', 'email')],
          logger,
        }));
    }
  });
  const fanOut = new FanOutNotifier(notifiers, { logger });
  const link = (notice: FailureNotice) => workflowUrl(config.uiUrl, config.temporalNamespace, notice.workflowId, notice.runId);
  return {
    type: fanOut.type,
    notifyFailure: (notice) => fanOut.notifyFailure(notice.workflowUrl ? notice : { ...notice, workflowUrl: link(notice) }),
  };
}

/** A notifier that refuses its settings stops the start with a ConfigError naming the setting. */
function blamingSetting<T>(name: SettingName, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const { env, path } = SETTINGS[name];
    throw new ConfigError([`${env} (YAML ${path}): ${(err as Error).message}`]);
  }
}

function required(value: string | undefined, name: SettingName, notifier: string): string {
  if (value && value.trim()) return value;
  const { env, path } = SETTINGS[name];
  throw new ConfigError([`${env} (YAML ${path}): required when NOTIFIERS includes ${notifier}`]);
}
