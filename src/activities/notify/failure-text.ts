/**
 * The words of a failure notice, for notifiers that write to people (email). Kept apart from any
 * transport so every human-readable channel says the same thing.
 */
import type { ProviderErrorType } from '../../domain/errors';
import type { FailureNotice } from './notifier';

/** Who the credential was for: the user's name, else their email, else the enrollment user UUID. */
export function userLabel(notice: FailureNotice): string {
  return oneLine(notice.userName || notice.email || notice.enrollmentUserUuid);
}

/** Which device: its name in UEM, else its UUID. */
export function deviceLabel(notice: FailureNotice): string {
  return oneLine(notice.deviceName || notice.deviceUuid);
}

export function attemptsInWords(attempts: number): string {
  return `${attempts} attempt${attempts === 1 ? '' : 's'}`;
}

/** `S/MIME delivery failed: <user> on <device> after N attempts`, safe for a mail header. */
export function failureSubject(notice: FailureNotice): string {
  return `S/MIME delivery failed: ${userLabel(notice)} on ${deviceLabel(notice)} after ${attemptsInWords(notice.attempts)}`;
}

/** Why delivery stopped, as a sentence. */
export function reasonInWords(notice: FailureNotice): string {
  switch (notice.reason) {
    case 'AttemptsExhausted':
      return `All ${attemptsInWords(notice.attempts)} were used up without a successful delivery.`;
    case 'WindowClosed':
      return 'The delivery window after the enrollment event closed (UEM stops looking for the certificate after it, 12.5 days by default).';
    case 'NonRetryableError':
      return 'Delivery hit an error that retrying cannot fix, so it stopped at once.';
  }
}

/** The last error as `Type: message`, or a note that none was recorded. */
export function lastErrorInWords(notice: FailureNotice): string {
  if (!notice.lastError) return 'none recorded';
  return notice.lastError.type ? `${notice.lastError.type}: ${notice.lastError.message}` : notice.lastError.message;
}

/**
 * What an administrator should fix first, keyed by the last error's type (the types of
 * src/domain/errors.ts). Unknown types get the general advice.
 */
const FIX_BY_ERROR_TYPE: Partial<Record<string, string>> = {
  UserHasNoEmail: 'Give the user an email address in UEM (the certificate is issued to it).',
  UserNotFound: 'Check that the user still exists in UEM.',
  CertificateRejected: "Read the CA's reason in the last error and fix the CA policy or provisioner (allowed domains, key types).",
  GatewayRejected: "Check the provider's client certificate and the gateway address (CEG_CLIENT_CERT, CEG_URL) and the gateway's own logs.",
  ConfigurationError: 'Fix the setting named in the last error and restart the worker.',
  SealingError: 'A sealing key is missing or was changed: every worker needs the same SEALING_KEYS.',
  DirectoryUnavailable: 'Check that the UEM REST API (UEM_API_URL) is reachable from the worker and its credentials work.',
  CaUnavailable: 'Check that the certificate authority (CA_URL) is reachable from the worker.',
  GatewayUnavailable: 'Check that the Credential Escrow Gateway (CEG_URL) is reachable from the worker and healthy.',
} satisfies Partial<Record<ProviderErrorType, string>>;

/** What to do next, in order. A failed workflow cannot be resumed, only delivered again. */
export function nextSteps(notice: FailureNotice): string[] {
  const fix = (notice.lastError?.type && FIX_BY_ERROR_TYPE[notice.lastError.type]) || 'Find the cause in the last error and in the workflow history (link above).';
  return [
    fix,
    'This delivery has ended: it is not retried any more, and POST /v1/enrollments/{workflowId}/retry only works while a workflow is still running.',
    'After fixing the cause, deliver again: send the enrollment again with POST /v1/enrollments, or re-install the S/MIME profile on the device in Workspace ONE UEM (which sends a new enrollment event).',
  ];
}

/** Control characters and line breaks collapsed: a value from an event must not shape a header or a line. */
export function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}
