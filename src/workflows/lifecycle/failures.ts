/**
 * How the workflow reads a failure: by its type, decided where the failure was born (house rule 4),
 * never by its message. Pure functions: deterministic, no workflow APIs.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { causeChain, isNonRetryableType } from '../../domain/errors';

/** The window closed while an attempt was still waiting (e.g. for issuance). */
export class WindowClosed extends Error {
  override readonly name = 'WindowClosed';
}

/** The type of the first typed failure along the cause chain (activity failures arrive wrapped). */
export function failureType(err: unknown): string | undefined {
  for (const e of causeChain(err)) if (e instanceof ApplicationFailure && e.type) return e.type;
  return undefined;
}

/** Type and message for people: the typed failure's, else the innermost error's. */
export function describe(err: unknown): { type?: string; message: string } {
  let last: unknown = err;
  for (const e of causeChain(err)) {
    if (e instanceof ApplicationFailure) return { type: e.type ?? undefined, message: e.message };
    last = e;
  }
  return last instanceof Error ? { type: last.name, message: last.message } : { message: String(err) };
}

/** Worth another attempt at the next slot: anything that is not a non-retryable type. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof WindowClosed) return true;
  return !isNonRetryableType(failureType(err));
}

/**
 * The activity ran out of its schedule-to-close time (the delivery window, or the span the workflow
 * gave it): timed out while running, or a retry that would have come too late was not made.
 */
export function isWindowTimeout(err: unknown): boolean {
  for (const e of causeChain(err)) {
    if (e instanceof ActivityFailure && e.retryState === 'TIMEOUT') return true;
    if (e instanceof TimeoutFailure) return e.timeoutType === 'SCHEDULE_TO_CLOSE';
  }
  return false;
}

/** Wait for all (so no activity outlives its attempt), then fail with the first error, if any. */
export async function allOrFirstError(work: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
