/**
 * Credential escrow: where S/MIME private keys live after issuance, so that an encryption
 * credential can be made once per user and handed to every device of that user (mail encrypted
 * to the user must open everywhere), and renewed credentials keep their predecessors (old mail
 * must still open).
 *
 * The store is also the coordination point between workflows: two devices of one user enrolling
 * at the same moment both ask `claim`; exactly one gets an issuance claim (a lease), the other is
 * told to wait, and once the first stores its credential everyone gets that one.
 *
 * Private keys are encrypted at rest (see envelope.ts); everything else here is public.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CertificateInfo } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';
import type { Keyring } from '../crypto/sealing';

/** The scope of a credential shared by all devices of a user. */
export const USER_SCOPE = 'user';

/** What a credential is escrowed under: at most one active credential per key. */
export interface EscrowKey {
  enrollmentUserUuid: string;
  kind: CredentialKind;
  /** `'user'` (shared by every device of the user) or the DeviceUUID (one device only). */
  scope: string;
}

export interface EscrowedCredential {
  id: string;
  enrollmentUserUuid: string;
  kind: CredentialKind;
  scope: string;
  certificate: CertificateInfo;
  /** PKCS#8 DER. A secret: decrypted on read, never logged, never returned to a workflow. */
  privateKeyPkcs8: Buffer;
  status: 'active' | 'superseded';
  createdAt: string;
  /** When a newer credential for the same key replaced this one (it is kept, never deleted). */
  supersededAt?: string;
  /** The id of the credential that replaced this one. */
  supersededBy?: string;
}

export type ClaimResult =
  /** An active credential exists: use it. */
  | { status: 'exists'; credential: EscrowedCredential }
  /** This owner may issue: get a certificate, then `store` (or `release` on giving up). */
  | {
      status: 'claimed';
      claimId: string;
      leaseExpiresAt: string;
      /** Set when the claim renews this (still active, soon expiring) credential. */
      replacing?: string;
    }
  /** Another owner is issuing: ask again after `retryAfterMs`. */
  | { status: 'wait'; heldBy: string; retryAfterMs: number; leaseExpiresAt: string };

export interface ClaimOptions {
  /** How long the claim is held without renewal; the same owner renews by claiming again. Default 15 min. */
  leaseMs?: number;
  /**
   * Renewal: an active credential whose certificate expires before this instant does not count as
   * existing, so a claim to replace it is granted (the old one stays, superseded, once the new one
   * is stored). Without it, any active credential is returned as is.
   */
  renewBefore?: Date | string;
  /** Forced renewal: an active credential escrowed before this instant does not count as existing either. */
  renewIssuedBefore?: Date | string;
}

export interface CredentialToStore {
  enrollmentUserUuid: string;
  kind: CredentialKind;
  scope: string;
  certificate: CertificateInfo;
  /** PKCS#8 DER of the certificate's private key (checked to match the certificate). */
  privateKeyPkcs8: Buffer;
}

export type StoreResult =
  /** Stored as the active credential (or stored already by an earlier call with this claim). */
  | { stored: true; credential: EscrowedCredential }
  /** The claim was taken over and another owner stored first: use theirs, discard yours. */
  | { stored: false; credential: EscrowedCredential };

export interface EscrowStore {
  readonly type: string;
  /**
   * Atomically: the active credential for the key if there is one; else an issuance claim for this
   * owner (a lease; the same owner claiming again renews it and gets the same claim id) unless
   * another owner holds a live claim. An expired claim of another owner is taken over.
   */
  claim(key: EscrowKey, owner: string, options?: ClaimOptions): Promise<ClaimResult>;
  /**
   * Store the credential as the key's active one (the previous active one is kept, superseded) and
   * end the claim. Idempotent for the same claim and certificate. If the claim is no longer held
   * by this owner: returns the credential another owner stored meanwhile (`stored: false`), or,
   * when there is none, fails with `EscrowClaimLost` (claim again).
   */
  store(claimId: string, owner: string, credential: CredentialToStore): Promise<StoreResult>;
  /** Give the claim up (the owner will not store); a no-op for a claim this owner does not hold. */
  release(claimId: string, owner: string): Promise<void>;
  active(key: EscrowKey): Promise<EscrowedCredential | undefined>;
  get(id: string): Promise<EscrowedCredential | undefined>;
  /** Every credential of the user (of one kind, if given), superseded ones included, newest first. */
  history(enrollmentUserUuid: string, kind?: CredentialKind): Promise<EscrowedCredential[]>;
  /**
   * Key rotation: re-wrap every data key not yet under `keyring`'s current key (it must still hold
   * the old keys), and use `keyring` from then on. Private-key ciphertexts are not touched.
   * Re-run after every worker has the new keyring, in case one stored under the old key meanwhile.
   */
  rewrap(keyring: Keyring): Promise<{ rewrapped: number }>;
  close(): Promise<void>;
}

