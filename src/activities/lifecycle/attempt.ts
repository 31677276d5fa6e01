/**
 * One attempt of a lifecycle step, as every step activity runs it.
 *
 * - **The slot.** A step scheduled for a later attempt slot (`notBefore`, UEM's 4-hourly rhythm) is
 *   scheduled at once with a retry interval that lands on the slot: its first execution answers
 *   `NotYetDue` (unless a busy worker only got to it after the slot) and Temporal runs it again at
 *   the slot. The workflow needs no timer for the wait, and a wait costs no history event.
 * - **Quick retries.** A transient failure (an outage type, a network error) is tried again inside
 *   the attempt — after 2, 4 and 8 seconds, or the peer's Retry-After up to 30 seconds — while the
 *   activity heartbeats. When they are used up the attempt ends: the failure keeps its type (the
 *   workflow decides by it) but is marked non-retryable, so Temporal hands it to the workflow,
 *   which waits for the next slot. Temporal's own retries are left to what the worker cannot
 *   report itself: a crash, a lost worker, a timeout.
 * - **Heartbeats** every few seconds while the step works, so a dead worker's step is taken over by
 *   another worker within the heartbeat timeout instead of the step's whole timeout.
 */
import { ApplicationFailure, Context, sleep } from '@temporalio/activity';
import { isNonRetryableType } from '../../domain/errors';
import type { StepTiming } from '../contract';

/** The pauses between the tries inside one attempt (the peer's Retry-After wins, up to the cap): four tries. */
export const QUICK_PAUSES_MS: readonly number[] = [2_000, 4_000, 8_000];
const MAX_QUICK_PAUSE_MS = 30_000;
const HEARTBEAT_EVERY_MS = 2_000;
/** The server may schedule a retry a little before the interval is over: not worth another round. */
const EARLY_TOLERANCE_MS = 1_000;

export const NOT_YET_DUE = 'NotYetDue';

export async function attempt<T>(timing: StepTiming, what: string, work: () => Promise<T>, pausesMs: readonly number[] = QUICK_PAUSES_MS): Promise<T> {
  assertDue(timing, what);
  const context = Context.current();
  const heartbeats = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    for (let tried = 1; ; tried += 1) {
      try {
        return await work();
      } catch (err) {
        if (!isTransient(err)) throw err;
        if (tried > pausesMs.length) throw endOfAttempt(err);
        context.log.warn(`${what}: try ${tried} of ${pausesMs.length + 1} failed, trying again`, { errorType: typeOf(err), error: (err as Error).message });
        await sleep(pauseAfter(pausesMs[tried - 1]!, err));
      }
    }
  } finally {
    clearInterval(heartbeats);
  }
}

/**
 * `NotYetDue` for the first execution of a step scheduled ahead of its slot: Temporal runs it again
 * at the slot (the retry interval the workflow chose). Decided by the execution's number, not by a
 * clock — the retry is the slot — except that a first execution a busy worker only reaches after
 * the slot does the work at once.
 */
export function assertDue(timing: StepTiming, what: string): void {
  if (!timing.notBefore || Context.current().info.attempt > 1) return;
  if (Date.now() >= Date.parse(timing.notBefore) - EARLY_TOLERANCE_MS) return;
  throw ApplicationFailure.create({ type: NOT_YET_DUE, message: `${what}: the attempt is due at ${timing.notBefore}` });
}

/** A failure worth another try soon: an outage type, or an error no adapter typed (a network error). */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApplicationFailure) return !err.nonRetryable && !isNonRetryableType(err.type);
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError);
}

function pauseAfter(planned: number, err: unknown): number {
  const asked = err instanceof ApplicationFailure && typeof err.nextRetryDelay === 'number' ? err.nextRetryDelay : undefined;
  return Math.min(asked ?? planned, MAX_QUICK_PAUSE_MS);
}

/** The failure that ends this attempt: same type, message and details, but Temporal must not retry it. */
function endOfAttempt(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, details: err.details ? [...err.details] : [], nonRetryable: true });
  }
  return ApplicationFailure.create({ type: (err as Error).name || 'Error', message: (err as Error).message, nonRetryable: true });
}

function typeOf(err: unknown): string {
  return err instanceof ApplicationFailure ? (err.type ?? 'ApplicationFailure') : (err as Error).name;
}
