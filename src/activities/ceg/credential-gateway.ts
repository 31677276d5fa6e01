import type { Pkcs12Profile } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';

/** One credential for one (user, device), as it goes to the gateway. */
export interface CredentialUpload {
  enrollmentUserUuid: string;
  deviceUuid: string;
  enrollmentUserId?: string;
  kind: CredentialKind;
  /** The PKCS#12 (key, certificate, chain). */
  pkcs12: Buffer;
  password: string;
  /** Base64 RSA-OAEP-SHA-256 of the password to the gateway's recipient certificate, if configured. */
  passwordForRecipient?: string;
  /** SHA-256 of the DER certificate, hex: lets the gateway recognise a repeat. */
  thumbprint: string;
  email: string;
  /** The PKCS#12 profile used (legacy | modern); sent so the gateway can check the file agrees. */
  profile?: Pkcs12Profile;
  /**
   * Encryption only, and only for a gateway that `carriesArchived`: the user's earlier encryption
   * credentials, newest first, so the device can still open mail encrypted to older certificates.
   * Each file opens with `password` and is built with `profile`, like the main one.
   */
  archived?: ArchivedCredential[];
}

/** An earlier encryption credential of the user, delivered as history next to the current one. */
export interface ArchivedCredential {
  /** The PKCS#12 (key, certificate, chain), same password and profile as the upload's main file. */
  pkcs12: Buffer;
  /** SHA-256 of the DER certificate, hex. */
  thumbprint: string;
  /** The certificate's notAfter, ISO 8601 (it may have passed: an expired key still opens old mail). */
  notAfter: string;
}

export interface GatewayReceipt {
  /** True when the gateway already held this exact credential. */
  alreadyPresent: boolean;
  receiptId?: string;
}

/**
 * The credential gateway: where finished credentials go, CEG or UEM directly (not to be confused
 * with the escrow, the provider's own store of users' keys). Errors typed where they are born:
 * `GatewayRejected` (non-retryable: our client certificate refused, a contract violation) or
 * `GatewayUnavailable`. Uploading the same credential twice must be harmless.
 */
export interface CredentialGateway {
  readonly type: string;
  /**
   * Whether an upload may carry `archived` credentials (the user's earlier encryption keys). When
   * false the caller does not build them at all: no key leaves the escrow for nothing.
   */
  readonly carriesArchived: boolean;
  upload(credential: CredentialUpload): Promise<GatewayReceipt>;
  /** Optional: remove what was uploaded for a device (unenroll clean-up). */
  delete?(target: { enrollmentUserUuid: string; deviceUuid: string; enrollmentUserId?: string }): Promise<void>;
}
