/**
 * Which certificate the provider asks for, in the words of the CA/Browser Forum S/MIME Baseline
 * Requirements. The provider validates only that the user controls the mailbox (UEM vouches for
 * the address), so every certificate is **Mailbox-validated**: the subject carries the address
 * and nothing about the person (no display name, no organisation). The generation is a choice:
 *
 *   mailbox-strict        2.23.140.1.5.1.3  EKU emailProtection only, the tightest profile (default)
 *   mailbox-multipurpose  2.23.140.1.5.1.2  for CAs that sell only multipurpose products
 *
 * Exactly one reserved OID says which (BR 7.1.6.4); the organisation's own CPS OIDs may follow.
 * Legacy (2.23.140.1.5.1.1) is not offered: it may not be issued after 2025-07-15.
 */
import type { CredentialKind } from './enrollment';

export const CERTIFICATE_PROFILES = ['mailbox-strict', 'mailbox-multipurpose'] as const;
export type CertificateProfileName = (typeof CERTIFICATE_PROFILES)[number];

/** The profile a request asks for when it names none. */
export const DEFAULT_CERTIFICATE_PROFILE: CertificateProfileName = 'mailbox-strict';

/** The arc every CA/B Forum S/MIME reserved policy OID lives under (BR 7.1.6.1). */
export const SMIME_RESERVED_POLICY_ARC = '2.23.140.1.5';

export const RESERVED_POLICY_OID: Record<CertificateProfileName, string> = {
  'mailbox-strict': '2.23.140.1.5.1.3',
  'mailbox-multipurpose': '2.23.140.1.5.1.2',
};

/** A dotted OID with at least two arcs, the first 0, 1 or 2 (X.660). */
export const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]*))+$/;

export function isReservedSmimePolicy(oid: string): boolean {
  return oid === SMIME_RESERVED_POLICY_ARC || oid.startsWith(`${SMIME_RESERVED_POLICY_ARC}.`);
}

/**
 * The certificatePolicies a certificate of this profile carries: the reserved OID first, then the
 * organisation's own (never a second reserved one — that would make the certificate unclassifiable).
 */
export function policyOidsFor(profile: CertificateProfileName, organisationOids: readonly string[] = []): string[] {
  for (const oid of organisationOids) {
    if (!OID_PATTERN.test(oid)) throw new Error(`"${oid}" is not a dotted object identifier`);
    if (isReservedSmimePolicy(oid)) throw new Error(`${oid} is a CA/B Forum reserved S/MIME policy; the profile chooses that one`);
  }
  return [RESERVED_POLICY_OID[profile], ...organisationOids.filter((oid, i) => organisationOids.indexOf(oid) === i)];
}

/** The public-key algorithms a credential may have, as the CA sees them. */
export type KeyType = 'rsa' | 'ec';

/**
 * Key usage per credential kind (BR 7.1.2.3(e), strict and multipurpose alike): signing:
 * digitalSignature (nonRepudiation may be added); encryption: keyEncipherment for RSA (key
 * transport), keyAgreement for EC (ECDH; encipherOnly/decipherOnly may be added).
 */
export const KEY_USAGE_RULES: Record<CredentialKind, Record<KeyType, { required: KeyUsageName; allowed: readonly KeyUsageName[] }>> = {
  signing: {
    rsa: { required: 'digitalSignature', allowed: ['digitalSignature', 'nonRepudiation'] },
    ec: { required: 'digitalSignature', allowed: ['digitalSignature', 'nonRepudiation'] },
  },
  encryption: {
    rsa: { required: 'keyEncipherment', allowed: ['keyEncipherment'] },
    ec: { required: 'keyAgreement', allowed: ['keyAgreement', 'encipherOnly', 'decipherOnly'] },
  },
};

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

/** Where relying parties find the issuer's revocation status and certificate (BR 7.1.2.3(b), (c)). */
export interface PublicationUrls {
  /** HTTP URL of the CRL covering what this CA issues (cRLDistributionPoints). */
  crl: string;
  /** HTTP URL of the issuing CA's certificate (AIA caIssuers). */
  caIssuers?: string;
  /** HTTP URL of the OCSP responder (AIA ocsp), where the CA runs one. */
  ocsp?: string;
}
