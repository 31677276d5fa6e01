/**
 * How the workflow calls its steps. Each step is one activity for every credential kind; waiting
 * is done by Temporal's retry timer on the step itself rather than by a workflow timer:
 *
 * - a step that opens a later attempt slot is scheduled right away with a retry interval that
 *   lands on the slot (it answers `NotYetDue` until then: see src/activities/lifecycle/attempt.ts);
 * - `awaitIssuance` answers `StillPending` and is retried at the poll interval;
 * - otherwise a step is retried quickly, for what a worker cannot report itself (a crash, a lost
 *   worker: heartbeats every few seconds let another worker take over within the heartbeat timeout).
 *
 * A wait costs no history event; a signal that asks for now (`retryNow`, `certificateIssued`)
 * cancels the waiting step and runs it again at once.
 */
import { CancellationScope, condition, isCancellation, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { LifecycleActivities } from '../../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../../domain/errors';
import { HOUR_MS } from '../../domain/schedule';

export type Step = keyof Pick<LifecycleActivities, 'identifyUser' | 'requestCertificates' | 'awaitIssuance' | 'deliverCredentials'>;
export type Input<S extends Step> = Parameters<LifecycleActivities[S]>[0];
export type Output<S extends Step> = Awaited<ReturnType<LifecycleActivities[S]>>;

/** Longest one execution of a step may take (a CA or gateway call is bounded by its own timeout). */
const START_TO_CLOSE: Record<Step, string> = { identifyUser: '1m', requestCertificates: '3m', awaitIssuance: '2m', deliverCredentials: '3m' };
/** A worker that stops heartbeating for this long is gone: another takes the step over. */
const HEARTBEAT_TIMEOUT = '10s';
/** Quick retries for what a worker cannot report itself; a step's own failures end the attempt. */
const QUICK = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 };

const steps = proxyActivities<LifecycleActivities>({ startToCloseTimeout: '3m', retry: { ...QUICK, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES } });

/** Notification and clean-up must get through: they retry for as long as the run lasts. */
export const durable = proxyActivities<Pick<LifecycleActivities, 'notifyFailure' | 'cleanUpEnrollment' | 'finishRenewal'>>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '1d',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10m', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export interface StepCall {
  summary: string;
  /** No execution after this instant (epoch ms): the delivery window's deadline. */
  deadline: number;
  /** The step opens the attempt slot due at this instant (epoch ms). */
  slot?: number;
  /**
   * For awaitIssuance: how often to ask. The CA at the configured interval for the wait's first day
   * (`until`), at least hourly after it; another device of the user, within seconds.
   */
  poll?: { intervalMs: number; firstDayUntil?: number; escrowWait: boolean };
  /** Asks for the step now: a waiting step is cancelled and run again at once. */
  wake?: Wake;
}

/** A request to stop waiting (a signal), taken when it is acted on. */
export interface Wake {
  readonly requested: boolean;
  take(): void;
}

export async function runStep<S extends Step>(step: S, input: Input<S>, call: StepCall): Promise<Output<S>> {
  for (;;) {
    const now = Date.now();
    const waitsForSlot = call.slot !== undefined && call.slot > now + 1000;
    const options = optionsFor(step, call, now, waitsForSlot);
    const run = () => (steps[step] as unknown as { executeWithOptions(o: ActivityOptions, a: [Input<S>]): Promise<Output<S>> }).executeWithOptions(options, [input]);
    if (!call.wake || !(waitsForSlot || call.poll)) return run();
    const outcome = await untilDoneOrWoken(run, call.wake);
    if (outcome !== WOKEN) return outcome;
    call.wake.take();
    // Asked for now: run again at once (a slot's step without waiting; a poll right away).
    call = { ...call, slot: undefined };
    input = { ...input, notBefore: undefined };
  }
}

function optionsFor(step: Step, call: StepCall, now: number, waitsForSlot: boolean): ActivityOptions {
  const base = {
    summary: call.summary,
    startToCloseTimeout: START_TO_CLOSE[step],
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    // At least a minute, so a step scheduled at the very end of the window can still run once.
    // A second of slack: the timeout must not fire before the deadline (the workflow checks the deadline itself).
    scheduleToCloseTimeout: Math.max(call.deadline - now + 1_000, 60_000),
  };
  if (waitsForSlot) {
    // First execution: NotYetDue; the retry lands on the slot; that execution is the attempt.
    const wait = call.slot! - now;
    return { ...base, retry: { initialInterval: wait, backoffCoefficient: 1, maximumInterval: wait, maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES } };
  }
  if (call.poll) {
    const { intervalMs, firstDayUntil, escrowWait } = call.poll;
    // Another device issuing the shared key takes seconds; a CA, minutes to days. After a day of
    // waiting the CA works on a human timescale: ask at most hourly.
    const interval = escrowWait ? Math.min(intervalMs, 5 * 60_000) : firstDayUntil !== undefined ? intervalMs : Math.max(intervalMs, HOUR_MS);
    const firstInterval = escrowWait ? 1_000 : interval;
    // The first day's pace ends with the day (the step times out; the workflow goes on hourly).
    const scheduleToCloseTimeout = firstDayUntil !== undefined ? Math.min(base.scheduleToCloseTimeout, Math.max(firstDayUntil - now, 1_000)) : base.scheduleToCloseTimeout;
    return {
      ...base,
      scheduleToCloseTimeout,
      retry: { initialInterval: firstInterval, backoffCoefficient: escrowWait ? 2 : 1, maximumInterval: interval, maximumAttempts: Number.POSITIVE_INFINITY, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
    };
  }
  return base;
}

const WOKEN: unique symbol = Symbol('woken');

/** The step's result, or WOKEN if a wake was requested first (the waiting step is then cancelled). */
async function untilDoneOrWoken<T>(run: () => Promise<T>, wake: Wake): Promise<T | typeof WOKEN> {
  const stepScope = new CancellationScope();
  const waitScope = new CancellationScope();
  const done = stepScope.run(run).then((value) => ({ value }));
  const woken: Promise<typeof WOKEN> = waitScope.run(() => condition(() => wake.requested)).then(
    () => WOKEN,
    (err: unknown) => {
      if (isCancellation(err)) return new Promise<never>(() => undefined); // the step won
      throw err;
    },
  );
  try {
    const first = await Promise.race([done, woken]);
    if (first !== WOKEN) return first.value;
    stepScope.cancel();
    // The step may have finished in the same moment: then its result stands.
    const settled = await done.catch((err: unknown): typeof WOKEN => {
      if (isCancellation(err)) return WOKEN;
      throw err;
    });
    return settled === WOKEN ? WOKEN : settled.value;
  } finally {
    waitScope.cancel();
  }
}
