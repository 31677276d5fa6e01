import { ApplicationFailure } from '@temporalio/common';

/**
 * Every failure the provider raises on purpose has a type name, decided where it is born.
 * Non-retryable types end the delivery at once (no further attempts); retryable ones get quick
 * retries inside an attempt and then wait for the next slot. The workflow branches on the type,
 * never on message text.
 */
export const NON_RETRYABLE_ERRORS = {
  /** Neither the event nor the UEM directory has an email address for the user. */
  UserHasNoEmail: 'UserHasNoEmail',
  /** The directory says the user does not exist. */
  UserNotFound: 'UserNotFound',
  /** UEM refused to (re-)install a profile on a device: no such device or profile, or a bad request. */
  ProfileInstallRejected: 'ProfileInstallRejected',
  /** The CA refused to issue (policy, bad request, revoked provisioner...). */
  CertificateRejected: 'CertificateRejected',
  /** The gateway refused us for good: our client certificate, a 4xx on the upload contract. */
  GatewayRejected: 'GatewayRejected',
  /** A setting is missing or wrong; retrying will not help until an administrator fixes it. */
  ConfigurationError: 'ConfigurationError',
  /** A sealed secret cannot be opened (key id unknown, tampered ciphertext). */
  SealingError: 'SealingError',
  /** This workflow's claim to issue a shared (escrowed) credential was taken over: claim again. */
  EscrowClaimLost: 'EscrowClaimLost',
  /** A credential offered to the escrow does not hold together (key and certificate differ). */
  EscrowInvalidInput: 'EscrowInvalidInput',
} as const;

export const RETRYABLE_ERRORS = {
  /** The UEM REST API did not answer or answered 5xx/429 (or its call budget is spent for now). */
  DirectoryUnavailable: 'DirectoryUnavailable',
  /** The CA did not answer or answered 5xx/429. */
  CaUnavailable: 'CaUnavailable',
  /** The gateway did not answer or answered 5xx/429. */
  GatewayUnavailable: 'GatewayUnavailable',
  /** A notifier could not deliver its message. */
  NotifierUnavailable: 'NotifierUnavailable',
  /** The escrow database did not answer. */
  EscrowUnavailable: 'EscrowUnavailable',
} as const;

/** The workflow's own terminal failure type: attempts or window exhausted, or a non-retryable error. */
export const DELIVERY_FAILED = 'DeliveryFailed';

export type NonRetryableErrorType = keyof typeof NON_RETRYABLE_ERRORS;
export type RetryableErrorType = keyof typeof RETRYABLE_ERRORS;
export type ProviderErrorType = NonRetryableErrorType | RetryableErrorType;

export const NON_RETRYABLE_ERROR_TYPES: string[] = Object.values(NON_RETRYABLE_ERRORS);

/** Raise a typed, non-retryable failure. `details` must never carry a secret. */
export function nonRetryable(type: NonRetryableErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

/**
 * Raise a typed, retryable failure. `details` must never carry a secret. `nextRetryDelayMs`
 * honours a peer's Retry-After for the next quick retry.
 */
export function retryable(type: RetryableErrorType, message: string, details?: unknown, options: { nextRetryDelayMs?: number } = {}): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: details === undefined ? [] : [details], nextRetryDelay: options.nextRetryDelayMs });
}

export function isNonRetryableType(type: string | undefined | null): boolean {
  return type != null && NON_RETRYABLE_ERROR_TYPES.includes(type);
}

/**
 * An error and the causes behind it, outermost first (activity failures arrive wrapped:
 * ActivityFailure → ApplicationFailure; network errors wrap the socket error). Bounded, so a
 * cyclic or absurdly deep chain cannot hang a caller. Pure: usable in workflows too.
 */
export function* causeChain(err: unknown, maxDepth = 8): Generator<unknown> {
  let current: unknown = err;
  for (let depth = 0; depth < maxDepth && current != null; depth += 1) {
    yield current;
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
}
