/**
 * provisionSmime: one durable workflow per (EnrollmentUserUUID, DeviceUUID) that owns the whole
 * delivery of S/MIME credentials to the gateway (CEG, or UEM directly).
 *
 *   identify the user ─▶ request certificates ─▶ await issuance ─▶ deliver (PKCS#12 + upload)
 *      ▲  an attempt per slot (default every 4 h, ≤ 75, ≤ EventTime + 12.5 days); retryNow skips the wait
 *      └─ then: failure notification, Stage=Failed, DeliveryFailed
 *
 *   a renewal (input.renewal) is the same run for a device that already holds credentials, then:
 *      ─▶ re-install the S/MIME profile (or queue the device for the administrators' notice)
 *      ─▶ revoke the signing certificate it replaced
 *
 * Each step is one activity for every credential kind, and each attempt redoes only what is not
 * done (the register and the escrow remember what is). Waiting — for the next slot, for the CA —
 * is Temporal's retry timer on the step that will do the work (lifecycle/steps.ts), so a wait
 * costs no history event. Only public facts cross this workflow: no key, PKCS#12 or password,
 * not even sealed.
 *
 * Runs started before this shape replay and finish with the first one (legacy/provision-smime-v1.ts).
 */
import { ApplicationFailure, CancellationScope, isCancellation, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CredentialPlan, CredentialProgress, EnrollmentRef, FinishRenewalReport, IdentifiedUser } from '../activities/contract';
import type { FailureNotice, FailureReason } from '../activities/notify/notifier';
import { DELIVERY_FAILED } from '../domain/errors';
import { defaultPolicy } from '../domain/policy';
import { DAY_MS, deliveryWindow, formatDuration } from '../domain/schedule';
import { certificateIssuedSignal, retryNowSignal, statusQuery, type DeliveryReport, type FailureReport, type ProvisionInput } from './definitions';
import { provisionSmimeV1 } from './legacy/provision-smime-v1';
import { describe, isRetryable, isWindowTimeout, WindowClosed } from './lifecycle/failures';
import { Progress } from './lifecycle/progress';
import { durable, runStep, type Input, type Output, type Step, type StepCall, type Wake } from './lifecycle/steps';
import type { Stage } from '../domain/stages';
import { recordCompletion, recordRenewalAttemptFailed } from './metrics';

/** Marks runs of this shape; a history without it is a run of the first shape. */
export const LEAN_LIFECYCLE = 'lean-lifecycle';

