import type { CredentialKind } from './enrollment';

/**
 * A secret sealed with AES-256-GCM under the provider's key-encryption key:
 * `sealed:v1:<kid>:<base64url nonce>:<base64url ciphertext+tag>`. This is the only form in which
 * a private key, PKCS#12 or password may cross the workflow.
 */
export type Sealed = string & { readonly __sealed: unique symbol };

/** Public facts about an issued certificate: safe for history, status and API responses. */
export interface CertificateInfo {
  /** The leaf certificate, PEM. */
  certificatePem: string;
  /** Intermediates up to (not including) the root, PEM, leaf-side first. */
  chainPem: string[];
  /** Serial number, lower-case hex. */
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  thumbprint: string;
  notBefore: string;
  notAfter: string;
  subject: string;
  issuer: string;
}

/** The user a credential is for, as resolved from the event or the UEM directory. */
export interface ResolvedUser {
  email: string;
  displayName?: string;
  userName?: string;
  /** Where the email came from: the event itself or a UEM REST look-up. */
  source: 'event' | 'directory';
}

/** A key pair made for one credential: the private half only sealed, the CSR public. */
export interface PreparedRequest {
  kind: CredentialKind;
  sealedPrivateKey: Sealed;
  csrPem: string;
  keyAlgorithm: string;
  /** SHA-256 of the SubjectPublicKeyInfo, hex: lets anyone check key and certificate match. */
  publicKeySha256: string;
}

export type IssuanceOutcome =
  | { status: 'issued'; certificate: CertificateInfo; requestId?: string }
  | { status: 'pending'; requestId: string };

/** The encrypted credential ready for the gateway: PKCS#12 and its password, both sealed. */
export interface SealedCredential {
  sealedBundle: Sealed;
  profile: Pkcs12Profile;
  /** Base64 RSA-OAEP-SHA-256 encryption of the password to the gateway's recipient certificate. */
  passwordForRecipient?: string;
}

export type Pkcs12Profile = 'legacy' | 'modern';

export interface UploadReceipt {
  deliveredAt: string;
  /** Whether the gateway already held this exact credential (a harmless repeat). */
  alreadyPresent: boolean;
  receiptId?: string;
}
