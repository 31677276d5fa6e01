/**
 * The PKCS#10 request for one S/MIME credential. It asks for exactly what an S/MIME certificate
 * needs and nothing else: the mailbox in SAN rfc822Name (where mail clients look), EKU
 * emailProtection only, and the key usage of the credential's kind.
 */
import { createPrivateKey } from 'node:crypto';
import type { CredentialKind } from '../../domain/enrollment';
import type { GeneratedKey } from './keys';
import { importSigningPair, signatureParams, x509 } from './x509';

export interface SmimeSubject {
  email: string;
  displayName?: string;
}

/** X.520 ub-common-name: longer CNs are rejected by strict parsers. */
const MAX_COMMON_NAME = 64;

export async function buildSmimeCsr(key: GeneratedKey, subject: SmimeSubject, kind: CredentialKind): Promise<string> {
  const keys = await importSigningPair(key.privateKeyPkcs8);
  const keyType = createPrivateKey({ key: key.privateKeyPkcs8, format: 'der', type: 'pkcs8' }).asymmetricKeyType;
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: smimeSubjectName(subject),
    keys,
    signingAlgorithm: signatureParams(keys.privateKey),
    extensions: smimeExtensions(subject.email, kind, keyType === 'ec' ? 'ec' : 'rsa'),
  });
  return request.toString('pem') + '\n';
}

/**
 * Subject of a Mailbox-validated S/MIME certificate (CA/B Forum S/MIME BR 7.1.4.2.2): CN = the
 * address, E = the address, nothing else — the provider has validated the mailbox, not the
 * person, so a display name has no place here (a linter reports it as a CN of unknown source).
 * The CN is left out rather than cut when the address is longer than X.520 allows for a CN.
 */
export function smimeSubjectName(subject: Pick<SmimeSubject, 'email'>): x509.JsonName {
  const name: x509.JsonName = [];
  if ([...subject.email].length <= MAX_COMMON_NAME) name.push({ CN: [subject.email] });
  name.push({ E: [subject.email] });
  return name;
}

/**
 * Key usage per credential kind. Signing: digitalSignature. Encryption: the content-encryption
 * key is wrapped to the certificate — keyEncipherment for RSA (key transport), keyAgreement for
 * EC (ECDH), as RFC 8550/8551 require.
 */
export function smimeKeyUsage(kind: CredentialKind, keyType: 'rsa' | 'ec'): x509.KeyUsageFlags {
  if (kind === 'signing') return x509.KeyUsageFlags.digitalSignature;
  return keyType === 'ec' ? x509.KeyUsageFlags.keyAgreement : x509.KeyUsageFlags.keyEncipherment;
}

/** SAN rfc822Name, EKU emailProtection only, key usage (critical) for the kind. */
export function smimeExtensions(email: string, kind: CredentialKind, keyType: 'rsa' | 'ec'): x509.Extension[] {
  return [
    new x509.SubjectAlternativeNameExtension([{ type: 'email', value: email }]),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
    new x509.KeyUsagesExtension(smimeKeyUsage(kind, keyType), true),
  ];
}
