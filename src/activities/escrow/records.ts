/**
 * What both backends write and read: a credential checked and encrypted before any transaction
 * starts (so locks are held for database work only), and a stored row opened back into an
 * `EscrowedCredential`.
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import type { CertificateInfo } from '../../domain/credentials';
import type { Sealer } from '../crypto/sealing';
import { decryptPrivateKey, encryptPrivateKey, type EncryptedPrivateKey } from './envelope';
import { checkKey, ESCROW_ERRORS, escrowFailure, type CredentialToStore, type EscrowedCredential, type EscrowKey } from './escrow-store';

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
