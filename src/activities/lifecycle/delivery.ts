/**
 * Delivering a device's credentials (Uploading): for each kind, the key (the register's for the
 * device's own credential, the escrow's for a shared one) and the certificate become a PKCS#12
 * with a fresh random password, which goes straight to the gateway — the file and its password
 * exist only inside this step and never enter the workflow's history. The register then records
 * the credential as the device's active one (the one it replaces becomes superseded) and forgets
 * the device's own key. A repeat finds the credential active and sends nothing.
 *
 * A shared encryption credential takes the user's earlier escrowed ones along as history, for a
 * gateway that carries them (./archived-credentials.ts).
 */
import { log } from '@temporalio/activity';
import type { Pkcs12Profile } from '../../domain/credentials';
import { nonRetryable } from '../../domain/errors';
import type { CredentialKind } from '../../domain/enrollment';
import type { CredentialGateway } from '../ceg/credential-gateway';
import type { DeliveryReceipt, EnrollmentRef, IdentifiedUser } from '../contract';
import { encryptForRecipient, randomPassword } from '../crypto/password';
import { buildPkcs12 } from '../crypto/pkcs12';
import type { EscrowStore } from '../escrow/escrow-store';
import type { CredentialRegister, RegisteredCredential } from '../register/credential-register';
import { archivedCredentialsFor } from './archived-credentials';
import { requestKeyOf } from './issuance';

export interface Pkcs12Policy {
  defaultProfile: Pkcs12Profile;
  /** Platform as UEM names it (case-insensitive) → profile. */
  byPlatform: Record<string, Pkcs12Profile>;
}

export interface DeliveryDeps {
  gateway: CredentialGateway;
  escrow: EscrowStore;
  register: CredentialRegister;
  pkcs12: Pkcs12Policy;
  /** When set, each password is also encrypted to this certificate for the gateway. */
  recipientCertificatePem?: string;
  /** Earlier encryption credentials sent along as history, at most (ARCHIVED_ENCRYPTION_KEYS; 0: none). */
  archivedEncryptionKeys: number;
}

export interface DeliveryRequest {
  enrollment: EnrollmentRef;
  user: IdentifiedUser;
  platform?: string;
  kind: CredentialKind;
}

export async function deliver(deps: DeliveryDeps, request: DeliveryRequest): Promise<DeliveryReceipt> {
  const { enrollment, user, kind } = request;
  const requestKey = requestKeyOf(enrollment, kind);
  const row = await deps.register.byRequestKey(requestKey);
  if (!row?.certificate) throw nonRetryable('ConfigurationError', `no issued ${kind} credential is registered for request ${requestKey}`);
  if (row.state === 'active') return receiptOf(row, true);

  const profile = profileFor(deps.pkcs12, request.platform);
  const password = randomPassword();
  const friendlyName = `S/MIME ${kind} ${user.email}`;
  const pkcs12 = await buildPkcs12({
    privateKeyPkcs8: await privateKeyOf(deps, row),
    certificatePem: row.certificate.certificatePem,
    chainPem: row.certificate.chainPem,
    password,
    profile,
    friendlyName,
  });
  const archived = await archivedCredentialsFor({ gateway: deps.gateway, escrow: deps.escrow, limit: deps.archivedEncryptionKeys }, row, { password, profile, friendlyName });
  const receipt = await deps.gateway.upload({
    enrollmentUserUuid: enrollment.enrollmentUserUuid,
    deviceUuid: enrollment.deviceUuid,
    enrollmentUserId: user.enrollmentUserId,
    kind,
    pkcs12,
    password,
    passwordForRecipient: deps.recipientCertificatePem ? encryptForRecipient(password, deps.recipientCertificatePem) : undefined,
    profile,
    thumbprint: row.certificate.thumbprint,
    email: user.email,
    ...(archived ? { archived } : {}),
  });
  const delivered = await deps.register.markDelivered(requestKey, { gateway: deps.gateway.type, deliveredAt: new Date().toISOString(), pkcs12Profile: profile });
  log.info('credential delivered', {
    kind,
    thumbprint: row.certificate.thumbprint,
    ...(archived ? { archivedThumbprints: archived.map((a) => a.thumbprint) } : {}),
    profile,
    alreadyPresent: receipt.alreadyPresent,
    gateway: deps.gateway.type,
  });
  return { ...receiptOf(delivered, receipt.alreadyPresent), ...(receipt.receiptId ? { receiptId: receipt.receiptId } : {}) };
}

async function privateKeyOf(deps: DeliveryDeps, row: RegisteredCredential): Promise<Buffer> {
  if (row.escrowId) {
    const escrowed = await deps.escrow.get(row.escrowId);
    if (!escrowed) throw nonRetryable('SealingError', `escrowed credential ${row.escrowId} is gone`);
    return escrowed.privateKeyPkcs8;
  }
  const key = await deps.register.privateKey(row);
  if (!key) throw nonRetryable('SealingError', `the ${row.kind} key of request ${row.requestKey} is gone from the register`);
  return key;
}

function receiptOf(row: RegisteredCredential, alreadyPresent: boolean): DeliveryReceipt {
  return { kind: row.kind, deliveredAt: row.deliveredAt ?? new Date().toISOString(), alreadyPresent, pkcs12Profile: row.pkcs12Profile ?? 'legacy' };
}

export function profileFor(policy: Pkcs12Policy, platform: string | undefined): Pkcs12Profile {
  if (!platform) return policy.defaultProfile;
  const wanted = platform.trim().toLowerCase();
  for (const [name, profile] of Object.entries(policy.byPlatform)) if (name.toLowerCase() === wanted) return profile;
  return policy.defaultProfile;
}

/** Parse PKCS12_PLATFORM_PROFILES entries (`Apple:legacy`). */
export function parsePlatformProfiles(entries: string[]): Record<string, Pkcs12Profile> {
  return Object.fromEntries(entries.map((entry) => entry.split(':') as [string, Pkcs12Profile]));
}
