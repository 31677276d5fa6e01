/**
 * Getting each credential's certificate: `requestCertificates` (RequestingCertificate) and
 * `awaitIssuance` (AwaitingIssuance) share one idempotent step, `advance`, which moves a
 * credential as far as it can go from whatever state the register and the escrow hold:
 *
 *   shared by the user (encryption; signing when SIGNING_CREDENTIAL_SCOPE=user):
 *     the escrow has the user's credential      → this device gets it (no CA request)
 *     another device is issuing it right now     → waiting
 *     this run holds the claim                   → request it as below, then escrow it (if another
 *                                                  device's got there first, theirs is delivered)
 *   the device's own (signing by default):
 *     key pair and CSR made once (register row, key encrypted) → submitted to the CA under the
 *     request key (a retry never yields a second certificate) → issued, or pending (polled)
 *
 * Every certificate is checked before it is accepted (it carries the key we generated).
 */
import { log } from '@temporalio/activity';
import type { CertificateInfo } from '../../domain/credentials';
import type { CertificateProfileName } from '../../domain/certificate-profile';
import { nonRetryable } from '../../domain/errors';
import type { CredentialKind } from '../../domain/enrollment';
import type { CaAnswer, CertificateAuthority } from '../ca/certificate-authority';
import type { IssuedCertificateCheck } from '../ca/certificate-checks';
import type { CertificateSummary, CredentialPlan, CredentialProgress, DeviceFacts, EnrollmentRef, IdentifiedUser } from '../contract';
import { certificateInfo } from '../crypto/certificate-info';
import { buildSmimeCsr } from '../crypto/csr';
import type { KeySource } from '../crypto/key-pool';
import { escrowScopeFor, type EscrowKey, type EscrowStore } from '../escrow/escrow-store';
import type { CredentialRegister, RegisteredCredential } from '../register/credential-register';

export interface IssuanceDeps {
  ca: CertificateAuthority;
  certificateChecks: IssuedCertificateCheck;
  certificateProfile: CertificateProfileName;
  escrow: EscrowStore;
  register: CredentialRegister;
  keys: KeySource;
  validityDays: number;
  claimLeaseMs: number;
  /** A shared credential expiring within this is renewed rather than handed out again. */
  renewWithinMs: number;
}

export interface IssuanceRequest {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  plan: CredentialPlan;
  /** What the register keeps of the device for later (renewal). */
  device?: DeviceFacts;
  /** Renewal on demand: a shared credential issued before this instant is issued anew. */
  reissueSharedIssuedBefore?: string;
}

/** Stable for (workflow, first run, kind): the register row's key and the CA's idempotency key. */
export function requestKeyOf(enrollment: EnrollmentRef, kind: CredentialKind): string {
  return `${enrollment.workflowId}/${enrollment.runId}/${kind}`;
}

/** Who claims the user's shared credential: stable for the run, so claiming again renews the lease. */
export function escrowOwnerOf(enrollment: EnrollmentRef): string {
  return `${enrollment.workflowId}/${enrollment.runId}`;
}

export function summaryOf(certificate: CertificateInfo): CertificateSummary {
  return { serial: certificate.serial, thumbprint: certificate.thumbprint, notBefore: certificate.notBefore, notAfter: certificate.notAfter };
}

/** Move one credential as far as it goes now. */
export async function advance(deps: IssuanceDeps, request: IssuanceRequest): Promise<CredentialProgress> {
  const { enrollment, plan } = request;
  const requestKey = requestKeyOf(enrollment, plan.kind);
  const row = await deps.register.byRequestKey(requestKey);
  if (row?.certificate && (row.state === 'issued' || row.state === 'active')) return issued(row.kind, row.certificate, row.escrowId);

  let claimId: string | undefined;
  if (plan.sharedBy === 'user') {
    const claim = await deps.escrow.claim(escrowKeyOf(request), escrowOwnerOf(enrollment), {
      leaseMs: deps.claimLeaseMs,
      renewBefore: new Date(Date.now() + deps.renewWithinMs),
      ...(request.reissueSharedIssuedBefore ? { renewIssuedBefore: request.reissueSharedIssuedBefore } : {}),
    });
    if (claim.status === 'exists') {
      await ensureRow(deps, request, row);
      await deps.register.markIssued(requestKey, { certificate: claim.credential.certificate, escrowId: claim.credential.id });
      log.info('the user\'s shared credential is in escrow: this device gets it', { kind: plan.kind, escrowId: claim.credential.id, serial: claim.credential.certificate.serial });
      return issued(plan.kind, claim.credential.certificate, claim.credential.id);
    }
    if (claim.status === 'wait') return { kind: plan.kind, state: 'waiting', heldBy: claim.heldBy };
    claimId = claim.claimId;
  }

  const withKey = await ensureRow(deps, request, row, true);
  const answer = withKey.caRequestId && withKey.state === 'pending' ? await deps.ca.poll(withKey.caRequestId) : await submit(deps, request, withKey);
  if (answer.status === 'pending') {
    await deps.register.markPending(requestKey, answer.requestId);
    return { kind: plan.kind, state: 'pending', requestId: answer.requestId };
  }
  const certificate = await accept(deps, request, withKey, answer);
  if (!claimId) {
    await deps.register.markIssued(requestKey, { certificate, caRequestId: answer.requestId });
    return issued(plan.kind, certificate);
  }
  return escrowIt(deps, request, withKey, claimId, certificate, answer.requestId);
}

