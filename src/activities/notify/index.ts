export type { FailureNotice, FailureReason, Notifier } from './notifier';
export { createNotifier, notifierRegistry, workflowUrl, WEBHOOK_TIMEOUT_MS } from './registry';
export { EmailNotifier, composeFailureEmail, type EmailNotifierOptions } from './email-notifier';
export { FanOutNotifier, type FanOutOptions, type NotifierFailure } from './fan-out';
export { LogNotifier } from './log-notifier';
export { noticeKey } from './notice-key';
export { WebhookNotifier, webhookSignature, type FailureWebhookPayload, type WebhookNotifierOptions } from './webhook-notifier';
