/**
 * The provisioning activities: every side effect of the lifecycle, built by a factory over small
 * interfaces (CA, gateway, directory, notifier) so tests and the dev stack can plug in local twins.
 *
 * Secrets are born and consumed here. A private key leaves `generateKeyPair` only sealed; the
 * PKCS#12 and its password leave `encryptCredential` only sealed; `uploadCredential` opens them
 * just long enough to send them.
 */
import { createPrivateKey } from 'node:crypto';
import { log } from '@temporalio/activity';
import { z } from 'zod';
import type { CertificateAuthority, CaAnswer } from './ca/certificate-authority';
import type { CertificateExpectation, IssuedCertificateCheck } from './ca/certificate-checks';
import type { EscrowGateway } from './ceg/escrow-gateway';
import { credentialScope, type EscrowedCredential, type EscrowStore } from './escrow/escrow-store';
import type { ProvisioningActivities } from './contract';
import { certificateInfo, certificatePublicKeySha256 } from './crypto/certificate-info';
import { buildSmimeCsr } from './crypto/csr';
import type { KeySource } from './crypto/key-pool';
import { encryptForRecipient, randomPassword } from './crypto/password';
import { buildPkcs12 } from './crypto/pkcs12';
import type { Sealer } from './crypto/sealing';
import { measured } from './metrics';
import type { Notifier } from './notify/notifier';
import type { UserDirectory } from './uem/user-directory';
import type { CertificateProfileName } from '../domain/certificate-profile';
import type { IssuanceOutcome, Pkcs12Profile } from '../domain/credentials';
import { nonRetryable } from '../domain/errors';

export type { ProvisioningActivities } from './contract';

export interface Pkcs12Policy {
  defaultProfile: Pkcs12Profile;
  /** Platform as UEM names it (case-insensitive) → profile. */
  byPlatform: Record<string, Pkcs12Profile>;
}

export interface ActivityDeps {
  ca: CertificateAuthority;
  /** What every certificate the CA returns must pass before it is packed and uploaded. */
  certificateChecks: IssuedCertificateCheck;
  /** The CA/B Forum S/MIME profile the CA is asked for (CERT_PROFILE). */
  certificateProfile: CertificateProfileName;
  gateway: EscrowGateway;
  /** UEM REST look-up; absent when only event emails are used. */
  directory?: UserDirectory;
  notifier: Notifier;
  sealer: Sealer;
  /** Where key pairs come from: generated on demand, or a pool filled in idle time. */
  keys: KeySource;
  validityDays: number;
  pkcs12: Pkcs12Policy;
  /** When set, each password is also encrypted to this certificate for the gateway. */
  recipientCertificatePem?: string;
  /** Revoke signing certificates at the CA when an enrollment is cancelled (unenroll, wipe). */
  revokeSigningOnCancel: boolean;
  /** Builds the UI link for notifications. */
  workflowUrl: (workflowId: string, runId: string) => string;
  /** Where shared credentials (encryption: one per user) are kept, encrypted. */
  escrow: EscrowStore;
  /** Signing credentials: one per device, or shared by the user's devices like encryption. */
  signingScope: 'device' | 'user';
  /** How long an issuance claim holds before another device may take over. */
  claimLeaseMs: number;
  /** A shared credential expiring within this is renewed rather than handed out again. */
  renewWithinMs: number;
}

/** Contexts bind a sealed blob to its purpose: a sealed key cannot be replayed as a bundle. */
const SEALED_KEY = 'private-key';
const SEALED_BUNDLE = 'pkcs12-bundle';

const bundleSchema = z.object({ pkcs12: z.string().min(1), password: z.string().min(1) });
const emailSchema = z.email();

