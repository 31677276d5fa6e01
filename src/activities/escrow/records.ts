/**
 * What both backends write and read: a credential checked and encrypted before any transaction
 * starts (so locks are held for database work only), a stored row opened back into an
 * `EscrowedCredential`, and the answers to claim and store once a backend's transaction is done.
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import type { CertificateInfo } from '../../domain/credentials';
import type { Sealer } from '../crypto/sealing';
import { decryptPrivateKey, encryptPrivateKey, type EncryptedPrivateKey } from './envelope';
import type { Logger } from '../../logging';
import type { ClaimDecision, StoreDecision } from './decisions';
import { checkKey, describeKey, ESCROW_ERRORS, escrowFailure, type ClaimResult, type CredentialToStore, type EscrowedCredential, type EscrowKey, type StoreResult } from './escrow-store';

export interface PreparedCredential {
  id: string;
  key: EscrowKey;
  certificateJson: string;
  thumbprint: string;
  serial: string;
  notAfter: string;
  encrypted: EncryptedPrivateKey;
}

/** Checks that key and certificate belong together, gives the row its id and encrypts the key. */
export function prepareCredential(sealer: Sealer, input: CredentialToStore): PreparedCredential {
  const key = checkKey(input);
  const certificate = input.certificate;
  if (!certificate || typeof certificate.certificatePem !== 'string') throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'credential to store has no certificate');
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(certificate.certificatePem);
  } catch {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'credential to store: certificatePem is not a PEM X.509 certificate');
  }
  const thumbprint = createHash('sha256').update(parsed.raw).digest('hex');
  if (certificate.thumbprint !== thumbprint) {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'credential to store: certificate.thumbprint is not the SHA-256 of the certificate');
  }
  if (!Buffer.isBuffer(input.privateKeyPkcs8)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, 'credential to store: privateKeyPkcs8 must be a Buffer');
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey({ key: input.privateKeyPkcs8, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
  } catch {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, `credential to store (certificate ${thumbprint}): privateKeyPkcs8 is not a PKCS#8 DER private key`);
  }
  if (!keySpki.equals(parsed.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw escrowFailure(ESCROW_ERRORS.InvalidInput, `credential to store: the private key does not belong to certificate ${thumbprint}`);
  }
  const id = randomUUID();
  const notAfterMs = Date.parse(parsed.validTo); // "Mar  1 08:00:00 2027 GMT", as OpenSSL prints it
  if (!Number.isFinite(notAfterMs)) throw escrowFailure(ESCROW_ERRORS.InvalidInput, `credential to store: cannot read the expiry of certificate ${thumbprint}`);
  const notAfter = new Date(notAfterMs).toISOString();
  return {
    id,
    key,
    certificateJson: JSON.stringify(publicCertificate(certificate)),
    thumbprint,
    serial: certificate.serial,
    notAfter,
    encrypted: encryptPrivateKey(sealer, { id, ...key }, input.privateKeyPkcs8),
  };
}

/** A credential row as both backends read it back. */
export interface CredentialRow {
  id: string;
  enrollmentUserUuid: string;
  kind: string;
  scope: string;
  status: string;
  createdAt: string;
  supersededAt?: string | null;
  supersededBy?: string | null;
  certificateJson: string;
  keyCiphertext: Buffer;
  wrappedDataKey: string;
}

export function openCredential(sealer: Sealer, row: CredentialRow): EscrowedCredential {
  const key = checkKey({ enrollmentUserUuid: row.enrollmentUserUuid, kind: row.kind as EscrowKey['kind'], scope: row.scope });
  const credential: EscrowedCredential = {
    id: row.id,
    ...key,
    certificate: JSON.parse(row.certificateJson) as CertificateInfo,
    privateKeyPkcs8: decryptPrivateKey(sealer, { id: row.id, ...key }, row),
    status: row.status === 'active' ? 'active' : 'superseded',
    createdAt: row.createdAt,
  };
  if (row.supersededAt) credential.supersededAt = row.supersededAt;
  if (row.supersededBy) credential.supersededBy = row.supersededBy;
  return credential;
}