function issued(kind: CredentialKind, certificate: CertificateInfo, escrowId?: string): CredentialProgress {
  return { kind, state: 'issued', certificate: summaryOf(certificate), ...(escrowId ? { escrowId } : {}) };
}

/**
 * The register row of the request; with `needsKey`, one holding a key pair and its CSR (made now
 * if the row has none yet — e.g. a shared credential this run only now got the claim for).
 */
async function ensureRow(deps: IssuanceDeps, request: IssuanceRequest, row: RegisteredCredential | undefined, needsKey = false): Promise<RegisteredCredential> {
  if (row && (!needsKey || row.csrPem)) return row;
  const { enrollment, user, plan } = request;
  const base = {
    requestKey: requestKeyOf(enrollment, plan.kind),
    workflowId: enrollment.workflowId,
    runId: enrollment.runId,
    enrollmentUserUuid: enrollment.enrollmentUserUuid,
    deviceUuid: enrollment.deviceUuid,
    deviceId: request.device?.deviceId,
    platform: request.device?.platform,
    kind: plan.kind,
    email: user.email,
  };
  if (!needsKey) return deps.register.begin(base);
  const key = await deps.keys.take();
  const csrPem = await buildSmimeCsr(key, { email: user.email, displayName: user.displayName }, plan.kind);
  log.info('key pair and CSR made', { kind: plan.kind, keyAlgorithm: key.algorithm, fromPool: key.fromPool, publicKeySha256: key.publicKeySha256 });
  return deps.register.begin({ ...base, csrPem, publicKeySha256: key.publicKeySha256, privateKeyPkcs8: key.privateKeyPkcs8 });
}

function submit(deps: IssuanceDeps, request: IssuanceRequest, row: RegisteredCredential): Promise<CaAnswer> {
  return deps.ca.submit({
    idempotencyKey: row.requestKey,
    kind: row.kind,
    csrPem: row.csrPem!,
    email: request.user.email,
    displayName: request.user.displayName,
    validityDays: deps.validityDays,
    profile: deps.certificateProfile,
  });
}

/**
 * The CA's certificate, checked before anything else happens to it: the key of our request, the
 * user's address, key usage and EKU for the kind, the profile's policy, validity and a chain to the
 * configured root (ca/certificate-checks.ts). A CA mix-up must not reach a phone.
 */
async function accept(deps: IssuanceDeps, request: IssuanceRequest, row: RegisteredCredential, answer: Extract<CaAnswer, { status: 'issued' }>): Promise<CertificateInfo> {
  await deps.certificateChecks.check(answer, { kind: row.kind, email: request.user.email, publicKeySha256: row.publicKeySha256! });
  return certificateInfo(answer.certificatePem, answer.chainPem);
}

/** A shared credential this run issued goes into the escrow; if another device's got there first, that one is the user's. */
async function escrowIt(deps: IssuanceDeps, request: IssuanceRequest, row: RegisteredCredential, claimId: string, certificate: CertificateInfo, caRequestId?: string): Promise<CredentialProgress> {
  const privateKeyPkcs8 = await deps.register.privateKey(row);
  if (!privateKeyPkcs8) throw nonRetryable('SealingError', `the ${row.kind} key of request ${row.requestKey} is gone from the register`);
  const key = escrowKeyOf(request);
  const result = await deps.escrow.store(claimId, escrowOwnerOf(request.enrollment), { ...key, certificate, privateKeyPkcs8 });
  if (!result.stored) {
    log.warn('another device escrowed this credential first; delivering theirs', { kind: row.kind, ours: certificate.serial, theirs: result.credential.certificate.serial });
  }
  await deps.register.markIssued(row.requestKey, { certificate: result.credential.certificate, caRequestId, escrowId: result.credential.id });
  return issued(row.kind, result.credential.certificate, result.credential.id);
}

function escrowKeyOf(request: IssuanceRequest): EscrowKey {
  return { enrollmentUserUuid: request.enrollment.enrollmentUserUuid, kind: request.plan.kind, scope: escrowScopeFor(request.plan.sharedBy, request.enrollment.deviceUuid) };
}