export function createActivities(deps: ActivityDeps): ProvisioningActivities {
  const activities: ProvisioningActivities = {
    async resolveUser(event) {
      if (event.email && emailSchema.safeParse(event.email).success) {
        return { email: event.email.toLowerCase(), displayName: event.userName, userName: event.userName, source: 'event' };
      }
      if (!deps.directory) {
        throw nonRetryable('UserHasNoEmail', `the event has no usable email for user ${event.enrollmentUserUuid} and no UEM directory is configured (UEM_API_URL)`);
      }
      const directory = deps.directory;
      const found = await measured('directory', { directory: directory.type }, () => directory.lookUp({ enrollmentUserUuid: event.enrollmentUserUuid, enrollmentUserId: event.enrollmentUserId }));
      if (!found.email || !emailSchema.safeParse(found.email).success) {
        throw nonRetryable('UserHasNoEmail', `UEM has no usable email address for user ${event.enrollmentUserUuid}${found.userName ? ` (${found.userName})` : ''}`);
      }
      return { email: found.email.toLowerCase(), displayName: found.displayName, userName: found.userName ?? event.userName, source: 'directory' };
    },

    async generateKeyPair({ kind, user }) {
      const key = await deps.keys.take();
      const csrPem = await buildSmimeCsr(key, { email: user.email, displayName: user.displayName }, kind);
      log.info('key pair and CSR ready', { kind, keyAlgorithm: key.algorithm, fromPool: key.fromPool, publicKeySha256: key.publicKeySha256 });
      return {
        kind,
        sealedPrivateKey: deps.sealer.seal(key.privateKeyPkcs8, SEALED_KEY),
        csrPem,
        keyAlgorithm: key.algorithm,
        publicKeySha256: key.publicKeySha256,
      };
    },

    async requestCertificate(input) {
      const answer = await measured(
        'ca',
        { ca: deps.ca.type, operation: 'submit' },
        () =>
          deps.ca.submit({
            idempotencyKey: input.idempotencyKey,
            kind: input.kind,
            csrPem: input.csrPem,
            email: input.user.email,
            displayName: input.user.displayName,
            validityDays: deps.validityDays,
            profile: deps.certificateProfile,
          }),
        (a) => a.status,
      );
      return outcomeOf(answer, deps.certificateChecks, { kind: input.kind, email: input.user.email, publicKeySha256: input.publicKeySha256 });
    },

    async checkIssuance({ kind, requestId, publicKeySha256, email }) {
      const answer = await measured('ca', { ca: deps.ca.type, operation: 'poll' }, () => deps.ca.poll(requestId), (a) => a.status);
      return outcomeOf(answer, deps.certificateChecks, { kind, email, publicKeySha256 });
    },

    async encryptCredential({ kind, sealedPrivateKey, certificate, platform, friendlyName }) {
      const profile = profileFor(deps.pkcs12, platform);
      const password = randomPassword();
      const pkcs12 = await buildPkcs12({
        privateKeyPkcs8: deps.sealer.open(sealedPrivateKey, SEALED_KEY),
        certificatePem: certificate.certificatePem,
        chainPem: certificate.chainPem,
        password,
        profile,
        friendlyName,
      });
      log.info('PKCS#12 built', { kind, profile, bytes: pkcs12.length });
      return {
        sealedBundle: deps.sealer.seal(JSON.stringify({ pkcs12: pkcs12.toString('base64'), password }), SEALED_BUNDLE),
        profile,
        passwordForRecipient: deps.recipientCertificatePem ? encryptForRecipient(password, deps.recipientCertificatePem) : undefined,
      };
    },

    async uploadCredential({ kind, event, email, credential, thumbprint }) {
      const bundle = bundleSchema.parse(JSON.parse(deps.sealer.openText(credential.sealedBundle, SEALED_BUNDLE)));
      const receipt = await measured('gateway', { gateway: deps.gateway.type, operation: 'upload' }, () => deps.gateway.upload({
        enrollmentUserUuid: event.enrollmentUserUuid,
        deviceUuid: event.deviceUuid,
        enrollmentUserId: event.enrollmentUserId,
        kind,
        pkcs12: Buffer.from(bundle.pkcs12, 'base64'),
        password: bundle.password,
        passwordForRecipient: credential.passwordForRecipient,
        profile: credential.profile,
        thumbprint,
        email,
      }), (r) => (r.alreadyPresent ? 'already-present' : 'stored'));
      log.info('credential uploaded', { kind, thumbprint, alreadyPresent: receipt.alreadyPresent, gateway: deps.gateway.type });
      return { deliveredAt: new Date().toISOString(), alreadyPresent: receipt.alreadyPresent, receiptId: receipt.receiptId };
    },

    async claimSharedCredential({ kind, enrollmentUserUuid, deviceUuid, owner }) {
      const key = { enrollmentUserUuid, kind, scope: credentialScope(kind, { signingScope: deps.signingScope, deviceUuid }) };
      const claim = await deps.escrow.claim(key, owner, { leaseMs: deps.claimLeaseMs, renewBefore: new Date(Date.now() + deps.renewWithinMs) });
      if (claim.status === 'exists') {
        const { credential } = claim;
        log.info('shared credential found in escrow', { kind, credentialId: credential.id, serial: credential.certificate.serial });
        return { status: 'exists', ...sealedForTransit(credential) };
      }
      if (claim.status === 'claimed') {
        log.info('issuing the shared credential for this user', { kind, claimId: claim.claimId, replacing: claim.replacing });
        return { status: 'claimed', claimId: claim.claimId, leaseExpiresAt: claim.leaseExpiresAt };
      }
      return { status: 'wait', retryAfterMs: claim.retryAfterMs, heldBy: claim.heldBy };
    },

    async escrowCredential({ kind, enrollmentUserUuid, deviceUuid, owner, claimId, sealedPrivateKey, certificate }) {
      const scope = credentialScope(kind, { signingScope: deps.signingScope, deviceUuid });
      const result = await deps.escrow.store(claimId, owner, {
        enrollmentUserUuid,
        kind,
        scope,
        certificate,
        privateKeyPkcs8: deps.sealer.open(sealedPrivateKey, SEALED_KEY),
      });
      if (!result.stored) {
        // Another device's workflow took the claim over and stored first: deliver that one, so every
        // device of the user ends up with the same key. Ours was issued but is never delivered.
        log.warn('another device escrowed this credential first; delivering theirs', { kind, ours: certificate.serial, theirs: result.credential.certificate.serial });
      }
      return { stored: result.stored, ...sealedForTransit(result.credential) };
    },

    async notifyFailure(notice) {
      const withLink = { ...notice, workflowUrl: notice.workflowUrl || deps.workflowUrl(notice.workflowId, notice.runId) };
      await measured('notifier', { notifier: deps.notifier.type }, () => deps.notifier.notifyFailure(withLink));
    },

    async cleanUpEnrollment({ event, credentials }) {
      const notes: string[] = [];
      let removedFromGateway = false;
      if (credentials.some((c) => c.delivered)) {
        if (deps.gateway.delete) {
          await deps.gateway.delete({ enrollmentUserUuid: event.enrollmentUserUuid, deviceUuid: event.deviceUuid, enrollmentUserId: event.enrollmentUserId });
          removedFromGateway = true;
        } else {
          notes.push(`gateway ${deps.gateway.type} cannot delete; delivered credentials stay until UEM removes the profile`);
        }
      }
      const revokedSerials: string[] = [];
      if (deps.revokeSigningOnCancel) {
        for (const c of credentials) {
          if (c.kind !== 'signing' || !c.serial) continue;
          if (!deps.ca.revoke) {
            notes.push(`CA ${deps.ca.type} cannot revoke; signing certificate ${c.serial} stays valid until it expires`);
            continue;
          }
          await deps.ca.revoke(c.serial, 'cessationOfOperation');
          revokedSerials.push(c.serial);
        }
      }
      // Encryption keys are never destroyed: mail already encrypted to them must stay readable.
      log.info('enrollment cleaned up', { removedFromGateway, revokedSerials, notes });
      return { removedFromGateway, revokedSerials, notes };
    },
  };
  return activities;

  /** An escrowed credential as the workflow may see it: the private key sealed. */
  function sealedForTransit(credential: EscrowedCredential) {
    return {
      credentialId: credential.id,
      sealedPrivateKey: deps.sealer.seal(credential.privateKeyPkcs8, SEALED_KEY),
      certificate: credential.certificate,
      publicKeySha256: certificatePublicKeySha256(credential.certificate.certificatePem),
      keyAlgorithm: keyAlgorithmOf(credential.privateKeyPkcs8),
    };
  }
}

function keyAlgorithmOf(privateKeyPkcs8: Buffer): string {
  const key = createPrivateKey({ key: privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  const details = key.asymmetricKeyDetails;
  return key.asymmetricKeyType === 'rsa' ? `RSA-${details?.modulusLength}` : `EC-${details?.namedCurve}`;
}

/** A pending answer as it is; an issued one only after it passes every check (else `CertificateRejected`). */
async function outcomeOf(answer: CaAnswer, checks: IssuedCertificateCheck, expected: CertificateExpectation): Promise<IssuanceOutcome> {
  if (answer.status === 'pending') return { status: 'pending', requestId: answer.requestId };
  await checks.check(answer, expected);
  return { status: 'issued', certificate: await certificateInfo(answer.certificatePem, answer.chainPem), requestId: answer.requestId };
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
