/**
 * Activities replaced at the activity boundary for workflow unit tests: each records its calls
 * (with the time-skipping server's clock) and can be told to fail. Nothing here is secret.
 */
import { Context } from '@temporalio/activity';
import type { ProvisioningActivities } from '../../src/activities/contract';
import type { FailureNotice } from '../../src/activities/notify/notifier';
import type { CertificateInfo, Sealed } from '../../src/domain/credentials';
import type { CredentialKind } from '../../src/domain/enrollment';

export interface Call {
  name: keyof ProvisioningActivities;
  /** The server's clock when the activity was scheduled (skipped time under time skipping). */
  at: number;
  attempt: number;
  input: unknown;
}

export type FakeActivities = ProvisioningActivities & { calls: Call[]; notices: FailureNotice[]; callsOf(name: keyof ProvisioningActivities): Call[] };

export function fakeCertificate(kind: CredentialKind, n = 1): CertificateInfo {
  return {
    certificatePem: `-----BEGIN CERTIFICATE-----\nFAKE-${kind}-${n}\n-----END CERTIFICATE-----\n`,
    chainPem: [],
    serial: `${kind === 'signing' ? '5' : 'e'}${n.toString(16).padStart(7, '0')}`,
    thumbprint: `${kind}-thumb-${n}`,
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    subject: 'E=user@example.test',
    issuer: 'CN=Fake CA',
  };
}

/** The current activity's scheduled time on the server's clock. */
export function serverNow(): number {
  return Context.current().info.currentAttemptScheduledTimestampMs;
}

export function fakeActivities(overrides: Partial<ProvisioningActivities> = {}): FakeActivities {
  const calls: Call[] = [];
  const notices: FailureNotice[] = [];
  const record = (name: keyof ProvisioningActivities, input: unknown) => {
    const { info } = Context.current();
    calls.push({ name, at: info.currentAttemptScheduledTimestampMs, attempt: info.attempt, input });
  };
  let issued = 0;
  const defaults: ProvisioningActivities = {
    async resolveUser(event) {
      return { email: event.email ?? `${event.enrollmentUserUuid.slice(0, 8)}@example.test`, source: event.email ? 'event' : 'directory' };
    },
    async generateKeyPair({ kind }) {
      return { kind, sealedPrivateKey: `sealed:v1:test:${kind}` as Sealed, csrPem: `CSR-${kind}`, keyAlgorithm: 'RSA-2048', publicKeySha256: `spki-${kind}` };
    },
    async requestCertificate({ kind }) {
      issued += 1;
      return { status: 'issued', certificate: fakeCertificate(kind, issued), requestId: `req-${issued}` };
    },
    async checkIssuance({ kind, requestId }) {
      return { status: 'issued', certificate: fakeCertificate(kind, 99), requestId };
    },
    async encryptCredential({ kind }) {
      return { sealedBundle: `sealed:v1:test:bundle-${kind}` as Sealed, profile: 'legacy' };
    },
    async uploadCredential() {
      return { deliveredAt: new Date(serverNow()).toISOString(), alreadyPresent: false };
    },
    async claimSharedCredential() {
      // Each test user is new: this workflow issues the shared credential.
      return { status: 'claimed', claimId: 'claim-1', leaseExpiresAt: new Date(serverNow() + 3_600_000).toISOString() };
    },
    async escrowCredential({ kind, sealedPrivateKey, certificate }) {
      return { stored: true, credentialId: `escrow-${kind}`, sealedPrivateKey, certificate, publicKeySha256: `spki-${kind}` };
    },
    async notifyFailure(notice) {
      notices.push(notice);
    },
    async cleanUpEnrollment() {
      return { removedFromGateway: true, revokedSerials: [], notes: [] };
    },
  };
  const wrapped = {} as ProvisioningActivities;
  for (const name of Object.keys(defaults) as (keyof ProvisioningActivities)[]) {
    const impl = (overrides[name] ?? defaults[name]) as (input: never) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[name] = async (input: never) => {
      record(name, input);
      return impl(input);
    };
  }
  return Object.assign(wrapped, { calls, notices, callsOf: (name: keyof ProvisioningActivities) => calls.filter((c) => c.name === name) });
}