export const DEFAULT_LEASE_MS = 15 * 60_000;
/** A waiting owner is told to ask again after at most this long, even if the lease runs longer. */
export const DEFAULT_WAIT_POLL_MS = 5_000;
/** ... and after at least this long, so an about-to-expire lease does not cause a busy loop. */
export const MIN_RETRY_AFTER_MS = 100;

// --- errors -------------------------------------------------------------------------------------

/**
 * The escrow's own failure types. They are raised exactly like `nonRetryable`/`retryable` in
 * src/domain/errors.ts raises the shared ones (an ApplicationFailure with this type).
 */
export const ESCROW_ERRORS = {
  /** store(): the claim was taken over or released and nobody stored meanwhile; claim again. Non-retryable (retrying store cannot help). */
  ClaimLost: 'EscrowClaimLost',
  /** A key field or credential is malformed (e.g. the private key does not match the certificate). Non-retryable. */
  InvalidInput: 'EscrowInvalidInput',
  /** The escrow database is unreachable, busy or out of space. Retryable. */
  Unavailable: 'EscrowUnavailable',
} as const;

export type EscrowErrorType = (typeof ESCROW_ERRORS)[keyof typeof ESCROW_ERRORS];

export function escrowFailure(type: EscrowErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: type !== ESCROW_ERRORS.Unavailable });
}

// --- helpers shared by the backends --------------------------------------------------------------

/**
 * The escrow key's scope for a credential shared by every device of the user (`user`) or held by
 * one device (`device`). The workflow says which; inputs recorded before it did were always `user`.
 */
export function escrowScopeFor(sharedBy: 'user' | 'device' | undefined, deviceUuid: string): string {
  return (sharedBy ?? 'user') === 'user' ? USER_SCOPE : deviceUuid;
}

const KINDS: readonly string[] = ['encryption', 'signing'];
const SAFE_TEXT = /^[^\u0000-\u001f\u007f]{1,200}$/;

/** Throws `EscrowInvalidInput` unless the key is well formed; returns a clean copy. */
export function checkKey(key: EscrowKey): EscrowKey {
  const { enrollmentUserUuid, kind, scope } = key ?? ({} as EscrowKey);
  if (typeof enrollmentUserUuid !== 'string' || !SAFE_TEXT.test(enrollmentUserUuid)) {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'escrow key: enrollmentUserUuid must be 1-200 printable characters');
  }
  if (!KINDS.includes(kind)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, `escrow key: kind must be encryption or signing, got "${String(kind)}"`);
  if (typeof scope !== 'string' || !SAFE_TEXT.test(scope)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'escrow key: scope must be 1-200 printable characters');
  return { enrollmentUserUuid, kind, scope };
}

export function checkOwner(owner: string): string {
  if (typeof owner !== 'string' || !SAFE_TEXT.test(owner)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'escrow claim owner must be 1-200 printable characters');
  return owner;
}

export function checkLease(leaseMs: number | undefined): number {
  const lease = leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(lease) || lease < 1 || lease > 7 * 24 * 3_600_000) {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, `escrow claim lease must be a whole number of milliseconds between 1 and 7 days, got ${String(leaseMs)}`);
  }
  return lease;
}

export function renewBeforeMs(renewBefore: Date | string | undefined): number | undefined {
  if (renewBefore === undefined) return undefined;
  const ms = renewBefore instanceof Date ? renewBefore.getTime() : Date.parse(renewBefore);
  if (!Number.isFinite(ms)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'escrow claim renewBefore is not a valid instant');
  return ms;
}

export function describeKey(key: EscrowKey): string {
  return `(${key.enrollmentUserUuid}, ${key.kind}, ${key.scope})`;
}