export async function provisionSmime(input: ProvisionInput): Promise<DeliveryReport> {
  if (!patched(LEAN_LIFECYCLE)) return provisionSmimeV1(input);

  const { event } = input;
  const policy = input.policy ?? defaultPolicy();
  const info = workflowInfo();
  const window = deliveryWindow(policy.schedule, Date.parse(event.eventTime), Date.now());
  const enrollment: EnrollmentRef = { workflowId: info.workflowId, runId: info.firstExecutionRunId, enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid };
  const device = { deviceId: event.deviceId, platform: event.platform };
  const plans: CredentialPlan[] = policy.credentialKinds.map((kind) => ({ kind, sharedBy: (policy.sharedKinds ?? []).includes(kind) ? 'user' : 'device' }));
  const progress = new Progress(event, window, policy.credentialKinds);
  const reissueSharedIssuedBefore = input.renewal?.reissueSharedIssuedBefore;
  let renewal: FinishRenewalReport | undefined;
  const runKind = input.renewal ? 'renewal' : 'enrollment';
  const retryNow = signalled();
  const issuedNow = signalled();
  setHandler(retryNowSignal, () => retryNow.request());
  setHandler(certificateIssuedSignal, () => issuedNow.request());
  setHandler(statusQuery, () => progress.status());
  progress.refresh();

  try {
    for (const slot of window.attemptTimes) {
      if (slot < Date.now() && progress.attempt > 0) continue; // missed while a long attempt ran
      const attempt = progress.attempt + 1;
      // The attempt's first step opens its slot (the first attempt's at once); the steps after it run at once.
      let opening: number | undefined = attempt > 1 ? slot : Date.now();
      if (attempt > 1) waitForSlot(slot);
      const step: RunStep = async <S extends Step>(stage: Stage, name: S, input: Omit<Input<S>, 'notBefore'>, summary: string): Promise<Output<S>> => {
        const slotOpened = opening;
        opening = undefined;
        const waits = slotOpened !== undefined && slotOpened > Date.now();
        if (!waits) begin(attempt, stage);
        try {
          return await runStep<S>(name, { ...input, notBefore: waits ? iso(slotOpened) : undefined } as Input<S>, { summary, deadline: window.deadline, slot: waits ? slotOpened : undefined, wake: retryNow });
        } finally {
          if (waits) begin(attempt, stage);
        }
      };
      try {
        progress.user ??= await step('ResolvingUser', 'identifyUser', { event }, 'Find the user\'s address in UEM');
        await obtainCertificates(progress.user, step);
        await deliver(progress.user, step);
        if (input.renewal) renewal = await finishRenewal(progress.user);
        return delivered();
      } catch (err) {
        if (isCancellation(err)) throw err;
        progress.attempt = attempt;
        progress.failed(err);
        log.warn('attempt failed', { attempt, errorType: describe(err).type, error: describe(err).message });
        if (input.renewal) recordRenewalAttemptFailed();
        if (err instanceof WindowClosed || isWindowTimeout(err)) return await failDelivery('WindowClosed');
        if (!isRetryable(err)) return await failDelivery('NonRetryableError');
      }
    }
    return await failDelivery(window.attemptTimes.length === 0 || Date.now() >= window.deadline ? 'WindowClosed' : 'AttemptsExhausted');
  } catch (err) {
    if (isCancellation(err)) await cancelled();
    throw err;
  }

  // --- the lifecycle: each step is skipped when an earlier attempt already did it --------------

  async function obtainCertificates(user: IdentifiedUser, step: RunStep): Promise<void> {
    const unissued = plansFor(progress.kinds('unissued'));
    if (unissued.length === 0) return;
    const kinds = unissued.map((p) => p.kind).join(' and ');
    const requested = await step('RequestingCertificate', 'requestCertificates', { enrollment, user, credentials: unissued, device, reissueSharedIssuedBefore }, `Request the ${kinds} certificate${unissued.length > 1 ? 's' : ''}`);
    progress.record(requested);
    const waiting = requested.filter((p) => p.state !== 'issued');
    if (waiting.length > 0) await awaitIssuance(user, waiting);
  }

  /** The CA said pending (or another device is issuing the user's shared credential): Temporal asks again until issued. */
  async function awaitIssuance(user: IdentifiedUser, waiting: CredentialProgress[]): Promise<void> {
    progress.enter('AwaitingIssuance');
    let firstDayUntil: number | undefined = Date.now() + DAY_MS;
    for (;;) {
      const credentials = plansFor(progress.kinds('unissued'));
      if (Date.now() >= window.deadline) throw new WindowClosed(`${credentials.map((c) => c.kind).join(' and ')} still not issued when the window closed`);
      const escrowWait = waiting.some((p) => p.state === 'waiting');
      const summary = escrowWait ? 'Another device of the user is issuing the shared credential: look again' : `Ask the CA every ${formatDuration(policy.issuancePollIntervalMs)} until issued`;
      const call: StepCall = { summary, deadline: window.deadline, poll: { intervalMs: policy.issuancePollIntervalMs, firstDayUntil: escrowWait ? undefined : firstDayUntil, escrowWait }, wake: anyOf(issuedNow, retryNow) };
      try {
        progress.record(await runStep('awaitIssuance', { enrollment, user, credentials, pollIntervalMs: policy.issuancePollIntervalMs, device, reissueSharedIssuedBefore }, call));
        return;
      } catch (err) {
        // The first day's asking ended (its schedule-to-close): go on asking hourly, to the deadline.
        if (isCancellation(err) || !isWindowTimeout(err) || firstDayUntil === undefined || Date.now() >= window.deadline) throw err;
        firstDayUntil = undefined;
      }
    }
  }

  async function deliver(user: IdentifiedUser, step: RunStep): Promise<void> {
    const kinds = progress.kinds('undelivered');
    progress.delivered(await step('Uploading', 'deliverCredentials', { enrollment, user, platform: event.platform, kinds }, 'Build the PKCS#12 files and upload them to the gateway'));
  }

  /**
   * A renewal at the gateway: the phone is told to fetch it, and the signing certificate it replaced
   * is revoked — after, never before. Delivery has happened whatever this answers: a failure here is
   * logged and reported, not a failed delivery.
   */
  async function finishRenewal(user: IdentifiedUser): Promise<FinishRenewalReport | undefined> {
    progress.enter('FinishingRenewal');
    try {
      return await durable.finishRenewal.executeWithOptions({ summary: 'Re-install the S/MIME profile and revoke what the renewal replaced' }, [
        { enrollment, user, device, reason: input.renewal!.reason, sweepId: input.renewal!.sweepId },
      ]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('renewal delivered, but its profile re-install or revocation did not finish', { errorType: describe(err).type, error: describe(err).message });
      return undefined;
    }
  }

  /** The attempt has begun (its slot came, or it runs at once): the stage it is in. */
  function begin(attempt: number, stage: Stage): void {
    progress.attempt = attempt;
    progress.nextAttemptAt = undefined;
    progress.enter(stage);
  }

  /** Until the slot, the run rests: Stage WaitingToRetry, Attempt the one that failed. */
  function waitForSlot(slot: number): void {
    progress.nextAttemptAt = slot;
    progress.enter('WaitingToRetry');
  }

  // --- endings ---------------------------------------------------------------------------------

  function delivered(): DeliveryReport {
    progress.nextAttemptAt = undefined;
    progress.enter('Delivered');
    log.info('delivered', { attempts: progress.attempt, kinds: policy.credentialKinds });
    recordCompletion('Delivered', progress.attempt, event.eventTime, runKind);
    return {
      stage: 'Delivered',
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      email: progress.user!.email,
      attempts: progress.attempt,
      deliveredAt: new Date().toISOString(),
      credentials: progress.statuses(),
      ...(input.renewal ? { renewal: { reason: input.renewal.reason, sweepId: input.renewal.sweepId, ...(renewal ?? { unfinished: true }) } } : {}),
    };
  }

  async function failDelivery(reason: FailureReason): Promise<never> {
    progress.nextAttemptAt = undefined;
    progress.enter('Failed');
    const { attempt, lastError } = progress;
    const report: FailureReport = { stage: 'Failed', reason, attempts: attempt, lastError, enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, credentials: progress.statuses() };
    try {
      await durable.notifyFailure.executeWithOptions({ summary: 'Tell the administrators delivery failed' }, [failureNotice(reason)]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // A notifier that cannot be reached for a day, or is misconfigured, must not hide the failure itself.
      log.error('failure notification not delivered', { errorType: describe(err).type, error: describe(err).message });
    }
    const why = { AttemptsExhausted: 'all attempts used', WindowClosed: 'the 12.5-day window closed', NonRetryableError: 'an error that retrying cannot fix' }[reason];
    const last = lastError ? `; last error: ${lastError.type ?? 'Error'}: ${lastError.message}` : '';
    log.warn('delivery failed', { reason, attempts: attempt, lastErrorType: lastError?.type });
    recordCompletion('Failed', attempt, event.eventTime, runKind);
    throw ApplicationFailure.create({ type: DELIVERY_FAILED, nonRetryable: true, message: `S/MIME delivery failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${why}${last}`, details: [report] });
  }

  async function cancelled(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      progress.nextAttemptAt = undefined;
      progress.enter('Cancelled');
      recordCompletion('Cancelled', progress.attempt, event.eventTime, runKind);
      const report = await durable.cleanUpEnrollment.executeWithOptions({ summary: 'Clean up after cancellation' }, [{ event, reason: 'cancelled', enrollment, credentials: [] }]);
      log.info('cancelled; clean-up done', { ...report });
    });
  }

  function failureNotice(reason: FailureReason): FailureNotice {
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      userName: event.userName,
      email: progress.user?.email,
      deviceName: event.deviceName,
      platform: event.platform,
      eventTime: event.eventTime,
      attempts: progress.attempt,
      reason,
      lastError: progress.lastError ? { type: progress.lastError.type, message: progress.lastError.message } : undefined,
      failedAt: new Date().toISOString(),
      workflowUrl: '', // filled by the notifier, which knows the UI's address
      howToFind: `Temporal workflow ${info.workflowId} (run ${info.runId}) in namespace ${info.namespace}`,
    };
  }

  function plansFor(kinds: readonly string[]): CredentialPlan[] {
    return plans.filter((p) => kinds.includes(p.kind));
  }
}

/** Runs one step of the current attempt in its stage (the first step opens the attempt's slot). */
type RunStep = <S extends Step>(stage: Stage, name: S, input: Omit<Input<S>, 'notBefore'>, summary: string) => Promise<Output<S>>;

/** A signal's request to stop waiting, until acted on. */
function signalled(): Wake & { request(): void } {
  let requested = false;
  return {
    get requested() {
      return requested;
    },
    request: () => void (requested = true),
    take: () => void (requested = false),
  };
}

function anyOf(...wakes: Wake[]): Wake {
  return {
    get requested() {
      return wakes.some((w) => w.requested);
    },
    take: () => wakes.forEach((w) => w.take()),
  };
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
