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

/**
 * Devices of one renewal batch that got a renewed S/MIME credential and need the S/MIME profile
 * re-pushed, because the provider cannot re-install it itself (no UEM_SMIME_PROFILE_ID). One
 * notice per batch, not per device. No secret, by construction.
 */
export interface ProfileReinstallNotice {
  /** The renewal batch (the workflow that ran it): the notice key, like a failure's <workflowId>/<runId>. */
  workflowId: string;
  runId: string;
  /** Why the batch ran: "expiring within 30 days", "operator: CA key compromise", ... */
  reason: string;
  /** Devices whose credentials were renewed and need the profile re-pushed (at most 1,000 listed; `total` says how many in all). */
  devices: { deviceUuid: string; enrollmentUserUuid: string; deviceId?: string; serialNumber?: string; email?: string }[];
  total: number;
  /** How to find them: e.g. GET /v1/credentials?state=active&... or the Temporal UI link. */
  howToFind: string;
  sentAt: string;
  workflowUrl: string; // filled by createNotifier like failures (may be '')
}

/** One device of a reinstall notice. */
export type ReinstallDevice = ProfileReinstallNotice['devices'][number];

/**
 * The most devices one reinstall notice lists. Producers list at most this many; notifiers cut a
 * longer list to it too, so one oversized batch cannot make a message no mail server or receiver
 * accepts (`total` still says how many there are, `howToFind` how to list them all).
 */
export const REINSTALL_NOTICE_MAX_DEVICES = 1000;

/** The notice with its device list cut to `max` (the same notice when it is not longer). */
export function withListedDevices(notice: ProfileReinstallNotice, max = REINSTALL_NOTICE_MAX_DEVICES): ProfileReinstallNotice {
  return notice.devices.length > max ? { ...notice, devices: notice.devices.slice(0, max) } : notice;
}

export interface Notifier {
  readonly type: string;
  notifyFailure(notice: FailureNotice): Promise<void>;
  notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void>;
}