/** Only the CertificateInfo fields, whatever else the caller's object carried. */
function publicCertificate(c: CertificateInfo): CertificateInfo {
  return {
    certificatePem: c.certificatePem,
    chainPem: [...(c.chainPem ?? [])],
    serial: c.serial,
    thumbprint: c.thumbprint,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    subject: c.subject,
    issuer: c.issuer,
  };
}

/** What a backend's claim transaction found and did, for `claimAnswer`. */
export interface ClaimOutcome {
  decision: ClaimDecision;
  /** The active credential, when the decision is `exists`. */
  active?: CredentialRow;
  /** The claim granted or renewed. */
  claimId?: string;
  /** The owner of an expired claim this grant took over. */
  tookOverFrom?: string;
}

/** The caller's answer to a claim, the same for every backend once its transaction is done. */
export function claimAnswer(sealer: Sealer, logger: Logger, key: EscrowKey, owner: string, outcome: ClaimOutcome): ClaimResult {
  const { decision } = outcome;
  switch (decision.action) {
    case 'exists':
      return { status: 'exists', credential: openCredential(sealer, outcome.active!) };
    case 'renew':
    case 'grant':
      logger.debug(
        { ...key, owner, claimId: outcome.claimId, replacing: decision.replacingId, tookOverFrom: outcome.tookOverFrom },
        decision.action === 'grant' ? 'escrow claim granted' : 'escrow claim renewed',
      );
      return {
        status: 'claimed',
        claimId: outcome.claimId!,
        leaseExpiresAt: new Date(decision.expiresAtMs).toISOString(),
        ...(decision.replacingId ? { replacing: decision.replacingId } : {}),
      };
    case 'wait':
      return { status: 'wait', heldBy: decision.heldBy, retryAfterMs: decision.retryAfterMs, leaseExpiresAt: new Date(decision.expiresAtMs).toISOString() };
  }
}

/** What a backend's store transaction found and did, for `storeAnswer`. */
export interface StoreOutcome {
  decision: StoreDecision;
  /** When the credential was stored (decision `store`). */
  createdAt?: string;
  /** The credential already stored, by us or by another claim (decisions `already-stored`, `theirs`). */
  row?: CredentialRow;
}

/** The caller's answer to a store, the same for every backend once its transaction is done. */
export function storeAnswer(
  sealer: Sealer,
  logger: Logger,
  request: { claimId: string; owner: string; prepared: PreparedCredential; credential: CredentialToStore },
  outcome: StoreOutcome,
): StoreResult {
  const { claimId, owner, prepared, credential } = request;
  const k = prepared.key;
  const { decision } = outcome;
  switch (decision.action) {
    case 'store':
      logger.info(
        { ...k, owner, claimId, credentialId: prepared.id, thumbprint: prepared.thumbprint, superseded: decision.supersedeId },
        'escrow credential stored',
      );
      return {
        stored: true,
        credential: {
          id: prepared.id,
          ...k,
          certificate: JSON.parse(prepared.certificateJson) as CertificateInfo,
          privateKeyPkcs8: Buffer.from(credential.privateKeyPkcs8),
          status: 'active',
          createdAt: outcome.createdAt!,
        },
      };
    case 'already-stored':
      return { stored: true, credential: openCredential(sealer, outcome.row!) };
    case 'theirs':
      logger.info({ ...k, owner, claimId, credentialId: decision.credentialId }, 'escrow claim lost to a credential stored meanwhile; returning that one');
      return { stored: false, credential: openCredential(sealer, outcome.row!) };
    case 'lost':
      throw escrowFailure(ESCROW_ERRORS.ClaimLost, `cannot store the ${k.kind} credential for ${describeKey(k)}: ${decision.reason}, and no credential was stored meanwhile; claim again`);
  }
}
