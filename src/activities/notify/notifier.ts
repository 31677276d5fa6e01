/** Everything an administrator needs to act on a failed delivery. No secret, by construction. */
export interface FailureNotice {
  workflowId: string;
  runId: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  userName?: string;
  email?: string;
  deviceName?: string;
  platform?: string;
  eventTime: string;
  attempts: number;
  /** Why delivery stopped: attempts used up, the window closed, or a non-retryable error. */
  reason: FailureReason;
  lastError?: { type?: string; message: string };
  failedAt: string;
  /** A link to the workflow in the Temporal UI. */
  workflowUrl: string;
  /** How to find and re-drive it, in words. */
  howToFind: string;
}

export type FailureReason = 'AttemptsExhausted' | 'WindowClosed' | 'NonRetryableError';

export interface Notifier {
  readonly type: string;
  notifyFailure(notice: FailureNotice): Promise<void>;
}
