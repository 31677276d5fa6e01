/**
 * The first lifecycle shape of provisionSmime, kept unchanged so that runs started before the lean
 * lifecycle replay and finish as they began (provision-smime.ts calls it when the run's history has
 * no `lean-lifecycle` marker). Nothing new runs it; it goes when no run of that shape is left.
 *
 * One durable workflow per (EnrollmentUserUUID, DeviceUUID) that owns the whole
 * delivery of S/MIME credentials to UEM's Credential Escrow Gateway.
 *
 *   resolve user ─▶ for each credential: request ─▶ await issuance ─▶ encrypt ─▶ upload
 *      ▲  an attempt per slot (default every 4 h, ≤ 75, ≤ EventTime + 12.5 days); retryNow skips the wait
 *      └─ then: failure notification, Stage=Failed, DeliveryFailed
 *
 * Deterministic code only: time comes from the SDK, secrets only pass through sealed.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LegacyProvisioningActivities as ProvisioningActivities } from '../../activities/legacy/contract';
import type { FailureNotice, FailureReason } from '../../activities/notify/notifier';
import type { CertificateInfo, PreparedRequest, ResolvedUser, SealedCredential, UploadReceipt } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';
import { DELIVERY_FAILED, NON_RETRYABLE_ERROR_TYPES } from '../../domain/errors';
import { defaultPolicy } from '../../domain/policy';
import { DAY_MS, deliveryWindow, formatDuration, HOUR_MS } from '../../domain/schedule';
import { recordCompletion } from '../metrics';
import type { Stage } from '../../domain/stages';
import {
  certificateIssuedSignal,
  retryNowSignal,
  searchAttributes,
  statusQuery,
  type CredentialStatus,
  type DeliveryReport,
  type ErrorSummary,
  type FailureReport,
  type ProvisionInput,
  type ProvisioningStatus,
} from '../definitions';
import { allOrFirstError, describe, failureType, isRetryable, WindowClosed } from '../lifecycle/failures';

/** Quick retries inside one attempt; what is left over waits for the next slot. */
const QUICK_RETRIES = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 4,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

const activities = proxyActivities<ProvisioningActivities>({
  startToCloseTimeout: '2m',
  retry: QUICK_RETRIES,
});

/** Notification and clean-up must get through: they retry for as long as the run lasts. */
const durableActivities = proxyActivities<Pick<ProvisioningActivities, 'notifyFailure' | 'cleanUpEnrollment'>>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '1d',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10m', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

/** Everything known about one credential in this run. Sealed fields never leave the workflow. */
interface CredentialProgress {
  kind: CredentialKind;
  prepared?: PreparedRequest;
  requestId?: string;
  certificate?: CertificateInfo;
  sealed?: SealedCredential;
  receipt?: UploadReceipt;
  /** Shared kinds: the escrow claim under which this workflow issues the user's credential. */
  claim?: { claimId: string; leaseExpiresAt: number };
  /** Shared kinds: the escrow id once the credential is the user's (ours, or another device's). */
  escrowId?: string;
}

