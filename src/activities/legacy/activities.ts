/**
 * The activities of the first lifecycle shape, for runs started before the lean lifecycle: they
 * replay and finish with these (src/workflows/legacy/). One activity per credential and step; the
 * private key, the PKCS#12 and its password cross the workflow sealed. Nothing new calls them;
 * they go when no run of that shape is left (see docs/runbook.md, "Upgrades").
 */
import { createPrivateKey } from 'node:crypto';
import { log } from '@temporalio/activity';
import { z } from 'zod';
import type { IssuanceOutcome } from '../../domain/credentials';
import type { CaAnswer } from '../ca/certificate-authority';
import type { CertificateExpectation, IssuedCertificateCheck } from '../ca/certificate-checks';
import { certificateInfo, certificatePublicKeySha256 } from '../crypto/certificate-info';
import { buildSmimeCsr } from '../crypto/csr';
import { encryptForRecipient, randomPassword } from '../crypto/password';
import { buildPkcs12 } from '../crypto/pkcs12';
import { escrowScopeFor, type EscrowedCredential } from '../escrow/escrow-store';
import type { ActivityDeps } from '../index';
import { profileFor } from '../lifecycle/delivery';
import { identifyUser } from '../lifecycle/identify-user';
import type { LegacyProvisioningActivities } from './contract';

/** Contexts bind a sealed blob to its purpose: a sealed key cannot be replayed as a bundle. */
const SEALED_KEY = 'private-key';
const SEALED_BUNDLE = 'pkcs12-bundle';

const bundleSchema = z.object({ pkcs12: z.string().min(1), password: z.string().min(1) });

export function createLegacyActivities(deps: ActivityDeps): Omit<LegacyProvisioningActivities, 'notifyFailure' | 'cleanUpEnrollment'> {
  const activities: Omit<LegacyProvisioningActivities, 'notifyFailure' | 'cleanUpEnrollment'> = {
    async resolveUser(event) {
      // The same authority as the lean lifecycle's identifyUser: UEM's directory, not the event.
      return identifyUser(event, deps.directory);
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
      const answer = await deps.ca.submit({
        idempotencyKey: input.idempotencyKey,
        kind: input.kind,
        csrPem: input.csrPem,
        email: input.user.email,
        displayName: input.user.displayName,
        validityDays: deps.validityDays,
        profile: deps.certificateProfile,
      });
      return outcomeOf(answer, deps.certificateChecks, { kind: input.kind, email: input.user.email, publicKeySha256: input.publicKeySha256 });
    },

    async checkIssuance({ kind, requestId, publicKeySha256, email }) {
      const answer = await deps.ca.poll(requestId);
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
      // UEM's numeric id for this UUID, never the event's (an event could pair a UUID with another account's id).
      const enrollmentUserId = deps.directory ? (await deps.directory.lookUp({ enrollmentUserUuid: event.enrollmentUserUuid })).enrollmentUserId : event.enrollmentUserId;
      const receipt = await deps.gateway.upload({
        enrollmentUserUuid: event.enrollmentUserUuid,
        deviceUuid: event.deviceUuid,
        enrollmentUserId,
        kind,
        pkcs12: Buffer.from(bundle.pkcs12, 'base64'),
        password: bundle.password,
        passwordForRecipient: credential.passwordForRecipient,
        profile: credential.profile,
        thumbprint,
        email,
      });
      log.info('credential uploaded', { kind, thumbprint, alreadyPresent: receipt.alreadyPresent, gateway: deps.gateway.type });
      return { deliveredAt: new Date().toISOString(), alreadyPresent: receipt.alreadyPresent, receiptId: receipt.receiptId };
    },

    async claimSharedCredential({ kind, enrollmentUserUuid, deviceUuid, owner, scope }) {
      const key = { enrollmentUserUuid, kind, scope: escrowScopeFor(scope, deviceUuid) };
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

    async escrowCredential({ kind, enrollmentUserUuid, deviceUuid, owner, scope, claimId, sealedPrivateKey, certificate }) {
      const result = await deps.escrow.store(claimId, owner, {
        enrollmentUserUuid,
        kind,
        scope: escrowScopeFor(scope, deviceUuid),
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

