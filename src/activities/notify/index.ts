export type { FailureNotice, FailureReason, Notifier, ProfileReinstallNotice, ReinstallDevice } from './notifier';
export { REINSTALL_NOTICE_MAX_DEVICES, withListedDevices } from './notifier';
export { createNotifier, notifierRegistry, workflowUrl, WEBHOOK_TIMEOUT_MS } from './registry';
export { EmailNotifier, composeFailureEmail, composeProfileReinstallEmail, type EmailNotifierOptions } from './email-notifier';
export { FanOutNotifier, type FanOutOptions, type NotifierFailure } from './fan-out';
export { LogNotifier, REINSTALL_LOG_MAX_DEVICES } from './log-notifier';
export { noticeKey, reinstallNoticeKey } from './notice-key';
export {
  WebhookNotifier,
  webhookSignature,
  REINSTALL_WEBHOOK_EVENT_TYPE,
  type FailureWebhookPayload,
  type ProfileReinstallWebhookPayload,
  type WebhookNotifierOptions,
} from './webhook-notifier';
