import type { CertificateProfileName } from '../../domain/certificate-profile';
import type { CredentialKind } from '../../domain/enrollment';

/** What the provider asks a CA for: one S/MIME certificate for one key. */
export interface CertificateSigningRequest {
  /**
   * Stable for one workflow and credential kind. A CA that supports idempotency returns the
   * first answer again for a repeated key; adapters for CAs that do not must reconcile.
   */
  idempotencyKey: string;
  kind: CredentialKind;
  /** PKCS#10, PEM. Carries SAN rfc822Name, EKU emailProtection and the key usage for the kind. */
  csrPem: string;
  email: string;
  /** Informational: a Mailbox-validated certificate never carries it (CN is the address, or absent). */
  displayName?: string;
  validityDays: number;
  /** The CA/B Forum S/MIME profile to issue under (CERT_PROFILE); absent: mailbox-strict. */
  profile?: CertificateProfileName;
}

/** The CA's answer: the certificate, or a request id to poll later. */
export type CaAnswer =
  | { status: 'issued'; certificatePem: string; chainPem: string[]; requestId?: string }
  | { status: 'pending'; requestId: string };

/**
 * A certificate authority, as the provider needs it. Errors are typed where they are born:
 * `CertificateRejected` (non-retryable) for a refusal, `CaUnavailable` (retryable) for outages.
 */
export interface CertificateAuthority {
  readonly type: string;
  submit(request: CertificateSigningRequest): Promise<CaAnswer>;
  poll(requestId: string): Promise<CaAnswer>;
  /** Optional: revoke by serial (lower-case hex). */
  revoke?(serial: string, reason: RevocationReason): Promise<void>;
}

export type RevocationReason = 'cessationOfOperation' | 'keyCompromise' | 'affiliationChanged' | 'superseded';