export async function provisionSmimeV1(input: ProvisionInput): Promise<DeliveryReport> {
  const { event } = input;
  const policy = input.policy ?? defaultPolicy();
  const info = workflowInfo();
  const window = deliveryWindow(policy.schedule, Date.parse(event.eventTime), Date.now());
  const credentials: CredentialProgress[] = policy.credentialKinds.map((kind) => ({ kind }));

  let stage: Stage = 'Received';
  let attempt = 0;
  let nextAttemptAt: number | undefined;
  let lastError: ErrorSummary | undefined;
  let user: ResolvedUser | undefined;
  let retryRequested = false;
  let issuanceNoticed = false;
  let attributesWrittenFor = '';

  setHandler(retryNowSignal, () => {
    retryRequested = true;
  });
  setHandler(certificateIssuedSignal, () => {
    issuanceNoticed = true;
  });
  setHandler(statusQuery, (): ProvisioningStatus => status());
  enterStage('Received');

  try {
    for (const slot of window.attemptTimes) {
      if (slot < Date.now() && attempt > 0) continue; // missed while a long attempt ran
      if (attempt > 0) await untilSlotOrRetryNow(slot);
      attempt += 1;
      try {
        user ??= await resolveUser();
        await deliverAll(user);
        return delivered();
      } catch (err) {
        if (isCancellation(err)) throw err;
        noteAttemptFailed(err);
        if (!isRetryable(err)) return await failDelivery('NonRetryableError');
        if (err instanceof WindowClosed) return await failDelivery('WindowClosed');
      }
    }
    return await failDelivery(window.attemptTimes.length === 0 || Date.now() >= window.deadline ? 'WindowClosed' : 'AttemptsExhausted');
  } catch (err) {
    if (isCancellation(err)) await cancelled();
    throw err;
  }

  // --- the lifecycle: each step is skipped when an earlier attempt already did it -------------

  async function resolveUser(): Promise<ResolvedUser> {
    enterStage('ResolvingUser');
    return activities.resolveUser.executeWithOptions({ summary: 'Find the user\'s email address' }, [event]);
  }

  /**
   * One attempt's work, phase by phase for all credentials at once (the CA, the crypto and the
   * gateway see both kinds in parallel), skipping whatever an earlier attempt already finished.
   */
  async function deliverAll(forUser: ResolvedUser): Promise<void> {
    const open = credentials.filter((c) => !c.receipt);
    const unissued = open.filter((c) => !c.certificate);
    if (unissued.length > 0) {
      enterStage('RequestingCertificate');
      await allOrFirstError(unissued.map((c) => obtainCertificate(c, forUser)));
      const pending = unissued.filter((c) => !c.certificate);
      if (pending.length > 0) await awaitIssuance(pending);
    }
    const unsealed = open.filter((c) => !c.sealed);
    if (unsealed.length > 0) {
      enterStage('Encrypting');
      await allOrFirstError(unsealed.filter((c) => isShared(c.kind) && !c.escrowId).map((c) => escrow(c)));
      await allOrFirstError(unsealed.map((c) => encrypt(c, forUser)));
    }
    enterStage('Uploading');
    await allOrFirstError(open.map((c) => upload(c, forUser)));
  }

  /** A shared credential the user already has is reused; otherwise this workflow issues it. */
  async function obtainCertificate(credential: CredentialProgress, forUser: ResolvedUser): Promise<void> {
    if (isShared(credential.kind) && !credential.claim && (await findOrClaimShared(credential)) === 'exists') return;
    await requestCertificate(credential, forUser);
  }

  /**
   * The escrow decides who issues a user's shared credential: it is there already (deliver it),
   * or this workflow holds the claim (issue it), or another device's workflow does (look again,
   * backing off up to the poll interval; the window still holds).
   */
  async function findOrClaimShared(credential: CredentialProgress): Promise<'exists' | 'claimed'> {
    const { kind } = credential;
    let backoff = 0;
    for (;;) {
      const claim = await activities.claimSharedCredential.executeWithOptions(
        { summary: `${kind}: the user's credential from escrow, or the claim to issue it` },
        [{ kind, enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, owner: escrowOwner() }],
      );
      if (claim.status === 'exists') {
        const { credentialId, sealedPrivateKey, certificate, publicKeySha256, keyAlgorithm } = claim;
        credential.prepared = { kind, sealedPrivateKey, csrPem: '', keyAlgorithm, publicKeySha256 };
        credential.certificate = certificate;
        credential.requestId = `escrow:${credentialId}`;
        credential.escrowId = credentialId;
        credential.claim = undefined;
        return 'exists';
      }
      if (claim.status === 'claimed') {
        credential.claim = { claimId: claim.claimId, leaseExpiresAt: Date.parse(claim.leaseExpiresAt) };
        return 'claimed';
      }
      const remaining = window.deadline - Date.now();
      if (remaining <= 0) throw new WindowClosed(`another device of this user was still issuing the ${kind} credential when the window closed`);
      backoff = Math.min(Math.max(claim.retryAfterMs, backoff * 2), policy.issuancePollIntervalMs);
      enterStage('AwaitingIssuance');
      await condition(() => retryRequested, Math.min(backoff, remaining), { summary: `${kind}: another device of this user is issuing it; look again` });
      retryRequested = false;
    }
  }

  /** Put a credential this workflow issued into the escrow; if another device won a race, take theirs. */
  async function escrow(credential: CredentialProgress): Promise<void> {
    const { kind, prepared, certificate } = credential;
    if (!credential.claim && (await findOrClaimShared(credential)) === 'exists') return;
    const input = {
      kind,
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      owner: escrowOwner(),
      claimId: credential.claim!.claimId,
      sealedPrivateKey: prepared!.sealedPrivateKey,
      certificate: certificate!,
    };
    let outcome;
    try {
      outcome = await activities.escrowCredential.executeWithOptions({ summary: `${kind}: keep the user's credential in escrow` }, [input]);
    } catch (err) {
      if (failureType(err) !== 'EscrowClaimLost') throw err;
      // The lease lapsed and was taken over, but nothing was stored: claim again and retry once.
      credential.claim = undefined;
      if ((await findOrClaimShared(credential)) === 'exists') return;
      outcome = await activities.escrowCredential.executeWithOptions({ summary: `${kind}: keep the user's credential in escrow` }, [{ ...input, claimId: credential.claim!.claimId }]);
    }
    credential.escrowId = outcome.credentialId;
    credential.claim = undefined;
    if (!outcome.stored) {
      credential.prepared = { ...prepared!, sealedPrivateKey: outcome.sealedPrivateKey, publicKeySha256: outcome.publicKeySha256 };
      credential.certificate = outcome.certificate;
    }
  }

  /** While a CA keeps a shared credential pending, keep the escrow claim from lapsing. */
  async function renewClaim(credential: CredentialProgress): Promise<void> {
    if (!credential.claim || credential.claim.leaseExpiresAt - Date.now() > 2 * policy.issuancePollIntervalMs) return;
    const renewed = await activities.claimSharedCredential.executeWithOptions(
      { summary: `${credential.kind}: renew the escrow claim` },
      [{ kind: credential.kind, enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, owner: escrowOwner() }],
    );
    if (renewed.status === 'claimed') credential.claim = { claimId: renewed.claimId, leaseExpiresAt: Date.parse(renewed.leaseExpiresAt) };
    // 'exists' or 'wait': the claim was taken over; the escrow step sorts it out once issued.
  }

  async function requestCertificate(credential: CredentialProgress, forUser: ResolvedUser): Promise<void> {
    const { kind } = credential;
    credential.prepared ??= await activities.generateKeyPair.executeWithOptions({ summary: `${kind}: generate key pair and CSR` }, [{ kind, user: forUser }]);
    if (credential.requestId) return; // submitted in an earlier attempt: only the wait is left
    const { csrPem, publicKeySha256 } = credential.prepared;
    const outcome = await activities.requestCertificate.executeWithOptions(
      { summary: `${kind}: submit the CSR to the CA` },
      [{ kind, csrPem, user: forUser, idempotencyKey: idempotencyKey(kind), publicKeySha256 }],
    );
    credential.requestId = outcome.requestId ?? 'issued-at-once';
    if (outcome.status === 'issued') credential.certificate = outcome.certificate;
  }

  /** Pending CA requests: poll on a durable timer, or sooner on `certificateIssued`, until the deadline. */
  async function awaitIssuance(pending: CredentialProgress[]): Promise<void> {
    enterStage('AwaitingIssuance');
    const since = Date.now();
    let waiting = pending;
    while (waiting.length > 0) {
      const remaining = window.deadline - Date.now();
      if (remaining <= 0) throw new WindowClosed(`certificate request ${waiting.map((c) => c.requestId).join(', ')} still pending when the window closed`);
      const wait = Math.min(issuancePollInterval(Date.now() - since), remaining);
      nextAttemptAt = Date.now() + wait;
      refreshDetails();
      await condition(() => issuanceNoticed || retryRequested, wait, { summary: `next issuance check in ${formatDuration(wait)}` });
      issuanceNoticed = false;
      retryRequested = false;
      nextAttemptAt = undefined;
      const checks = await Promise.allSettled(waiting.map(async (c) => {
        await renewClaim(c);
        await checkIssuance(c);
      }));
      for (const check of checks) {
        if (check.status === 'fulfilled') continue;
        if (isCancellation(check.reason) || !isRetryable(check.reason)) throw check.reason;
        noteAttemptFailed(check.reason); // a CA outage during the wait: keep waiting, the deadline still holds
      }
      waiting = waiting.filter((c) => !c.certificate);
    }
  }

  async function checkIssuance(credential: CredentialProgress): Promise<void> {
    const { kind, requestId, prepared } = credential;
    const outcome = await activities.checkIssuance.executeWithOptions(
      { summary: `${kind}: ask the CA about request ${requestId}` },
      [{ kind, requestId: requestId!, publicKeySha256: prepared!.publicKeySha256, email: user?.email }],
    );
    if (outcome.status === 'issued') credential.certificate = outcome.certificate;
  }

  async function encrypt(credential: CredentialProgress, forUser: ResolvedUser): Promise<void> {
    const { kind, prepared, certificate } = credential;
    credential.sealed = await activities.encryptCredential.executeWithOptions(
      { summary: `${kind}: build the PKCS#12` },
      [{ kind, sealedPrivateKey: prepared!.sealedPrivateKey, certificate: certificate!, platform: event.platform, friendlyName: `S/MIME ${kind} ${forUser.email}` }],
    );
  }

  async function upload(credential: CredentialProgress, forUser: ResolvedUser): Promise<void> {
    const { kind, sealed, certificate } = credential;
    const { enrollmentUserUuid, deviceUuid, enrollmentUserId } = event;
    credential.receipt = await activities.uploadCredential.executeWithOptions(
      { summary: `${kind}: upload to the escrow gateway` },
      [{ kind, event: { enrollmentUserUuid, deviceUuid, enrollmentUserId }, email: forUser.email, credential: sealed!, thumbprint: certificate!.thumbprint }],
    );
    log.info('credential delivered', { kind, thumbprint: certificate!.thumbprint, attempt });
  }

  async function untilSlotOrRetryNow(slot: number): Promise<void> {
    enterStage('WaitingToRetry');
    nextAttemptAt = slot;
    refreshDetails();
    const wait = slot - Date.now();
    if (wait > 0) {
      await condition(() => retryRequested, wait, { summary: `attempt ${attempt + 1} of at most ${window.attemptTimes.length}` });
    }
    retryRequested = false;
    nextAttemptAt = undefined;
  }

  // --- endings -------------------------------------------------------------------------------

  function delivered(): DeliveryReport {
    enterStage('Delivered');
    const report: DeliveryReport = {
      stage: 'Delivered',
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      email: user!.email,
      attempts: attempt,
      deliveredAt: new Date().toISOString(),
      credentials: credentialStatuses(),
    };
    log.info('delivered', { attempts: attempt, kinds: policy.credentialKinds });
    recordCompletion('Delivered', attempt, event.eventTime);
    return report;
  }

  async function failDelivery(reason: FailureReason): Promise<never> {
    enterStage('Failed');
    const report: FailureReport = {
      stage: 'Failed',
      reason,
      attempts: attempt,
      lastError,
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      credentials: credentialStatuses(),
    };
    try {
      await durableActivities.notifyFailure.executeWithOptions({ summary: 'Tell the administrators delivery failed' }, [failureNotice(reason)]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // A notifier that cannot be reached for a day, or is misconfigured, must not hide the failure itself.
      log.error('failure notification not delivered', { errorType: describe(err).type, error: describe(err).message });
    }
    const why = { AttemptsExhausted: 'all attempts used', WindowClosed: 'the 12.5-day window closed', NonRetryableError: 'an error that retrying cannot fix' }[reason];
    const last = lastError ? `; last error: ${lastError.type ?? 'Error'}: ${lastError.message}` : '';
    log.warn('delivery failed', { reason, attempts: attempt, lastErrorType: lastError?.type });
    recordCompletion('Failed', attempt, event.eventTime);
    throw ApplicationFailure.create({
      type: DELIVERY_FAILED,
      nonRetryable: true,
      message: `S/MIME delivery failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${why}${last}`,
      details: [report],
    });
  }

  async function cancelled(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      enterStage('Cancelled');
      recordCompletion('Cancelled', attempt, event.eventTime);
      const report = await durableActivities.cleanUpEnrollment.executeWithOptions(
        { summary: 'Clean up after cancellation' },
        [{ event, reason: 'cancelled', credentials: credentials.map((c) => ({ kind: c.kind, serial: c.certificate?.serial, delivered: !!c.receipt })) }],
      );
      log.info('cancelled; clean-up done', { ...report });
    });
  }

  // --- bookkeeping -----------------------------------------------------------------------------

  function enterStage(next: Stage): void {
    stage = next;
    // One upsert per change of stage or attempt: each upsert is a history event.
    if (attributesWrittenFor === `${stage}/${attempt}`) return refreshDetails();
    attributesWrittenFor = `${stage}/${attempt}`;
    upsertSearchAttributes([
      { key: searchAttributes.stage, value: stage },
      { key: searchAttributes.attempt, value: attempt },
      { key: searchAttributes.deviceUuid, value: event.deviceUuid },
      { key: searchAttributes.enrollmentUserUuid, value: event.enrollmentUserUuid },
    ]);
    refreshDetails();
  }

  function noteAttemptFailed(err: unknown): void {
    const failure = describe(err);
    lastError = { ...failure, at: new Date().toISOString(), attempt };
    log.warn('attempt failed', { attempt, errorType: failure.type, error: failure.message });
    refreshDetails();
  }

  function refreshDetails(): void {
    const lines = [
      `**Stage:** ${stage}`,
      `**Attempt:** ${attempt} of at most ${window.attemptTimes.length} (deadline ${new Date(window.deadline).toISOString()})`,
    ];
    if (nextAttemptAt !== undefined) lines.push(`**Next:** ${new Date(nextAttemptAt).toISOString()}`);
    if (lastError) lines.push(`**Last error** (attempt ${lastError.attempt}): ${lastError.type ?? 'Error'}: ${lastError.message}`);
    for (const c of credentialStatuses()) lines.push(`- ${c.kind}: ${c.state}${c.serial ? ` (serial ${c.serial})` : ''}`);
    setCurrentDetails(lines.join('\n'));
  }

  function status(): ProvisioningStatus {
    return {
      stage,
      attempt,
      maxAttempts: window.attemptTimes.length,
      nextAttemptAt: nextAttemptAt === undefined ? undefined : new Date(nextAttemptAt).toISOString(),
      deadline: new Date(window.deadline).toISOString(),
      lastError,
      email: user?.email,
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      credentials: credentialStatuses(),
    };
  }

  function credentialStatuses(): CredentialStatus[] {
    return credentials.map((c) => ({
      kind: c.kind,
      state: c.receipt ? 'delivered' : c.sealed ? 'encrypted' : c.certificate ? 'issued' : c.requestId ? 'pending' : c.prepared ? 'requested' : 'not-started',
      requestId: c.requestId,
      serial: c.certificate?.serial,
      thumbprint: c.certificate?.thumbprint,
      notAfter: c.certificate?.notAfter,
      profile: c.sealed?.profile,
      deliveredAt: c.receipt?.deliveredAt,
      escrowId: c.escrowId,
    }));
  }

  function failureNotice(reason: FailureReason): FailureNotice {
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      enrollmentUserUuid: event.enrollmentUserUuid,
      deviceUuid: event.deviceUuid,
      userName: event.userName,
      email: user?.email ?? event.email,
      deviceName: event.deviceName,
      platform: event.platform,
      eventTime: event.eventTime,
      attempts: attempt,
      reason,
      lastError: lastError ? { type: lastError.type, message: lastError.message } : undefined,
      failedAt: new Date().toISOString(),
      workflowUrl: '', // filled by the activity, which knows the UI's address
      howToFind: `Temporal workflow ${info.workflowId} (run ${info.runId}) in namespace ${info.namespace}`,
    };
  }

  /**
   * The configured interval for the first day of a wait; after that at least hourly. A CA that has
   * not issued within a day is working on a human timescale, and polling every 15 minutes for
   * 12 days would grow the history to tens of thousands of events. `certificateIssued` still
   * wakes the workflow at once.
   */
  function issuancePollInterval(waitedMs: number): number {
    return waitedMs < DAY_MS ? policy.issuancePollIntervalMs : Math.max(policy.issuancePollIntervalMs, HOUR_MS);
  }

  function isShared(kind: CredentialKind): boolean {
    return (policy.sharedKinds ?? []).includes(kind);
  }

  /** The escrow claim owner: stable for the whole workflow, so claiming again renews the lease. */
  function escrowOwner(): string {
    return `${info.workflowId}/${info.firstExecutionRunId}`;
  }

  function idempotencyKey(kind: CredentialKind): string {
    return `${info.workflowId}/${info.firstExecutionRunId}/${kind}`;
  }
}
