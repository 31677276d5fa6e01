/**
 * Notifiers (failed deliveries, and renewal batches whose devices need the S/MIME profile
 * re-pushed), by the types listed in NOTIFIERS (settings checked by
 * src/config/requirements.ts); several may be chosen at once and are sent through together:
 *
 *   log      a structured log line (always available)
 *   webhook  a signed JSON POST (NOTIFY_WEBHOOK_URL, NOTIFY_WEBHOOK_SECRET)
 *   email    SMTP (NOTIFY_SMTP_URL, NOTIFY_SMTP_USER/PASSWORD, NOTIFY_EMAIL_FROM, NOTIFY_EMAIL_TO)
 *
 * The workflow builds each notice without the Temporal UI link (it does not know the UI's
 * address); the notifier built here fills it in.
 */
import { ConfigError, SETTINGS, type Config, type SettingName } from '../../config';
import type { Logger } from '../../logging';
import { defineRegistry, settingValue, type AdapterContext } from '../adapters';
import { EmailNotifier } from './email-notifier';
import { FanOutNotifier } from './fan-out';
import { LogNotifier } from './log-notifier';
import type { FailureNotice, Notifier, ProfileReinstallNotice } from './notifier';
import { WebhookNotifier } from './webhook-notifier';

/**
 * How long one webhook delivery may take. Well inside the notification activity's 1-minute
 * start-to-close timeout, so a hung receiver becomes a typed, retried failure, not a timeout.
 */
export const WEBHOOK_TIMEOUT_MS = 10_000;

const NOTIFIERS: Readonly<Record<string, (context: AdapterContext) => Notifier>> = {
  log: ({ logger }) => new LogNotifier(logger),
  webhook: ({ config, logger }) =>
    blamingSetting('notifyWebhookUrl', () =>
      new WebhookNotifier({
        url: settingValue(config, 'notifyWebhookUrl'),
        hmacSecret: config.notifyWebhookSecret || undefined,
        allowPlaintext: config.notifyWebhookAllowPlaintext,
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        logger,
      }),
    ),
  email: ({ config, logger }) =>
    blamingSetting('smtpUrl', () =>
      new EmailNotifier({
        smtpUrl: settingValue(config, 'smtpUrl'),
        user: config.smtpUser || undefined,
        password: config.smtpPassword || undefined,
        allowPlaintext: config.smtpAllowPlaintext,
        from: settingValue(config, 'emailFrom'),
        to: [...settingValue(config, 'emailTo')],
        logger,
      }),
    ),
};

export const notifierRegistry = defineRegistry<Notifier>({
  system: 'notifier',
  setting: 'notifiers',
  typeOf: () => undefined, // several at once: see createNotifier
  adapters: NOTIFIERS,
});

/** The notifier the activities use: every type in NOTIFIERS, sent through together, with the UI link filled in. */
export function createNotifier(config: Config, logger: Logger): Notifier {
  const context: AdapterContext = { config, logger: logger.child({ component: notifierRegistry.system }) };
  const notifiers: Notifier[] = [];
  for (const type of new Set(config.notifiers)) {
    const factory = NOTIFIERS[type];
    if (!factory) throw new ConfigError([`NOTIFIERS: "${type}" is not a known notifier (one of: ${Object.keys(NOTIFIERS).join(', ')})`]);
    notifiers.push(factory(context));
  }
  const fanOut = new FanOutNotifier(notifiers, { logger });
  const linked = <N extends FailureNotice | ProfileReinstallNotice>(notice: N): N =>
    notice.workflowUrl ? notice : { ...notice, workflowUrl: workflowUrl(config.uiUrl, config.temporalNamespace, notice.workflowId, notice.runId) };
  return {
    type: fanOut.type,
    notifyFailure: (notice) => fanOut.notifyFailure(linked(notice)),
    notifyProfileReinstall: (notice) => fanOut.notifyProfileReinstall(linked(notice)),
  };
}

/** The Temporal UI page of one workflow run's history; '' when no UI address is configured. */
export function workflowUrl(uiUrl: string | undefined, namespace: string, workflowId: string, runId: string): string {
  const base = (uiUrl ?? '').trim().replace(/\/+$/, '');
  if (!base) return '';
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
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
