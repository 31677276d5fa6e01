/**
 * What a run shows of itself while it works: the `status` query, the current details in the
 * Temporal UI, and the search attributes operators list by.
 *
 * Search attributes are written where the run comes to rest — when it starts to wait (for the CA:
 * AwaitingIssuance; for the next slot: WaitingToRetry with the attempt that failed) and when it
 * ends (Delivered, Failed, Cancelled, with the attempts it took); `Received` is set by whoever
 * starts it. Stages it passes through quickly (ResolvingUser, RequestingCertificate, Uploading)
 * are in the query and the details only: each upsert is a history event, and a list by stage asks
 * where runs stand, not where they were a second ago.
 */
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { CertificateSummary, CredentialProgress, DeliveryReceipt, IdentifiedUser } from '../../activities/contract';
import type { CredentialKind, EnrollmentEvent } from '../../domain/enrollment';
import type { Stage } from '../../domain/stages';
import { searchAttributes, type CredentialStatus, type ErrorSummary, type ProvisioningStatus } from '../definitions';
import { describe } from './failures';
import type { DeliveryWindow } from '../../domain/schedule';

/** Stages that are written to the search attributes (see above). */
const RESTING: readonly Stage[] = ['AwaitingIssuance', 'WaitingToRetry', 'Delivered', 'Failed', 'Cancelled'];

interface Credential {
  kind: CredentialKind;
  certificate?: CertificateSummary;
  requestId?: string;
  escrowId?: string;
  waiting?: boolean;
  receipt?: DeliveryReceipt;
}

export class Progress {
  stage: Stage = 'Received';
  attempt = 0;
  nextAttemptAt?: number;
  lastError?: ErrorSummary;
  user?: IdentifiedUser;
  private readonly credentials: Credential[];
  private written = 'Received/0';

  constructor(
    private readonly event: EnrollmentEvent,
    private readonly window: DeliveryWindow,
    kinds: readonly CredentialKind[],
  ) {
    this.credentials = kinds.map((kind) => ({ kind }));
  }

  enter(stage: Stage): void {
    this.stage = stage;
    const key = `${stage}/${this.attempt}`;
    if (RESTING.includes(stage) && key !== this.written) {
      this.written = key;
      upsertSearchAttributes([
        { key: searchAttributes.stage, value: stage },
        { key: searchAttributes.attempt, value: this.attempt },
      ]);
    }
    this.refresh();
  }

  /** What the CA (or the escrow) said about each credential. */
  record(progress: readonly CredentialProgress[]): void {
    for (const p of progress) {
      const c = this.credential(p.kind);
      c.waiting = p.state === 'waiting';
      if (p.state === 'issued') Object.assign(c, { certificate: p.certificate, escrowId: p.escrowId });
      if (p.state === 'pending') c.requestId = p.requestId;
    }
    this.refresh();
  }

  delivered(receipts: readonly DeliveryReceipt[]): void {
    for (const receipt of receipts) this.credential(receipt.kind).receipt = receipt;
  }

  failed(err: unknown): void {
    this.lastError = { ...describe(err), at: new Date().toISOString(), attempt: this.attempt };
    this.refresh();
  }

  kinds(filter: 'unissued' | 'undelivered'): CredentialKind[] {
    return this.credentials.filter((c) => (filter === 'unissued' ? !c.certificate : !c.receipt)).map((c) => c.kind);
  }

  status(): ProvisioningStatus {
    return {
      stage: this.stage,
      attempt: this.attempt,
      maxAttempts: this.window.attemptTimes.length,
      nextAttemptAt: this.nextAttemptAt === undefined ? undefined : new Date(this.nextAttemptAt).toISOString(),
      deadline: new Date(this.window.deadline).toISOString(),
      lastError: this.lastError,
      email: this.user?.email,
      enrollmentUserUuid: this.event.enrollmentUserUuid,
      deviceUuid: this.event.deviceUuid,
      credentials: this.statuses(),
    };
  }

  statuses(): CredentialStatus[] {
    return this.credentials.map((c) => ({
      kind: c.kind,
      state: c.receipt ? 'delivered' : c.certificate ? 'issued' : c.requestId ? 'pending' : c.waiting ? 'requested' : 'not-started',
      requestId: c.requestId,
      serial: c.certificate?.serial,
      thumbprint: c.certificate?.thumbprint,
      notAfter: c.certificate?.notAfter,
      profile: c.receipt?.pkcs12Profile as CredentialStatus['profile'],
      deliveredAt: c.receipt?.deliveredAt,
      escrowId: c.escrowId,
    }));
  }

  refresh(): void {
    const lines = [`**Stage:** ${this.stage}`, `**Attempt:** ${this.attempt} of at most ${this.window.attemptTimes.length} (deadline ${new Date(this.window.deadline).toISOString()})`];
    if (this.nextAttemptAt !== undefined) lines.push(`**Next:** ${new Date(this.nextAttemptAt).toISOString()}`);
    if (this.lastError) lines.push(`**Last error** (attempt ${this.lastError.attempt}): ${this.lastError.type ?? 'Error'}: ${this.lastError.message}`);
    if (this.user?.eventAddressIgnored) lines.push('**Note:** the event named another address than UEM\'s directory; UEM\'s is used');
    for (const c of this.statuses()) lines.push(`- ${c.kind}: ${c.state}${c.serial ? ` (serial ${c.serial})` : ''}`);
    setCurrentDetails(lines.join('\n'));
  }

  private credential(kind: CredentialKind): Credential {
    return this.credentials.find((c) => c.kind === kind)!;
  }
}
